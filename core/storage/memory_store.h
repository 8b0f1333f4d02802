// In-memory back ends of the storage interfaces, for unit tests and the
// simulator. Same contract as the SQLite back end (the contract tests run
// against both) except durability: everything is lost with the object.
// Thread-safe (one mutex per store). Kept small per entry, since the
// simulator holds millions of them.
#ifndef PULLMAIL_CORE_STORAGE_MEMORY_STORE_H_
#define PULLMAIL_CORE_STORAGE_MEMORY_STORE_H_

#include <memory>

#include "core/storage/recipient_store.h"
#include "core/storage/sender_store.h"
#include "core/storage/user_store.h"

namespace pullmail {

// Each call returns a new, empty, independent store. Never null.
std::unique_ptr<SenderStore> NewMemorySenderStore();
std::unique_ptr<RecipientStore> NewMemoryRecipientStore();
std::unique_ptr<UserStore> NewMemoryUserStore();

}  // namespace pullmail

#endif  // PULLMAIL_CORE_STORAGE_MEMORY_STORE_H_
