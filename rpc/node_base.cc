// OpenNodeBase (see node_base.h).
#include "rpc/node_base.h"

#include "absl/strings/str_cat.h"
#include "core/logic/login_throttle.h"
#include "core/storage/open_store.h"
#include "core/util/clock.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "core/util/logging.h"
#include "rpc/node_directory.h"

namespace pullmail {

absl::StatusOr<NodeBase> OpenNodeBase(const NodeConfig& config, Clock* clock) {
  NodeBase b;
  ASSIGN_OR_RETURN(b.users, OpenUserStore(config.UsersStoreLocation()));
  ASSIGN_OR_RETURN(b.directory, OpenNodeDirectory(config));
  ASSIGN_OR_RETURN(SigningKey key, SigningKey::LoadPem(config.signing_key));
  b.key = std::make_unique<SigningKey>(std::move(key));
  ASSIGN_OR_RETURN(std::string token_key,
                   UserAuthenticator::LoadOrCreateTokenKey(config.TokenKeyPath()));
  ASSIGN_OR_RETURN(LoginPenaltyConfig penalty, ParseLoginPenaltyConfig(config));
  b.auth = std::make_unique<UserAuthenticator>(b.users.get(), std::move(token_key),
                                               clock, absl::Hours(12), penalty);
  auto listed = b.directory->LookupKey(config.domain, config.key_id);
  if (!listed.ok() && absl::IsUnavailable(listed.status())) {
    // DNS is down: starting anyway is what lets the node serve its users;
    // peers will refuse its mail only while they cannot see its key either.
    PM_LOG(WARNING) << "cannot check that the directory lists this node's key " << config.domain
                    << "/" << config.key_id << " now: " << listed.status();
    return b;
  }
  if (!listed.ok() || *listed != b.key->PublicKey()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the directory ", config.directory.empty() ? std::string("(DNS)") : config.directory, " does not list this node's key ", config.domain, "/",
        config.key_id,
        listed.ok() ? " (it lists a different key)"
                    : absl::StrCat(" (", listed.status().message(), ")")));
  }
  return b;
}

}  // namespace pullmail
