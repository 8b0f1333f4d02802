// Scenario parsing (see scenario.h). Every table is read through a Fields
// helper that remembers which keys were consumed, so that whatever is left
// over is reported as unknown.
#include "sim/scenario.h"

#include <cctype>
#include <cmath>
#include <functional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "core/util/toml.h"

namespace pullmail::sim {
namespace {

using Unit = std::function<absl::StatusOr<double>(std::string_view)>;

absl::StatusOr<double> PlainNumber(std::string_view text) {
  double v;
  if (!absl::SimpleAtod(AV(text), &v)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", AV(text), "\" is not a number"));
  }
  return v;
}

// Splits "12.5KiB" into 12.5 and "KiB".
bool SplitNumberUnit(std::string_view text, double* number, std::string* unit) {
  std::string_view s = SV(absl::StripAsciiWhitespace(AV(text)));
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
                          s[i] == 'e' || s[i] == '-' || s[i] == '+')) {
    // An 'e' only counts as an exponent when a digit or sign follows.
    if (s[i] == 'e' && (i + 1 >= s.size() || !(std::isdigit(static_cast<unsigned char>(s[i + 1])) ||
                                               s[i + 1] == '-' || s[i + 1] == '+'))) {
      break;
    }
    ++i;
  }
  if (i == 0 || !absl::SimpleAtod(AV(s.substr(0, i)), number)) return false;
  *unit = std::string(SV(absl::StripAsciiWhitespace(AV(s.substr(i)))));
  return true;
}

// One table being read: typed getters that mark keys as used, and Finish()
// that reports leftovers.
class Fields {
 public:
  Fields(const toml::table* table, std::string where) : table_(table), where_(std::move(where)) {}

  absl::Status Finish() const {
    if (table_ == nullptr) return absl::OkStatus();
    for (const auto& [key, node] : *table_) {
      if (!used_.count(std::string(key.str()))) {
        return absl::InvalidArgumentError(
            absl::StrCat(where_, ": unknown key \"", AV(key.str()), "\""));
      }
    }
    return absl::OkStatus();
  }

  const toml::node* Get(std::string_view key) {
    if (table_ == nullptr) return nullptr;
    used_.insert(std::string(key));
    return table_->get(key);
  }

