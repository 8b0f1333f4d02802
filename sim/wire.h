// What goes on the simulated wire, byte for byte. Pull: real pullmail.v1
// protobufs built for each message (a SignedNotification signed by core's
// SignNotification, NotifyResult from core's MakeNotifyResult, FetchRequest,
// BodyChunk), plus gRPC framing. Push: the real SMTP dialogue text of each
// transaction plus the body.
//
// Framing (docs/SIMULATION.md, "Assumptions" and "Wire sizes, measured"):
//  * every gRPC message carries a 5-byte length prefix and travels in HTTP/2
//    DATA frames of at most 16 KiB with a 9-byte header each;
//  * every gRPC call costs kCallOverhead bytes beyond that (HEADERS of the
//    request, the response and the trailers, HPACK-compressed, and gRPC's
//    BDP PINGs and WINDOW_UPDATEs), and kGrpcCallTls bytes of TLS records;
//  * a new connection on a gRPC channel costs kHttp2NewConnection bytes more
//    (the HTTP/2 preface and SETTINGS, first full headers) and
//    kGrpcNewConnectionTls bytes of TLS (the handshake); the pull world opens one on a channel's first call, after it
//    sat idle longer than [network] grpc_idle_timeout, or after either host
//    was down (sim/pull_world.cc);
//  * an SMTP connection costs the banner, EHLO and its reply, and QUIT; with
//    STARTTLS, the STARTTLS exchange, [push] tls_handshake_bytes and the
//    second EHLO, and kTlsRecordOverhead per TLS record after the handshake.
// The measured constants come from sim/measure_wire.py on real nodes
// and a real gateway on loopback (gRPC 1.51, OpenSSL 3.0, TLS 1.3, the
// federation's own 448-byte certificate); `measure_wire.py --write`
// rewrites them and the default of [push] tls_handshake_bytes.
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
// Measured (sim/measure_wire.py): a warm call beyond its messages' prefixes
// and DATA frame headers, mean of a NotifyStream and a FetchBody call.
inline constexpr uint64_t kCallOverhead = 170;
// Measured: a new connection on a gRPC channel beyond the same call on a warm
// one, mean of notify and fetch: the HTTP/2 setup (preface, SETTINGS, first
// full HPACK headers; plaintext run), and what TLS adds to it (handshake and
// the setup's records; TLS run less plaintext run).
inline constexpr uint64_t kHttp2NewConnection = 444;
inline constexpr uint64_t kGrpcNewConnectionTls = 1868;
// Measured: TLS record overhead of a warm call (TLS bytes - plaintext bytes).
inline constexpr uint64_t kGrpcCallTls = 162;
// One TLS 1.3 record's overhead with an AEAD cipher (RFC 8446 section 5.2):
// 5-byte header, 1 byte of inner content type, 16-byte tag. The SMTP
// session measured by sim/measure_wire.py: 264 bytes over its 12 records.
inline constexpr uint64_t kTlsRecordOverhead = 22;
inline constexpr uint64_t kTlsMaxRecord = 16384;  // plaintext bytes per record

// The simulation's time zero as a wall-clock instant (2024-01-01T00:00:00Z).
absl::Time SimEpoch();
inline absl::Time AtSimTime(double t) { return SimEpoch() + absl::Seconds(t); }

// Bytes of one gRPC message of `payload` bytes on the wire, framing included.
uint64_t GrpcMessageBytes(uint64_t payload);
// TLS record overhead of one gRPC call that moves `bytes` on the wire: the
// measured warm call's, plus one record per further 16 KiB.
uint64_t GrpcCallTlsBytes(uint64_t bytes);
// TLS record overhead of `records` records (SMTP: a command or a reply is
// one record, DATA's content as many as it takes).
uint64_t TlsRecordBytes(uint64_t records);
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
  // STARTTLS, its 220, and the second EHLO with its reply (RFC 3207 section
  // 4.2: the client must send EHLO again); the handshake is counted apart.
  uint64_t SmtpStartTlsBytes(int from_node, int to_node) const;
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
