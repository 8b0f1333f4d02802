// OpenSenderStore, OpenRecipientStore, OpenUserStore (see open_store.h).
#include "core/storage/open_store.h"

#include "core/storage/pg_store.h"
#include "core/storage/sqlite_store.h"
#include "core/util/status_macros.h"

namespace pullmail {

absl::StatusOr<std::unique_ptr<SenderStore>> OpenSenderStore(const std::string& location) {
  if (!IsPostgresUrl(location)) return OpenSqliteSenderStore(location);
  ASSIGN_OR_RETURN(std::shared_ptr<PgDb> db, OpenPgDb(location));
  return NewPgSenderStore(std::move(db));
}

absl::StatusOr<std::unique_ptr<RecipientStore>> OpenRecipientStore(const std::string& location) {
  if (!IsPostgresUrl(location)) return OpenSqliteRecipientStore(location);
  ASSIGN_OR_RETURN(std::shared_ptr<PgDb> db, OpenPgDb(location));
  return NewPgRecipientStore(std::move(db));
}

absl::StatusOr<std::unique_ptr<UserStore>> OpenUserStore(const std::string& location) {
  if (!IsPostgresUrl(location)) return OpenSqliteUserStore(location);
  ASSIGN_OR_RETURN(std::shared_ptr<PgDb> db, OpenPgDb(location));
  return NewPgUserStore(std::move(db));
}

}  // namespace pullmail