  absl::Status Error(std::string_view key, std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(where_, ".", AV(key), ": ", AV(what)));
  }

  // A number, or a string with a unit parsed by `unit`.
  absl::Status Number(std::string_view key, double* out, const Unit& unit = PlainNumber) {
    const toml::node* n = Get(key);
    if (n == nullptr) return absl::OkStatus();
    if (auto v = n->value<double>(); v && (n->is_integer() || n->is_floating_point())) {
      *out = *v;
      return absl::OkStatus();
    }
    if (n->is_string()) {
      absl::StatusOr<double> v = unit(*n->value<std::string>());
      if (!v.ok()) return Error(key, SV(v.status().message()));
      *out = *v;
      return absl::OkStatus();
    }
    return Error(key, "expected a number or a string with a unit");
  }

  absl::Status Range(std::string_view key, double* out, double lo, double hi,
                     const Unit& unit = PlainNumber) {
    RETURN_IF_ERROR(Number(key, out, unit));
    if (!(std::isfinite(*out) && *out >= lo && *out <= hi)) {
      return Error(key, absl::StrCat("must be in [", lo, ", ", hi, "]"));
    }
    return absl::OkStatus();
  }

  template <typename Int>
  absl::Status Integer(std::string_view key, Int* out, double lo, double hi) {
    double v = static_cast<double>(*out);
    RETURN_IF_ERROR(Range(key, &v, lo, hi));
    if (v != std::floor(v)) return Error(key, "must be a whole number");
    *out = static_cast<Int>(v);
    return absl::OkStatus();
  }

  absl::Status String(std::string_view key, std::string* out) {
    const toml::node* n = Get(key);
    if (n == nullptr) return absl::OkStatus();
    if (!n->is_string()) return Error(key, "expected a string");
    *out = *n->value<std::string>();
    return absl::OkStatus();
  }

  absl::Status Bool(std::string_view key, bool* out) {
    const toml::node* n = Get(key);
    if (n == nullptr) return absl::OkStatus();
    if (!n->is_boolean()) return Error(key, "expected true or false");
    *out = *n->value<bool>();
    return absl::OkStatus();
  }

  // A distribution: a plain value (fixed) or a table
  // { dist = "lognormal", median = .., sigma = .., min = .., max = .. }.
  absl::Status Dist(std::string_view key, Distribution* out, const Unit& unit) {
    const toml::node* n = Get(key);
    if (n == nullptr) return absl::OkStatus();
    if (!n->is_table()) {
      double v = 0;
      Fields one(nullptr, where_);
      if (auto d = n->value<double>(); d && (n->is_integer() || n->is_floating_point())) {
        v = *d;
      } else if (n->is_string()) {
        absl::StatusOr<double> parsed = unit(*n->value<std::string>());
        if (!parsed.ok()) return Error(key, SV(parsed.status().message()));
        v = *parsed;
      } else {
        return Error(key, "expected a value or a table with dist = ...");
      }
      *out = Distribution::Fixed(v);
      return absl::OkStatus();
    }
    Fields f(n->as_table(), absl::StrCat(where_, ".", AV(key)));
    std::string dist = "fixed";
    RETURN_IF_ERROR(f.String("dist", &dist));
    double value = 0, min = 0, max = INFINITY, median = 0, sigma = 1, mean = 0, alpha = 1.5;
    double floor = -INFINITY;
    Distribution d = Distribution::Fixed(0);
    if (dist == "fixed") {
      RETURN_IF_ERROR(f.Number("value", &value, unit));
      d = Distribution::Fixed(value);
    } else if (dist == "uniform") {
      RETURN_IF_ERROR(f.Number("min", &min, unit));
      RETURN_IF_ERROR(f.Number("max", &max, unit));
      if (!(max >= min) || !std::isfinite(max)) return f.Error("max", "must be finite and >= min");
      d = Distribution::Uniform(min, max);
      floor = min;
    } else if (dist == "exponential") {
      RETURN_IF_ERROR(f.Number("mean", &mean, unit));
      if (!(mean > 0)) return f.Error("mean", "must be > 0");
      d = Distribution::Exponential(mean);
      RETURN_IF_ERROR(f.Number("max", &max, unit));
    } else if (dist == "lognormal") {
      RETURN_IF_ERROR(f.Number("median", &median, unit));
      RETURN_IF_ERROR(f.Number("sigma", &sigma));
      if (!(median > 0)) return f.Error("median", "must be > 0");
      if (!(sigma >= 0)) return f.Error("sigma", "must be >= 0");
      d = Distribution::LogNormal(median, sigma);
      RETURN_IF_ERROR(f.Number("min", &floor, unit));
      RETURN_IF_ERROR(f.Number("max", &max, unit));
    } else if (dist == "pareto") {
      RETURN_IF_ERROR(f.Number("min", &min, unit));
      RETURN_IF_ERROR(f.Number("alpha", &alpha));
      if (!(min > 0)) return f.Error("min", "must be > 0");
      if (!(alpha > 0)) return f.Error("alpha", "must be > 0");
      d = Distribution::Pareto(min, alpha);
      RETURN_IF_ERROR(f.Number("max", &max, unit));
    } else {
      return f.Error("dist", "one of fixed, uniform, exponential, lognormal, pareto");
    }
    RETURN_IF_ERROR(f.Finish());
    if (!(max > 0)) return f.Error("max", "must be > 0");
    d.Clamp(floor, max);
    *out = d;
    return absl::OkStatus();
  }

  const toml::table* SubTable(std::string_view key) {
    const toml::node* n = Get(key);
    return n != nullptr ? n->as_table() : nullptr;
  }

 private:
  const toml::table* table_;
  std::string where_;
  std::set<std::string> used_;
};

absl::StatusOr<Fields> Table(const toml::table& doc, std::string_view name,
                             std::string_view source) {
  const toml::node* n = doc.get(name);
  if (n != nullptr && !n->is_table()) {
    return absl::InvalidArgumentError(absl::StrCat(AV(source), ": [", AV(name), "] must be a table"));
  }
  return Fields(n != nullptr ? n->as_table() : nullptr, absl::StrCat(AV(source), ": ", AV(name)));
}

