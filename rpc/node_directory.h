// The directory a node program uses, as its node.toml says: the TOML file
// (re-read when it changes), the DNS directory (c-ares, answers cached for
// their TTL), or both with the file overriding DNS domain by domain.
#ifndef PULLMAIL_RPC_NODE_DIRECTORY_H_
#define PULLMAIL_RPC_NODE_DIRECTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/config/node_config.h"
#include "core/directory/directory.h"

namespace pullmail {

// Errors: a directory file that cannot be read or parsed, a bad [dns]
// server list. The result is thread-safe and owns everything it uses.
absl::StatusOr<std::unique_ptr<Directory>> OpenNodeDirectory(const NodeConfig& config);

}  // namespace pullmail

#endif  // PULLMAIL_RPC_NODE_DIRECTORY_H_
