// The SMTP DATA assembler (RFC 5321 4.1.1.4, 4.5.2 transparency): fed the
// lines that follow "354", one at a time without their line ends, it undoes
// dot-stuffing, sees the end-of-data line ".", and rebuilds the message with
// CRLF line ends. Pure; it never reads a socket.
//
// Limits: the message (after unstuffing, CRLFs counted) may be at most
// max_message_bytes; past that the assembler keeps consuming lines to the
// end "." but stores nothing more, and the result is kTooBig (RFC 1870 6:
// 552 5.3.4). A line with a bare CR (RFC 5321 2.3.8: CR and LF only as CRLF)
// or one the transport reported as over-long makes the result kMalformed
// (554 5.6.0), also only once the end "." arrives, so the dialogue stays in
// step with the client. In strict mode (SMTP in) a bare LF line end is
// malformed too, and only "." ended by CRLF ends the data.
#ifndef PULLMAIL_CORE_SMTP_SMTP_DATA_H_
#define PULLMAIL_CORE_SMTP_SMTP_DATA_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "core/smtp/smtp_reply.h"

namespace pullmail {

class SmtpDataReader {
 public:
  enum class Result { kOk, kTooBig, kMalformed };

  // `strict_crlf` (SMTP in from other servers): a line that ended in a bare
  // LF makes the message kMalformed, and a "." line that ended in a bare LF
  // is NOT the end of data, so "<LF>.<LF>" or "<CR><LF>.<LF>" can never end
  // it (SMTP smuggling, CVE-2023-51766 and kin: a message read here ends
  // exactly where any strict reader would end it).
  explicit SmtpDataReader(size_t max_message_bytes, bool strict_crlf = false)
      : max_bytes_(max_message_bytes), strict_crlf_(strict_crlf) {}

  // Feeds one line (no line end); `bare_lf`: it ended in a bare LF rather
  // than CRLF (Conn::last_line_bare_lf()). Returns true when it was the
  // end-of-data line "."; nothing may be fed after that.
  bool AddLine(std::string_view line, bool bare_lf = false);

  // The transport dropped an over-long line (Conn::ReadLine said
  // kResourceExhausted): the message is malformed but reading goes on.
  void AddOverlongLine();

  bool done() const { return done_; }
  Result result() const { return result_; }
  // The reply for a result other than kOk.
  SmtpReply ErrorReply() const;
  // The message, CRLF line ends, dot-stuffing undone (valid for kOk).
  const std::string& message() const { return message_; }
  std::string TakeMessage() { return std::move(message_); }
  // Bytes the client sent for the message so far (unstuffed, CRLFs counted),
  // also past the limit.
  size_t received_bytes() const { return received_; }

 private:
  size_t max_bytes_;
  bool strict_crlf_;
  std::string message_;
  size_t received_ = 0;
  bool done_ = false;
  Result result_ = Result::kOk;
  std::string malformed_reason_;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_SMTP_SMTP_DATA_H_