absl::Status ParseAvailability(Fields& f, std::string_view prefix, Availability* a) {
  RETURN_IF_ERROR(f.Range(absl::StrCat(AV(prefix), "uptime"), &a->uptime, 1e-6, 1));
  RETURN_IF_ERROR(f.Range(absl::StrCat(AV(prefix), "mean_up"), &a->mean_up, 1, 1e12, ParseSeconds));
  return absl::OkStatus();
}

absl::Status ParseCampaign(const toml::table& t, std::string where, CampaignConfig* c) {
  Fields f(&t, std::move(where));
  RETURN_IF_ERROR(f.String("name", &c->name));
  RETURN_IF_ERROR(f.Range("start", &c->start, 0, 1e12, ParseSeconds));
  RETURN_IF_ERROR(f.Range("duration", &c->duration, 1, 1e12, ParseSeconds));
  RETURN_IF_ERROR(f.Integer("messages", &c->messages, 0, 1e11));
  RETURN_IF_ERROR(f.Range("messages_per_user", &c->messages_per_user, 0, 1e6));
  RETURN_IF_ERROR(f.Dist("recipients", &c->recipients, PlainNumber));
  RETURN_IF_ERROR(f.Dist("body_size", &c->body_size, ParseBytes));
  RETURN_IF_ERROR(f.Bool("personalised", &c->personalised));
  RETURN_IF_ERROR(f.Integer("bots", &c->bots, 1, 1e6));
  RETURN_IF_ERROR(f.Range("bot_uptime", &c->bot_availability.uptime, 1e-6, 1));
  RETURN_IF_ERROR(
      f.Range("bot_mean_online", &c->bot_availability.mean_up, 1, 1e12, ParseSeconds));
  RETURN_IF_ERROR(f.Range("bot_daily_hours", &c->bot_daily_hours, 0.1, 24));
  RETURN_IF_ERROR(
      f.Range("bot_mean_lifetime", &c->bot_mean_lifetime, 0, 1e12, ParseSeconds));
  RETURN_IF_ERROR(f.Range("bot_reachable_fraction", &c->bot_reachable_fraction, 0, 1));
  RETURN_IF_ERROR(f.String("body_host", &c->body_host));
  if (c->body_host != "bots" && c->body_host != "bulletproof") {
    return f.Error("body_host", "one of bots, bulletproof");
  }
  RETURN_IF_ERROR(f.Integer("signing_domains", &c->signing_domains, 1, 1e6));
  RETURN_IF_ERROR(
      f.Range("invalid_recipient_fraction", &c->invalid_recipient_fraction, 0, 1));
  RETURN_IF_ERROR(f.Range("retention", &c->retention, 60, 90 * 86400, ParseSeconds));
  RETURN_IF_ERROR(f.Integer("subject_bytes", &c->subject_bytes, 0, 998));
  return f.Finish();
}

const std::set<std::string>& KnownTables() {
  static const auto* known = new std::set<std::string>{
      "run",    "network", "domains", "legit",     "campaign", "readers",
      "pull",   "push",    "retention", "policy",  "retry",    "output",
      "economics"};
  return *known;
}

}  // namespace

std::string_view ModeName(Mode m) {
  switch (m) {
    case Mode::kPull: return "pull";
    case Mode::kPush: return "push";
    case Mode::kBoth: return "both";
  }
  return "?";
}

std::string_view CryptoModeName(CryptoMode m) {
  switch (m) {
    case CryptoMode::kReal: return "real";
    case CryptoMode::kModel: return "model";
    case CryptoMode::kAuto: return "auto";
  }
  return "?";
}

