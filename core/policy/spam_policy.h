// The spam-suppression policy of a recipient node: where the suppression
// rule lives. Because a body stays with its sender until someone reads it,
// the first readers' verdicts can protect everyone who has not read it yet.
//
// Pure logic, no I/O: the recipient node and the simulator feed it events
// (a notification arrived for a user, a user read a copy, a user or a trusted
// peer reported a verdict, a timer fired over held copies) and act on the
// decisions it returns. Time comes in as arguments; the early-reader sample is
// a keyed hash of (user, body), so no randomness source is needed and the same
// user is always in or out of the sample for a given body.
//
// The rules (docs/POLICY.md is the operator's page):
//  * Body hash threshold. Reports aggregate by body SHA-256. When the net
//    weighted spam on a body (spam weight - not_spam_weight * not-spam weight)
//    reaches spam_threshold_k, every UNREAD copy of that body is suppressed:
//    it leaves the inbox, its body is never fetched, it stays in Junk with its
//    reason. Body counters do not decay (a body lives at most 90 days).
//  * Domain reputation. Reads and reports aggregate by signing domain, each
//    decaying with reputation_half_life. A domain with fewer decayed reads
//    than min_reads_for_reputation is "new"; one whose net spam / max(reads, 1)
//    is above bad_reputation_ratio is "bad".
//  * Hold-back. A new or bad domain's copy is shown at once only to an early-
//    reader sample (early_reader_fraction of users); for everyone else it is
//    held. ReviewHeld releases it after hold_period without complaints, or
//    suppresses it if complaints came (on the body, or against the domain).
//  * Peers. Verdicts shared by trusted peer recipient nodes count with the
//    peer's configured weight; untrusted peers are refused. (Signatures are
//    checked and replays refused by report id before the policy sees them.)
//
// Decisions are for UNREAD copies only. A user who has already read (fetched)
// a copy keeps it whatever happens later; the node never asks the policy
// about read copies and never applies a suppression to them.
//
// Every decision says why: a rule name and a human explanation with the
// counts behind it, which the node stores beside the copy (MessageInfo.state
// and .reason).
//
// State is compact and every operation is O(1) amortised: one hash map keyed
// by the 32-byte body hash (only bodies that were reported, read while held,
// or held) and one keyed by signing domain; no per-user state at all.
//
// Persistence: the policy keeps no files. A node rebuilds it on start either
// (a) by re-feeding its stored reports (OnReport/OnPeerReport) and reads
// (OnRead) with their original timestamps -- the result does not depend on
// the order of the events, because decay is computed from each event's own
// time -- or (b) by storing Snapshot() and calling Restore() on start.
//
// Thread-compatible: not thread-safe; the caller serialises calls (a node
// holds one mutex around its policy). Const methods may run concurrently with
// each other.
#ifndef PULLMAIL_CORE_POLICY_SPAM_POLICY_H_
#define PULLMAIL_CORE_POLICY_SPAM_POLICY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/policy/policy_config.h"
#include "core/policy/siphash.h"

