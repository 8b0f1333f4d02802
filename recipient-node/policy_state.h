// The spam policy's state as text: SpamPolicy::Snapshot() written as lines,
// which the recipient node keeps in its store (RecipientStore's policy
// state, committed with each report) and reads back with Restore(). Lines:
//   B <sha256 hex> <spam> <not_spam> <spam_reports> <not_spam_reports> <reads> <last_activity_ms>
//   D <domain> <reads> <spam> <not_spam> <updated_ms> <last_spam_ms or ->
//   P <peer>   (after its D line: a distinct peer that reported spam about it)
// Counts are written so that they read back exactly.
//
// Before the state moved into the store, the node kept the same lines in
// DATA_DIR/policy.state; LoadPolicySnapshot reads such a file once, at the
// first start after the upgrade (recipient-node/suppression.cc, LoadPolicy).
#ifndef PULLMAIL_RECIPIENT_NODE_POLICY_STATE_H_
#define PULLMAIL_RECIPIENT_NODE_POLICY_STATE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/policy/spam_policy.h"

namespace pullmail {

std::string PolicySnapshotText(const PolicySnapshot& snapshot);
// "" is the empty snapshot. InvalidArgument naming `source` and the line if
// the text is malformed.
absl::StatusOr<PolicySnapshot> ParsePolicySnapshot(std::string_view text,
                                                   std::string_view source);

// The text of a policy.state file. NotFound if the file does not exist.
absl::StatusOr<PolicySnapshot> LoadPolicySnapshot(const std::string& path);

}  // namespace pullmail

#endif  // PULLMAIL_RECIPIENT_NODE_POLICY_STATE_H_
