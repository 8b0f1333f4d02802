// Wire sizes from real messages (see wire.h).
#include "sim/wire.h"

#include <algorithm>

#include <google/protobuf/io/coded_stream.h>

#include "absl/strings/str_cat.h"
#include "core/envelope/envelope.h"
#include "core/mail/bounce.h"
#include "core/util/clock.h"
#include "core/util/limits.h"
#include "sim/crypto_model.h"

namespace pullmail::sim {
namespace {

// An RFC 5322 date as a sender would write it; the length is what matters
// and it is fixed ("Mon, 01 Jan 2024 00:00:00 +0000").
std::string DateHeader(double t) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", AtSimTime(t), absl::UTCTimeZone());
}

}  // namespace

absl::Time SimEpoch() { return absl::FromUnixSeconds(1704067200); }

uint64_t GrpcMessageBytes(uint64_t payload) {
  uint64_t framed = payload + kGrpcPrefix;
  uint64_t frames = std::max<uint64_t>(1, (framed + kHttp2MaxFrame - 1) / kHttp2MaxFrame);
  return framed + frames * kHttp2FrameHeader;
}

uint64_t GrpcCallTlsBytes(uint64_t bytes) {
  const uint64_t records = std::max<uint64_t>(1, (bytes + kTlsMaxRecord - 1) / kTlsMaxRecord);
  return kGrpcCallTls + (records - 1) * kTlsRecordOverhead;
}

uint64_t TlsRecordBytes(uint64_t records) { return records * kTlsRecordOverhead; }

std::string Wire::FetchToken(uint32_t index, uint32_t domain) const {
  std::string token(limits::kFetchTokenSize, '\0');
  SeededRandom(Mix64(world_.scenario().run.seed ^ 0x70CE, index, domain))
      .Fill(reinterpret_cast<uint8_t*>(token.data()), token.size());
  return token;
}

absl::StatusOr<v1::SignedNotification> Wire::BuildNotification(uint32_t index, int k) const {
  const Message& m = world_.messages()[index];
  const World::Group g = world_.NotificationGroup(m, k);
  const Domain& sender_domain = world_.domains()[m.sender_domain];
  const std::string sender = world_.SenderAddress(m);
  v1::Notification n;
  n.set_version(limits::kProtocolVersion);
  n.set_message_id(world_.MessageId(index));
  n.set_envelope_sender(sender);
  for (uint32_t i = g.begin; i < g.end; ++i) n.add_recipients(world_.RecipientAddress(world_.rcpts()[i]));
  n.set_recipient_domain(world_.domains()[g.domain].name);
  n.set_sender_endpoint(world_.directory().Lookup(sender_domain.name)->sender_endpoint);
  n.set_created_unix_ms(ToUnixMs(AtSimTime(m.created)));
  n.set_expires_unix_ms(ToUnixMs(AtSimTime(world_.Expires(m))));
  n.set_body_size(m.body_size);
  n.set_body_sha256(std::string(World::View(world_.BodyHash(m.body_id))));
  v1::HeaderSummary* s = n.mutable_summary();
  s->set_from(absl::StrCat(m.campaign ? "Offers" : "User ", m.sender_user, " <", sender, ">"));
  // The To: header lists every recipient of the message (at most 100).
  const uint32_t listed = std::min<uint32_t>(m.rcpt_count, limits::kMaxSummaryList);
  for (uint32_t i = 0; i < listed; ++i) {
    s->add_to(world_.RecipientAddress(world_.rcpts()[m.rcpt_begin + i]));
  }
  s->set_subject(std::string(world_.SubjectBytes(m), 's'));
  s->set_date(DateHeader(m.created));
  s->set_message_id(absl::StrCat("<", n.message_id(), ">"));
  n.set_fetch_token(FetchToken(index, g.domain));
  n.set_origin(v1::ORIGIN_NATIVE);
  return SignNotification(n, sender_domain.name, World::kKeyId, world_.Key(m.sender_domain),
                          nullptr, &SimScheme());
}

uint64_t Wire::FetchRequestBytes(uint32_t index, uint32_t domain) const {
  v1::FetchRequest r;
  r.set_message_id(world_.MessageId(index));
  r.set_fetch_token(FetchToken(index, domain));
  r.set_offset(0);
  r.set_recipient_domain(world_.domains()[domain].name);
  return GrpcMessageBytes(r.ByteSizeLong());
}

uint64_t Wire::BodyResponseBytes(uint64_t body_size) const {
  uint64_t total = 0;
  uint64_t offset = 0;
  chunk_.set_total_size(body_size);
  chunk_.clear_data();
  do {
    uint64_t len = std::min<uint64_t>(limits::kBodyChunkSize, body_size - offset);
    chunk_.set_offset(offset);
    total += GrpcMessageBytes(ChunkBytes(chunk_.ByteSizeLong(), len));
    offset += len;
  } while (offset < body_size);
  return total;
}

uint64_t ChunkBytes(uint64_t without_data, uint64_t len) {
  // BodyChunk.data is field 2, length-delimited: one tag byte, the length as
  // a varint, the bytes (absent altogether when empty, as proto3 encodes it).
  if (len == 0) return without_data;
  return without_data + 1 + google::protobuf::io::CodedOutputStream::VarintSize64(len) + len;
}

