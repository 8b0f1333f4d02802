// Test helpers shared by the storage contract tests: a temporary directory,
// the back ends a contract suite runs against, and status matchers.
#ifndef PULLMAIL_CORE_STORAGE_STORAGE_TEST_UTIL_H_
#define PULLMAIL_CORE_STORAGE_STORAGE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
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
enum class Backend { kMemory, kSqlite, kPostgres };

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  switch (info.param) {
    case Backend::kMemory:
      return "Memory";
    case Backend::kSqlite:
      return "Sqlite";
    case Backend::kPostgres:
      return "Postgres";
  }
  return "Unknown";
}

// The URL of a running PostgreSQL server for tests, or nullopt with
// *skip_reason set if PostgreSQL is not installed here.
//
// Under ctest the server is the "pg_server" fixture's (tests/pg/pg_server.py,
// started once for the run; $PULLMAIL_TEST_PG names its state folder). A test
// binary run by hand starts its own server the same way on first use and stops
// it at exit.
inline std::optional<std::string> PgTestServerUrl(std::string* skip_reason) {
  static std::string state;
  static std::string url;
  static std::string skip;
  static bool done = false;
  if (!done) {
    done = true;
    const char* env = std::getenv("PULLMAIL_TEST_PG");
    if (env != nullptr && *env != '\0') {
      state = env;
    } else {
      state = (std::filesystem::temp_directory_path() /
               ("pullmail-pgstate-" + std::to_string(getpid())))
                  .string();
      std::string start = std::string("python3 '") + PULLMAIL_SOURCE_DIR +
                          "/tests/pg/pg_server.py' start '" + state + "' >/dev/null";
      if (std::system(start.c_str()) != 0) {
        skip = "could not start PostgreSQL (tests/pg/pg_server.py failed)";
      }
      std::atexit([] {
        std::string stop = std::string("python3 '") + PULLMAIL_SOURCE_DIR +
                           "/tests/pg/pg_server.py' stop '" + state + "' >/dev/null";
        (void)std::system(stop.c_str());
        std::error_code ec;
        std::filesystem::remove_all(state, ec);
      });
    }
    std::ifstream u(state + "/url");
    std::getline(u, url);
    if (url.empty() && skip.empty()) {
      std::ifstream s(state + "/skip");
      std::getline(s, skip);
      if (skip.empty()) skip = "no PostgreSQL server (" + state + "/url missing)";
    }
  }
  if (url.empty()) {
    *skip_reason = "PostgreSQL tests skipped: " + skip;
    return std::nullopt;
  }
  return url;
}

// A fresh schema on the test server, dropped with everything in it when the
// object dies; url() points a store at it (search_path). ok() is false, with
// skip_reason() saying why, if PostgreSQL is not installed here; a server
// that is there but refuses the schema fails the test.
class PgTestSchema {
 public:
  PgTestSchema() {
    auto base = PgTestServerUrl(&skip_reason_);
    if (!base.has_value()) return;
    base_ = *base;
    static std::atomic<int> counter{0};
    std::random_device rd;
    name_ = "t_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(rd() % 1000000);
    std::string err = Run("CREATE SCHEMA " + name_);
    EXPECT_EQ(err, "") << "cannot create schema on " << base_;
    url_ = base_ + "?options=-csearch_path%3D" + name_;
  }
  ~PgTestSchema() {
    if (!url_.empty()) (void)Run("DROP SCHEMA " + name_ + " CASCADE");
  }
  PgTestSchema(const PgTestSchema&) = delete;
  PgTestSchema& operator=(const PgTestSchema&) = delete;

  bool ok() const { return !url_.empty(); }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  // Runs SQL on the server; "" on success, else the error.
  std::string Run(const std::string& sql) const {
    PGconn* c = PQconnectdb(base_.c_str());
    std::string err;
    if (PQstatus(c) != CONNECTION_OK) {
      err = PQerrorMessage(c);
    } else {
      PGresult* r = PQexec(c, ("SET client_min_messages = warning; " + sql).c_str());
      if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = PQresultErrorMessage(r);
      }
      PQclear(r);
    }
    PQfinish(c);
    return err;
  }

 private:
  std::string base_, name_, url_, skip_reason_;
};

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
