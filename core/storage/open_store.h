// Opens a store by location: a postgresql:// URL (pg_store.h, shared by
// several node processes) or a SQLite file path (sqlite_store.h). Programs
// pass NodeConfig::*StoreLocation() here and need not know the back end.
#ifndef PULLMAIL_CORE_STORAGE_OPEN_STORE_H_
#define PULLMAIL_CORE_STORAGE_OPEN_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/storage/recipient_store.h"
#include "core/storage/sender_store.h"
#include "core/storage/user_store.h"

namespace pullmail {

// Errors are those of OpenPgDb or OpenSqliteDb.
absl::StatusOr<std::unique_ptr<SenderStore>> OpenSenderStore(const std::string& location);
absl::StatusOr<std::unique_ptr<RecipientStore>> OpenRecipientStore(const std::string& location);
absl::StatusOr<std::unique_ptr<UserStore>> OpenUserStore(const std::string& location);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_STORAGE_OPEN_STORE_H_
