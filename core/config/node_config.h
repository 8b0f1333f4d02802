// A domain's node configuration: one TOML file describes the domain and both
// of its nodes (sender and recipient), so that `pullmail init` writes one
// file and every program of that domain reads the same one. Relative paths
// are resolved against the config file's folder.
//
//   domain = "a.example"
//   data_dir = "data"                  # sender.db, recipient.db, users.db
//   database = "postgresql://..."      # optional: the three stores in PostgreSQL
//                                      # instead, shared by replicas (docs/SCALE-OUT.md)
//   directory = "../directory.toml"    # optional when [dns] enabled = true
//   key_id = "k1"
//   signing_key = "keys/signing.pem"
//   [tls]
//   plaintext = false                  # true only on loopback; logs a warning
//   ca = "../ca/ca.pem"  cert = "tls/node.pem"  key = "tls/node.key"
//   [sender]
//   listen = "127.0.0.1:7102"  metrics_listen = "127.0.0.1:9102"
//   endpoints = "10.0.0.1:7102,10.0.0.2:7102"   # optional: every sender replica,
//                                    # what the gateway and `pullmail` dial
//                                    # (docs/SCALE-OUT.md); default: listen
//   retention_hours = 720            # or retention_seconds (overrides)
//   [sender.retry]  (core/logic/outbox.h)
//   [recipient]
//   listen = "127.0.0.1:7101"  metrics_listen = "127.0.0.1:9101"
//   endpoints = "..."                # optional, as [sender] endpoints
//   prefetch_before_expiry_hours = 24
//   [recipient.policy]  (core/policy, docs/POLICY.md)
//   [recipient.fetch]   (fetch deadline, rate, prefetch bounds: core/logic/fetch_schedule.h)
//   [rpc]               (per-peer calls, memory quota: rpc/call_limits.h)
//   [dns]                            (the DNS directory, docs/DNS.md)
//   enabled = true                   # look domains up in DNS; `directory`, if
//                                    # also set, overrides DNS domain by domain
//   servers = "127.0.0.1:5300"       # host:port[,host:port]; empty = /etc/resolv.conf
//   timeout_ms = 3000                # deadline of one lookup (all its queries)
//   max_ttl_seconds = 3600  negative_ttl_seconds = 60
#ifndef PULLMAIL_CORE_CONFIG_NODE_CONFIG_H_
#define PULLMAIL_CORE_CONFIG_NODE_CONFIG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace pullmail {

struct TlsConfig {
  bool plaintext = false;  // loopback only
  std::string ca;          // PEM of the CA that signs every node certificate
  std::string cert;        // this domain's node certificate (PEM)
  std::string key;         // its private key (PEM, 0600)
};

struct DnsConfig {
  bool enabled = false;
  std::string servers;  // "host:port,..."; empty = the system's resolv.conf
  absl::Duration timeout = absl::Seconds(3);
  absl::Duration max_ttl = absl::Hours(1);
  absl::Duration negative_ttl = absl::Seconds(60);
};

struct NodeConfig {
  std::string path;          // the file this was read from
  std::string domain;        // lower-case
  std::string data_dir;
  // A PostgreSQL URL holding all three stores (several node processes of the
  // domain share it), or empty for SQLite files in data_dir.
  std::string database;
  std::string directory;     // directory TOML file; may be empty if dns.enabled
  DnsConfig dns;
  std::string key_id;
  std::string signing_key;   // PEM path
  TlsConfig tls;

  std::string sender_listen;
  std::string sender_metrics_listen;   // empty = no metrics endpoint
  // [sender] endpoints: every sender replica of the domain, comma-separated
  // as in the directory ("10.0.0.1:7102,10.0.0.2:7102"); empty = listen.
  // Read by the domain's own clients (gateway, `pullmail`), not by the node.
  std::string sender_endpoints;
  absl::Duration retention = absl::Hours(24 * 30);
  // How long a sender replica holds a delivery it took from the shared queue
  // before another replica may send it ([sender] claim_lease_seconds; longer
  // than any one send: docs/SCALE-OUT.md).
  absl::Duration claim_lease = absl::Minutes(2);
  // The lease the delivery worker claims due deliveries for: claim_lease
  // when replicas share a PostgreSQL database; none when this process alone
  // owns its SQLite store, where no other claimant exists and a lease would
  // only make a node killed in the middle of a pass wait it out after its
  // restart before sending what it had queued.
  absl::Duration DeliveryClaimLease() const {
    return database.empty() ? absl::ZeroDuration() : claim_lease;
  }

  std::string recipient_listen;
  std::string recipient_metrics_listen;
  std::string recipient_endpoints;  // [recipient] endpoints, as sender_endpoints
  absl::Duration prefetch_before_expiry = absl::Hours(24);

  // The whole parsed file, for sections parsed by their own modules
  // ([sender.retry] by core/logic/outbox.h, [recipient.policy] by core/policy).
  std::shared_ptr<const toml::table> raw;

  std::string SenderDbPath() const { return data_dir + "/sender.db"; }
  std::string RecipientDbPath() const { return data_dir + "/recipient.db"; }
  std::string UsersDbPath() const { return data_dir + "/users.db"; }
  // Where each store lives: `database` if set, else the SQLite file above
  // (what core/storage/open_store.h takes).
  std::string SenderStoreLocation() const { return database.empty() ? SenderDbPath() : database; }
  std::string RecipientStoreLocation() const {
    return database.empty() ? RecipientDbPath() : database;
  }
  std::string UsersStoreLocation() const { return database.empty() ? UsersDbPath() : database; }
  // What the domain's own clients (the gateway, `pullmail`) dial to reach
  // the sender / recipient node: the endpoints list when given, else the
  // node's listen address. One gRPC channel over a list spreads calls over
  // the replicas that are up (rpc/tls.h Dial).
  const std::string& SenderEndpoints() const {
    return sender_endpoints.empty() ? sender_listen : sender_endpoints;
  }
  const std::string& RecipientEndpoints() const {
    return recipient_endpoints.empty() ? recipient_listen : recipient_endpoints;
  }
  std::string TokenKeyPath() const { return data_dir + "/token.key"; }
  // A sub-table of raw, e.g. Section("recipient", "policy"); nullptr if absent.
  const toml::table* Section(std::string_view a, std::string_view b = {}) const;
};

// Reads and validates a config file. Errors name the file and the field.
absl::StatusOr<NodeConfig> LoadNodeConfig(const std::string& path);
absl::StatusOr<NodeConfig> ParseNodeConfig(std::string_view text, const std::string& path);

// True if `host_port` ("127.0.0.1:7101", "[::1]:7101", "localhost:7101")
// names a loopback address, where plaintext gRPC is allowed.
bool IsLoopbackEndpoint(std::string_view host_port);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_CONFIG_NODE_CONFIG_H_
