// The SQLite back end's own promises: pragmas (WAL, synchronous, foreign
// keys), schema migrations from an older database, refusal of a newer one,
// and the sqlite-code -> absl::Status mapping.
#include "core/storage/sqlite_db.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/imap/imap_mime.h"
#include "core/logic/body_cache_key.h"
#include "core/mail/flags.h"
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

// Runs `sql` on a plain connection with `params` bound as BLOBs, or as
// integers where `ints` has a value; expects it to finish.
void RawExec(sqlite3* db, const char* sql, const std::vector<std::string>& blobs,
             const std::vector<int64_t>& ints = {}) {
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int i = 1;
  for (const std::string& b : blobs) {
    ASSERT_EQ(sqlite3_bind_blob64(st, i++, b.data(), b.size(), SQLITE_TRANSIENT), SQLITE_OK);
  }
  for (int64_t v : ints) ASSERT_EQ(sqlite3_bind_int64(st, i++, v), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(st);
}

std::string RandomishBody(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

// A database as version 2 left it, with bodies stored the old way (one BLOB
// per body in out_bodies and body_cache), is migrated to chunk rows on open
// and every body reads back byte-exact, whole and in slices.
TEST(SqliteDb, MigratesSingleBlobBodiesToChunks) {
  constexpr uint64_t kC = kStoredBodyChunkSize;
  TempDir dir;
  const std::string path = dir.File("v2.db");
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"empty", ""},
      {"small", "hello"},
      {"one-chunk", RandomishBody(kC, 1)},
      {"chunk-plus-one", RandomishBody(kC + 1, 2)},
      {"big", RandomishBody(2 * kC + 123, 3)},
  };
  auto sha = [](const std::string& id) { return "sha-of-" + id; };
  {
    auto db = SqliteDb::Open(path, SqliteOptions(), /*max_version=*/2);
    PM_ASSERT_OK(db);
    absl::MutexLock lock(&(*db)->mu());
    sqlite3* h = (*db)->handle();
    EXPECT_EQ(*(*db)->SchemaVersion(), 2);
    for (const auto& [id, body] : bodies) {
      // What version 2's PutMessage and PutBody wrote.
      RawExec(h,
              "INSERT INTO out_messages(message_id, sender, body_sha256, body_size, summary, "
              "created_us, expires_us, revoked, body_deleted) "
              "VALUES(CAST(?1 AS TEXT), 'a@s.example', ?2, ?3, x'', 1, 2, 0, 0)",
              {id, sha(id)}, {static_cast<int64_t>(body.size())});
      RawExec(h, "INSERT INTO out_bodies(message_id, data) VALUES(CAST(?1 AS TEXT), ?2)",
              {id, body});
      RawExec(h, "INSERT INTO body_cache(sha256, data) VALUES(?1, ?2)", {sha(id), body});
    }
    // A message whose body was deleted under version 2: no out_bodies row.
    RawExec(h,
            "INSERT INTO out_messages(message_id, sender, body_sha256, body_size, summary, "
            "created_us, expires_us, revoked, body_deleted) "
            "VALUES('gone', 'a@s.example', x'00', 7, x'', 1, 2, 0, 1)",
            {});
  }
  // Migration 3 alone: migration 4 drops cached bodies no notification
  // refers to (see MigratesCachedBodiesToPerScopeKeys).
  auto db = SqliteDb::Open(path, SqliteOptions(), /*max_version=*/3);
  PM_ASSERT_OK(db);
  {
    absl::MutexLock lock(&(*db)->mu());
    sqlite3* h = (*db)->handle();
    EXPECT_EQ(*(*db)->SchemaVersion(), 3);
    EXPECT_EQ(RawQuery(h, "SELECT COUNT(*) FROM sqlite_master WHERE name IN "
                          "('out_bodies', 'body_cache')"),
              "0");
    // 0 + 1 + 1 + 2 + 3 chunks in each store.
    EXPECT_EQ(RawQuery(h, "SELECT COUNT(*) FROM out_body_chunks"), "7");
    EXPECT_EQ(RawQuery(h, "SELECT COUNT(*) FROM cached_body_chunks"), "7");
    EXPECT_EQ(RawQuery(h, "SELECT MAX(length(data)) FROM out_body_chunks"), std::to_string(kC));
    EXPECT_EQ(RawQuery(h, "PRAGMA foreign_key_check"), "");
    EXPECT_EQ(RawQuery(h, "PRAGMA integrity_check"), "ok");
  }
  auto sender = NewSqliteSenderStore(*db);
  auto recipient = NewSqliteRecipientStore(*db);
  for (const auto& [id, body] : bodies) {
    SCOPED_TRACE(id);
    EXPECT_EQ(sender->GetMessage(id)->body_size, body.size());
    auto whole = sender->ReadBody(id, 0, body.size() + 1);
    PM_ASSERT_OK(whole);
    EXPECT_TRUE(*whole == body);
    std::string joined;
    for (uint64_t off = 0; off < body.size(); off += 65'536) {
      joined += *sender->ReadBody(id, off, 65'536);
    }
    EXPECT_TRUE(joined == body);
    EXPECT_EQ(*sender->ReadBody(id, body.size(), 10), "");

    EXPECT_TRUE(*recipient->HasBody(sha(id)));
    EXPECT_EQ(*recipient->CachedBodySize(sha(id)), body.size());
    auto cached = recipient->GetBody(sha(id));
    PM_ASSERT_OK(cached);
    EXPECT_TRUE(*cached == body);
    if (body.size() > kC) {
      EXPECT_TRUE(*recipient->ReadCachedBody(sha(id), kC - 3, 6) == body.substr(kC - 3, 6));
    }
  }
  PM_EXPECT_CODE(sender->ReadBody("gone", 0, 1), kFailedPrecondition);
  // The migrated stores keep working: a new body, and a delete.
  PM_ASSERT_OK(recipient->DeleteBody(sha("big")));
  EXPECT_FALSE(*recipient->HasBody(sha("big")));
  OutboundMessage m;
  m.message_id = "new";
  m.body_size = 3;
  PM_ASSERT_OK(sender->PutMessage(m, "abc", {}));
  EXPECT_EQ(*sender->ReadBody("new", 1, 5), "bc");
}

// A chunk that is missing or of the wrong length is reported as kDataLoss,
// never returned as a short or shifted body.
TEST(SqliteDb, DamagedBodyChunksAreDataLoss) {
  constexpr uint64_t kC = kStoredBodyChunkSize;
  TempDir dir;
  auto db = OpenSqliteDb(dir.File("damaged.db"));
  PM_ASSERT_OK(db);
  auto sender = NewSqliteSenderStore(*db);
  auto recipient = NewSqliteRecipientStore(*db);
  const std::string body = RandomishBody(2 * kC + 5, 9);
  OutboundMessage m;
  m.message_id = "m";
  m.body_size = body.size();
  PM_ASSERT_OK(sender->PutMessage(m, body, {}));
  PM_ASSERT_OK(recipient->PutBody("h", body));
  {
    absl::MutexLock lock(&(*db)->mu());
    RawExec((*db)->handle(), "DELETE FROM out_body_chunks WHERE message_id = 'm' AND idx = 1",
            {});
    RawExec((*db)->handle(),
            "UPDATE cached_body_chunks SET data = substr(data, 1, 3) WHERE idx = 2", {});
  }
  EXPECT_TRUE(*sender->ReadBody("m", 0, kC) == body.substr(0, kC));  // untouched chunk
  PM_EXPECT_CODE(sender->ReadBody("m", kC, 1), kDataLoss);
  PM_EXPECT_CODE(sender->ReadBody("m", kC - 1, 2), kDataLoss);
  PM_EXPECT_CODE(sender->ReadBody("m", 0, body.size()), kDataLoss);
  EXPECT_TRUE(*sender->ReadBody("m", 2 * kC, 5) == body.substr(2 * kC));
  PM_EXPECT_CODE(recipient->GetBody("h"), kDataLoss);
  PM_EXPECT_CODE(recipient->ReadCachedBody("h", 2 * kC, 1), kDataLoss);
  EXPECT_TRUE(*recipient->ReadCachedBody("h", kC, kC) == body.substr(kC, kC));
}

// Version 3 cached bodies under their bare SHA-256. Migration 4 re-keys each
// under core's BodyCacheKey for every scope that refers to it (a body two
// domains sent becomes two entries; a user's own copy is keyed by the user),
// drops bodies nothing refers to, and every body reads back byte-exact.
TEST(SqliteDb, MigratesCachedBodiesToPerScopeKeys) {
  constexpr uint64_t kC = kStoredBodyChunkSize;
  TempDir dir;
  const std::string path = dir.File("v3.db");
  const std::string shared = RandomishBody(kC + 7, 4), own = "draft", orphan = "orphan";
  const std::string h_shared(32, 's'), h_own(32, 'o'), h_orphan(32, 'x');
  auto notification = [](std::string domain, std::string id, std::string sender,
                         std::string hash, bool local) {
    StoredNotification n;
    n.signing_domain = std::move(domain);
    n.message_id = std::move(id);
    n.envelope_sender = std::move(sender);
    n.body_sha256 = std::move(hash);
    if (!local) n.signed_bytes = "signed";
    n.expires = absl::InfiniteFuture();
    return n;
  };
  const std::vector<StoredNotification> ns = {
      notification("a.example", "m1", "x@a.example", h_shared, false),
      notification("a.example", "m2", "y@a.example", h_shared, false),  // same scope
      notification("b.example", "m3", "z@b.example", h_shared, false),
      notification("r.example", "local.1", "alice@r.example", h_own, true),
  };
  {
    auto store = NewSqliteRecipientStore(*SqliteDb::Open(path, SqliteOptions(), 3));
    for (const StoredNotification& n : ns) {
      PM_ASSERT_OK(store->InsertNotification(n, {"alice@r.example"}, EntryState::kShown, ""));
    }
    // What version 3's PutBody wrote: keyed by the hash alone.
    PM_ASSERT_OK(store->PutBody(h_shared, shared));
    PM_ASSERT_OK(store->PutBody(h_own, own));
    PM_ASSERT_OK(store->PutBody(h_orphan, orphan));
  }
  auto db = OpenSqliteDb(path);
  PM_ASSERT_OK(db);
  {
    absl::MutexLock lock(&(*db)->mu());
    sqlite3* h = (*db)->handle();
    EXPECT_EQ(*(*db)->SchemaVersion(), kSqliteSchemaVersion);
    EXPECT_EQ(RawQuery(h, "SELECT COUNT(*) FROM cached_bodies"), "3");
    EXPECT_EQ(RawQuery(h, "SELECT COUNT(*) FROM cached_bodies WHERE length(sha256) = 32"), "0");
    // 2 + 2 chunks of the shared body, 1 of the draft.
    EXPECT_EQ(RawQuery(h, "SELECT COUNT(*) FROM cached_body_chunks"), "5");
    EXPECT_EQ(RawQuery(h, "PRAGMA foreign_key_check"), "");
    EXPECT_EQ(RawQuery(h, "PRAGMA integrity_check"), "ok");
  }
  auto store = NewSqliteRecipientStore(*db);
  for (const StoredNotification& n : ns) {
    SCOPED_TRACE(n.message_id);
    auto body = store->GetBody(BodyCacheKey(n));
    PM_ASSERT_OK(body);
    EXPECT_TRUE(*body == (n.body_sha256 == h_own ? own : shared));
  }
  EXPECT_FALSE(*store->HasBody(h_shared));
  EXPECT_FALSE(*store->HasBody(h_orphan));
  // A domain that never sent the body has no entry.
  EXPECT_FALSE(*store->HasBody(
      BodyCacheKey(notification("c.example", "m4", "q@c.example", h_shared, false))));
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

// The recipient store's mailbox reads run on the reader connections: they
// answer while another thread holds the writer's mutex with a write
// transaction open (a durable commit's fsync, a long batch), and they see
// the last committed state, not the open transaction's.
// Removes `n` new messages from alice's INBOX, in one insert and one
// expunge (one modseq for them all).
void InsertAndExpunge(RecipientStore& store, int n, int* next_id) {
  std::vector<NotificationInsert> batch;
  for (int i = 0; i < n; ++i) {
    NotificationInsert ins;
    ins.notification.signing_domain = "s.example";
    ins.notification.message_id = absl::StrCat("m", (*next_id)++);
    ins.notification.body_sha256 = std::string(32, 'h');
    ins.notification.body_size = 5;
    EntryPlacement p;
    p.user = "alice@r.example";
    p.flags = {std::string(kFlagDeleted)};
    ins.placements.push_back(p);
    batch.push_back(std::move(ins));
  }
  PM_ASSERT_OK(store.InsertNotifications(batch));
  auto gone = store.Expunge("alice@r.example", "INBOX", std::nullopt);
  PM_ASSERT_OK(gone);
  ASSERT_EQ(gone->size(), static_cast<size_t>(n));
}

// Every IMAP refresh asks which UIDs left the folder since its modseq. The
// answer must not read the folder's whole history of removals, which grows
// with every expunge (a client that APPENDs and expunges for ever): the cost,
// counted in SQLite's virtual-machine steps, is the same after 2,000 more
// removals. (It read every removal while the query's ORDER BY uid made
// SQLite pick the primary key over expunged_by_modseq.)
TEST(SqliteDb, VanishedSinceDoesNotReadTheWholeExpungeHistory) {
  TempDir dir;
  auto db = OpenSqliteDb(dir.File("history.db"));
  PM_ASSERT_OK(db);
  auto store = NewSqliteRecipientStore(*db);
  int next_id = 0;
  auto steps_for_last_removal = [&]() -> uint64_t {
    auto before = store->GetFolder("alice@r.example", "INBOX");
    EXPECT_TRUE(before.ok());
    InsertAndExpunge(*store, 3, &next_id);
    const uint64_t start = (*db)->VmSteps();
    auto vanished = store->ExpungedSince("alice@r.example", "INBOX", before->highest_modseq);
    const uint64_t steps = (*db)->VmSteps() - start;
    PM_EXPECT_OK(vanished);
    // The last three UIDs inserted, ascending.
    EXPECT_EQ(*vanished, (std::vector<uint32_t>{static_cast<uint32_t>(next_id - 2),
                                                static_cast<uint32_t>(next_id - 1),
                                                static_cast<uint32_t>(next_id)}));
    return steps;
  };
  InsertAndExpunge(*store, 10, &next_id);
  const uint64_t short_history = steps_for_last_removal();
  InsertAndExpunge(*store, 2000, &next_id);
  const uint64_t long_history = steps_for_last_removal();
  EXPECT_GT(short_history, 0u);
  EXPECT_EQ(long_history, short_history)
      << "ExpungedSince's steps grew with the history of removals";
}

TEST(SqliteDb, MailboxReadsDoNotWaitForTheWriter) {
  TempDir dir;
  auto db = OpenSqliteDb(dir.File("readers.db"));
  PM_ASSERT_OK(db);
  auto store = NewSqliteRecipientStore(*db);
  StoredNotification n;
  n.signing_domain = "s.example";
  n.message_id = "m1";
  n.body_sha256 = std::string(32, 'h');
  n.body_size = 5;
  auto ins = store->InsertNotification(n, {"alice@r.example"}, EntryState::kShown, "");
  PM_ASSERT_OK(ins);
  PM_ASSERT_OK(store->PutBody("key", "hello"));

  absl::Mutex mu;
  bool holding = false, reads_done = false, released = false;
  std::thread writer([&] {
    {
      absl::MutexLock db_lock(&(*db)->mu());
      Transaction txn(db->get());
      PM_ASSERT_OK(txn.Begin());
      PM_ASSERT_OK((*db)->Exec("UPDATE entries SET reason = 'uncommitted'"));
      absl::MutexLock lock(&mu);
      holding = true;
      // Bounded: without readers the reads below wait for this to end, and
      // the test fails on `released` instead of hanging.
      mu.AwaitWithTimeout(absl::Condition(&reads_done), absl::Seconds(30));
    }  // rolled back
    absl::MutexLock lock(&mu);
    released = true;
  });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&holding));
  }
  auto entry = store->GetEntry("alice@r.example", "INBOX", 1);
  auto got = store->GetNotification(ins->notification_id);
  auto many = store->GetEntriesForRead("alice@r.example", "INBOX", {1});
  auto listed = store->ListEntries("alice@r.example", "INBOX", 1, 0);
  auto folder = store->GetFolder("alice@r.example", "INBOX");
  auto body = store->ReadCachedBody("key", 0, 100);
  auto has = store->HasBodies({"key", "other"});
  bool released_before_reads;
  {
    absl::MutexLock lock(&mu);
    released_before_reads = released;
    reads_done = true;
  }
  writer.join();
  EXPECT_FALSE(released_before_reads) << "the reads waited for the writer's transaction";
  PM_ASSERT_OK(entry);
  EXPECT_EQ(entry->reason, "");  // not the open transaction's change
  PM_ASSERT_OK(got);
  EXPECT_EQ(got->message_id, "m1");
  PM_ASSERT_OK(many);
  ASSERT_TRUE((*many)[0].has_value());
  EXPECT_EQ((*many)[0]->entry.reason, "");
  PM_ASSERT_OK(listed);
  EXPECT_EQ(listed->size(), 1u);
  PM_ASSERT_OK(folder);
  EXPECT_EQ(folder->messages, 1u);
  EXPECT_EQ(*body, "hello");
  EXPECT_EQ(*has, (std::vector<bool>{true, false}));
  // And a commit is seen by the next read.
  PM_ASSERT_OK(store->SetEntryState("alice@r.example", "INBOX", 1, EntryState::kShown, "done"));
  EXPECT_EQ(store->GetEntry("alice@r.example", "INBOX", 1)->reason, "done");
}

