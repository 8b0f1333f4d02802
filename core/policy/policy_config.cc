// Parsing and validation of the [policy] table. Every key is looked up in
// one table of handlers so that an unknown key is an error rather than a
// silently ignored typo.
#include "core/policy/policy_config.h"

#include <cctype>
#include <cmath>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "core/util/address.h"

namespace pullmail {
namespace {

absl::Status Bad(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("policy.", AV(field), ": ", AV(why)));
}

absl::StatusOr<double> GetNumber(std::string_view key, const toml::node& node) {
  if (!node.is_number()) return Bad(key, "expected a number");
  std::optional<double> v = node.value<double>();
  if (!v.has_value() || !std::isfinite(*v)) return Bad(key, "expected a finite number");
  return *v;
}

absl::StatusOr<bool> GetBool(std::string_view key, const toml::node& node) {
  if (!node.is_boolean()) return Bad(key, "expected true or false");
  return *node.value<bool>();
}

absl::StatusOr<absl::Duration> GetDuration(std::string_view key, const toml::node& node) {
  if (node.is_integer()) {
    int64_t seconds = *node.value<int64_t>();
    if (seconds < 0) return Bad(key, "duration must not be negative");
    return absl::Seconds(seconds);
  }
  if (!node.is_string()) return Bad(key, "expected a duration such as \"2h\" or \"7d\"");
  absl::StatusOr<absl::Duration> d = ParsePolicyDuration(*node.value<std::string>());
  if (!d.ok()) return Bad(key, SV(d.status().message()));
  return *d;
}

using Handler = std::function<absl::Status(std::string_view key, const toml::node&, PolicyConfig&)>;

Handler NumberField(double PolicyConfig::*field) {
  return [field](std::string_view key, const toml::node& node, PolicyConfig& c) -> absl::Status {
    ASSIGN_OR_RETURN(c.*field, GetNumber(key, node));
    return absl::OkStatus();
  };
}

Handler BoolField(bool PolicyConfig::*field) {
  return [field](std::string_view key, const toml::node& node, PolicyConfig& c) -> absl::Status {
    ASSIGN_OR_RETURN(c.*field, GetBool(key, node));
    return absl::OkStatus();
  };
}

Handler DurationField(absl::Duration PolicyConfig::*field) {
  return [field](std::string_view key, const toml::node& node, PolicyConfig& c) -> absl::Status {
    ASSIGN_OR_RETURN(c.*field, GetDuration(key, node));
    return absl::OkStatus();
  };
}

absl::Status ParsePeerWeights(std::string_view key, const toml::node& node, PolicyConfig& c) {
  const toml::table* peers = node.as_table();
  if (peers == nullptr) return Bad(key, "expected a table of \"domain\" = weight");
  c.peer_weights.clear();
  for (const auto& [peer, weight_node] : *peers) {
    std::string domain = absl::AsciiStrToLower(AV(peer.str()));
    std::string field = absl::StrCat("peer_weights.", domain);
    if (domain.empty()) return Bad(field, "empty peer domain");
    absl::StatusOr<std::string> normal = NormalizeDomain(domain);
    if (!normal.ok()) return Bad(field, SV(normal.status().message()));
    domain = *std::move(normal);
    ASSIGN_OR_RETURN(double weight, GetNumber(field, weight_node));
    c.peer_weights[domain] = weight;
  }
  return absl::OkStatus();
}

const std::vector<std::pair<std::string_view, Handler>>& Handlers() {
  static const auto* handlers = new std::vector<std::pair<std::string_view, Handler>>{
      {"spam_threshold_k", NumberField(&PolicyConfig::spam_threshold_k)},
      {"not_spam_weight", NumberField(&PolicyConfig::not_spam_weight)},
      {"local_report_weight", NumberField(&PolicyConfig::local_report_weight)},
      {"peer_weights", ParsePeerWeights},
      {"max_peer_report_count", NumberField(&PolicyConfig::max_peer_report_count)},
      {"min_peer_reporters", NumberField(&PolicyConfig::min_peer_reporters)},
      {"max_peer_domain_weight", NumberField(&PolicyConfig::max_peer_domain_weight)},
      {"reputation_half_life", DurationField(&PolicyConfig::reputation_half_life)},
      {"min_reads_for_reputation", NumberField(&PolicyConfig::min_reads_for_reputation)},
      {"bad_reputation_ratio", NumberField(&PolicyConfig::bad_reputation_ratio)},
      {"suppress_reputation_ratio", NumberField(&PolicyConfig::suppress_reputation_ratio)},
      {"hold_new_domains", BoolField(&PolicyConfig::hold_new_domains)},
      {"hold_bad_domains", BoolField(&PolicyConfig::hold_bad_domains)},
      {"early_reader_fraction", NumberField(&PolicyConfig::early_reader_fraction)},
      {"hold_period", DurationField(&PolicyConfig::hold_period)},
      {"hold_complaint_threshold", NumberField(&PolicyConfig::hold_complaint_threshold)},
      {"min_early_reads", NumberField(&PolicyConfig::min_early_reads)},
      {"max_hold_period", DurationField(&PolicyConfig::max_hold_period)},
      {"sample_key",
       [](std::string_view key, const toml::node& node, PolicyConfig& c) -> absl::Status {
         if (!node.is_string()) return Bad(key, "expected a string");
         c.sample_key = *node.value<std::string>();
         return absl::OkStatus();
       }},
      {"body_state_ttl", DurationField(&PolicyConfig::body_state_ttl)},
  };
  return *handlers;
}

}  // namespace

