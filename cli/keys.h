// `pullmail key rotate|revoke|list` and `pullmail dns-records`: a domain's
// signing keys and what it publishes in DNS. The rules (next id, how long a
// replaced key stays published, newest first) are core's
// (core/directory/key_ring.h); this file reads and writes the files:
//   node.toml's key_id / signing_key   the key the nodes sign with (newest)
//   KEYS_DIR/<id>.pem                  each key, 0600
//   KEYS_DIR/published.toml            the older keys still published
// where KEYS_DIR is the folder of signing_key.
#ifndef PULLMAIL_CLI_KEYS_H_
#define PULLMAIL_CLI_KEYS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/args.h"
#include "core/config/node_config.h"
#include "core/directory/directory.h"

namespace pullmail::cli {

// What `config`'s domain publishes at `now`: endpoints (its listen
// addresses unless overridden), the current key and the older keys still
// within their publication time; `order` gets the key ids newest first.
absl::StatusOr<DomainEntry> PublishedEntryOf(const NodeConfig& config, absl::Time now,
                                             std::vector<std::string>* order,
                                             const std::string& recipient_endpoint = "",
                                             const std::string& sender_endpoint = "");

int RunKeyRotate(const Args& args);
int RunKeyRevoke(const Args& args);
int RunKeyList(const Args& args);
int RunDnsRecords(const Args& args);

}  // namespace pullmail::cli

#endif  // PULLMAIL_CLI_KEYS_H_
