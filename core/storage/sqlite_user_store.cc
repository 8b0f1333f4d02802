// UserStore over SQLite (table `users`, schema in sqlite_db.cc).
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/storage/sqlite_db.h"
#include "core/storage/sqlite_store.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

class SqliteUserStore : public UserStore {
 public:
  explicit SqliteUserStore(std::shared_ptr<SqliteDb> db) : db_(std::move(db)) {}

  absl::Status AddUser(const User& user) override {
    if (user.address.empty()) return absl::InvalidArgumentError("empty user address");
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(),
                 "INSERT INTO users(address, password_hash, created_us) VALUES(?, ?, ?)");
    st.Text(1, user.address).Text(2, user.password_hash).Int(3, TimeToStoredMicros(user.created));
    absl::Status s = st.Run();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat("user ", user.address, " already exists"));
    }
    return s;
  }

  absl::StatusOr<User> GetUser(std::string_view address) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(),
                 "SELECT address, password_hash, created_us FROM users WHERE address = ?");
    st.Text(1, address);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return absl::NotFoundError(absl::StrCat("no user ", AV(address)));
    return Read(st);
  }

  absl::Status SetPassword(std::string_view address, std::string_view password_hash) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), "UPDATE users SET password_hash = ? WHERE address = ?");
    st.Text(1, password_hash).Text(2, address);
    RETURN_IF_ERROR(st.Run());
    if (sqlite3_changes(db_->handle()) == 0) {
      return absl::NotFoundError(absl::StrCat("no user ", AV(address)));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<User>> ListUsers() override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(),
                 "SELECT address, password_hash, created_us FROM users ORDER BY address");
    std::vector<User> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(Read(st));
    }
    return out;
  }

 private:
  static User Read(Statement& st) {
    User u;
    u.address = st.ColText(0);
    u.password_hash = st.ColText(1);
    u.created = StoredMicrosToTime(st.ColInt(2));
    return u;
  }

  std::shared_ptr<SqliteDb> db_;
};

}  // namespace

std::unique_ptr<UserStore> NewSqliteUserStore(std::shared_ptr<SqliteDb> db) {
  return std::make_unique<SqliteUserStore>(std::move(db));
}

}  // namespace pullmail
