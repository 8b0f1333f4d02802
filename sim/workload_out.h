// The workload of one run, written out for replay against real nodes
// (`pullmail-sim --workload_out FILE`; tests/xval/replay.py plays it on a
// federation from `pullmail init` and compares). It is the world the run
// generated -- domains, users, every message with its sender, recipients,
// size, body identity and creation time, and what the reader of each copy
// chose (open or not, after how long, report or not) -- followed by what the
// simulator made of it: each copy's place and flags in the pull world, and
// both worlds' outcome counts and bytes by kind.
//
// Format: JSON lines, one object each, told apart by "type":
//   run      seed, mode, end_time (s), horizon (s), max_time (s)
//   domain   index, name, spam, users: [addresses] (spam: its bots' sender
//            addresses, i.e. the addresses that send from it)
//   message  index, created (s), from, sender_user (the user's or bot's
//            index), domain (index), size (bytes of the RFC 5322 message),
//            body (same value = same bytes), spam, campaign (0 legit, c + 1),
//            subject_bytes, message_id (the simulator's), to: [addresses,
//            "nx<d>@<domain>" for one that does not exist]; sim/wire.cc
//            builds the notification's header summary from these
//   copy     message, to, reads, delay (s after the copy became visible),
//            reports; with a pull world also pull: its place ("none",
//            "shown", "junk", "held", "hidden") and flags ("read",
//            "prefetched", "bounced") as tests/parity prints them
//   world    name ("pull" or "push"), bytes {kind: n} (sim/metrics.h
//            ByteKindName), outcomes {outcome: [legit, spam]}, and counters
//            (copies_read, reports_spam, suppress_events, bounces, ...)
// Lines come in that order; the file is a pure function of the run (same
// seed, same bytes).
#ifndef PULLMAIL_SIM_WORKLOAD_OUT_H_
#define PULLMAIL_SIM_WORKLOAD_OUT_H_

#include <string>

#include "absl/status/status.h"
#include "sim/runner.h"

namespace pullmail::sim {

// Writes `r`'s workload and results to `path` (replaced). `r.world` must be
// set. Errors: the file cannot be written (kUnavailable / kInternal).
absl::Status WriteWorkload(const RunResult& r, const std::string& path);

// The parity test's description of one copy's trace byte: "shown read",
// "junk", "none bounced", ... (PullWorld::kPlace* | kTrace*; \Seen is not
// part of it).
std::string DescribeCopyTrace(uint8_t trace);

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_WORKLOAD_OUT_H_