namespace pullmail {

// A reader's verdict (pullmail.v1.Verdict without the unspecified value).
enum class Verdict { kSpam, kNotSpam };

// What a user sees of an unread copy.
enum class Visibility {
  kShown,       // in the inbox; reading it fetches the body
  kHeld,        // not listed yet; ReviewHeld decides later
  kSuppressed,  // in Junk with its reason; the body is not fetched for it
};

// "shown", "held", "suppressed": the strings of MessageInfo.state.
std::string_view VisibilityName(Visibility v);

// Rule names, stable strings that the node stores and tests match.
namespace policy_rule {
inline constexpr std::string_view kDefault = "default";                  // shown
inline constexpr std::string_view kEarlyReader = "early_reader";         // shown
inline constexpr std::string_view kHoldReleased = "hold_released";       // shown
inline constexpr std::string_view kHoldNewDomain = "hold_new_domain";    // held
inline constexpr std::string_view kHoldBadDomain = "hold_bad_domain";    // held
inline constexpr std::string_view kAwaitingEarlyReads = "awaiting_early_reads";  // held
inline constexpr std::string_view kBodyHashThreshold = "body_hash_threshold";    // suppressed
inline constexpr std::string_view kDomainReputation = "domain_reputation";       // suppressed
inline constexpr std::string_view kHoldComplaints = "hold_complaints";           // suppressed
inline constexpr std::string_view kHoldDomainComplaints = "hold_domain_complaints";  // suppressed
}  // namespace policy_rule

struct Decision {
  Visibility visibility = Visibility::kShown;
  std::string rule;         // one of policy_rule::*
  std::string explanation;  // human text with the counts, e.g. "suppressed:
                            // 3 net spam reports on this body (3 spam, 0
                            // not-spam; threshold 3)"
  // For kHeld: the latest time at which the copy's fate can change by time
  // alone; call ReviewHeld at or after it (earlier calls are harmless).
  std::optional<absl::Time> review_at;
};

struct ReportOutcome {
  // This report took the body's net spam to >= spam_threshold_k: the node
  // suppresses every unread copy of this body (held ones too).
  bool newly_suppressed = false;
  // This report (a not-spam one) took the body back below the threshold: the
  // node may return copies it suppressed with rule body_hash_threshold.
  bool newly_unsuppressed = false;
  bool suppressed = false;     // the body's state after the report
  double applied_weight = 0;   // what the report counted for (signed: not-spam < 0)
  double net_spam = 0;         // the body's net spam after the report
  std::string rule;            // kBodyHashThreshold when suppressed, else empty
  std::string explanation;     // e.g. "3 net spam reports on this body (threshold 3)"
};

enum class DomainStatus { kNew, kGood, kBad };
std::string_view DomainStatusName(DomainStatus s);  // "new", "good", "bad"

// A signing domain's standing at one instant (decayed to that instant).
struct DomainReputation {
  std::string domain;
  double reads = 0;       // decayed reads
  double spam = 0;        // decayed weighted spam reports
  double not_spam = 0;    // decayed weighted not-spam reports (before not_spam_weight)
  double net_spam = 0;    // max(0, spam - not_spam_weight * not_spam)
  double ratio = 0;       // net_spam / max(reads, 1)
  DomainStatus status = DomainStatus::kNew;
  std::optional<absl::Time> last_spam;  // time of the latest spam report, if any
  std::string summary;    // e.g. "a.example: good (120 reads, 1.5 net spam, ratio 0.013)"
};

// A plain copy of the whole state, for persistence (see the file comment).
struct PolicySnapshot {
  struct Body {
    std::string sha256;           // 32 raw bytes
    double spam = 0;              // weighted, undecayed
    double not_spam = 0;          // weighted, undecayed (before not_spam_weight)
    uint32_t spam_reports = 0;    // number of spam reports (each peer report counts once)
    uint32_t not_spam_reports = 0;
    uint32_t reads = 0;           // reads while this body was tracked
    absl::Time last_activity;
  };
  struct Domain {
    std::string domain;
    double reads = 0;             // values as of `updated`
    double spam = 0;
    double not_spam = 0;
    absl::Time updated;
    std::optional<absl::Time> last_spam;
    std::vector<std::string> spam_peers;  // distinct peers that reported spam about it
  };
  std::vector<Body> bodies;
  std::vector<Domain> domains;
};

class SpamPolicy {
 public:
  // `config` must pass ValidatePolicyConfig (Create checks it; the
  // constructor PM_CHECKs it, a broken invariant of the caller).
  static absl::StatusOr<SpamPolicy> Create(PolicyConfig config);
  explicit SpamPolicy(PolicyConfig config);

  SpamPolicy(SpamPolicy&&) = default;
  SpamPolicy& operator=(SpamPolicy&&) = default;

  const PolicyConfig& config() const { return config_; }

  // `body_sha256` everywhere below is the body's SHA-256: 32 raw bytes as in
  // the notification, or 64 hex digits. Any other string is accepted as an
  // opaque name and hashed to a key (handy for tests and simulations).
  // Domains are compared byte for byte: pass them lower-case, as the protocol
  // requires.

  // The initial visibility of a new, unread copy of a message for one user.
  // Suppressed if the body is already over the threshold (or its domain's
  // ratio is over suppress_reputation_ratio); for a new or bad domain, shown
  // to the early-reader sample, suppressed if the body has complaints, else
  // held; otherwise shown. Records the body for later reviews when it holds.
  Decision OnNotification(std::string_view signing_domain, std::string_view body_sha256,
                          std::string_view user, absl::Time now);

  // A user read (opened, so fetched) a copy for the first time. The node
  // calls this once per (user, copy); it feeds the domain's reputation and
  // the body's early-read count.
  void OnRead(std::string_view signing_domain, std::string_view body_sha256, absl::Time now);

  // A verdict worth `weight` reporters (a local user: config().local_report_
  // weight; see OnLocalReport). A not-spam verdict subtracts weight *
  // not_spam_weight. A user who changes their mind is simply reported again
  // with the other verdict. A negative or non-finite weight counts as 0 and
  // the explanation says so. `now` is the report's own time.
  ReportOutcome OnReport(std::string_view signing_domain, std::string_view body_sha256,
                         Verdict verdict, double weight, absl::Time now);

  // OnReport with weight config().local_report_weight.
  ReportOutcome OnLocalReport(std::string_view signing_domain, std::string_view body_sha256,
                              Verdict verdict, absl::Time now);

