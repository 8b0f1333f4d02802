// How long a recipient keeps a message body once it holds it: fetched on a
// read or a prefetch (pullmail's recipient node), or received whole (a
// classic SMTP receiver, the simulator's push world). Pure; thread-safe.
//
// The rule: a body is kept for as long as the recipient keeps its
// mailboxes, never dropped by age. A read message stays readable: the user
// opened it, and a second read must not depend on the sender still holding
// the body (it drops it at expiry). The recipient node's body cache
// (core/storage RecipientStore::PutBody) is never evicted by age; the
// simulator (sim/pull_world.cc, sim/push_world.cc), where nobody deletes
// mail, keeps every body to the end of the run in both worlds, so that
// recipient storage compares like for like.
#ifndef PULLMAIL_CORE_LOGIC_BODY_RETENTION_H_
#define PULLMAIL_CORE_LOGIC_BODY_RETENTION_H_

#include <optional>

#include "absl/time/time.h"

namespace pullmail {

// When a body stored at `stored` may be dropped by age: never (nullopt).
std::optional<absl::Time> RecipientBodyDropTime(absl::Time stored);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_BODY_RETENTION_H_
