// UserStore in memory (memory_store.h).
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/storage/memory_store.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

class MemoryUserStore : public UserStore {
 public:
  absl::Status AddUser(const User& user) override {
    if (user.address.empty()) return absl::InvalidArgumentError("empty user address");
    absl::MutexLock lock(&mu_);
    User u = user;
    u.created = TruncateToMicros(u.created);
    if (!users_.emplace(u.address, u).second) {
      return absl::AlreadyExistsError(absl::StrCat("user ", user.address, " already exists"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<User> GetUser(std::string_view address) override {
    absl::MutexLock lock(&mu_);
    auto it = users_.find(address);
    if (it == users_.end()) return absl::NotFoundError(absl::StrCat("no user ", AV(address)));
    return it->second;
  }

  absl::Status SetPassword(std::string_view address, std::string_view password_hash) override {
    absl::MutexLock lock(&mu_);
    auto it = users_.find(address);
    if (it == users_.end()) return absl::NotFoundError(absl::StrCat("no user ", AV(address)));
    it->second.password_hash = std::string(password_hash);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<User>> ListUsers() override {
    absl::MutexLock lock(&mu_);
    std::vector<User> out;
    out.reserve(users_.size());
    for (const auto& [address, user] : users_) out.push_back(user);
    return out;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, User, std::less<>> users_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<UserStore> NewMemoryUserStore() { return std::make_unique<MemoryUserStore>(); }

}  // namespace pullmail
