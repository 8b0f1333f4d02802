// The TOML directory back end. Parsing is strict on purpose: a directory is
// security-relevant configuration (it decides which keys are trusted and
// which endpoints are contacted), so a typo must fail loudly at start rather
// than silently drop a key or an endpoint.
#include "core/directory/toml_directory.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/encoding.h"
#include "core/util/limits.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "core/util/toml.h"
#include "core/util/address.h"

namespace pullmail {
namespace {

constexpr size_t kEd25519PublicKeySize = 32;

// A TOML basic string, quoted and escaped (TOML 1.0 "Basic strings").
std::string TomlQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          absl::StrAppend(&out, "\\u00", absl::Hex(u, absl::kZeroPad2));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

bool ValidDomainName(std::string_view d) {
  if (d.empty() || d.size() > limits::kMaxDomain) return false;
  if (d.front() == '.' || d.back() == '.') return false;
  for (char c : d) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
      return false;
    }
  }
  return true;
}

// host:port, host being a name, an IPv4 address or a bracketed IPv6 address.
bool ValidOneEndpoint(std::string_view ep);

// host:port, or several of them separated by commas: the replicas of one
// node (docs/SCALE-OUT.md), among which callers spread their calls.
bool ValidEndpoint(std::string_view ep) {
  size_t start = 0;
  while (true) {
    size_t comma = ep.find(',', start);
    if (!ValidOneEndpoint(ep.substr(start, comma == std::string_view::npos ? comma
                                                                           : comma - start))) {
      return false;
    }
    if (comma == std::string_view::npos) return true;
    start = comma + 1;
  }
}

bool ValidOneEndpoint(std::string_view ep) {
  if (ep.empty()) return false;
  size_t colon = ep.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = ep.substr(0, colon);
  std::string_view port = ep.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
  } else if (host.find(':') != std::string_view::npos) {
    return false;
  }
  for (char c : host) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  uint32_t p = 0;
  if (port.empty() || port.size() > 5 || !absl::SimpleAtoi(AV(port), &p)) return false;
  for (char c : port) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return p >= 1 && p <= 65535;
}

std::string Where(std::string_view source, const toml::node& node) {
  const toml::source_region& src = node.source();
  if (src.begin.line == 0) return std::string(source);
  return absl::StrCat(AV(source), ":", src.begin.line);
}

absl::Status FieldError(std::string_view source, const toml::node& node, std::string_view domain,
                        std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(Where(source, node), ": domain \"", AV(domain),
                                                 "\": field ", AV(field), ": ", AV(what)));
}

absl::StatusOr<std::string> EndpointField(std::string_view source, const toml::table& t,
                                          std::string_view domain, std::string_view field,
                                          bool required) {
  const toml::node* n = t.get(field);
  if (n == nullptr) {
    if (required) {
      return FieldError(source, t, domain, field, "missing (required for a non-legacy domain)");
    }
    return std::string();
  }
  const toml::value<std::string>* s = n->as_string();
  if (s == nullptr) return FieldError(source, *n, domain, field, "must be a string");
  const std::string& ep = s->get();
  if (ep.empty() && !required) return std::string();
  if (!ValidEndpoint(ep)) {
    return FieldError(source, *n, domain, field,
                      absl::StrCat("\"", ep, "\" is not host:port with a port 1..65535"));
  }
  return ep;
}

