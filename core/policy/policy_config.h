// The spam-suppression policy's parameters: the [policy] table of a recipient
// node's configuration file. docs/POLICY.md is the operator's page for every
// field below (its default, what it does, and a worked example); keep the two
// in step.
#ifndef PULLMAIL_CORE_POLICY_POLICY_CONFIG_H_
#define PULLMAIL_CORE_POLICY_POLICY_CONFIG_H_

#include <map>
#include <string>

#include <toml++/toml.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pullmail {

struct PolicyConfig {
  // --- Body hash threshold -------------------------------------------------
  // Net weighted spam reports on one body SHA-256 at which every unread copy
  // of that body is suppressed (moved to Junk). Must be > 0.
  double spam_threshold_k = 3.0;
  // What one not-spam report subtracts, as a multiple of the report's own
  // weight (so a local not-spam report subtracts local_report_weight *
  // not_spam_weight). 0 makes not-spam reports count for nothing. >= 0.
  double not_spam_weight = 1.0;
  // Weight of one report by a user of this node. >= 0.
  double local_report_weight = 1.0;

  // --- Peers ----------------------------------------------------------------
  // Trusted peer recipient domain (lower-case) -> weight of one of its users'
  // reports. A peer that is absent is untrusted: its reports are rejected.
  // A weight of 0 keeps a peer "known" but makes its reports count for nothing.
  std::map<std::string, double> peer_weights;
  // A peer report stands for `reports` users (SpamReport.reports); counts
  // above this cap are clamped so one peer cannot outvote the threshold alone
  // with a single report. >= 1.
  double max_peer_report_count = 10;
  // Peer reports judge bodies; they judge a signing domain (its reputation,
  // hence holds) only with corroboration (issue 10: one peer's report about
  // a message this node never saw held a domain's mail for hours):
  //  - a peer report counts toward the domain only if this node holds a
  //    notification of that body signed by that domain (OnPeerReport's
  //    held_here);
  //  - only once at least this many distinct trusted peers have reported
  //    spam about the domain. >= 1.
  double min_peer_reporters = 2;
  //  - and at most this much per peer report (one local report weighs
  //    local_report_weight). >= 0.
  double max_peer_domain_weight = 1.0;

  // --- Domain reputation ------------------------------------------------------
  // Reads and reports against a signing domain decay exponentially with this
  // half-life. > 0.
  absl::Duration reputation_half_life = absl::Hours(24 * 7);
  // Below this many (decayed) reads a signing domain is "new". >= 0.
  double min_reads_for_reputation = 20;
  // Net spam / max(reads, 1) above which a signing domain is "bad". >= 0.
  double bad_reputation_ratio = 0.1;
  // Net spam / reads above which a domain with at least
  // min_reads_for_reputation reads has its new copies suppressed outright
  // (rule "domain_reputation"); with fewer reads it is held instead. 0 turns
  // this off. >= 0.
  double suppress_reputation_ratio = 0;

  // --- Hold-back --------------------------------------------------------------
  // Hold copies from new domains back from all but the early-reader sample.
  bool hold_new_domains = true;
  // Hold copies from bad domains the same way.
  bool hold_bad_domains = true;
  // Share of recipients who see a held message at once. In [0, 1].
  double early_reader_fraction = 0.1;
  // A held copy is released after this long if no complaints came. >= 0.
  absl::Duration hold_period = absl::Hours(2);
  // Net spam on a held body at which its held copies are suppressed (rule
  // "hold_complaints"). > 0; normally 1, i.e. the first complaint.
  double hold_complaint_threshold = 1.0;
  // Release only after early readers have read the body this many times
  // (0: the hold period alone decides). >= 0.
  double min_early_reads = 0;
  // With min_early_reads > 0: release anyway after this long. >= hold_period.
  absl::Duration max_hold_period = absl::Hours(24);
  // Secret that keys the early-reader sample hash. Empty works (the sample is
  // still deterministic) but lets a sender grind bodies into a user's sample.
  std::string sample_key;

  // --- Housekeeping -------------------------------------------------------------
  // SpamPolicy::Prune forgets a body's counters this long after its last
  // report, read or held notification (bodies expire after at most 90 days).
  absl::Duration body_state_ttl = absl::Hours(24 * 90);
};

// Checks every field's range (see the comments above). InvalidArgument names
// the first bad field.
absl::Status ValidatePolicyConfig(const PolicyConfig& config);

// Builds a config from the [policy] table of a recipient node's config file
// (pass the table itself, not the whole document). Absent keys keep their
// defaults. Numbers may be TOML integers or floats; durations are strings such
// as "90s", "30m", "2h", "7d", "1d12h" or integers meaning seconds;
// peer_weights is a sub-table of "domain" = weight. Errors: InvalidArgument for
// an unknown key (a typo must not silently keep a default), a wrong type, or a
// value out of range. Pure; thread-compatible.
absl::StatusOr<PolicyConfig> ParsePolicyConfig(const toml::table& table);

// "2h", "7d", "1d12h", "90s", "1.5h" -> duration. InvalidArgument otherwise
// (also for negative values).
absl::StatusOr<absl::Duration> ParsePolicyDuration(std::string_view text);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_POLICY_POLICY_CONFIG_H_
