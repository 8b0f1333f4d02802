// Bounce messages: the RFC 3464 delivery status notification a sender node
// puts in its own user's mailbox when a message could not be delivered to a
// recipient domain (it expired while that domain was unreachable, or the
// domain refused it for good). The result is an ordinary RFC 5322 message
// (CRLF line ends, 7-bit) in RFC 6522 multipart/report form:
//   1. text/plain (UTF-8, quoted-printable): what happened, in words, with the
//      original message's header summary quoted;
//   2. message/delivery-status (RFC 3464 section 2): Reporting-MTA,
//      Original-Envelope-Id, then per recipient Final-Recipient, Action:
//      failed, Status, Diagnostic-Code, Last-Attempt-Date;
//   3. text/rfc822-headers (RFC 6522 section 4): the summary's fields as
//      header fields, RFC 2047 encoded where needed.
#ifndef PULLMAIL_CORE_MAIL_BOUNCE_H_
#define PULLMAIL_CORE_MAIL_BOUNCE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

struct BounceInfo {
  // The original envelope sender; the bounce is addressed to them.
  std::string sender;
  // The domain of the node that gives up (for native mail, the sender's
  // domain): the bounce comes From "MAILER-DAEMON@<domain>" and names it as
  // Reporting-MTA. Empty means the domain part of `sender`.
  std::string domain;
  // The recipients the message was not delivered to (one recipient domain's;
  // the explanation names the domain of the first).
  std::vector<std::string> recipients;
  // The original pullmail message id (Original-Envelope-Id).
  std::string message_id;
  // The original message's header summary, quoted in parts 1 and 3.
  v1::HeaderSummary summary;
  // Why, for a person (the peer's reason, or "expired after N attempts").
  std::string reason;
  // RFC 3463 enhanced status code: "4.4.7" when the message expired, "5.x.x"
  // for a permanent rejection. A malformed code is replaced by "5.0.0".
  std::string status_code;
  // When delivery was given up (Date:, Last-Attempt-Date:).
  absl::Time when;
};

// Builds the bounce message. Deterministic: the same BounceInfo yields the
// same bytes (the Message-ID and MIME boundary derive from its contents).
// Text from peers (reason, summary) is made safe: non-ASCII or control bytes
// never reach the 7-bit delivery-status part, and nothing can end a MIME part
// early. Thread-safe.
std::string MakeBounceMessage(const BounceInfo& info);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_MAIL_BOUNCE_H_
