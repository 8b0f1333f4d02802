// Test-only crash points. With the environment variable
// PULLMAIL_CRASH_POINT=<name>, the process kills itself with SIGKILL (no
// cleanup, no flush: what a power cut or kill -9 leaves) when it reaches
// CrashPoint("<name>"). The end-to-end tests use it to stop a node between
// two steps that must not be separable (tests/e2e/test_spam.py). Unset, a
// crash point costs one string comparison.
//
// Points: "report_committed" (a reader's spam report and the policy counts
// it added are committed; nothing else done yet), "peer_report_committed"
// (the same for a trusted peer's report).
#ifndef PULLMAIL_RECIPIENT_NODE_CRASH_POINT_H_
#define PULLMAIL_RECIPIENT_NODE_CRASH_POINT_H_

#include <string_view>

namespace pullmail {

void CrashPoint(std::string_view name);

}  // namespace pullmail

#endif  // PULLMAIL_RECIPIENT_NODE_CRASH_POINT_H_
