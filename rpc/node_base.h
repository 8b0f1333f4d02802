// What both node programs of a domain open first: its users (the users.db
// the two nodes share), the directory, its signing key (checked against the
// directory, so a mismatch fails at start rather than at every peer), and
// the user authenticator.
#ifndef PULLMAIL_RPC_NODE_BASE_H_
#define PULLMAIL_RPC_NODE_BASE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/config/node_config.h"
#include "core/crypto/ed25519.h"
#include "core/directory/directory.h"
#include "core/storage/user_store.h"
#include "core/util/clock.h"
#include "rpc/user_auth.h"

namespace pullmail {

struct NodeBase {
  std::unique_ptr<UserStore> users;
  std::unique_ptr<Directory> directory;  // re-read when the file changes
  std::unique_ptr<SigningKey> key;
  std::unique_ptr<UserAuthenticator> auth;  // uses `users`
};

// Errors: unreadable files, a database that cannot be opened, or a
// directory that does not list this domain's key (kFailedPrecondition).
// `clock` (not owned; lives as long as the node) times user tokens.
absl::StatusOr<NodeBase> OpenNodeBase(const NodeConfig& config, Clock* clock = &SystemClock());

}  // namespace pullmail

#endif  // PULLMAIL_RPC_NODE_BASE_H_