absl::StatusOr<double> ParseBytes(std::string_view text) {
  double n;
  std::string unit;
  if (!SplitNumberUnit(text, &n, &unit)) {
    return absl::InvalidArgumentError(absl::StrCat("bad size \"", AV(text), "\""));
  }
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},          {"B", 1},         {"KB", 1e3},  {"kB", 1e3},   {"KiB", 1024.0},
      {"MB", 1e6},      {"MiB", 1048576.0}, {"GB", 1e9}, {"GiB", 1073741824.0},
      {"TB", 1e12},     {"TiB", 1099511627776.0}};
  for (const auto& [name, mult] : kUnits) {
    if (unit == name) return n * mult;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("bad size \"", AV(text), "\": units are B, KB, KiB, MB, MiB, GB, GiB"));
}

absl::StatusOr<double> ParseBandwidth(std::string_view text) {
  double n;
  std::string unit;
  if (!SplitNumberUnit(text, &n, &unit)) {
    return absl::InvalidArgumentError(absl::StrCat("bad bandwidth \"", AV(text), "\""));
  }
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},          {"Bps", 1},        {"bps", 0.125},  {"kbps", 125},  {"Kbps", 125},
      {"Mbps", 125e3},  {"Gbps", 125e6},   {"kBps", 1e3},   {"KBps", 1e3},  {"MBps", 1e6},
      {"GBps", 1e9}};
  for (const auto& [name, mult] : kUnits) {
    if (unit == name) return n * mult;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "bad bandwidth \"", AV(text), "\": units are bps, kbps, Mbps, Gbps (bits) or Bps, kBps, MBps, GBps"));
}

absl::StatusOr<double> ParseSeconds(std::string_view text) {
  double plain;
  if (absl::SimpleAtod(AV(text), &plain)) return plain;
  // Core's duration syntax, so a scenario writes times as a node config does.
  absl::StatusOr<absl::Duration> d = ParsePolicyDuration(text);
  if (!d.ok()) return d.status();
  return absl::ToDoubleSeconds(*d);
}

