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

bool FindQuotedSmtpReply(std::string_view text, QuotedSmtpReply* out) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (size_t i = 0; i + 9 <= text.size(); ++i) {
    if (i > 0 && (digit(text[i - 1]) || text[i - 1] == '.')) continue;
    const char cls = text[i];
    if ((cls != '4' && cls != '5') || !digit(text[i + 1]) || !digit(text[i + 2]) ||
        text[i + 3] != ' ' || text[i + 4] != cls || text[i + 5] != '.') {
      continue;
    }
    // RFC 3463: class "." subject (1-3 digits) "." detail (1-3 digits).
    size_t j = i + 6, n = 0;
    while (j < text.size() && digit(text[j]) && n < 3) ++j, ++n;
    if (n == 0 || j >= text.size() || text[j] != '.') continue;
    size_t k = j + 1, m = 0;
    while (k < text.size() && digit(text[k]) && m < 3) ++k, ++m;
    if (m == 0 || (k < text.size() && digit(text[k]))) continue;
    if (k < text.size() && text[k] != ' ' && text[k] != '\r' && text[k] != '\n') continue;
    out->code = (cls - '0') * 100 + (text[i + 1] - '0') * 10 + (text[i + 2] - '0');
    out->enhanced = std::string(text.substr(i + 4, k - (i + 4)));
    out->text = std::string(text.substr(i));
    return true;
  }
  return false;
}

}  // namespace pullmail
