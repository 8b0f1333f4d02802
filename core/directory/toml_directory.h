// The embedded directory back end: a TOML file listing domains, their
// endpoints and their Ed25519 public keys. `pullmail init` appends a node's
// own entry with FormatTomlDirectoryEntry; nodes load the whole file at start.
//
//   [domains."a.example"]
//   recipient_endpoint = "127.0.0.1:7101"
//   sender_endpoint = "127.0.0.1:7102"
//   legacy = false
//   [domains."a.example".keys]
//   k1 = "<base64 of the raw 32-byte Ed25519 public key>"
//
// Rules: `domains` is the only top-level key; inside a domain only the four
// fields above are allowed (a misspelt field is an error, not a silent
// default); a non-legacy domain needs both endpoints; each key is standard
// base64 (RFC 4648 section 4, with padding) of exactly 32 bytes; key ids are
// 1..64 bytes; domain names are lower-cased and must be unique after that.
#ifndef PULLMAIL_CORE_DIRECTORY_TOML_DIRECTORY_H_
#define PULLMAIL_CORE_DIRECTORY_TOML_DIRECTORY_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/directory/memory_directory.h"

namespace pullmail {

// Reads and parses the directory file at `path`. Errors: NotFound when the
// file cannot be opened; InvalidArgument naming the file, the domain and the
// field for any syntax or content error. Thread-safe (no shared state).
absl::StatusOr<std::unique_ptr<MemoryDirectory>> LoadTomlDirectory(const std::string& path);

// Parses directory text. `source_name` is used in error messages (a file
// name, or "directory" by default). Errors as for LoadTomlDirectory.
absl::StatusOr<std::unique_ptr<MemoryDirectory>> ParseTomlDirectory(
    std::string_view text, std::string_view source_name = "directory");

// host:port with a port 1..65535, the host a name, an IPv4 address or a
// bracketed IPv6 address, or several separated by commas (replicas): what an
// endpoint field may hold (TOML and DNS).
bool IsValidEndpoint(std::string_view host_port);

// The TOML text for one entry, in the format above, ending with a newline,
// suitable for appending to a directory file. Keys are emitted in key-id
// order; strings are TOML-escaped. Parsing the result yields `entry` back
// (with the domain lower-cased).
std::string FormatTomlDirectoryEntry(const DomainEntry& entry);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_DIRECTORY_TOML_DIRECTORY_H_
