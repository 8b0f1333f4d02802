// Key rotation and DNS publication commands (see keys.h).
#include "cli/keys.h"

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/client.h"
#include "cli/init.h"
#include "core/crypto/ed25519.h"
#include "core/crypto/encoding.h"
#include "core/directory/dns_record.h"
#include "core/directory/key_ring.h"
#include "core/util/status_macros.h"

namespace pullmail::cli {
namespace fs = std::filesystem;
namespace {

std::string KeysDir(const NodeConfig& c) { return fs::path(c.signing_key).parent_path().string(); }
std::string PublishedPath(const NodeConfig& c) { return KeysDir(c) + "/published.toml"; }

absl::StatusOr<std::vector<RetiredKey>> LoadRetired(const NodeConfig& c) {
  std::string path = PublishedPath(c);
  if (!fs::exists(path)) return std::vector<RetiredKey>{};
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseRetiredKeys(text, path);
}

std::string Rfc3339(absl::Time t) { return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone()); }

// Replaces (or adds, before the first table) the top-level `name = ...` line.
std::string SetTopLevel(const std::string& text, const std::string& name, const std::string& value) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  std::string line = absl::StrCat(name, " = \"", value, "\"");
  size_t first_table = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = lines[i];  // NOLINT
    size_t p = l.find_first_not_of(" \t");
    if (p == std::string_view::npos) continue;
    l.remove_prefix(p);
    if (l[0] == '[') {
      first_table = i;
      break;
    }
    if (l.substr(0, name.size()) == name) {
      std::string_view rest = l.substr(name.size());
      size_t q = rest.find_first_not_of(" \t");
      if (q != std::string_view::npos && rest[q] == '=') {
        lines[i] = line;
        return absl::StrJoin(lines, "\n");
      }
    }
  }
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(first_table), line);
  return absl::StrJoin(lines, "\n");
}

// Refreshes the domain's entry in its TOML directory file, if it uses one
// (a lab federation made by `pullmail init`), so that file and DNS agree.
absl::Status RefreshDirectoryFile(const NodeConfig& c) {
  if (c.directory.empty() || !fs::exists(c.directory)) return absl::OkStatus();
  std::vector<std::string> order;
  ASSIGN_OR_RETURN(DomainEntry e, PublishedEntryOf(c, absl::Now(), &order));
  return UpdateDirectoryFile(c.directory, e);
}

std::string RelativeToConfig(const NodeConfig& c, const std::string& path) {
  fs::path base = fs::absolute(c.path).parent_path();
  fs::path rel = fs::path(path).lexically_relative(base);
  if (!rel.empty() && rel.native().rfind("..", 0) != 0) return rel.string();
  return path;
}

}  // namespace

absl::StatusOr<DomainEntry> PublishedEntryOf(const NodeConfig& c, absl::Time now,
                                             std::vector<std::string>* order,
                                             const std::string& recipient_endpoint,
                                             const std::string& sender_endpoint) {
  ASSIGN_OR_RETURN(SigningKey key, SigningKey::LoadPem(c.signing_key));
  ASSIGN_OR_RETURN(std::vector<RetiredKey> retired, LoadRetired(c));
  return PublishedEntry(c.domain, recipient_endpoint.empty() ? c.recipient_listen : recipient_endpoint,
                        sender_endpoint.empty() ? c.sender_listen : sender_endpoint, c.key_id,
                        key.PublicKey(), retired, now, order);
}

int RunKeyRotate(const Args& args) {
  auto config = LoadNodeConfig(args.GetOr("config", ""));
  if (!config.ok()) return ReportLocalError(config.status());
  auto current = SigningKey::LoadPem(config->signing_key);
  if (!current.ok()) return ReportLocalError(current.status());
  auto retired = LoadRetired(*config);
  if (!retired.ok()) return ReportLocalError(retired.status());
  std::string id = args.GetOr("key-id", NextKeyId(config->key_id, *retired));
  absl::Time now = absl::Now();
  absl::Duration keep = RetiredKeyLifetime(config->retention);
  auto rotated = Rotate(*retired, config->key_id, current->PublicKey(), id, now, keep);
  if (!rotated.ok()) return ReportLocalError(rotated.status());
  std::string pem = absl::StrCat(KeysDir(*config), "/", id, ".pem");
  auto fresh = SigningKey::Generate();
  if (!fresh.ok()) return ReportLocalError(fresh.status());
  if (absl::Status s = fresh->SavePem(pem); !s.ok()) return ReportLocalError(s);
  // published.toml first: if node.toml's update fails, the old key is still
  // current and merely listed twice, which dns-records tolerates.
  if (absl::Status s = WriteFileAtomically(PublishedPath(*config),
                                           FormatRetiredKeys(config->domain, *rotated), 0644);
      !s.ok()) {
    return ReportLocalError(s);
  }
  auto text = ReadFileToString(config->path);
  if (!text.ok()) return ReportLocalError(text.status());
  std::string updated = SetTopLevel(*text, "key_id", id);
  updated = SetTopLevel(updated, "signing_key", RelativeToConfig(*config, pem));
  if (absl::Status s = WriteFileAtomically(config->path, updated, 0644); !s.ok()) return ReportLocalError(s);
  auto reloaded = LoadNodeConfig(config->path);
  if (!reloaded.ok()) return ReportLocalError(reloaded.status());
  if (absl::Status s = RefreshDirectoryFile(*reloaded); !s.ok()) return ReportLocalError(s);
  if (args.Has("json")) {
    std::cout << "{\"domain\":" << JsonQuote(config->domain) << ",\"key_id\":" << JsonQuote(id)
              << ",\"public_key\":" << JsonQuote(Base64Encode(fresh->PublicKey()))
              << ",\"previous_key_id\":" << JsonQuote(config->key_id)
              << ",\"previous_published_until\":" << JsonQuote(Rfc3339(now + keep)) << "}\n";
  } else {
    std::cout << config->domain << ": new signing key " << id << " (" << pem << ")\n"
              << "  " << config->key_id << " stays published until " << Rfc3339(now + keep)
              << " (its notifications' lifetime)\n"
              << "Next: publish `pullmail dns-records --config " << config->path
              << "` in your zone, wait for it to be served, then restart both nodes\n"
              << "(they sign with " << id << " from then on).\n";
  }
  return kExitOk;
}

