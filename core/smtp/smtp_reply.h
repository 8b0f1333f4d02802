// SMTP replies (RFC 5321 4.2) with RFC 3463 enhanced status codes (RFC 2034):
// one value type and its wire form, with "250-" continuation lines. Pure
// formatting; the text a client sees is built here, never from raw peer or
// node bytes without Sanitize().
#ifndef PULLMAIL_CORE_SMTP_SMTP_REPLY_H_
#define PULLMAIL_CORE_SMTP_SMTP_REPLY_H_

#include <string>
#include <string_view>
#include <vector>

namespace pullmail {

struct SmtpReply {
  int code = 0;                    // RFC 5321 4.2.2 three-digit reply code, 200..599
  std::string enhanced;            // RFC 3463 "x.y.z", or empty (greeting, EHLO, 334, 354)
  std::vector<std::string> lines;  // at least one; each without CRLF

  // The wire form: every line but the last as "code-", the last as
  // "code ", each prefixed with the enhanced code when there is one, each
  // ended by CRLF (RFC 5321 4.2.1). An empty `lines` gives one line.
  std::string Format() const;

  bool positive() const { return code >= 200 && code < 400; }
};

// A one-line reply.
SmtpReply Reply(int code, std::string_view enhanced, std::string_view text);

// Finds an SMTP reply quoted inside `text` (a relay's "550 5.1.1 <x>: User
// unknown" carried in a notification's refusal detail): a 4xx/5xx reply code
// followed by a space and an RFC 3463 enhanced code whose class matches it.
// Returns the reply from its code on, with its code and enhanced code, or
// nothing. Pure; used to write RFC 3464 bounces in the server's own words.
struct QuotedSmtpReply {
  int code = 0;
  std::string enhanced;
  std::string text;  // "550 5.1.1 ..." to the end of `text`
};
bool FindQuotedSmtpReply(std::string_view text, QuotedSmtpReply* out);

// Makes untrusted text (a node's error message, a client's EHLO argument)
// safe for one reply line: control bytes and non-ASCII become '?', the
// result is cut at `max_bytes`. Never empty ("-" for an empty input).
std::string SanitizeReplyText(std::string_view text, size_t max_bytes = 200);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_SMTP_SMTP_REPLY_H_