// A VFS over the default one that counts xSync calls (fsyncs) on the files
// it opens: registered as the default while the test runs.
class SyncCountingVfs {
 public:
  SyncCountingVfs() {
    base_ = sqlite3_vfs_find(nullptr);
    vfs_ = *base_;
    vfs_.zName = "pullmail-sync-counting";
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + base_->szOsFile;
    vfs_.xOpen = &Open;
    vfs_.pAppData = this;
    EXPECT_EQ(sqlite3_vfs_register(&vfs_, /*makeDflt=*/1), SQLITE_OK);
  }
  ~SyncCountingVfs() { sqlite3_vfs_unregister(&vfs_); }
  int syncs() const { return syncs_.load(); }

 private:
  struct File {
    sqlite3_file base;                  // pMethods = a wrapper table
    SyncCountingVfs* owner;
    const sqlite3_io_methods* real_methods;
    sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  };
  static File* Of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }

  // The real table with every method it has forwarded to the real file,
  // and xSync counted.
  const sqlite3_io_methods* WrapperFor(const sqlite3_io_methods* real) {
    std::lock_guard<std::mutex> lock(mu_);
    std::unique_ptr<sqlite3_io_methods>& w = tables_[real];
    if (w) return w.get();
    w = std::make_unique<sqlite3_io_methods>(*real);
#define PM_FWD(name)                                                              \
  if (real->name != nullptr) {                                                    \
    w->name = [](sqlite3_file* p, auto... a) {                                    \
      return Of(p)->real_methods->name(Of(p)->real(), a...);                      \
    };                                                                            \
  }
    w->xClose = [](sqlite3_file* p) { return Of(p)->real_methods->xClose(Of(p)->real()); };
    PM_FWD(xRead)
    PM_FWD(xWrite)
    PM_FWD(xTruncate)
    w->xSync = [](sqlite3_file* p, int flags) {
      ++Of(p)->owner->syncs_;
      return Of(p)->real_methods->xSync(Of(p)->real(), flags);
    };
    PM_FWD(xFileSize)
    PM_FWD(xLock)
    PM_FWD(xUnlock)
    PM_FWD(xCheckReservedLock)
    PM_FWD(xFileControl)
    w->xSectorSize = [](sqlite3_file* p) {
      return Of(p)->real_methods->xSectorSize(Of(p)->real());
    };
    w->xDeviceCharacteristics = [](sqlite3_file* p) {
      return Of(p)->real_methods->xDeviceCharacteristics(Of(p)->real());
    };
    if (real->iVersion >= 2) {
      PM_FWD(xShmMap)
      PM_FWD(xShmLock)
      if (real->xShmBarrier != nullptr) {
        w->xShmBarrier = [](sqlite3_file* p) { Of(p)->real_methods->xShmBarrier(Of(p)->real()); };
      }
      PM_FWD(xShmUnmap)
    }
    if (real->iVersion >= 3) {
      PM_FWD(xFetch)
      PM_FWD(xUnfetch)
    }
#undef PM_FWD
    return w.get();
  }

  static int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* out, int flags,
                  int* out_flags) {
    auto* self = static_cast<SyncCountingVfs*>(vfs->pAppData);
    File* f = Of(out);
    f->owner = self;
    f->base.pMethods = nullptr;
    f->real_methods = nullptr;
    int rc = self->base_->xOpen(self->base_, name, f->real(), flags, out_flags);
    if (f->real()->pMethods != nullptr) {
      f->real_methods = f->real()->pMethods;
      f->base.pMethods = self->WrapperFor(f->real_methods);
    }
    return rc;
  }

  sqlite3_vfs* base_;
  sqlite3_vfs vfs_;
  std::mutex mu_;
  std::map<const sqlite3_io_methods*, std::unique_ptr<sqlite3_io_methods>> tables_;
  std::atomic<int> syncs_{0};
};

