// POP3 responses (RFC 1939 section 3, RFC 2449 section 8): status lines with
// RFC 2449/3206 response codes, and the multi-line encoding of a message for
// RETR and TOP: CRLF line ends, dot-stuffing and the terminating ".".
// Pure: the gateway writes the bytes these return.
#ifndef PULLMAIL_CORE_POP3_POP3_REPLY_H_
#define PULLMAIL_CORE_POP3_POP3_REPLY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pullmail::pop3 {

// RFC 2449 8 and RFC 3206 response codes, written in brackets after "-ERR".
enum class Code {
  kNone,
  kAuth,     // [AUTH]: the credentials (or the lack of TLS) are the problem (RFC 3206 5)
  kSysTemp,  // [SYS/TEMP]: a temporary system problem; try again later (RFC 3206 4)
  kSysPerm,  // [SYS/PERM]: a lasting system problem (RFC 3206 4)
  kInUse,    // [IN-USE] (RFC 2449 8.1.1)
};

// "+OK text\r\n" (just "+OK\r\n" for empty text). CR and LF in `text` become
// spaces: a status line is one line.
std::string OkLine(std::string_view text);

// "-ERR [CODE] text\r\n", or "-ERR text\r\n" for Code::kNone.
std::string ErrLine(Code code, std::string_view text);

// Encodes one message as a POP3 multi-line response body (RFC 1939 3), fed
// in chunks as the node streams it:
//   - every line ends in CRLF; a bare LF is turned into CRLF, and a CR not
//     followed by LF is data;
//   - a line beginning with "." gets one more "." (byte-stuffing);
//   - a message that does not end with a line end gets one, then ".\r\n";
//     an empty message is just ".\r\n".
// With `top_lines` set (TOP, RFC 1939 7): the header, the blank line that
// ends it, and at most that many lines of the body; done() turns true when
// no more input can change the output (the caller may stop reading).
class MultilineEncoder {
 public:
  explicit MultilineEncoder(std::optional<uint32_t> top_lines = std::nullopt)
      : top_lines_(top_lines) {}

  // Returns the encoded bytes for `chunk` (may be empty while a CR waits to
  // see whether an LF follows it).
  std::string Feed(std::string_view chunk);

  // The rest: any pending line end and the terminating ".\r\n". Call once.
  std::string Finish();

  bool done() const { return done_; }

 private:
  void Data(char c, std::string& out);
  void EndLine(std::string& out);

  std::optional<uint32_t> top_lines_;
  bool at_line_start_ = true;
  bool line_empty_ = true;
  bool pending_cr_ = false;
  bool in_header_ = true;
  uint32_t body_lines_ = 0;
  bool done_ = false;
};

// The whole response body for `message` (a convenience for tests and small
// messages): MultilineEncoder(top_lines).Feed(message) + Finish().
std::string EncodeMultiline(std::string_view message,
                            std::optional<uint32_t> top_lines = std::nullopt);

}  // namespace pullmail::pop3

#endif  // PULLMAIL_CORE_POP3_POP3_REPLY_H_
