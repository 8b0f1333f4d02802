// Message composition for `pullmail send` (see compose.h).
#include "cli/compose.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/crypto/encoding.h"
#include "core/crypto/token.h"
#include "core/mail/header_summary.h"
#include "core/util/strings.h"

namespace pullmail::cli {
namespace {

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\r' || c == '\n') return false;
  }
  return true;
}

// RFC 2047 section 4.1 "B" encoding, in words short enough for 76-column
// lines, split only between UTF-8 characters.
std::string EncodeWords(std::string_view s) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = std::min(s.size(), i + 45);
    while (end < s.size() && end > i + 1 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) {
      --end;
    }
    words.push_back(absl::StrCat("=?UTF-8?B?", Base64Encode(s.substr(i, end - i)), "?="));
    i = end;
  }
  return absl::StrJoin(words, "\r\n ");
}

}  // namespace

std::string ComposeMessage(std::string_view from, const std::vector<std::string>& to,
                           std::string_view subject, std::string_view body, absl::Time date,
                           Random& random) {
  // `from` may be a display form ("Ann <ann@a.example>"): the Message-ID's
  // domain part is the address's.
  std::string address = SplitDisplayForm(from).second;
  std::string domain = "localhost";
  if (size_t at = address.rfind('@'); at != std::string::npos) domain = address.substr(at + 1);
  std::string msg;
  absl::StrAppend(&msg, "From: ", AV(from), "\r\n");
  absl::StrAppend(&msg, "To: ", absl::StrJoin(to, ", "), "\r\n");
  absl::StrAppend(&msg, "Subject: ", IsAscii(subject) ? std::string(subject) : EncodeWords(subject),
                  "\r\n");
  absl::StrAppend(&msg, "Date: ", FormatRfc5322Date(date), "\r\n");
  absl::StrAppend(&msg, "Message-ID: <", NewMessageId(random, domain), ">\r\n");
  absl::StrAppend(&msg, "MIME-Version: 1.0\r\n");
  absl::StrAppend(&msg, "Content-Type: text/plain; charset=utf-8\r\n");
  absl::StrAppend(&msg, "Content-Transfer-Encoding: 8bit\r\n\r\n");
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == '\r') {
      msg += "\r\n";
      if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      msg += "\r\n";
    } else {
      msg += c;
    }
  }
  if (msg.size() < 2 || msg.compare(msg.size() - 2, 2, "\r\n") != 0) msg += "\r\n";
  return msg;
}

absl::StatusOr<std::vector<std::string>> RecipientsFromHeaders(std::string_view rfc5322) {
  auto summary = ExtractHeaderSummary(rfc5322);
  if (!summary.ok()) return summary.status();
  std::vector<std::string> out;
  auto add = [&](const std::string& display) {
    std::string addr = absl::AsciiStrToLower(SplitDisplayForm(display).second);
    if (addr.find('@') == std::string::npos) return;
    for (const std::string& a : out) {
      if (a == addr) return;
    }
    out.push_back(addr);
  };
  for (const std::string& t : summary->to()) add(t);
  for (const std::string& c : summary->cc()) add(c);
  if (out.empty()) {
    return absl::InvalidArgumentError(
        "the message names no recipient in To or Cc; give them with --to");
  }
  return out;
}

}  // namespace pullmail::cli
