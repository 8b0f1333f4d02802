// Reading ahead the bodies one IMAP FETCH command needs. A client that asks
// for 200 bodies in one command would otherwise wait for 200 Read calls one
// after another (each a round trip to the recipient node, and on a first
// read a fetch from the sender node and a durable cache write). The reads of
// up to `window` items, and at most `max_bytes_ahead` bytes of bodies, run
// concurrently ahead of the one being written to the client; the results are
// still taken strictly in order, so the response is the same as before.
#ifndef PULLMAIL_GATEWAY_BODY_PREFETCH_H_
#define PULLMAIL_GATEWAY_BODY_PREFETCH_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail::gateway {

class BodyPrefetch {
 public:
  struct Result {
    v1::MessageInfo info;  // as the node returned it with the body
    std::string body;
  };
  // Reads one message's body. Called on other threads, several at once: it
  // must be thread-safe (a gRPC stub is).
  using ReadFn = std::function<absl::StatusOr<Result>(uint32_t uid)>;
  struct Item {
    uint32_t uid = 0;
    uint64_t size = 0;  // the listing's body size, for max_bytes_ahead
  };

  // Starts nothing yet; Take() starts reads as it goes.
  BodyPrefetch(ReadFn read, std::vector<Item> items, size_t window, uint64_t max_bytes_ahead);
  // Waits for reads still running (at most `window` of them).
  ~BodyPrefetch();
  BodyPrefetch(const BodyPrefetch&) = delete;
  BodyPrefetch& operator=(const BodyPrefetch&) = delete;

  // The result for items[i]. Calls must come with i strictly increasing
  // (items skipped are never waited for, but may have been read).
  absl::StatusOr<Result> Take(size_t i);

 private:
  // Starts reads from next_ while the window and byte budget allow; the item
  // being taken (i) is always started, however large.
  void Launch(size_t i);

  ReadFn read_;
  std::vector<Item> items_;
  size_t window_;
  uint64_t max_bytes_ahead_;
  std::vector<std::future<absl::StatusOr<Result>>> pending_;  // one per item
  size_t next_ = 0;        // the first item not yet started
  size_t taken_ = 0;       // items before this were taken (or skipped)
};

}  // namespace pullmail::gateway

#endif  // PULLMAIL_GATEWAY_BODY_PREFETCH_H_
