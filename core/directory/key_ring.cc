// Key rotation rules and published.toml (see key_ring.h).
#include "core/directory/key_ring.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/encoding.h"
#include "core/directory/dns_record.h"
#include "core/util/limits.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "core/util/toml.h"

namespace pullmail {

absl::StatusOr<std::vector<RetiredKey>> ParseRetiredKeys(std::string_view text,
                                                         std::string_view source) {
  ASSIGN_OR_RETURN(toml::table root, ParseToml(text, source));
  std::vector<RetiredKey> out;
  for (const auto& [k, v] : root) {
    if (k.str() != "keys") {
      return absl::InvalidArgumentError(absl::StrCat(AV(source), ": unknown top-level key \"", AV(k.str()), "\""));
    }
  }
  const toml::table* keys = root["keys"].as_table();
  if (keys == nullptr) return out;
  for (const auto& [k, v] : *keys) {
    std::string id(k.str());
    auto err = [&](std::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(AV(source), ": keys.", id, ": ", AV(what)));
    };
    if (!ValidDnsKeyId(id)) return err("not a key id ([a-z0-9-], 1..63)");
    const toml::table* t = v.as_table();
    if (t == nullptr) return err("must be a table");
    RetiredKey r;
    r.id = id;
    std::optional<std::string> b64 = (*t)["public_key"].value<std::string>();
    if (!b64) return err("public_key missing");
    absl::StatusOr<std::string> raw = Base64Decode(*b64);
    if (!raw.ok() || raw->size() != 32) return err("public_key is not base64 of 32 bytes");
    r.public_key = *std::move(raw);
    std::optional<int64_t> retired = (*t)["retired_unix"].value<int64_t>();
    std::optional<int64_t> until = (*t)["publish_until_unix"].value<int64_t>();
    if (!retired || !until) return err("retired_unix and publish_until_unix are required");
    r.retired = absl::FromUnixSeconds(*retired);
    r.publish_until = absl::FromUnixSeconds(*until);
    out.push_back(std::move(r));
  }
  return out;
}

std::string FormatRetiredKeys(std::string_view domain, const std::vector<RetiredKey>& keys) {
  std::string out = absl::StrCat(
      "# Older signing keys of ", AV(domain),
      " still published until every notification they signed\n"
      "# has expired (written by `pullmail key rotate` and `pullmail key revoke`;\n"
      "# format: core/directory/key_ring.h). `pullmail dns-records` publishes them.\n");
  for (const RetiredKey& k : keys) {
    absl::StrAppend(&out, "\n[keys.", k.id, "]\npublic_key = \"", Base64Encode(k.public_key),
                    "\"\nretired_unix = ", absl::ToUnixSeconds(k.retired),
                    "  # ", absl::FormatTime(absl::RFC3339_sec, k.retired, absl::UTCTimeZone()),
                    "\npublish_until_unix = ", absl::ToUnixSeconds(k.publish_until), "  # ",
                    absl::FormatTime(absl::RFC3339_sec, k.publish_until, absl::UTCTimeZone()), "\n");
  }
  return out;
}

std::string NextKeyId(std::string_view current_id, const std::vector<RetiredKey>& retired) {
  int64_t max = 0;
  auto consider = [&](std::string_view id) {
    int64_t n = 0;
    if (id.size() >= 2 && id[0] == 'k' && absl::SimpleAtoi(AV(id.substr(1)), &n) &&
        std::all_of(id.begin() + 1, id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      max = std::max(max, n);
    }
  };
  consider(current_id);
  for (const RetiredKey& k : retired) consider(k.id);
  return absl::StrCat("k", max + 1);
}

absl::Duration RetiredKeyLifetime(absl::Duration retention) {
  return retention + absl::Milliseconds(limits::kMaxClockSkewMs);
}

absl::StatusOr<std::vector<RetiredKey>> Rotate(std::vector<RetiredKey> retired,
                                               std::string_view current_id,
                                               std::string_view current_public_key,
                                               std::string_view new_id, absl::Time now,
                                               absl::Duration keep_for) {
  if (!ValidDnsKeyId(new_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key id '", AV(new_id), "' cannot be published in DNS ([a-z0-9-], 1..63)"));
  }
  if (new_id == current_id) return absl::InvalidArgumentError(absl::StrCat("key id ", AV(new_id), " is the current key"));
  std::vector<RetiredKey> out;
  for (RetiredKey& k : retired) {
    if (k.id == new_id) {
      return absl::InvalidArgumentError(absl::StrCat("key id ", AV(new_id), " is still published"));
    }
    if (k.id == current_id) continue;  // replaced by the entry below
    if (k.publish_until > now) out.push_back(std::move(k));
  }
  out.push_back(RetiredKey{std::string(current_id), std::string(current_public_key), now, now + keep_for});
  return out;
}

DomainEntry PublishedEntry(std::string_view domain, std::string_view recipient_endpoint,
                           std::string_view sender_endpoint, std::string_view current_id,
                           std::string_view current_public_key,
                           const std::vector<RetiredKey>& retired, absl::Time now,
                           std::vector<std::string>* order) {
  DomainEntry e;
  e.domain = std::string(domain);
  e.recipient_endpoint = std::string(recipient_endpoint);
  e.sender_endpoint = std::string(sender_endpoint);
  e.keys[std::string(current_id)] = std::string(current_public_key);
  std::vector<const RetiredKey*> live;
  for (const RetiredKey& k : retired) {
    if (k.publish_until > now && k.id != current_id) live.push_back(&k);
  }
  std::stable_sort(live.begin(), live.end(),
                   [](const RetiredKey* a, const RetiredKey* b) { return a->retired > b->retired; });
  if (order != nullptr) order->assign(1, std::string(current_id));
  for (const RetiredKey* k : live) {
    e.keys[k->id] = k->public_key;
    if (order != nullptr) order->push_back(k->id);
  }
  return e;
}

}  // namespace pullmail
