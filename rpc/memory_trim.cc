#include "rpc/memory_trim.h"

#include <malloc.h>
#include <pthread.h>

#include <chrono>

namespace pullmail {

MemoryTrimmer::MemoryTrimmer(absl::Duration every) {
  thread_ = std::thread([this, every] {
    pthread_setname_np(pthread_self(), "pm-trim");
    const auto period = absl::ToChronoMilliseconds(every);
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
      lock.unlock();
      TrimNow();
      lock.lock();
    }
  });
}

MemoryTrimmer::~MemoryTrimmer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool MemoryTrimmer::TrimNow() { return malloc_trim(0) == 1; }

}  // namespace pullmail
