// SMTP reply formatting (RFC 5321 4.2.1 multi-line replies, RFC 2034).
#include "core/smtp/smtp_reply.h"

#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail {

std::string SmtpReply::Format() const {
  std::string out;
  const size_t n = lines.empty() ? 1 : lines.size();
  for (size_t i = 0; i < n; ++i) {
    absl::StrAppend(&out, code, i + 1 < n ? "-" : " ");
    if (!enhanced.empty()) absl::StrAppend(&out, enhanced, " ");
    if (!lines.empty()) out += lines[i];
    out += "\r\n";
  }
  return out;
}

SmtpReply Reply(int code, std::string_view enhanced, std::string_view text) {
  return SmtpReply{code, std::string(enhanced), {std::string(text)}};
}

std::string SanitizeReplyText(std::string_view text, size_t max_bytes) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max_bytes) break;
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  // (push_back rather than `out = "-"`: GCC 12 warns -Wrestrict on that.)
  if (out.empty()) out.push_back('-');
  return out;
}

}  // namespace pullmail
