// The SMTP-in gateway's memory of recipients its sender node confirmed: at
// RCPT TO the gateway asks the node whether the user exists (Bridge with
// check_only), so that an unknown user gets 550 5.1.1 at once rather than a
// bounce later. A busy MX sees the same few addresses over and over, and
// that question was one of the two calls to the node each message cost.
//
// The rule:
//   - only "exists" answers are remembered, for `ttl` (unknown users and
//     errors always go to the node, so a newly added user is served at once
//     and nothing is learnt from a failure);
//   - a remembered address is accepted at RCPT without asking. If the user
//     was removed meanwhile, the node still refuses the message itself when
//     the gateway hands it over (Bridge checks every recipient again), so
//     the sender gets a 5xx at the end of DATA instead of at RCPT, and
//     nothing is ever delivered to a user who no longer exists;
//   - addresses are remembered exactly as the node was asked (the node
//     decides what spellings mean the same user); bounded: at most
//     `max_entries`, the oldest forgotten first.
// Pure logic on an injected clock (`now` arguments). Thread-safe.
#ifndef PULLMAIL_CORE_LOGIC_KNOWN_RECIPIENTS_H_
#define PULLMAIL_CORE_LOGIC_KNOWN_RECIPIENTS_H_

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pullmail {

class KnownRecipients {
 public:
  // A zero `ttl` or `max_entries` remembers nothing (every RCPT asks).
  KnownRecipients(absl::Duration ttl, size_t max_entries);

  // Whether `address` was confirmed less than ttl before `now`.
  bool Known(std::string_view address, absl::Time now);

  // Records the node's "exists" answer for `address` at `now`.
  void Confirmed(std::string_view address, absl::Time now);

  size_t size();

 private:
  const absl::Duration ttl_;
  const size_t max_entries_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> until_ ABSL_GUARDED_BY(mu_);
  // Insertion order, for forgetting the oldest: (address, its until then).
  std::deque<std::pair<std::string, absl::Time>> order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_KNOWN_RECIPIENTS_H_
