// DATA assembly: RFC 5321 4.5.2 (dot-stuffing), 2.3.8 (CRLF only), RFC 1870
// 6 (552 5.3.4 past the fixed maximum size).
#include "core/smtp/smtp_data.h"

#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail {

bool SmtpDataReader::AddLine(std::string_view line, bool bare_lf) {
  if (done_) return true;
  if (strict_crlf_ && bare_lf) {
    // 4.1.1.4: the end is "<CRLF>.<CRLF>"; a line that did not end in CRLF
    // (so also a "." so ended) is content, and a message that has one is
    // refused rather than passed on with an ambiguous end.
    if (result_ == Result::kOk) {
      result_ = Result::kMalformed;
      malformed_reason_ = "Message contains a bare LF (RFC 5321 2.3.8)";
      message_.clear();
      message_.shrink_to_fit();
    }
    received_ += line.size() + 2;
    return false;
  }
  if (line == ".") {
    done_ = true;
    return true;
  }
  // 4.5.2: "If the first character is a period and there are other
  // characters on the line, the first character is deleted."
  if (!line.empty() && line.front() == '.') line.remove_prefix(1);
  if (result_ == Result::kOk && line.find('\r') != std::string_view::npos) {
    result_ = Result::kMalformed;
    malformed_reason_ = "Message contains a bare CR (RFC 5321 2.3.8)";
  }
  received_ += line.size() + 2;
  if (result_ != Result::kOk) return false;
  if (received_ > max_bytes_) {
    result_ = Result::kTooBig;
    message_.clear();
    message_.shrink_to_fit();
    return false;
  }
  message_.append(line.data(), line.size());
  message_ += "\r\n";
  return false;
}

void SmtpDataReader::AddOverlongLine() {
  if (done_ || result_ != Result::kOk) return;
  result_ = Result::kMalformed;
  malformed_reason_ = "Message contains an over-long line (RFC 5321 4.5.3.1.6)";
  message_.clear();
  message_.shrink_to_fit();
}

SmtpReply SmtpDataReader::ErrorReply() const {
  switch (result_) {
    case Result::kOk:
      return Reply(250, "2.0.0", "Ok");
    case Result::kTooBig:
      return Reply(
          552, "5.3.4",
          absl::StrCat("Message size exceeds fixed maximum message size (", max_bytes_, " bytes)"));
    case Result::kMalformed:
      break;
  }
  return Reply(554, "5.6.0", malformed_reason_);
}

}  // namespace pullmail