StoredNotification Note(const std::string& id) {
  StoredNotification n;
  n.signing_domain = "s.example";
  n.message_id = id;
  n.body_sha256 = std::string(32, 'h');
  n.body_size = 5;
  return n;
}

// The write classes of sqlite_store.h: notifications commit with an fsync,
// flag changes, expunges and the body cache without one; the connection is
// back at synchronous=FULL after a relaxed commit.
TEST(SqliteDb, RelaxedWriteClassesCommitWithoutFsync) {
  TempDir dir;
  SyncCountingVfs vfs;
  auto db = OpenSqliteDb(dir.File("r.db"));
  PM_ASSERT_OK(db);
  auto store = NewSqliteRecipientStore(*db);
  PM_ASSERT_OK(store->EnsureFolder("bob@r.example", "INBOX"));

  int before = vfs.syncs();
  auto inserted = store->InsertNotification(Note("m1"), {"bob@r.example"}, EntryState::kShown, "");
  PM_ASSERT_OK(inserted);
  EXPECT_GT(vfs.syncs(), before) << "a notification must be fsynced before OK";
  const uint32_t uid = inserted->entries.at(0).uid;

  before = vfs.syncs();
  PM_ASSERT_OK(store->SetFlags("bob@r.example", "INBOX", {uid}, FlagOp::kAdd,
                               {std::string(kSeenFlag), std::string(kFlagDeleted)}));
  PM_ASSERT_OK(store->PutBody("key", "hello"));
  PM_ASSERT_OK(store->Expunge("bob@r.example", "INBOX", std::nullopt));
  PM_ASSERT_OK(store->DeleteBody("key"));
  EXPECT_EQ(vfs.syncs(), before) << "flags, expunge and the body cache commit relaxed";
  {
    absl::MutexLock lock(&(*db)->mu());
    EXPECT_EQ(RawQuery((*db)->handle(), "PRAGMA synchronous"), "2");
  }

  before = vfs.syncs();
  PM_ASSERT_OK(store->InsertNotification(Note("m2"), {"bob@r.example"}, EntryState::kShown, ""));
  EXPECT_GT(vfs.syncs(), before);
}

