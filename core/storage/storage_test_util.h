// Test helpers shared by the storage contract tests: a temporary directory,
// the back ends a contract suite runs against, and status matchers.
#ifndef PULLMAIL_CORE_STORAGE_STORAGE_TEST_UTIL_H_
#define PULLMAIL_CORE_STORAGE_STORAGE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pullmail::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pullmail-storage-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr) << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The back ends a contract suite is instantiated over.
enum class Backend { kMemory, kSqlite };

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kMemory ? "Memory" : "Sqlite";
}

}  // namespace pullmail::testing

// Status assertions; each evaluates `expr` once. `code_name` is an
// absl::StatusCode enumerator such as kNotFound.
#define PM_ASSERT_OK(expr)                                  \
  do {                                                      \
    auto&& pm_s_ = (expr);                                  \
    ASSERT_TRUE(pm_s_.ok()) << PmStatusOf(pm_s_);           \
  } while (0)
#define PM_EXPECT_OK(expr)                                  \
  do {                                                      \
    auto&& pm_s_ = (expr);                                  \
    EXPECT_TRUE(pm_s_.ok()) << PmStatusOf(pm_s_);           \
  } while (0)
#define PM_EXPECT_CODE(expr, code_name)                                       \
  do {                                                                        \
    auto&& pm_s_ = (expr);                                                    \
    EXPECT_EQ(PmStatusOf(pm_s_).code(), ::absl::StatusCode::code_name)        \
        << PmStatusOf(pm_s_);                                                 \
  } while (0)

inline absl::Status PmStatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status PmStatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

#endif  // PULLMAIL_CORE_STORAGE_STORAGE_TEST_UTIL_H_
