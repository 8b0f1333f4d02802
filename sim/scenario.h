// A pullmail-sim scenario: everything one run needs, read from a TOML file
// (docs/SIMULATION.md documents every key). The scenario is plain data; the
// world generator (world.h) turns it into domains, users, bots and messages.
//
// Parsing is strict: an unknown key is an error naming the table and the key
// (a typo must never silently keep a default). The [policy] and [retry]
// tables are handed verbatim to core's own parsers (ParsePolicyConfig,
// ParseRetryPolicy), so the simulator accepts exactly what a node accepts.
#ifndef PULLMAIL_SIM_SCENARIO_H_
#define PULLMAIL_SIM_SCENARIO_H_

#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/logic/outbox.h"
#include "core/policy/policy_config.h"
#include "sim/distribution.h"

namespace pullmail::sim {

enum class Mode { kPull, kPush, kBoth };
std::string_view ModeName(Mode m);  // "pull", "push", "both"

// How notifications and spam reports are signed and verified.
enum class CryptoMode {
  kReal,   // real Ed25519 for every notification (small runs)
  kModel,  // a keyed SHA-256 stand-in with the same 64-byte size; every
           // check other than the Ed25519 arithmetic still runs in core
  kAuto,   // kReal up to crypto_real_limit notifications, else kModel
};
std::string_view CryptoModeName(CryptoMode m);

struct RunConfig {
  std::string name = "scenario";
  uint64_t seed = 1;
  Mode mode = Mode::kBoth;
  double duration = 86400;         // s: the window in which messages are created
  double sample_interval = 3600;   // s: one time-series row per interval
  double max_time = 0;             // s: hard stop (0 = run until everything ends)
  double time_quantum = 0;         // s: slow bookkeeping timers may run this late
                                   // (sim/node_loop.h); 0 = every timer exact
  CryptoMode crypto = CryptoMode::kAuto;
  uint64_t crypto_real_limit = 200000;  // notifications (kAuto)
};

// A pair of alternating up/down periods, exponentially distributed.
struct Availability {
  double uptime = 1.0;        // long-run fraction of time up, in (0, 1]
  double mean_up = 86400;     // s: mean length of one up period
};

struct NetworkConfig {
  std::string platform;            // SimGrid platform file; empty = generated star
  std::string model = "LV08";      // SimGrid network/model
  int providers = 16;              // hosts that the domains share (per world)
  double bandwidth = 125e6;        // bytes/s of each provider's link (1 Gbps)
  double latency = 0.010;          // s, one way, provider link
  double bot_bandwidth = 1.25e6;   // bytes/s (10 Mbps)
  double bot_latency = 0.040;      // s
  double cpu_speed = 1e9;          // flops/s of every host
  // CPU seconds of one Ed25519 signature / verification on a 1 Gflop/s host
  // (defaults: TOOLCHAIN.md's 35k/s and 13.6k/s). Charged to the hosts as
  // SimGrid executions whether signatures are real or modelled; fixed
  // numbers rather than a measurement keep runs reproducible.
  double sign_cost = 1.0 / 35000;
  double verify_cost = 1.0 / 13600;
  double notify_interval = 60;     // s: a sender ships its queued notifications
                                   // for one recipient host at most this often
  double fetch_window = 0;         // s: fetches for one sender host wait this long
                                   // to share one transfer (0 = at once)
  double connect_timeout = 30;     // s: how long a call to a host that is down
                                   // takes to fail
  int max_inflight = 64;           // transfers one host drives at once
  // A gRPC channel whose connection saw no call for this long closes it
  // (gRPC's client idle timeout, GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS: 30 min by
  // default, and rpc/tls.cc Dial keeps the default); the next call opens a
  // new one (TLS handshake again). 0 = never idle.
  double grpc_idle_timeout = 1800;
  // Bytes a certificate chain adds to every TLS handshake, in both worlds,
  // beyond the federation's own 448-byte certificate that the handshake
  // sizes were measured with (a public CA's leaf and intermediate: a few kB).
  double tls_certificate_extra_bytes = 0;
  double small_flow_bytes = 0;     // transfers below this are closed-form timers
                                   // (sim/net.h); 0 = every transfer is a flow
  Availability provider_availability;  // uptime 1 = never down
};

struct DomainsConfig {
  int count = 100;                 // legitimate domains
  int64_t users = 10000;           // users over all legitimate domains
  double zipf_alpha = 1.0;         // domain i has ~ (i+1)^-alpha of the users
  int min_users = 1;               // every domain has at least this many
};

struct LegitConfig {
  double messages_per_user_per_day = 5;
  Distribution recipients = Distribution::Fixed(1);  // per message, >= 1
  Distribution body_size = Distribution::Fixed(20000);
  double retention = 7 * 86400;    // s: expiry of the body at its sender
  int subject_bytes = 40;          // Subject header length in the summary
  // Sender recalls (revocation): this share of legitimate messages is
  // recalled by its sender this long after creation (core's PlanRevocation
  // at the sender, RevocationHides at the recipient). 0 = none.
  double recall_share = 0;
  double recall_delay = 3600;      // s
};

struct CampaignConfig {
  std::string name;
  double start = 0;                // s
  double duration = 86400;         // s
  uint64_t messages = 1000;
  double messages_per_user = 0;    // if > 0: messages = this * domains.users
  Distribution recipients = Distribution::Fixed(1);
  Distribution body_size = Distribution::Fixed(8000);
  bool personalised = false;       // every message its own body (own SHA-256)
  int bots = 10;
  Availability bot_availability{0.5, 4 * 3600};
  // Calibration of the bots (docs/SIMULATION.md "Spammers" cites sources;
  // the defaults switch each effect off):
  double bot_daily_hours = 24;      // h a bot's machine is on per day, from a
                                    // per-bot phase (time zones); 24 = always
  double bot_mean_lifetime = 0;     // s (exponential) from the campaign start until
                                    // the bot is cleaned or taken down; 0 = never
  double bot_reachable_fraction = 1;  // bots that accept inbound connections (not
                                      // behind NAT): pull fetches need it
  // Who serves the bodies under pull: "bots" (each its own) or
  // "bulletproof" (one always-up host of the spammer's; availability only,
  // the transfer is modelled on the bot's link).
  std::string body_host = "bots";
  int signing_domains = 1;         // throwaway domains the bots sign for
  double invalid_recipient_fraction = 0;  // recipients that do not exist
  double retention = 7 * 86400;    // s
  int subject_bytes = 60;
};

struct ReaderConfig {
  double legit_read_probability = 0.8;
  double spam_read_probability = 0.3;     // of spam copies a user sees
  Distribution read_delay = Distribution::LogNormal(7200, 1.5);  // s
  double spam_report_probability = 0.3;   // of spam copies a user read
  double legit_report_probability = 0.001;  // false reports of legit mail
  double retry_delay = 900;               // s: a reader tries again after a failed fetch
  int max_retries = 3;
};

struct PullConfig {
  double pin_margin = 86400;        // s before expiry to prefetch unread bodies (0 = off)
  // A recipient node does not fetch from a host on the blocklist (scenario
  // [push] dnsbl_*): a bot listed after its notification arrived can no
  // longer deliver the body (DMTP's argument, docs/SIMULATION.md).
  bool dnsbl_refuses_fetch = true;
};

// The defences a classic receiving MTA runs (docs/SIMULATION.md, "The push
// baseline", cites each default). Every one of them can be switched off
// (share 0 / false) to get the undefended baseline of earlier versions.
struct PushConfig {
  // Content filter after DATA: junks this share of spam copies, and this
  // share of legitimate copies (false positives).
  double filter_catch_rate = 0.95;
  double filter_false_positive_rate = 0.001;
  // DNS blocklist consulted before DATA: this share of bots gets listed, an
  // exponentially distributed time (this mean) after its first spam; from
  // then on every receiving MTA refuses its sessions (554 5.7.1).
  double dnsbl_coverage = 0.85;
  double dnsbl_listing_delay = 3600;  // s
  // Greylisting: this share of receiving MTAs answers 450 4.7.1 to a client
  // host it has not seen pass before, until greylist_delay has gone by since
  // its first try; then the host is whitelisted. Bots retry a 4xx with
  // probability bot_retry_fraction (the others drop the copies).
  double greylist_share = 0.3;
  double greylist_delay = 300;  // s
  double bot_retry_fraction = 0.1;
  // This share of receiving MTAs accepts unknown recipients at RCPT and
  // bounces them after DATA: the bounce goes to the envelope sender, which
  // for spam is a forged innocent address (backscatter).
  double accept_then_bounce_share = 0.1;
  // SMTP sessions between providers' MTAs use STARTTLS (bots: bot_starttls),
  // adding the STARTTLS exchange, a second EHLO and tls_handshake_bytes.
  bool starttls = true;
  bool bot_starttls = false;
  // Measured (sim/measure_wire.py): one STARTTLS session's TLS 1.3 handshake
  // through pullmail-gateway, both flights and the session tickets.
  double tls_handshake_bytes = 1925;
};

// The spammer's economics (docs/SIMULATION.md "Spammers"): revenue is
// spam copies opened x conversion_per_open x revenue_per_sale, per campaign
// and per world. The pull/push ratio of revenue does not depend on either
// constant (both worlds are linear in copies opened).
struct EconomicsConfig {
  double conversion_per_open = 1e-4;  // sales per spam copy a user opens
  double revenue_per_sale = 100;      // USD
  // The stated price of storage, USD per GB-month (GB = 1e9 bytes, month =
  // 730 h): turns byte-hours into money (storage_*_usd).
  double storage_usd_per_gb_month = 0.023;
};

struct OutputConfig {
  std::vector<double> k_values;     // extra pull runs, one per k, for the k figure
  bool plots = true;
};

struct Scenario {
  RunConfig run;
  NetworkConfig network;
  DomainsConfig domains;
  LegitConfig legit;
  std::vector<CampaignConfig> campaigns;
  ReaderConfig readers;
  PullConfig pull;
  PushConfig push;
  EconomicsConfig economics;
  PolicyConfig policy;
  RetryPolicy retry;
  OutputConfig output;
};

// Builds a scenario from a parsed document. `source` names it in errors.
// InvalidArgument for unknown keys, wrong types and out-of-range values.
absl::StatusOr<Scenario> ParseScenario(const toml::table& doc, std::string_view source);

// Reads `path`, applies `overrides` ("table.key=value", the value written as
// in TOML; bare words are taken as strings) in order, then ParseScenario.
absl::StatusOr<Scenario> LoadScenario(const std::string& path,
                                      const std::vector<std::string>& overrides);

// Applies one "a.b.c=value" override to `doc`, creating tables as needed.
absl::Status ApplyOverride(toml::table& doc, std::string_view assignment);

// Sizes: "20000", "20KB" (10^3), "20KiB" (2^10), MB/MiB, GB/GiB.
absl::StatusOr<double> ParseBytes(std::string_view text);
// Rates: "1Gbps", "100Mbps", "10kbps" (bits/s) or "10MBps" (bytes/s); bytes/s.
absl::StatusOr<double> ParseBandwidth(std::string_view text);
// Durations as core's policy parser writes them ("90s", "2h", "1d12h",
// "20ms"); a bare number is seconds. Seconds.
absl::StatusOr<double> ParseSeconds(std::string_view text);

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_SCENARIO_H_