// The sender store: a message and its deliveries are fsynced before OK; the
// delivery pass's records of its attempts commit relaxed.
TEST(SqliteDb, SenderDeliveryRecordsCommitWithoutFsync) {
  TempDir dir;
  SyncCountingVfs vfs;
  auto db = OpenSqliteDb(dir.File("s.db"));
  PM_ASSERT_OK(db);
  auto store = NewSqliteSenderStore(*db);
  OutboundMessage m;
  m.message_id = "m1@s.example";
  m.sender = "ann@s.example";
  m.body_sha256 = std::string(32, 'h');
  m.body_size = 5;
  m.created = absl::FromUnixSeconds(1'700'000'000);
  m.expires = m.created + absl::Hours(1);
  Delivery d;
  d.message_id = m.message_id;
  d.domain = "r.example";
  d.recipients = {"bob@r.example"};
  d.fetch_token = std::string(32, 't');
  d.signed_notification = "prepared";
  d.next_attempt = m.created;

  int before = vfs.syncs();
  PM_ASSERT_OK(store->PutMessage(m, "hello", {d}));
  EXPECT_GT(vfs.syncs(), before) << "a submission must be fsynced before OK";

  before = vfs.syncs();
  d.state = DeliveryState::kDelivered;
  d.attempts = 1;
  PM_ASSERT_OK(store->UpdateDeliveries({d}));
  EXPECT_EQ(vfs.syncs(), before) << "the delivery pass's records commit relaxed";
  {
    absl::MutexLock lock(&(*db)->mu());
    EXPECT_EQ(RawQuery((*db)->handle(), "PRAGMA synchronous"), "2");
  }
  auto listed = store->ListDeliveries(m.message_id);
  PM_ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->at(0).state, DeliveryState::kDelivered);
}

