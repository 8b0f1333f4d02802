// The PostgreSQL back end of the storage interfaces: the one several node
// processes of one domain share (docs/SCALE-OUT.md). Same contract as the
// SQLite and memory back ends (the contract tests run against all three).
//
// Connection: a libpq URL ("postgresql://user@host:port/db?options=...");
// each PgDb keeps a small pool of connections, so store methods called from
// several threads run side by side. Every method runs in one transaction
// (READ COMMITTED); the rows a method changes are locked (SELECT ... FOR
// UPDATE on the folder row for UID allocation, INSERT ... ON CONFLICT for
// deduplication), so two replicas never hand out the same UID nor store a
// notification twice. A transaction that PostgreSQL aborts as a deadlock or
// serialization failure is retried a few times before kUnavailable.
//
// Durability: PostgreSQL's own (synchronous_commit on: an acknowledged
// method survives a crash of the database server's machine).
//
// Changes: every method of the recipient store that changes a user's
// mailbox sends NOTIFY with the user's address as payload, at commit, on the
// channel kPgMailboxChannel + "_" + the schema's name (so that domains kept
// in several schemas of one database do not wake each other);
// PgChangeListener receives them (IMAP IDLE / Watch across replicas).
//
// Error mapping: unique violation -> kAlreadyExists; deadlock, serialization
// failure, lost connection, server shutting down -> kUnavailable;
// insufficient resources -> kResourceExhausted; data corrupted -> kDataLoss;
// anything else -> kInternal. Messages name the failing operation.
#ifndef PULLMAIL_CORE_STORAGE_PG_STORE_H_
#define PULLMAIL_CORE_STORAGE_PG_STORE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/storage/recipient_store.h"
#include "core/storage/sender_store.h"
#include "core/storage/user_store.h"

namespace pullmail {

inline constexpr std::string_view kPgMailboxChannel = "pullmail_mailbox";

struct PgOptions {
  int pool_size = 8;  // connections at most (opened on demand)
};

// A pool of connections to one database (defined in pg_db.h).
class PgDb;

// True if `spec` is a PostgreSQL URL (postgres:// or postgresql://) rather
// than a file path.
bool IsPostgresUrl(std::string_view spec);

// Connects to `url` and brings the schema to the latest version (creating
// it if missing; concurrent openers are serialized by an advisory lock).
// The handle may be shared by several stores and threads. kUnavailable if
// the server cannot be reached; kFailedPrecondition if the schema is newer
// than this program knows.
absl::StatusOr<std::shared_ptr<PgDb>> OpenPgDb(const std::string& url,
                                               const PgOptions& options = {});

// Stores over an open database. Never null.
std::unique_ptr<SenderStore> NewPgSenderStore(std::shared_ptr<PgDb> db);
std::unique_ptr<RecipientStore> NewPgRecipientStore(std::shared_ptr<PgDb> db);
std::unique_ptr<UserStore> NewPgUserStore(std::shared_ptr<PgDb> db);

// Waits for the mailbox-change notifications of all processes on one
// database (LISTEN kPgMailboxChannel on its own connection). Not
// thread-safe: one thread calls Wait. Reconnects on its own after a lost
// connection (changes sent while disconnected are lost; callers re-read).
class PgChangeListener {
 public:
  static absl::StatusOr<std::unique_ptr<PgChangeListener>> Open(const std::string& url);
  virtual ~PgChangeListener() = default;

  // The users whose mailbox changed, in arrival order (may repeat), waiting
  // up to `timeout` for the first. Empty on timeout. kUnavailable if the
  // connection was lost and could not be re-established (retry later).
  virtual absl::StatusOr<std::vector<std::string>> Wait(absl::Duration timeout) = 0;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_STORAGE_PG_STORE_H_
