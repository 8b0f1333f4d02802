// The spam policy's state on disk: SpamPolicy::Snapshot() written as text
// lines to DATA_DIR/policy.state (atomically: temp file, fsync, rename) and
// read back with Restore() on start. Lines:
//   B <sha256 hex> <spam> <not_spam> <spam_reports> <not_spam_reports> <reads> <last_activity_ms>
//   D <domain> <reads> <spam> <not_spam> <updated_ms> <last_spam_ms or ->
#ifndef PULLMAIL_RECIPIENT_NODE_POLICY_STATE_H_
#define PULLMAIL_RECIPIENT_NODE_POLICY_STATE_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/policy/spam_policy.h"

namespace pullmail {

absl::Status SavePolicySnapshot(const PolicySnapshot& snapshot, const std::string& path);
// NotFound if the file does not exist; InvalidArgument naming the line if
// it is malformed.
absl::StatusOr<PolicySnapshot> LoadPolicySnapshot(const std::string& path);

}  // namespace pullmail

#endif  // PULLMAIL_RECIPIENT_NODE_POLICY_STATE_H_
