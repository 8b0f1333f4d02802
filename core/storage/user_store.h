// UserStore: the local users of a node (address and password hash). Both the
// sender node (Submit's login) and the recipient node (mailbox login) use it.
// Back ends: sqlite_store.h (durable), memory_store.h (tests, simulator).
#ifndef PULLMAIL_CORE_STORAGE_USER_STORE_H_
#define PULLMAIL_CORE_STORAGE_USER_STORE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/storage/types.h"

namespace pullmail {

// Every method is thread-safe and, when it returns OK, its change is
// committed (durably, for the SQLite back end). Addresses are compared
// exactly (byte for byte): callers normalise letter case first.
class UserStore {
 public:
  virtual ~UserStore() = default;

  // Adds a user. AlreadyExists if the address is taken; InvalidArgument if
  // the address is empty.
  virtual absl::Status AddUser(const User& user) = 0;

  // NotFound if no such user.
  virtual absl::StatusOr<User> GetUser(std::string_view address) = 0;

  // Replaces the password hash. NotFound if no such user.
  virtual absl::Status SetPassword(std::string_view address, std::string_view password_hash) = 0;

  // Every user, sorted by address.
  virtual absl::StatusOr<std::vector<User>> ListUsers() = 0;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_STORAGE_USER_STORE_H_