absl::StatusOr<Scenario> ParseScenario(const toml::table& doc, std::string_view source) {
  for (const auto& [key, node] : doc) {
    if (!KnownTables().count(std::string(key.str()))) {
      return absl::InvalidArgumentError(
          absl::StrCat(AV(source), ": unknown table [", AV(key.str()), "]"));
    }
  }
  Scenario s;

  {
    ASSIGN_OR_RETURN(Fields f, Table(doc, "run", source));
    RETURN_IF_ERROR(f.String("name", &s.run.name));
    RETURN_IF_ERROR(f.Integer("seed", &s.run.seed, 0, 9.007199254740992e15));
    std::string mode(ModeName(s.run.mode));
    RETURN_IF_ERROR(f.String("mode", &mode));
    if (mode == "pull") {
      s.run.mode = Mode::kPull;
    } else if (mode == "push") {
      s.run.mode = Mode::kPush;
    } else if (mode == "both") {
      s.run.mode = Mode::kBoth;
    } else {
      return f.Error("mode", "one of pull, push, both");
    }
    RETURN_IF_ERROR(f.Range("duration", &s.run.duration, 1, 1e10, ParseSeconds));
    RETURN_IF_ERROR(f.Range("sample_interval", &s.run.sample_interval, 1, 1e10, ParseSeconds));
    RETURN_IF_ERROR(f.Range("max_time", &s.run.max_time, 0, 1e12, ParseSeconds));
    RETURN_IF_ERROR(f.Range("time_quantum", &s.run.time_quantum, 0, 86400, ParseSeconds));
    std::string crypto(CryptoModeName(s.run.crypto));
    RETURN_IF_ERROR(f.String("crypto", &crypto));
    if (crypto == "real") {
      s.run.crypto = CryptoMode::kReal;
    } else if (crypto == "model") {
      s.run.crypto = CryptoMode::kModel;
    } else if (crypto == "auto") {
      s.run.crypto = CryptoMode::kAuto;
    } else {
      return f.Error("crypto", "one of real, model, auto");
    }
    RETURN_IF_ERROR(f.Integer("crypto_real_limit", &s.run.crypto_real_limit, 0, 1e15));
    RETURN_IF_ERROR(f.Finish());
  }
  {
    ASSIGN_OR_RETURN(Fields f, Table(doc, "network", source));
    NetworkConfig& n = s.network;
    RETURN_IF_ERROR(f.String("platform", &n.platform));
    RETURN_IF_ERROR(f.String("model", &n.model));
    RETURN_IF_ERROR(f.Integer("providers", &n.providers, 1, 100000));
    RETURN_IF_ERROR(f.Range("bandwidth", &n.bandwidth, 1, 1e15, ParseBandwidth));
    RETURN_IF_ERROR(f.Range("latency", &n.latency, 0, 100, ParseSeconds));
    RETURN_IF_ERROR(f.Range("bot_bandwidth", &n.bot_bandwidth, 1, 1e15, ParseBandwidth));
    RETURN_IF_ERROR(f.Range("bot_latency", &n.bot_latency, 0, 100, ParseSeconds));
    RETURN_IF_ERROR(f.Range("cpu_speed", &n.cpu_speed, 1, 1e18));
    RETURN_IF_ERROR(f.Range("sign_cost", &n.sign_cost, 0, 10, ParseSeconds));
    RETURN_IF_ERROR(f.Range("verify_cost", &n.verify_cost, 0, 10, ParseSeconds));
    RETURN_IF_ERROR(f.Range("notify_interval", &n.notify_interval, 0.001, 86400, ParseSeconds));
    RETURN_IF_ERROR(f.Range("fetch_window", &n.fetch_window, 0, 86400, ParseSeconds));
    RETURN_IF_ERROR(f.Range("connect_timeout", &n.connect_timeout, 0, 3600, ParseSeconds));
    RETURN_IF_ERROR(f.Integer("max_inflight", &n.max_inflight, 1, 100000));
    RETURN_IF_ERROR(f.Range("small_flow_bytes", &n.small_flow_bytes, 0, 1e12, ParseBytes));
    RETURN_IF_ERROR(f.Range("grpc_idle_timeout", &n.grpc_idle_timeout, 0, 1e10, ParseSeconds));
    RETURN_IF_ERROR(f.Range("tls_certificate_extra_bytes", &n.tls_certificate_extra_bytes, 0, 1e6,
                            ParseBytes));
    RETURN_IF_ERROR(ParseAvailability(f, "provider_", &n.provider_availability));
    RETURN_IF_ERROR(f.Finish());
  }
  {
    ASSIGN_OR_RETURN(Fields f, Table(doc, "domains", source));
    DomainsConfig& d = s.domains;
    RETURN_IF_ERROR(f.Integer("count", &d.count, 1, 1e7));
    RETURN_IF_ERROR(f.Integer("users", &d.users, 1, 2e9));
    RETURN_IF_ERROR(f.Range("zipf_alpha", &d.zipf_alpha, 0, 10));
    RETURN_IF_ERROR(f.Integer("min_users", &d.min_users, 1, 1e9));
    RETURN_IF_ERROR(f.Finish());
    if (static_cast<int64_t>(d.count) * d.min_users > d.users) {
      return f.Error("users", "fewer users than count * min_users");
    }
  }
  {
    ASSIGN_OR_RETURN(Fields f, Table(doc, "legit", source));
    LegitConfig& l = s.legit;
    RETURN_IF_ERROR(f.Range("messages_per_user_per_day", &l.messages_per_user_per_day, 0, 1e6));
    RETURN_IF_ERROR(f.Dist("recipients", &l.recipients, PlainNumber));
    RETURN_IF_ERROR(f.Dist("body_size", &l.body_size, ParseBytes));
    RETURN_IF_ERROR(f.Range("retention", &l.retention, 60, 90 * 86400, ParseSeconds));
    RETURN_IF_ERROR(f.Integer("subject_bytes", &l.subject_bytes, 0, 998));
    RETURN_IF_ERROR(f.Range("recall_share", &l.recall_share, 0, 1));
    RETURN_IF_ERROR(f.Range("recall_delay", &l.recall_delay, 0, 90 * 86400, ParseSeconds));
    RETURN_IF_ERROR(f.Finish());
  }
  if (const toml::node* c = doc.get("campaign")) {
    if (!c->is_array_of_tables()) {
      return absl::InvalidArgumentError(
          absl::StrCat(AV(source), ": campaigns are written [[campaign]]"));
    }
    int i = 0;
    for (const toml::node& t : *c->as_array()) {
      CampaignConfig cc;
      cc.name = absl::StrCat("campaign", i);
      RETURN_IF_ERROR(
          ParseCampaign(*t.as_table(), absl::StrCat(AV(source), ": campaign[", i, "]"), &cc));
      s.campaigns.push_back(std::move(cc));
      ++i;
    }
  }
  for (CampaignConfig& c : s.campaigns) {
    if (c.messages_per_user > 0) {
      c.messages = static_cast<uint64_t>(std::llround(c.messages_per_user * s.domains.users));
    }
  }
  {
    ASSIGN_OR_RETURN(Fields f, Table(doc, "readers", source));
    ReaderConfig& r = s.readers;
    RETURN_IF_ERROR(f.Range("legit_read_probability", &r.legit_read_probability, 0, 1));
    RETURN_IF_ERROR(f.Range("spam_read_probability", &r.spam_read_probability, 0, 1));
    RETURN_IF_ERROR(f.Dist("read_delay", &r.read_delay, ParseSeconds));
    RETURN_IF_ERROR(f.Range("spam_report_probability", &r.spam_report_probability, 0, 1));
    RETURN_IF_ERROR(f.Range("legit_report_probability", &r.legit_report_probability, 0, 1));
    RETURN_IF_ERROR(f.Range("retry_delay", &r.retry_delay, 1, 1e9, ParseSeconds));
    RETURN_IF_ERROR(f.Integer("max_retries", &r.max_retries, 0, 1000));
    RETURN_IF_ERROR(f.Finish());
    r.read_delay.Clamp(std::max(0.0, r.read_delay.floor()), r.read_delay.cap());
  }
  {
    ASSIGN_OR_RETURN(Fields f, Table(doc, "pull", source));
    RETURN_IF_ERROR(f.Range("pin_margin", &s.pull.pin_margin, 0, 90 * 86400, ParseSeconds));
    RETURN_IF_ERROR(f.Bool("dnsbl_refuses_fetch", &s.pull.dnsbl_refuses_fetch));
    RETURN_IF_ERROR(f.Finish());
  }
  {
    ASSIGN_OR_RETURN(Fields f, Table(doc, "push", source));
    PushConfig& u = s.push;
    RETURN_IF_ERROR(f.Range("filter_catch_rate", &u.filter_catch_rate, 0, 1));
    RETURN_IF_ERROR(f.Range("filter_false_positive_rate", &u.filter_false_positive_rate, 0, 1));
    RETURN_IF_ERROR(f.Range("dnsbl_coverage", &u.dnsbl_coverage, 0, 1));
    RETURN_IF_ERROR(
        f.Range("dnsbl_listing_delay", &u.dnsbl_listing_delay, 0, 1e10, ParseSeconds));
    RETURN_IF_ERROR(f.Range("greylist_share", &u.greylist_share, 0, 1));
    RETURN_IF_ERROR(f.Range("greylist_delay", &u.greylist_delay, 0, 1e7, ParseSeconds));
    RETURN_IF_ERROR(f.Range("bot_retry_fraction", &u.bot_retry_fraction, 0, 1));
    RETURN_IF_ERROR(f.Range("accept_then_bounce_share", &u.accept_then_bounce_share, 0, 1));
    RETURN_IF_ERROR(f.Bool("starttls", &u.starttls));
    RETURN_IF_ERROR(f.Bool("bot_starttls", &u.bot_starttls));
    RETURN_IF_ERROR(f.Range("tls_handshake_bytes", &u.tls_handshake_bytes, 0, 1e6));
    RETURN_IF_ERROR(f.Finish());
  }
  {
    ASSIGN_OR_RETURN(Fields f, Table(doc, "economics", source));
    RETURN_IF_ERROR(
        f.Range("conversion_per_open", &s.economics.conversion_per_open, 0, 1));
    RETURN_IF_ERROR(f.Range("revenue_per_sale", &s.economics.revenue_per_sale, 0, 1e9));
    RETURN_IF_ERROR(f.Range("storage_usd_per_gb_month", &s.economics.storage_usd_per_gb_month, 0, 1e6));
    RETURN_IF_ERROR(f.Finish());
  }
  if (doc.contains("retention")) {
    // Removed: a recipient keeps every body it holds (core/logic/body_retention.h),
    // in both worlds, as the recipient node does.
    return absl::InvalidArgumentError(absl::StrCat(
        AV(source), ": [retention] recipient is gone: recipients keep every body they hold, as the "
                "node does (core/logic/body_retention.h); remove the table"));
  }
  if (const toml::node* p = doc.get("policy")) {
    if (!p->is_table()) return absl::InvalidArgumentError("[policy] must be a table");
    absl::StatusOr<PolicyConfig> pc = ParsePolicyConfig(*p->as_table());
    if (!pc.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(AV(source), ": [policy]: ", pc.status().message()));
    }
    s.policy = *std::move(pc);
  }
  if (const toml::node* r = doc.get("retry")) {
    if (!r->is_table()) return absl::InvalidArgumentError("[retry] must be a table");
    absl::StatusOr<RetryPolicy> rp = ParseRetryPolicy(*r->as_table(), "[retry]");
    if (!rp.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(AV(source), ": ", rp.status().message()));
    }
    s.retry = *rp;
  }
  {
    ASSIGN_OR_RETURN(Fields f, Table(doc, "output", source));
    RETURN_IF_ERROR(f.Bool("plots", &s.output.plots));
    if (const toml::node* k = f.Get("k_values")) {
      if (!k->is_array()) return f.Error("k_values", "expected an array of numbers");
      for (const toml::node& v : *k->as_array()) {
        std::optional<double> d = v.value<double>();
        if (!d || !(*d > 0)) return f.Error("k_values", "every value must be a number > 0");
        s.output.k_values.push_back(*d);
      }
    }
    RETURN_IF_ERROR(f.Finish());
  }
  return s;
}

