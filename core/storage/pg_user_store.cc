// UserStore over PostgreSQL (table `users`, schema in pg_db.cc).
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/storage/pg_db.h"
#include "core/storage/pg_store.h"
#include "core/storage/types.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

class PgUserStore : public UserStore {
 public:
  explicit PgUserStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

  absl::Status AddUser(const User& user) override {
    if (user.address.empty()) return absl::InvalidArgumentError("empty user address");
    absl::Status s = db_->Exec("INSERT INTO users(address, password_hash, created_us) "
                               "VALUES($1, $2, $3)",
                               PgParams()
                                   .Text(user.address)
                                   .Text(user.password_hash)
                                   .Int(TimeToStoredMicros(user.created)))
                         .status();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat("user ", user.address, " already exists"));
    }
    return s;
  }

  absl::StatusOr<User> GetUser(std::string_view address) override {
    ASSIGN_OR_RETURN(PgResult r,
                     db_->Exec("SELECT address, password_hash, created_us FROM users "
                               "WHERE address = $1",
                               PgParams().Text(address)));
    if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no user ", AV(address)));
    return Read(r, 0);
  }

  absl::Status SetPassword(std::string_view address, std::string_view password_hash) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("UPDATE users SET password_hash = $1 WHERE address = $2",
                                           PgParams().Text(password_hash).Text(address)));
    if (r.affected() == 0) return absl::NotFoundError(absl::StrCat("no user ", AV(address)));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<User>> ListUsers() override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("SELECT address, password_hash, created_us FROM users "
                                           "ORDER BY address COLLATE \"C\""));
    std::vector<User> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(Read(r, i));
    return out;
  }

 private:
  static User Read(const PgResult& r, int i) {
    User u;
    u.address = std::string(r.Text(i, 0));
    u.password_hash = std::string(r.Text(i, 1));
    u.created = StoredMicrosToTime(r.Int(i, 2));
    return u;
  }

  std::shared_ptr<PgDb> db_;
};

}  // namespace

std::unique_ptr<UserStore> NewPgUserStore(std::shared_ptr<PgDb> db) {
  return std::make_unique<PgUserStore>(std::move(db));
}

}  // namespace pullmail