absl::StatusOr<absl::Duration> ParsePolicyDuration(std::string_view text) {
  std::string_view s = SV(absl::StripAsciiWhitespace(AV(text)));
  if (s.empty()) return absl::InvalidArgumentError("empty duration");
  absl::Duration total = absl::ZeroDuration();
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    double number = 0;
    if (start == i || !absl::SimpleAtod(AV(s.substr(start, i - start)), &number)) {
      return absl::InvalidArgumentError(absl::StrCat("bad duration \"", AV(text),
                                                     "\": expected a number such as 2h or 7d"));
    }
    size_t unit_start = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(unit_start, i - unit_start);
    absl::Duration one;
    if (unit == "ms") {
      one = absl::Milliseconds(1);
    } else if (unit == "s") {
      one = absl::Seconds(1);
    } else if (unit == "m") {
      one = absl::Minutes(1);
    } else if (unit == "h") {
      one = absl::Hours(1);
    } else if (unit == "d") {
      one = absl::Hours(24);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("bad duration \"", AV(text),
                                                     "\": units are ms, s, m, h, d"));
    }
    total += number * one;
  }
  return total;
}

absl::Status ValidatePolicyConfig(const PolicyConfig& c) {
  auto finite = [](double v) { return std::isfinite(v); };
  if (!finite(c.spam_threshold_k) || c.spam_threshold_k <= 0) {
    return Bad("spam_threshold_k", "must be > 0");
  }
  if (!finite(c.not_spam_weight) || c.not_spam_weight < 0) {
    return Bad("not_spam_weight", "must be >= 0");
  }
  if (!finite(c.local_report_weight) || c.local_report_weight < 0) {
    return Bad("local_report_weight", "must be >= 0");
  }
  for (const auto& [peer, weight] : c.peer_weights) {
    if (peer.empty()) return Bad("peer_weights", "empty peer domain");
    if (!finite(weight) || weight < 0) {
      return Bad(absl::StrCat("peer_weights.", peer), "must be >= 0");
    }
  }
  if (!finite(c.max_peer_report_count) || c.max_peer_report_count < 1) {
    return Bad("max_peer_report_count", "must be >= 1");
  }
  if (!finite(c.min_peer_reporters) || c.min_peer_reporters < 1) {
    return Bad("min_peer_reporters", "must be >= 1");
  }
  if (!finite(c.max_peer_domain_weight) || c.max_peer_domain_weight < 0) {
    return Bad("max_peer_domain_weight", "must be >= 0");
  }
  if (c.reputation_half_life <= absl::ZeroDuration() ||
      c.reputation_half_life == absl::InfiniteDuration()) {
    return Bad("reputation_half_life", "must be a positive duration");
  }
  if (!finite(c.min_reads_for_reputation) || c.min_reads_for_reputation < 0) {
    return Bad("min_reads_for_reputation", "must be >= 0");
  }
  if (!finite(c.bad_reputation_ratio) || c.bad_reputation_ratio < 0) {
    return Bad("bad_reputation_ratio", "must be >= 0");
  }
  if (!finite(c.suppress_reputation_ratio) || c.suppress_reputation_ratio < 0) {
    return Bad("suppress_reputation_ratio", "must be >= 0 (0 = off)");
  }
  if (!finite(c.early_reader_fraction) || c.early_reader_fraction < 0 ||
      c.early_reader_fraction > 1) {
    return Bad("early_reader_fraction", "must be in [0, 1]");
  }
  if (c.hold_period < absl::ZeroDuration() || c.hold_period == absl::InfiniteDuration()) {
    return Bad("hold_period", "must be a finite duration >= 0");
  }
  if (!finite(c.hold_complaint_threshold) || c.hold_complaint_threshold <= 0) {
    return Bad("hold_complaint_threshold", "must be > 0");
  }
  if (!finite(c.min_early_reads) || c.min_early_reads < 0) {
    return Bad("min_early_reads", "must be >= 0");
  }
  if (c.max_hold_period < c.hold_period || c.max_hold_period == absl::InfiniteDuration()) {
    return Bad("max_hold_period", "must be finite and >= hold_period");
  }
  if (c.body_state_ttl <= absl::ZeroDuration()) {
    return Bad("body_state_ttl", "must be a positive duration");
  }
  return absl::OkStatus();
}

absl::StatusOr<PolicyConfig> ParsePolicyConfig(const toml::table& table) {
  PolicyConfig config;
  for (const auto& [key, node] : table) {
    std::string_view name = key.str();
    const Handler* handler = nullptr;
    for (const auto& [known, h] : Handlers()) {
      if (known == name) {
        handler = &h;
        break;
      }
    }
    if (handler == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy: unknown key \"", AV(name), "\" (see docs/POLICY.md)"));
    }
    RETURN_IF_ERROR((*handler)(name, node, config));
  }
  RETURN_IF_ERROR(ValidatePolicyConfig(config));
  return config;
}

}  // namespace pullmail
