#include "rpc/metrics.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pullmail {
namespace {

TEST(Metrics, RendersPrometheusText) {
  Metrics m;
  m.Add("pm_test_total{reason=\"a\"}", 2);
  m.Add("pm_test_total{reason=\"b\"}");
  m.Add("pm_other_total", 5);
  EXPECT_EQ(m.Get("pm_test_total{reason=\"a\"}"), 2u);
  EXPECT_EQ(m.Render(),
            "# TYPE pm_other_total counter\npm_other_total 5\n"
            "# TYPE pm_test_total counter\npm_test_total{reason=\"a\"} 2\n"
            "pm_test_total{reason=\"b\"} 1\n");
}

TEST(MetricsServer, ServesMetricsOverHttp) {
  Metrics::Global().Add("pm_served_total", 7);
  auto server = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*server)->port()));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
  ASSERT_EQ(::send(fd, req, sizeof(req) - 1, 0), static_cast<ssize_t>(sizeof(req) - 1));
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(resp.rfind("HTTP/1.0 200 OK", 0), 0u) << resp;
  EXPECT_NE(resp.find("pm_served_total 7\n"), std::string::npos) << resp;
}

}  // namespace
}  // namespace pullmail
