// What goes on the simulated wire, byte for byte. Pull: real pullmail.v1
// protobufs built for each message (a SignedNotification signed by core's
// SignNotification, NotifyResult from core's MakeNotifyResult, FetchRequest,
// BodyChunk), plus gRPC framing. Push: the real SMTP dialogue text of each
// transaction plus the body.
//
// Framing assumptions (docs/SIMULATION.md, "Assumptions"):
//  * every gRPC message carries a 5-byte length prefix and travels in HTTP/2
//    DATA frames of at most 16 KiB with a 9-byte header each;
//  * every gRPC call costs kCallOverhead bytes of HEADERS frames (request
//    headers, response headers, trailers; HPACK-compressed);
//  * an SMTP connection costs the banner, EHLO and its reply, and QUIT;
//  * TLS record overhead is left out of both worlds alike.
#ifndef PULLMAIL_SIM_WIRE_H_
#define PULLMAIL_SIM_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pullmail/v1/pullmail.pb.h"
#include "sim/world.h"

namespace pullmail::sim {

inline constexpr uint64_t kGrpcPrefix = 5;
inline constexpr uint64_t kHttp2FrameHeader = 9;
inline constexpr uint64_t kHttp2MaxFrame = 16384;
inline constexpr uint64_t kCallOverhead = 160;

// The simulation's time zero as a wall-clock instant (2024-01-01T00:00:00Z).
absl::Time SimEpoch();
inline absl::Time AtSimTime(double t) { return SimEpoch() + absl::Seconds(t); }

// Bytes of one gRPC message of `payload` bytes on the wire, framing included.
uint64_t GrpcMessageBytes(uint64_t payload);
// Serialized size of a BodyChunk whose other fields take `without_data`
// bytes, once `len` bytes of data are added (sim/wire_test checks it against
// a real BodyChunk).
uint64_t ChunkBytes(uint64_t without_data, uint64_t len);

class Wire {
 public:
  explicit Wire(const World& world) : world_(world) {}

  // The notification for group `k` of message `index` (one per recipient
  // domain), signed with the sender domain's key by core's SignNotification.
  // Deterministic.
  absl::StatusOr<v1::SignedNotification> BuildNotification(uint32_t index, int k) const;
  // The fetch token for (message, recipient domain): 32 bytes, derived.
  std::string FetchToken(uint32_t index, uint32_t domain) const;

  // One FetchRequest on the wire (message id, token, offset 0, domain).
  uint64_t FetchRequestBytes(uint32_t index, uint32_t domain) const;
  // The body as FetchBody streams it: 64 KiB BodyChunks with framing.
  uint64_t BodyResponseBytes(uint64_t body_size) const;

  // SMTP: the dialogue of one transaction (MAIL, RCPT per recipient with
  // the server's answer, DATA, the end-of-data line and replies), without
  // the body. `valid` recipients get 250, the others 550 5.1.1.
  uint64_t SmtpTransactionBytes(uint32_t index, const World::Group& g, uint32_t valid) const;
  // Banner, EHLO, its reply, QUIT and its reply, once per connection.
  uint64_t SmtpConnectionBytes(int from_node, int to_node) const;

  // --- The receiving MTA's defences (push baseline) --------------------------
  // A transaction refused at RCPT: MAIL, then every RCPT answered with
  // `reply` (a blocklist's 554 5.7.1, greylisting's 450 4.7.1), then RSET.
  uint64_t SmtpRefusedTransactionBytes(uint32_t index, const World::Group& g,
                                       std::string_view reply) const;
  // A transaction at an MTA that accepts unknown recipients at RCPT (250 for
  // every recipient, bounces later): MAIL, RCPTs, DATA, end of data.
  uint64_t SmtpAcceptAllTransactionBytes(uint32_t index, const World::Group& g) const;
  // STARTTLS, its 220, `handshake` bytes of TLS handshake, and the second
  // EHLO with its reply (RFC 3207 section 4.2: the client must send EHLO again).
  uint64_t SmtpStartTlsBytes(int from_node, int to_node, uint64_t handshake) const;
  // One RFC 3464 bounce for one unknown recipient of `m`, as core's
  // MakeBounceMessage writes it, plus its SMTP transaction with a null
  // reverse path. Measured once on a representative message and cached.
  uint64_t BounceBytes() const;

 private:
  const World& world_;
  mutable v1::BodyChunk chunk_;  // reused to size chunks without reallocating
  mutable uint64_t bounce_bytes_ = 0;  // BounceBytes(), measured on first use
};

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_WIRE_H_
