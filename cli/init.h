// `pullmail init`: lays out one domain of a federation under a root folder,
// and the small file helpers that go with it. The demo builds its two-domain
// world with the same function, so that what a newcomer types and what the
// demo does are the same code.
//
//   ROOT/ca/ca.pem, ca.key            the federation's CA (made once)
//   ROOT/directory.toml               every domain's entry (updated in place)
//   ROOT/DOMAIN/node.toml             the domain's config (core/config/node_config.h)
//   ROOT/DOMAIN/keys/signing.pem      Ed25519 signing key, 0600
//   ROOT/DOMAIN/tls/node.pem, .key    TLS certificate for DNS name DOMAIN
//   ROOT/DOMAIN/data/token.key        32-byte bearer-token secret, 0600
#ifndef PULLMAIL_CLI_INIT_H_
#define PULLMAIL_CLI_INIT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/directory/directory.h"

namespace pullmail::cli {

struct InitOptions {
  std::string root;
  std::string domain;
  // 0 = pick a free loopback port (by binding port 0).
  int recipient_port = 0;
  int sender_port = 0;
  int recipient_metrics_port = 0;
  int sender_metrics_port = 0;
  bool plaintext = false;  // loopback only; the nodes log a warning
  int retention_hours = 720;
  // A postgresql:// URL: node.toml's `database` (the stores live there,
  // shared by replicas) and the users are checked to be reachable. Empty:
  // SQLite files in data/.
  std::string database;
};

struct InitResult {
  std::string config_path;  // ROOT/DOMAIN/node.toml
  bool created_config = false;  // false: node.toml existed and was kept
  std::string recipient_listen;
  std::string sender_listen;
  std::string recipient_metrics_listen;
  std::string sender_metrics_listen;
  std::string imap_listen;        // the gateway's listeners ([gateway])
  std::string pop3_listen;
  std::string submission_listen;
  std::string smtp_listen;        // SMTP in (the domain's MX)
  std::string relay_listen;       // SMTP out relay (gRPC; the sender node's, for legacy domains)
  std::string public_key_base64;
  std::vector<std::string> created;  // paths made by this call, for the user
};

// Creates what is missing for `options.domain` under `options.root` and
// (re)writes the domain's directory entry from its node.toml and signing key.
// Idempotent: existing keys, certificates and node.toml are kept; a second
// call only refreshes the directory entry. FailedPrecondition if node.toml
// exists with other ports than the ones explicitly asked for;
// InvalidArgument for a malformed domain. Concurrent calls for different
// domains of one root are safe (the directory file is updated under an
// exclusive lock). Not for use on a live node's files while it runs.
absl::StatusOr<InitResult> InitDomain(const InitOptions& options);

// A currently free TCP port on 127.0.0.1, chosen at random below the
// kernel's ephemeral range (so outgoing connections cannot take it before
// the node binds it; bind to port 0 if that range is too small). Another
// listener could still take it first; good enough for loopback tests and
// demos.
absl::StatusOr<int> PickFreePort();

// Rewrites the TOML directory file at `path` with `entry` added or replaced
// (the other domains kept), atomically and under a lock beside the file.
absl::Status UpdateDirectoryFile(const std::string& path, const DomainEntry& entry);

// Reads a whole file. NotFound if it does not exist.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes `data` to `path` atomically (temp file, fsync, rename) with `mode`.
absl::Status WriteFileAtomically(const std::string& path, std::string_view data, int mode = 0644);

}  // namespace pullmail::cli

#endif  // PULLMAIL_CLI_INIT_H_
