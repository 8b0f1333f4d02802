// MemoryTrimmer: a thread that hands the malloc heaps' free pages back to
// the system every so often (glibc's malloc_trim), for the long-running
// programs whose calls run on many threads (the gRPC sync server's, the
// gateway's sessions).
//
// Why: glibc gives each busy thread an arena (up to 8 per core) and returns
// a heap's free memory to the system only from its top. Under load the
// arenas' middles fill with freed blocks between live ones and stay
// resident: the 50-client soak saw the recipient node climb from 33 to
// 87-100 MB and the gateway from 26 to 75 MB, of which malloc_trim(0) on
// the live processes gave back 37 and 36 MB (SQLite itself held 3.5 MB).
// That memory is free, not leaked: under steady load it is the working set
// of that many concurrent calls and is taken again within a second of a
// trim (the soak's RSS stays on the same plateau); what the trimmer changes
// is what stays resident once the load has passed, and the slow creep of
// fragmentation over a long run.
#ifndef PULLMAIL_RPC_MEMORY_TRIM_H_
#define PULLMAIL_RPC_MEMORY_TRIM_H_

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace pullmail {

class MemoryTrimmer {
 public:
  // Starts the thread: TrimNow every `every`. Stops (and joins) on destruction.
  explicit MemoryTrimmer(absl::Duration every);
  ~MemoryTrimmer();
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  // One pass: malloc_trim(0) (every arena's free pages, not only the top).
  // Returns whether memory was handed back.
  static bool TrimNow();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace pullmail

#endif  // PULLMAIL_RPC_MEMORY_TRIM_H_
