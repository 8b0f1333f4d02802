#include "rpc/certs.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

namespace pullmail {
namespace {

X509* ReadCert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return nullptr;
  X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return c;
}

TEST(Certs, CaIssuesVerifiableNodeCertificate) {
  std::string dir = ::testing::TempDir() + "/certs_test_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(EnsureCertificateAuthority(dir + "/ca").ok());
  // Idempotent: a second call keeps the same CA.
  auto before = std::filesystem::last_write_time(dir + "/ca/ca.pem");
  ASSERT_TRUE(EnsureCertificateAuthority(dir + "/ca").ok());
  EXPECT_EQ(before, std::filesystem::last_write_time(dir + "/ca/ca.pem"));

  ASSERT_TRUE(
      IssueNodeCertificate(dir + "/ca", "a.example", dir + "/a/node.pem", dir + "/a/node.key").ok());
  struct stat st;
  ASSERT_EQ(::stat((dir + "/a/node.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  X509* ca = ReadCert(dir + "/ca/ca.pem");
  X509* node = ReadCert(dir + "/a/node.pem");
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(node, nullptr);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, node, nullptr);
  EXPECT_EQ(X509_verify_cert(ctx), 1);
  EXPECT_EQ(X509_check_host(node, "a.example", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(node, "b.example", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(node, "127.0.0.1", 0), 1);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(ca);
  X509_free(node);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pullmail
