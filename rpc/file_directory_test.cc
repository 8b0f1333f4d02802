// Tests for FileDirectory: the TOML directory file re-read when it changes.
#include "rpc/file_directory.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace pullmail {
namespace {

std::string Entry(const std::string& domain, int port) {
  return "[domains.\"" + domain + "\"]\nrecipient_endpoint = \"127.0.0.1:" + std::to_string(port) +
         "\"\nsender_endpoint = \"127.0.0.1:" + std::to_string(port + 1) +
         "\"\n[domains.\"" + domain +
         "\".keys]\nk1 = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n";
}

// A domain added to the file just after a lookup (well within the one-second
// re-check interval) is found at once: a miss re-reads the file rather than
// answering "unknown domain", which a sender would bounce for good.
TEST(FileDirectory, ADomainAddedJustNowIsFoundOnTheFirstMiss) {
  char path[] = "/tmp/pullmail-dirXXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  { std::ofstream(path) << Entry("a.example", 7101); }
  absl::StatusOr<std::unique_ptr<FileDirectory>> d = FileDirectory::Open(path);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE((*d)->Lookup("a.example").ok());
  { std::ofstream(path, std::ios::app) << Entry("c.example", 7201); }
  absl::StatusOr<DomainEntry> c = (*d)->Lookup("c.example");
  EXPECT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*d)->Lookup("nowhere.example").status().code(), absl::StatusCode::kNotFound);
  std::remove(path);
}

}  // namespace
}  // namespace pullmail