absl::StatusOr<DomainEntry> ParseDomain(std::string_view source, std::string_view raw_domain,
                                        const toml::node& node) {
  absl::StatusOr<std::string> normal = NormalizeDomain(raw_domain);
  std::string domain = normal.ok() ? *normal : absl::AsciiStrToLower(AV(raw_domain));
  const toml::table* t = node.as_table();
  if (t == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(Where(source, node), ": domain \"", domain,
                                                   "\": must be a table"));
  }
  if (!ValidDomainName(domain)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(source, node), ": domain \"", domain,
                     "\": not a domain name (letters, digits, '-', '_', '.'; at most 253 bytes)"));
  }
  for (const auto& [k, v] : *t) {
    std::string_view key = k.str();
    if (key != "recipient_endpoint" && key != "sender_endpoint" && key != "legacy" &&
        key != "keys") {
      return FieldError(source, v, domain, key, "unknown field");
    }
  }

  DomainEntry entry;
  entry.domain = domain;
  if (const toml::node* n = t->get("legacy")) {
    const toml::value<bool>* b = n->as_boolean();
    if (b == nullptr) return FieldError(source, *n, domain, "legacy", "must be true or false");
    entry.legacy = b->get();
  }
  ASSIGN_OR_RETURN(entry.recipient_endpoint,
                   EndpointField(source, *t, domain, "recipient_endpoint", !entry.legacy));
  ASSIGN_OR_RETURN(entry.sender_endpoint,
                   EndpointField(source, *t, domain, "sender_endpoint", !entry.legacy));

  if (const toml::node* n = t->get("keys")) {
    const toml::table* keys = n->as_table();
    if (keys == nullptr) return FieldError(source, *n, domain, "keys", "must be a table");
    for (const auto& [k, v] : *keys) {
      std::string key_id(k.str());
      std::string field = absl::StrCat("keys.", key_id);
      if (key_id.empty() || key_id.size() > limits::kMaxKeyId) {
        return FieldError(source, v, domain, field, "key id must be 1..64 bytes");
      }
      const toml::value<std::string>* s = v.as_string();
      if (s == nullptr) return FieldError(source, v, domain, field, "must be a base64 string");
      absl::StatusOr<std::string> raw = Base64Decode(s->get());
      if (!raw.ok()) return FieldError(source, v, domain, field, "bad base64");
      if (raw->size() != kEd25519PublicKeySize) {
        return FieldError(source, v, domain, field,
                          absl::StrCat("Ed25519 public key must be 32 bytes, got ", raw->size()));
      }
      entry.keys[key_id] = *std::move(raw);
    }
  }
  return entry;
}

// Builds the directory from an already parsed document.
absl::StatusOr<std::unique_ptr<MemoryDirectory>> DirectoryFromTable(const toml::table& root,
                                                                    std::string_view source_name) {
  for (const auto& [k, v] : root) {
    if (k.str() != "domains") {
      return absl::InvalidArgumentError(absl::StrCat(Where(source_name, v), ": unknown top-level key \"",
                                                     AV(k.str()), "\" (only [domains.\"...\"] tables)"));
    }
  }
  auto dir = std::make_unique<MemoryDirectory>();
  const toml::node* domains_node = root.get("domains");
  if (domains_node == nullptr) return dir;  // An empty directory is valid.
  const toml::table* domains = domains_node->as_table();
  if (domains == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(source_name, *domains_node), ": \"domains\" must be a table"));
  }
  std::set<std::string> seen;
  for (const auto& [k, v] : *domains) {
    ASSIGN_OR_RETURN(DomainEntry entry, ParseDomain(source_name, k.str(), v));
    if (!seen.insert(entry.domain).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          Where(source_name, v), ": domain \"", entry.domain, "\": listed twice (case-insensitive)"));
    }
    dir->Add(std::move(entry));
  }
  return dir;
}

}  // namespace

bool IsValidEndpoint(std::string_view host_port) { return ValidEndpoint(host_port); }

absl::StatusOr<std::unique_ptr<MemoryDirectory>> ParseTomlDirectory(std::string_view text,
                                                                    std::string_view source_name) {
  ASSIGN_OR_RETURN(toml::table root, ParseToml(text, source_name));
  return DirectoryFromTable(root, source_name);
}

absl::StatusOr<std::unique_ptr<MemoryDirectory>> LoadTomlDirectory(const std::string& path) {
  ASSIGN_OR_RETURN(toml::table root, ParseTomlFile(path));
  return DirectoryFromTable(root, path);
}

std::string FormatTomlDirectoryEntry(const DomainEntry& entry) {
  std::string domain = TomlQuote(absl::AsciiStrToLower(entry.domain));
  std::string out = absl::StrCat("[domains.", domain, "]\n");
  if (!entry.recipient_endpoint.empty()) {
    absl::StrAppend(&out, "recipient_endpoint = ", TomlQuote(entry.recipient_endpoint), "\n");
  }
  if (!entry.sender_endpoint.empty()) {
    absl::StrAppend(&out, "sender_endpoint = ", TomlQuote(entry.sender_endpoint), "\n");
  }
  absl::StrAppend(&out, "legacy = ", entry.legacy ? "true" : "false", "\n");
  if (!entry.keys.empty()) {
    absl::StrAppend(&out, "[domains.", domain, ".keys]\n");
    for (const auto& [id, key] : entry.keys) {
      absl::StrAppend(&out, TomlQuote(id), " = ", TomlQuote(Base64Encode(key)), "\n");
    }
  }
  return out;
}

}  // namespace pullmail