absl::Status ApplyOverride(toml::table& doc, std::string_view assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("override \"", AV(assignment), "\" is not key=value"));
  }
  std::string key(SV(absl::StripAsciiWhitespace(AV(assignment.substr(0, eq)))));
  std::string value(SV(absl::StripAsciiWhitespace(AV(assignment.substr(eq + 1)))));
  std::vector<std::string> path = absl::StrSplit(key, '.');
  // Parse the value as TOML; a bare word that is not TOML becomes a string.
  absl::StatusOr<toml::table> parsed = ParseToml(absl::StrCat("v = ", value), "override");
  if (!parsed.ok()) {
    std::string quoted = "\"";
    for (char c : value) {
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    quoted.push_back('"');
    parsed = ParseToml(absl::StrCat("v = ", quoted), "override");
    if (!parsed.ok()) return parsed.status();
  }
  toml::table* t = &doc;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    toml::node* n = t->get(path[i]);
    if (n == nullptr) {
      t->insert(path[i], toml::table{});
      n = t->get(path[i]);
    }
    if (n->is_array_of_tables()) {
      // campaign.0.messages: index into an array of tables.
      int index = -1;
      if (i + 2 < path.size() && absl::SimpleAtoi(AV(path[i + 1]), &index) && index >= 0 &&
          static_cast<size_t>(index) < n->as_array()->size()) {
        t = n->as_array()->get(index)->as_table();
        ++i;
        continue;
      }
      return absl::InvalidArgumentError(
          absl::StrCat("override \"", key, "\": ", path[i], " needs an index, e.g. ", path[i], ".0.x"));
    }
    if (!n->is_table()) {
      return absl::InvalidArgumentError(absl::StrCat("override \"", key, "\": ", path[i], " is not a table"));
    }
    t = n->as_table();
  }
  const std::string leaf = path.back();
  parsed->get("v")->visit([&](auto&& node) { t->insert_or_assign(leaf, node); });
  return absl::OkStatus();
}

absl::StatusOr<Scenario> LoadScenario(const std::string& path,
                                      const std::vector<std::string>& overrides) {
  ASSIGN_OR_RETURN(toml::table doc, ParseTomlFile(path));
  for (const std::string& o : overrides) RETURN_IF_ERROR(ApplyOverride(doc, o));
  return ParseScenario(doc, path);
}

}  // namespace pullmail::sim
