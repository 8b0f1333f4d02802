// The SQLite back end's own promises: pragmas (WAL, synchronous, foreign
// keys), schema migrations from an older database, refusal of a newer one,
// and the sqlite-code -> absl::Status mapping.
#include "core/storage/sqlite_db.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <thread>
#include <vector>

#include "core/storage/sqlite_store.h"
#include "core/storage/storage_test_util.h"

namespace pullmail {
namespace {

using ::pullmail::testing::TempDir;

// Runs one query on a plain connection and returns the first column of the
// first row as text ("" if none).
std::string RawQuery(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return out;
}

TEST(SqliteDb, PragmasAreSet) {
  TempDir dir;
  for (auto sync : {SqliteOptions::Synchronous::kFull, SqliteOptions::Synchronous::kNormal}) {
    SqliteOptions options;
    options.synchronous = sync;
    auto db = OpenSqliteDb(dir.File(sync == SqliteOptions::Synchronous::kFull ? "f.db" : "n.db"),
                           options);
    PM_ASSERT_OK(db);
    absl::MutexLock lock(&(*db)->mu());
    EXPECT_EQ(RawQuery((*db)->handle(), "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(RawQuery((*db)->handle(), "PRAGMA synchronous"),
              sync == SqliteOptions::Synchronous::kFull ? "2" : "1");
    EXPECT_EQ(RawQuery((*db)->handle(), "PRAGMA foreign_keys"), "1");
    EXPECT_EQ(RawQuery((*db)->handle(), "PRAGMA user_version"),
              std::to_string(kSqliteSchemaVersion));
  }
}

// A database as version 1 of the program left it, with data in it, is
// brought to the latest version on open and keeps its data.
TEST(SqliteDb, MigratesAnOlderDatabase) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  {
    auto db = SqliteDb::Open(path, SqliteOptions(), /*max_version=*/1);
    PM_ASSERT_OK(db);
    absl::MutexLock lock(&(*db)->mu());
    EXPECT_EQ(*(*db)->SchemaVersion(), 1);
    EXPECT_EQ(RawQuery((*db)->handle(),
                       "SELECT COUNT(*) FROM sqlite_master WHERE name = 'peer_reports_by_body'"),
              "0");
  }
  {
    auto store = NewSqliteRecipientStore(*SqliteDb::Open(path, SqliteOptions(), 1));
    StoredNotification n;
    n.signing_domain = "s.example";
    n.message_id = "m1";
    n.body_sha256 = std::string(32, 'x');
    auto r = store->InsertNotification(n, {"alice@r.example"}, EntryState::kShown, "");
    PM_ASSERT_OK(r);
    PM_ASSERT_OK(store->RecordReport("alice@r.example", r->notification_id, 1, absl::Now()));
  }
  auto db = OpenSqliteDb(path);
  PM_ASSERT_OK(db);
  {
    absl::MutexLock lock(&(*db)->mu());
    EXPECT_EQ(*(*db)->SchemaVersion(), kSqliteSchemaVersion);
    EXPECT_EQ(RawQuery((*db)->handle(),
                       "SELECT COUNT(*) FROM sqlite_master WHERE name = 'peer_reports_by_body'"),
              "1");
  }
  auto store = NewSqliteRecipientStore(*db);
  EXPECT_EQ(store->ReportsForBodyHash(std::string(32, 'x'))->size(), 1u);
  EXPECT_EQ(store->GetFolder("alice@r.example", "INBOX")->messages, 1u);
}

TEST(SqliteDb, RefusesANewerSchema) {
  TempDir dir;
  const std::string path = dir.File("new.db");
  PM_ASSERT_OK(OpenSqliteDb(path));
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  PM_EXPECT_CODE(OpenSqliteDb(path), kFailedPrecondition);
}

TEST(SqliteDb, NotADatabaseIsDataLoss) {
  TempDir dir;
  const std::string path = dir.File("garbage.db");
  std::ofstream(path) << std::string(8192, 'g');
  PM_EXPECT_CODE(OpenSqliteDb(path), kDataLoss);
}

TEST(SqliteDb, CannotOpenIsUnavailable) {
  PM_EXPECT_CODE(OpenSqliteDb("/nonexistent-dir/for/sure/x.db"), kUnavailable);
}

// Another connection holds the write lock longer than busy_timeout: the
// write fails with kUnavailable (retry later), and succeeds once released.
TEST(SqliteDb, BusyIsUnavailable) {
  TempDir dir;
  const std::string path = dir.File("busy.db");
  SqliteOptions options;
  options.busy_timeout = absl::Milliseconds(50);
  auto users = OpenSqliteUserStore(path, options);
  PM_ASSERT_OK(users);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  User u;
  u.address = "alice@r.example";
  PM_EXPECT_CODE((*users)->AddUser(u), kUnavailable);
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  PM_EXPECT_OK((*users)->AddUser(u));
}

// A sender and a recipient node open one new users.db at the same moment:
// every open succeeds and the schema is created once.
TEST(SqliteDb, ConcurrentOpensOfANewFileMigrateOnce) {
  TempDir dir;
  const std::string path = dir.File("race.db");
  constexpr int kOpeners = 6;
  std::vector<absl::Status> results(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] { results[i] = OpenSqliteDb(path).status(); });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  auto db = OpenSqliteDb(path);
  PM_ASSERT_OK(db);
  absl::MutexLock lock(&(*db)->mu());
  EXPECT_EQ(*(*db)->SchemaVersion(), kSqliteSchemaVersion);
}

TEST(SqliteDb, StoresCanShareOneDatabase) {
  TempDir dir;
  auto db = OpenSqliteDb(dir.File("shared.db"));
  PM_ASSERT_OK(db);
  auto users = NewSqliteUserStore(*db);
  auto recipient = NewSqliteRecipientStore(*db);
  auto sender = NewSqliteSenderStore(*db);
  User u;
  u.address = "alice@r.example";
  PM_ASSERT_OK(users->AddUser(u));
  PM_ASSERT_OK(recipient->EnsureFolder("alice@r.example", "INBOX"));
  OutboundMessage m;
  m.message_id = "m1";
  PM_ASSERT_OK(sender->PutMessage(m, "", {}));
  EXPECT_EQ(users->ListUsers()->size(), 1u);
  EXPECT_EQ(recipient->ListFolders("alice@r.example")->size(), 1u);
  PM_EXPECT_OK(sender->GetMessage("m1"));
}

TEST(SqliteDb, StringListRoundTrip) {
  std::vector<std::string> list = {"", "a", std::string(300, 'x'), std::string("\0\x80", 2)};
  auto back = DecodeStringList(EncodeStringList(list));
  PM_ASSERT_OK(back);
  EXPECT_EQ(*back, list);
  EXPECT_TRUE(DecodeStringList("")->empty());
  PM_EXPECT_CODE(DecodeStringList("\x05" "ab"), kDataLoss);
  PM_EXPECT_CODE(DecodeStringList("\x80"), kDataLoss);
}

}  // namespace
}  // namespace pullmail