int RunKeyRevoke(const Args& args) {
  if (args.positional().size() != 1) {
    return ReportLocalError(absl::InvalidArgumentError("usage: pullmail key revoke KEY_ID --config FILE"));
  }
  const std::string& id = args.positional()[0];
  auto config = LoadNodeConfig(args.GetOr("config", ""));
  if (!config.ok()) return ReportLocalError(config.status());
  if (id == config->key_id) {
    return ReportLocalError(absl::FailedPreconditionError(absl::StrCat(
        id, " is the key the nodes sign with: run `pullmail key rotate` first, then revoke it")));
  }
  auto retired = LoadRetired(*config);
  if (!retired.ok()) return ReportLocalError(retired.status());
  std::vector<RetiredKey> kept;
  for (RetiredKey& k : *retired) {
    if (k.id != id) kept.push_back(std::move(k));
  }
  if (kept.size() == retired->size()) {
    return ReportLocalError(absl::NotFoundError(absl::StrCat("no published older key ", id)));
  }
  if (absl::Status s = WriteFileAtomically(PublishedPath(*config), FormatRetiredKeys(config->domain, kept), 0644);
      !s.ok()) {
    return ReportLocalError(s);
  }
  if (absl::Status s = RefreshDirectoryFile(*config); !s.ok()) return ReportLocalError(s);
  std::cout << config->domain << ": key " << id << " withdrawn. Publish `pullmail dns-records --config "
            << config->path << "`:\nonce the records' TTL has passed, receivers reject everything "
            << id << " signed (unknown_key), queued notifications too.\n";
  return kExitOk;
}

int RunKeyList(const Args& args) {
  auto config = LoadNodeConfig(args.GetOr("config", ""));
  if (!config.ok()) return ReportLocalError(config.status());
  auto key = SigningKey::LoadPem(config->signing_key);
  if (!key.ok()) return ReportLocalError(key.status());
  auto retired = LoadRetired(*config);
  if (!retired.ok()) return ReportLocalError(retired.status());
  absl::Time now = absl::Now();
  if (args.Has("json")) {
    std::vector<std::string> items;
    items.push_back(absl::StrCat("{\"key_id\":", JsonQuote(config->key_id), ",\"public_key\":",
                                 JsonQuote(Base64Encode(key->PublicKey())), ",\"state\":\"signing\"}"));
    for (const RetiredKey& k : *retired) {
      items.push_back(absl::StrCat("{\"key_id\":", JsonQuote(k.id), ",\"public_key\":",
                                   JsonQuote(Base64Encode(k.public_key)), ",\"state\":",
                                   k.publish_until > now ? "\"published\"" : "\"expired\"",
                                   ",\"published_until\":", JsonQuote(Rfc3339(k.publish_until)), "}"));
    }
    std::cout << "[" << absl::StrJoin(items, ",") << "]\n";
    return kExitOk;
  }
  std::cout << config->key_id << "  signing    " << Base64Encode(key->PublicKey()) << "\n";
  for (const RetiredKey& k : *retired) {
    std::cout << k.id << (k.publish_until > now ? "  published  " : "  expired    ")
              << Base64Encode(k.public_key) << "  until " << Rfc3339(k.publish_until) << "\n";
  }
  return kExitOk;
}

int RunDnsRecords(const Args& args) {
  auto config = LoadNodeConfig(args.GetOr("config", ""));
  if (!config.ok()) return ReportLocalError(config.status());
  auto ttl = ParseInt(args.GetOr("ttl", "300"), "--ttl", 0, 86400);
  if (!ttl.ok()) return ReportLocalError(ttl.status());
  std::vector<std::string> order;
  absl::Time now = absl::Now();
  auto entry = PublishedEntryOf(*config, now, &order, args.GetOr("recipient-endpoint", ""),
                                args.GetOr("sender-endpoint", ""));
  if (!entry.ok()) return ReportLocalError(entry.status());
  auto lines = FormatZoneLines(*entry, order, absl::Seconds(*ttl));
  if (!lines.ok()) return ReportLocalError(lines.status());
  std::cout << "; pullmail directory records of " << config->domain << " (docs/PROTOCOL.md 5.2), "
            << Rfc3339(now) << "\n"
            << "; signing key " << config->key_id << "; older keys listed stay until their "
            << "notifications expire\n"
            << *lines;
  return kExitOk;
}

}  // namespace pullmail::cli
