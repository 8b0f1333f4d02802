// POP3 status lines (RFC 1939 3, RFC 2449 8, RFC 3206) and the multi-line
// encoding of RETR/TOP responses (RFC 1939 3 byte-stuffing, 7 TOP).
#include "core/pop3/pop3_reply.h"

#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail::pop3 {
namespace {

std::string OneLine(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return s;
}

std::string_view CodeText(Code code) {
  switch (code) {
    case Code::kNone: return "";
    case Code::kAuth: return "[AUTH] ";
    case Code::kSysTemp: return "[SYS/TEMP] ";
    case Code::kSysPerm: return "[SYS/PERM] ";
    case Code::kInUse: return "[IN-USE] ";
  }
  return "";
}

}  // namespace

std::string OkLine(std::string_view text) {
  if (text.empty()) return "+OK\r\n";
  return absl::StrCat("+OK ", OneLine(text), "\r\n");
}

std::string ErrLine(Code code, std::string_view text) {
  return absl::StrCat("-ERR ", AV(CodeText(code)), OneLine(text), "\r\n");
}

void MultilineEncoder::Data(char c, std::string& out) {
  if (done_) return;
  if (at_line_start_) {
    if (c == '.') out += '.';  // RFC 1939 3: byte-stuff a leading "."
    at_line_start_ = false;
  }
  line_empty_ = false;
  out += c;
}

void MultilineEncoder::EndLine(std::string& out) {
  if (done_) return;
  out += "\r\n";
  if (in_header_) {
    if (line_empty_) in_header_ = false;  // the blank line ending the header
  } else {
    ++body_lines_;
  }
  at_line_start_ = true;
  line_empty_ = true;
  if (top_lines_.has_value() && !in_header_ && body_lines_ >= *top_lines_) done_ = true;
}

std::string MultilineEncoder::Feed(std::string_view chunk) {
  std::string out;
  out.reserve(chunk.size() + chunk.size() / 32 + 8);
  for (char c : chunk) {
    if (done_) break;
    if (pending_cr_) {
      pending_cr_ = false;
      if (c == '\n') {
        EndLine(out);
        continue;
      }
      Data('\r', out);  // a CR not followed by LF is data
    }
    if (c == '\r') {
      pending_cr_ = true;
    } else if (c == '\n') {
      EndLine(out);  // a bare LF: POP3 lines end in CRLF
    } else {
      Data(c, out);
    }
  }
  return out;
}

std::string MultilineEncoder::Finish() {
  std::string out;
  if (pending_cr_) {
    // A final lone CR: the message's last line end, written as CRLF.
    pending_cr_ = false;
    EndLine(out);
  }
  if (!done_ && !at_line_start_) EndLine(out);  // a last line without its line end
  out += ".\r\n";
  return out;
}

std::string EncodeMultiline(std::string_view message, std::optional<uint32_t> top_lines) {
  MultilineEncoder e(top_lines);
  std::string out = e.Feed(message);
  out += e.Finish();
  return out;
}

}  // namespace pullmail::pop3