  // A verdict shared by peer recipient node `peer_domain` standing for `count`
  // of its users (SpamReport.reports; clamped to max_peer_report_count).
  // Counts peer weight * count on the body. On the signing domain's
  // reputation it counts only if `held_here` (this node holds a notification
  // of that body signed by `signing_domain`: the caller looked), only once
  // min_peer_reporters distinct peers have reported spam about the domain,
  // and at most max_peer_domain_weight; the explanation says which applied.
  // Errors: PermissionDenied "untrusted_peer: ..." when the peer is not in
  // peer_weights; InvalidArgument when count is 0. The caller has already
  // verified the signature and refused replays.
  absl::StatusOr<ReportOutcome> OnPeerReport(std::string_view peer_domain,
                                             std::string_view signing_domain,
                                             std::string_view body_sha256, Verdict verdict,
                                             uint32_t count, bool held_here, absl::Time now);

  // Decides the fate of a held, unread copy that was held at `held_since`:
  // suppressed if the body crossed the threshold or got complaints, or if its
  // domain turned bad with spam reports since `held_since`; else still held
  // until hold_period has passed (and, with min_early_reads, until early
  // readers have read it or max_hold_period has passed); else released
  // (shown). The node and the simulator call this on a timer over their held
  // copies. Does not change state.
  Decision ReviewHeld(std::string_view signing_domain, std::string_view body_sha256,
                      absl::Time held_since, absl::Time now) const;

  // The domain's reputation decayed to `now` (a domain never seen is new with
  // zero counts). For `pullmail status` and explanations.
  DomainReputation Reputation(std::string_view signing_domain, absl::Time now) const;

  // The body's current net spam (0 for a body never reported).
  double NetSpam(std::string_view body_sha256) const;
  // Whether the body is over the threshold now.
  bool IsSuppressed(std::string_view body_sha256) const;

  // Whether `user` is in the early-reader sample for this body. Deterministic
  // for a given sample_key; about early_reader_fraction of users are in.
  bool InEarlyReaderSample(std::string_view user, std::string_view body_sha256) const;

  // Forgets bodies with no activity for body_state_ttl and domains whose
  // decayed counts are all negligible (< 0.001) and that have no spam report
  // within body_state_ttl. Returns how many entries it removed. O(state).
  size_t Prune(absl::Time now);

  // The whole state, and its replacement. Restore: InvalidArgument for a
  // body hash that is not 32 bytes, negative or non-finite counts, or an
  // empty domain; on error the state is unchanged.
  PolicySnapshot Snapshot() const;
  absl::Status Restore(const PolicySnapshot& snapshot);

  size_t tracked_bodies() const { return bodies_.size(); }
  size_t tracked_domains() const { return domains_.size(); }

 private:
  using BodyKey = std::array<uint8_t, 32>;

  struct BodyState {
    double spam = 0;
    double not_spam = 0;
    uint32_t spam_reports = 0;
    uint32_t not_spam_reports = 0;
    uint32_t reads = 0;
    absl::Time last_activity;
  };

  // Decayed counters, stored as their values at `updated`.
  struct DomainState {
    double reads = 0;
    double spam = 0;
    double not_spam = 0;
    absl::Time updated = absl::InfinitePast();
    absl::Time last_spam = absl::InfinitePast();
    std::set<std::string> spam_peers;  // distinct peers that reported spam about it
  };

  static BodyKey KeyOf(std::string_view body_sha256);
  bool InSample(std::string_view user, const BodyKey& key) const;
  double Net(const BodyState& b) const;
  bool OverThreshold(double net) const;
  // Adds `amount` (at time `at`) to the decayed counter `field` of `d`.
  void AddDecayed(DomainState& d, double DomainState::*field, double amount, absl::Time at) const;
  DomainReputation ReputationOf(std::string_view domain, const DomainState* d,
                                absl::Time now) const;
  std::string BodyCounts(const BodyState& b) const;
  // `domain_weight` is what the report adds to the signing domain's
  // reputation (`weight` goes to the body).
  ReportOutcome ApplyReport(std::string_view signing_domain, std::string_view body_sha256,
                            Verdict verdict, double weight, double domain_weight,
                            absl::Time now, std::string_view source);
  // The decision for a copy whose body/domain calls for suppression, or
  // nullopt. `held_since` is set when reviewing a held copy.
  std::optional<Decision> SuppressionFor(const BodyState* body, const DomainReputation& rep,
                                         bool domain_on_hold,
                                         std::optional<absl::Time> held_since) const;

  PolicyConfig config_;
  SipKey sample_key_;
  absl::flat_hash_map<BodyKey, BodyState> bodies_;
  absl::flat_hash_map<std::string, DomainState> domains_;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_POLICY_SPAM_POLICY_H_