// "A killed process loses nothing it acknowledged", relaxed commits
// included; and each open moves every folder's MODSEQ past what relaxed
// commits lost to an OS crash could have shown.
TEST(SqliteDb, RelaxedCommitsSurviveAKilledProcessAndModseqsSkipOnOpen) {
  TempDir dir;
  const std::string path = dir.File("k.db");
  uint64_t modseq_before = 0;
  uint32_t uid = 0;
  {
    auto store = OpenSqliteRecipientStore(path);
    PM_ASSERT_OK(store);
    auto inserted =
        (*store)->InsertNotification(Note("m1"), {"bob@r.example"}, EntryState::kShown, "");
    PM_ASSERT_OK(inserted);
    uid = inserted->entries.at(0).uid;
  }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Acknowledged changes, then SIGKILL: no close, no checkpoint.
    auto store = OpenSqliteRecipientStore(path);
    if (!store.ok()) _exit(2);
    if (!(*store)->SetFlags("bob@r.example", "INBOX", {uid}, FlagOp::kAdd, {"$Done"}).ok()) {
      _exit(3);
    }
    if (!(*store)->PutBody("key", "hello").ok()) _exit(4);
    raise(SIGKILL);
    _exit(5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

  auto store = OpenSqliteRecipientStore(path);
  PM_ASSERT_OK(store);
  auto e = (*store)->GetEntry("bob@r.example", "INBOX", uid);
  PM_ASSERT_OK(e);
  EXPECT_TRUE(HasFlag(e->flags, "$Done"));
  EXPECT_EQ(*(*store)->GetBody("key"), "hello");
  modseq_before = e->modseq;
  auto folder = (*store)->GetFolder("bob@r.example", "INBOX");
  PM_ASSERT_OK(folder);
  EXPECT_GE(folder->highest_modseq, modseq_before + kModseqSkip);
  auto changed = (*store)->SetFlags("bob@r.example", "INBOX", {uid}, FlagOp::kRemove, {"$Done"});
  PM_ASSERT_OK(changed);
  EXPECT_GT(changed->at(0).modseq, modseq_before + kModseqSkip);
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

namespace pullmail {
namespace {

// Migration 10: bodies cached before it have no MIME structure record (the
// node computes one on first need and stores it); bodies cached after it
// have theirs from PutBody.
TEST(SqliteDb, BodiesCachedBeforeMigration10HaveNoStructureRecord) {
  ::pullmail::testing::TempDir dir;
  const std::string path = dir.File("v9.db");
  const std::string old_body = "Content-Type: text/plain\r\n\r\nold\r\n";
  {
    auto db = SqliteDb::Open(path, SqliteOptions(), /*max_version=*/9);
    PM_ASSERT_OK(db);
    auto store = NewSqliteRecipientStore(*db);
    PM_ASSERT_OK(store->PutBody("old-key", old_body));
    PM_EXPECT_CODE(store->GetBodyStructure("old-key"), kNotFound);
  }
  auto db = OpenSqliteDb(path);
  PM_ASSERT_OK(db);
  {
    absl::MutexLock lock(&(*db)->mu());
    EXPECT_EQ(*(*db)->SchemaVersion(), kSqliteSchemaVersion);
  }
  auto store = NewSqliteRecipientStore(*db);
  EXPECT_EQ(*store->GetBody("old-key"), old_body);
  PM_EXPECT_CODE(store->GetBodyStructure("old-key"), kNotFound);
  PM_ASSERT_OK(store->PutBodyStructure("old-key", MimeRecordOf(old_body)));
  EXPECT_EQ(*store->GetBodyStructure("old-key"), MimeRecordOf(old_body));
  PM_ASSERT_OK(store->PutBody("new-key", "Subject: s\r\n\r\nnew"));
  EXPECT_EQ(*store->GetBodyStructure("new-key"), MimeRecordOf("Subject: s\r\n\r\nnew"));
}

}  // namespace
}  // namespace pullmail