uint64_t Wire::SmtpTransactionBytes(uint32_t index, const World::Group& g, uint32_t valid) const {
  const Message& m = world_.messages()[index];
  uint64_t bytes = absl::StrCat("MAIL FROM:<", world_.SenderAddress(m), ">\r\n").size() +
                   std::string_view("250 2.1.0 Ok\r\n").size();
  for (uint32_t i = g.begin; i < g.end; ++i) {
    const uint32_t entry = world_.rcpts()[i];
    const std::string rcpt = world_.RecipientAddress(entry);
    bytes += absl::StrCat("RCPT TO:<", rcpt, ">\r\n").size();
    if (entry & kInvalidRecipient) {
      bytes += absl::StrCat("550 5.1.1 <", rcpt, ">: Recipient address rejected: User unknown\r\n")
                   .size();
    } else {
      bytes += std::string_view("250 2.1.5 Ok\r\n").size();
    }
  }
  if (valid == 0) {
    return bytes + std::string_view("RSET\r\n250 2.0.0 Ok\r\n").size();
  }
  bytes += std::string_view("DATA\r\n354 End data with <CR><LF>.<CR><LF>\r\n").size();
  bytes += std::string_view(".\r\n250 2.0.0 Ok: queued as 4TQ8Zk1Gx3z7\r\n").size();
  return bytes;
}

uint64_t Wire::SmtpConnectionBytes(int from_node, int to_node) const {
  const std::string from = absl::StrCat("smtp", from_node, ".sim");
  const std::string to = absl::StrCat("smtp", to_node, ".sim");
  return absl::StrCat("220 ", to, " ESMTP\r\n", "EHLO ", from, "\r\n", "250-", to,
                      "\r\n250-PIPELINING\r\n250-SIZE 67108864\r\n250-8BITMIME\r\n"
                      "250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n",
                      "QUIT\r\n", "221 2.0.0 Bye\r\n")
      .size();
}

uint64_t Wire::SmtpRefusedTransactionBytes(uint32_t index, const World::Group& g,
                                           std::string_view reply) const {
  const Message& m = world_.messages()[index];
  uint64_t bytes = absl::StrCat("MAIL FROM:<", world_.SenderAddress(m), ">\r\n").size() +
                   std::string_view("250 2.1.0 Ok\r\n").size();
  for (uint32_t i = g.begin; i < g.end; ++i) {
    bytes += absl::StrCat("RCPT TO:<", world_.RecipientAddress(world_.rcpts()[i]), ">\r\n").size();
    bytes += reply.size() + 2;
  }
  return bytes + std::string_view("RSET\r\n250 2.0.0 Ok\r\n").size();
}

uint64_t Wire::SmtpAcceptAllTransactionBytes(uint32_t index, const World::Group& g) const {
  const Message& m = world_.messages()[index];
  uint64_t bytes = absl::StrCat("MAIL FROM:<", world_.SenderAddress(m), ">\r\n").size() +
                   std::string_view("250 2.1.0 Ok\r\n").size();
  for (uint32_t i = g.begin; i < g.end; ++i) {
    bytes += absl::StrCat("RCPT TO:<", world_.RecipientAddress(world_.rcpts()[i]), ">\r\n").size();
    bytes += std::string_view("250 2.1.5 Ok\r\n").size();
  }
  bytes += std::string_view("DATA\r\n354 End data with <CR><LF>.<CR><LF>\r\n").size();
  bytes += std::string_view(".\r\n250 2.0.0 Ok: queued as 4TQ8Zk1Gx3z7\r\n").size();
  return bytes;
}

uint64_t Wire::SmtpStartTlsBytes(int from_node, int to_node) const {
  const std::string from = absl::StrCat("smtp", from_node, ".sim");
  const std::string to = absl::StrCat("smtp", to_node, ".sim");
  return absl::StrCat("STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n", "EHLO ", from, "\r\n",
                      "250-", to,
                      "\r\n250-PIPELINING\r\n250-SIZE 67108864\r\n250-8BITMIME\r\n"
                      "250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n")
      .size();
}

uint64_t Wire::BounceBytes() const {
  if (bounce_bytes_ != 0) return bounce_bytes_;
  // A representative bounce: a 60-byte subject, one unknown recipient, the
  // receiving MTA's 550 5.1.1 as the reason. Its size hardly depends on the
  // message (the original's headers are quoted, not its body).
  BounceInfo info;
  info.sender = "u12345@d12.example";
  info.domain = "d7.example";
  info.recipients = {"nx7@d7.example"};
  info.message_id = "m1234567@d12.example";
  info.summary.set_from("u12345@d12.example");
  info.summary.add_to("nx7@d7.example");
  info.summary.set_subject(std::string(60, 's'));
  info.summary.set_date("Mon, 01 Jan 2024 00:00:00 +0000");
  info.summary.set_message_id("<m1234567@d12.example>");
  info.reason = "550 5.1.1 <nx7@d7.example>: Recipient address rejected: User unknown";
  info.status_code = "5.1.1";
  info.when = SimEpoch();
  const uint64_t message = MakeBounceMessage(info).size();
  bounce_bytes_ = message + absl::StrCat("MAIL FROM:<>\r\n250 2.1.0 Ok\r\n", "RCPT TO:<",
                                         info.sender, ">\r\n250 2.1.5 Ok\r\n",
                                         "DATA\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
                                         ".\r\n250 2.0.0 Ok: queued as 4TQ8Zk1Gx3z7\r\n")
                                .size();
  return bounce_bytes_;
}

}  // namespace pullmail::sim
