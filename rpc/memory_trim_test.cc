// MemoryTrimmer hands back the free pages that a thread's arena keeps
// between live blocks (what the soak's RSS growth was), and stops when asked.
#include "rpc/memory_trim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace pullmail {
namespace {

// Resident anonymous memory of this process, in KiB.
long RssAnonKb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stol(line.substr(8));
  }
  return -1;
}

TEST(MemoryTrimmer, HandsBackFreePagesBetweenLiveBlocksOfAThreadsArena) {
  // 64 MiB in 16 KiB blocks on another thread (its own arena, below the
  // mmap threshold), each touched; then all but one block in 64 freed: the
  // free space lies between live blocks, where glibc's own trimming (from a
  // heap's top only) never reaches.
  constexpr size_t kBlock = 16 * 1024, kBlocks = 4096;
  std::vector<char*> kept;
  std::thread([&] {
    std::vector<char*> blocks(kBlocks);
    for (char*& b : blocks) {
      b = static_cast<char*>(malloc(kBlock));
      for (size_t i = 0; i < kBlock; i += 4096) b[i] = 1;
    }
    for (size_t i = 0; i < kBlocks; ++i) {
      if (i % 64 == 0) {
        kept.push_back(blocks[i]);
      } else {
        free(blocks[i]);
      }
    }
  }).join();
  const long before = RssAnonKb();
  ASSERT_GT(before, 0);
  EXPECT_TRUE(MemoryTrimmer::TrimNow());
  const long after = RssAnonKb();
  // At least half of the ~63 MiB freed goes back.
  EXPECT_LT(after, before - 32 * 1024) << "RssAnon " << before << " -> " << after << " KiB";
  for (char* b : kept) free(b);
}

TEST(MemoryTrimmer, StopsWhenDestroyed) {
  // A period far longer than the test: the destructor must not wait for it.
  MemoryTrimmer trimmer(absl::Hours(1));
}

}  // namespace
}  // namespace pullmail
