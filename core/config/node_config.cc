// Parsing of the per-domain node configuration (see node_config.h).
#include "core/config/node_config.h"

#include <toml++/toml.h>

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/storage/pg_store.h"  // IsPostgresUrl
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "core/util/toml.h"
#include "core/util/address.h"

namespace pullmail {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

absl::Status FieldError(const std::string& path, std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", AV(field), ": ", AV(why)));
}

absl::StatusOr<NodeConfig> FromTable(toml::table parsed, const std::string& path);

}  // namespace

const toml::table* NodeConfig::Section(std::string_view a, std::string_view b) const {
  if (!raw) return nullptr;
  const toml::table* t = (*raw)[a].as_table();
  if (t == nullptr || b.empty()) return t;
  return (*t)[b].as_table();
}

bool IsLoopbackEndpoint(std::string_view hp) {
  std::string_view host = hp;
  if (absl::StartsWith(AV(host), "[")) {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    host = host.substr(1, close - 1);
  } else {
    size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) host = host.substr(0, colon);
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(AV(host), "127.");
}

absl::StatusOr<NodeConfig> LoadNodeConfig(const std::string& path) {
  ASSIGN_OR_RETURN(toml::table parsed, ParseTomlFile(path));
  return FromTable(std::move(parsed), path);
}

absl::StatusOr<NodeConfig> ParseNodeConfig(std::string_view text, const std::string& path) {
  ASSIGN_OR_RETURN(toml::table parsed, ParseToml(text, path));
  return FromTable(std::move(parsed), path);
}

namespace {
absl::StatusOr<NodeConfig> FromTable(toml::table parsed, const std::string& path) {
  auto table = std::make_shared<toml::table>(std::move(parsed));
  const toml::table& t = *table;
  std::string base =
      std::filesystem::absolute(std::filesystem::path(path)).parent_path().string();

  NodeConfig c;
  c.path = path;
  c.raw = table;
  c.domain = t["domain"].value_or(std::string());
  if (c.domain.empty()) return FieldError(path, "domain", "missing");
  absl::StatusOr<std::string> domain = NormalizeDomain(c.domain);
  if (!domain.ok()) return FieldError(path, "domain", SV(domain.status().message()));
  c.domain = *std::move(domain);
  c.data_dir = Resolve(base, t["data_dir"].value_or(std::string("data")));
  c.directory = Resolve(base, t["directory"].value_or(std::string()));
  c.dns.enabled = t["dns"]["enabled"].value_or(false);
  c.dns.servers = t["dns"]["servers"].value_or(std::string());
  int64_t timeout_ms = t["dns"]["timeout_ms"].value_or(int64_t{3000});
  if (timeout_ms < 10 || timeout_ms > 60'000) return FieldError(path, "dns.timeout_ms", "must be in 10..60000");
  c.dns.timeout = absl::Milliseconds(timeout_ms);
  int64_t max_ttl = t["dns"]["max_ttl_seconds"].value_or(int64_t{3600});
  if (max_ttl < 0 || max_ttl > 86400) return FieldError(path, "dns.max_ttl_seconds", "must be in 0..86400");
  c.dns.max_ttl = absl::Seconds(max_ttl);
  int64_t neg_ttl = t["dns"]["negative_ttl_seconds"].value_or(int64_t{60});
  if (neg_ttl < 0 || neg_ttl > 86400) {
    return FieldError(path, "dns.negative_ttl_seconds", "must be in 0..86400");
  }
  c.dns.negative_ttl = absl::Seconds(neg_ttl);
  if (c.directory.empty() && !c.dns.enabled) {
    return FieldError(path, "directory", "missing (give a directory file, or [dns] enabled = true)");
  }
  c.database = t["database"].value_or(std::string());
  if (!c.database.empty() && !IsPostgresUrl(c.database)) {
    return FieldError(path, "database", "must be a postgresql:// URL (or absent for SQLite)");
  }
  c.key_id = t["key_id"].value_or(std::string("k1"));
  c.signing_key = Resolve(base, t["signing_key"].value_or(std::string()));
  if (c.signing_key.empty()) return FieldError(path, "signing_key", "missing");

  c.tls.plaintext = t["tls"]["plaintext"].value_or(false);
  c.tls.ca = Resolve(base, t["tls"]["ca"].value_or(std::string()));
  c.tls.cert = Resolve(base, t["tls"]["cert"].value_or(std::string()));
  c.tls.key = Resolve(base, t["tls"]["key"].value_or(std::string()));
  if (!c.tls.plaintext && (c.tls.ca.empty() || c.tls.cert.empty() || c.tls.key.empty())) {
    return FieldError(path, "tls", "ca, cert and key are required unless plaintext = true");
  }

  c.sender_listen = t["sender"]["listen"].value_or(std::string());
  c.sender_metrics_listen = t["sender"]["metrics_listen"].value_or(std::string());
  c.sender_endpoints = t["sender"]["endpoints"].value_or(std::string());
  int64_t retention_h = t["sender"]["retention_hours"].value_or(int64_t{24 * 30});
  if (retention_h <= 0 || retention_h > 24 * 90) {
    return FieldError(path, "sender.retention_hours", "must be in 1..2160");
  }
  c.retention = absl::Hours(retention_h);
  // retention_seconds, when given, overrides retention_hours (tests, demos).
  if (auto secs = t["sender"]["retention_seconds"].value<int64_t>()) {
    if (*secs <= 0 || *secs > int64_t{24 * 90 * 3600}) {
      return FieldError(path, "sender.retention_seconds", "must be in 1..7776000");
    }
    c.retention = absl::Seconds(*secs);
  }

  int64_t lease_s = t["sender"]["claim_lease_seconds"].value_or(int64_t{120});
  if (lease_s < 1 || lease_s > 3600) {
    return FieldError(path, "sender.claim_lease_seconds", "must be in 1..3600");
  }
  c.claim_lease = absl::Seconds(lease_s);

  c.recipient_listen = t["recipient"]["listen"].value_or(std::string());
  c.recipient_metrics_listen = t["recipient"]["metrics_listen"].value_or(std::string());
  c.recipient_endpoints = t["recipient"]["endpoints"].value_or(std::string());
  for (auto [field, list] : {std::pair{"sender.endpoints", &c.sender_endpoints},
                             std::pair{"recipient.endpoints", &c.recipient_endpoints}}) {
    for (absl::string_view e : absl::StrSplit(*list, ',')) {
      if (!list->empty() && (e.empty() || e.find(':') == absl::string_view::npos)) {
        return FieldError(path, field, "a comma-separated list of host:port");
      }
    }
  }
  int64_t prefetch_h = t["recipient"]["prefetch_before_expiry_hours"].value_or(int64_t{24});
  if (prefetch_h < 0) return FieldError(path, "recipient.prefetch_before_expiry_hours", "negative");
  c.prefetch_before_expiry = absl::Hours(prefetch_h);

  if (c.tls.plaintext) {
    for (const std::string* l : {&c.sender_listen, &c.recipient_listen}) {
      if (!l->empty() && !IsLoopbackEndpoint(*l)) {
        return FieldError(path, "tls.plaintext", "plaintext is allowed only on loopback listeners");
      }
    }
    for (const std::string* l : {&c.sender_endpoints, &c.recipient_endpoints}) {
      for (absl::string_view e : absl::StrSplit(*l, ',', absl::SkipEmpty())) {
        if (!IsLoopbackEndpoint(SV(e))) {
          return FieldError(path, "tls.plaintext", "plaintext is allowed only to loopback endpoints");
        }
      }
    }
  }
  return c;
}

}  // namespace
}  // namespace pullmail
