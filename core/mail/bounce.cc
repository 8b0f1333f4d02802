// RFC 3464 / RFC 6522 bounce construction. The container is assembled here
// by hand (it is small and fixed, and doing so keeps the output byte-for-byte
// deterministic); GMime does the parts that are easy to get subtly wrong:
// RFC 2047 encoding and folding of the quoted header fields, address quoting,
// and quoted-printable encoding of the UTF-8 explanation.
#include "core/mail/bounce.h"

#include <gmime/gmime.h>

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_replace.h"
#include "core/mail/gmime_util.h"
#include "core/mail/header_summary.h"
#include "core/mail/utf8.h"
#include "core/smtp/smtp_reply.h"
#include "core/util/clock.h"
#include "core/util/limits.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

using mail_internal::GPtr;
using mail_internal::InitGMimeOnce;
using mail_internal::TakeGString;

constexpr size_t kMaxDiagnostic = 900;  // keeps the Diagnostic-Code line < 998

// FNV-1a, 64 bits: a stable, dependency-free hash for deriving the bounce's
// Message-ID and boundary. Not a security function.
uint64_t Fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Printable US-ASCII only (for the 7-bit delivery-status fields): anything
// else becomes '?', runs of whitespace become one space.
std::string AsciiLine(std::string_view s, size_t max) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) break;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else if (c > 32 && c < 127) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('?');
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// RFC 3461 section 4 xtext, for Original-Envelope-Id.
std::string Xtext(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 33 && c <= 126 && c != '+' && c != '=') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "+", absl::AsciiStrToUpper(absl::StrCat(absl::Hex(c, absl::kZeroPad2))));
    }
  }
  return out;
}

// An address fit for "rfc822; addr" and for a To: field: no spaces, no
// control or non-ASCII bytes, no angle brackets.
std::string SafeAddress(std::string_view a) {
  std::string out = AsciiLine(a, limits::kMaxAddress);
  for (char& c : out) {
    if (c == ' ' || c == '<' || c == '>' || c == ',' || c == ';') c = '?';
  }
  return out;
}

// RFC 3463: class "." subject "." detail, class 2, 4 or 5.
bool ValidStatusCode(std::string_view code) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = code.find('.', start);
    parts.push_back(code.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 3) return false;
  if (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") return false;
  for (size_t i = 1; i < 3; ++i) {
    if (parts[i].empty() || parts[i].size() > 3) return false;
    for (char c : parts[i]) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  return true;
}

std::string ToCrlf(std::string_view text) {
  std::string lf = absl::StrReplaceAll(AV(text), {{"\r\n", "\n"}});
  return absl::StrReplaceAll(lf, {{"\n", "\r\n"}});
}

std::string QuotedPrintable(std::string_view text) {
  GMimeEncoding enc;
  g_mime_encoding_init_encode(&enc, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  std::string out(g_mime_encoding_outlen(&enc, text.size()) + 16, '\0');
  size_t n = g_mime_encoding_flush(&enc, text.data(), text.size(), out.data());
  out.resize(n);
  return ToCrlf(out);
}

void AddMailbox(InternetAddressList* list, std::string_view display) {
  auto [name, addr] = SplitDisplayForm(display);
  if (addr.empty()) return;
  InternetAddress* ia = internet_address_mailbox_new(name.empty() ? nullptr : name.c_str(),
                                                     addr.c_str());
  internet_address_list_add(list, ia);
  g_object_unref(ia);
}

// The summary as RFC 5322 header fields (RFC 2047 encoded, folded, CRLF),
// formatted by GMime from a header-only message.
std::string SummaryHeaderFields(const v1::HeaderSummary& s) {
  InitGMimeOnce();
  GPtr<GMimeMessage> msg(g_mime_message_new(FALSE));
  GMimeObject* obj = GMIME_OBJECT(msg.get());
  // Fields are added in the order of a typical message.
  if (!s.from().empty()) {
    for (const std::string& m : SplitJoinedMailboxes(s.from())) {
      AddMailbox(g_mime_message_get_from(msg.get()), m);
    }
  }
  for (const std::string& a : s.to()) AddMailbox(g_mime_message_get_to(msg.get()), a);
  for (const std::string& a : s.cc()) AddMailbox(g_mime_message_get_cc(msg.get()), a);
  if (!s.subject().empty()) g_mime_message_set_subject(msg.get(), s.subject().c_str(), "utf-8");
  if (!s.date().empty()) {
    g_mime_object_set_header(obj, "Date", AsciiLine(s.date(), limits::kMaxHeaderValue).c_str(),
                             nullptr);
  }
  if (!s.message_id().empty()) {
    g_mime_object_set_header(obj, "Message-ID",
                             AsciiLine(s.message_id(), limits::kMaxHeaderValue).c_str(), nullptr);
  }
  if (!s.in_reply_to().empty()) {
    g_mime_object_set_header(obj, "In-Reply-To",
                             AsciiLine(s.in_reply_to(), limits::kMaxHeaderValue).c_str(), nullptr);
  }
  GMimeFormatOptions* fmt = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(fmt, GMIME_NEWLINE_FORMAT_DOS);
  std::string headers = TakeGString(g_mime_object_get_headers(obj, fmt));
  g_mime_format_options_free(fmt);
  // GMime adds MIME-Version to every message; the quoted block is only the
  // original's summary, so drop it.
  std::string out;
  std::string crlf = ToCrlf(headers);
  for (absl::string_view line : absl::StrSplit(AV(crlf), "\r\n", absl::SkipEmpty())) {
    if (absl::StartsWithIgnoreCase(line, "MIME-Version:")) continue;
    absl::StrAppend(&out, line, "\r\n");
  }
  return out;
}

}  // namespace

std::string MakeBounceMessage(const BounceInfo& info) {
  std::string sender = SafeAddress(info.sender);
  std::string domain = info.domain;
  if (domain.empty()) {
    size_t at = info.sender.rfind('@');
    domain = at == std::string::npos ? "localhost" : info.sender.substr(at + 1);
  }
  domain = absl::AsciiStrToLower(SafeAddress(domain));
  std::string status = ValidStatusCode(info.status_code) ? info.status_code : "5.0.0";
  bool expired = status[0] == '4';
  std::string date = FormatRfc5322Date(info.when);

  uint64_t h = Fnv1a(info.message_id);
  for (const std::string& r : info.recipients) h = Fnv1a(r, Fnv1a("\n", h));
  h = Fnv1a(absl::StrCat(ToUnixMs(info.when), status, info.reason), h);
  std::string tag = absl::StrCat(absl::Hex(h, absl::kZeroPad16));
  std::string boundary = absl::StrCat("=_pullmail_dsn_", tag);
  std::string bounce_id = absl::StrCat("<", ToUnixMs(info.when), ".", tag, ".bounce@", domain, ">");

  std::vector<std::string> rcpts;
  for (const std::string& r : info.recipients) rcpts.push_back(SafeAddress(r));
  std::string reason = ToValidUtf8(info.reason, kMaxDiagnostic);

  // Part 1: the explanation a person reads.
  std::string text = absl::StrCat("This is the mail system at ", domain, ".\n\n");
  std::string rcpt_domain;
  if (!rcpts.empty() && rcpts[0].rfind('@') != std::string::npos) {
    rcpt_domain = rcpts[0].substr(rcpts[0].rfind('@') + 1);
  }
  std::string their = rcpt_domain.empty() ? std::string("the recipients' mail system")
                                          : absl::StrCat("the mail system of ", rcpt_domain);
  if (expired) {
    absl::StrAppend(&text, "Your message was not delivered before it expired: ", their,
                    "\ncould not be reached in time. Nothing more will be tried.\n\n");
  } else {
    absl::StrAppend(&text, "Your message could not be delivered: ", their,
                    "\nrefused it. Nothing more will be tried.\n\n");
  }
  absl::StrAppend(&text, "Recipients:\n");
  for (const std::string& r : rcpts) absl::StrAppend(&text, "  ", r, "\n");
  absl::StrAppend(&text, "\nReason: ", reason.empty() ? "(none given)" : reason, "\nStatus: ",
                  status, "\n\nYour message:\n");
  const v1::HeaderSummary& s = info.summary;
  auto quote = [&text](std::string_view name, std::string_view value) {
    if (!value.empty()) absl::StrAppend(&text, "  ", AV(name), ": ", AV(value), "\n");
  };
  quote("Subject", s.subject());
  quote("Date", s.date());
  quote("From", s.from());
  quote("To", absl::StrJoin(s.to(), ", "));
  quote("Cc", absl::StrJoin(s.cc(), ", "));
  quote("Message-ID", s.message_id());
  quote("pullmail id", info.message_id);

  // Part 2: RFC 3464 section 2.2 (per-message) and 2.3 (per-recipient).
  std::string dsn = absl::StrCat("Reporting-MTA: dns; ", domain, "\r\n");
  if (!info.message_id.empty()) {
    absl::StrAppend(&dsn, "Original-Envelope-Id: ", Xtext(info.message_id), "\r\n");
  }
  // RFC 3464 2.3.6: an SMTP server's reply is given as diagnostic-type
  // "smtp"; anything else is pullmail's own words.
  std::string diagnostic_type = "X-Pullmail";
  std::string diagnostic = AsciiLine(info.reason, kMaxDiagnostic);
  if (QuotedSmtpReply reply; FindQuotedSmtpReply(info.reason, &reply)) {
    diagnostic_type = "smtp";
    diagnostic = AsciiLine(reply.text, kMaxDiagnostic);
  }
  for (const std::string& r : rcpts) {
    absl::StrAppend(&dsn, "\r\nFinal-Recipient: rfc822; ", r, "\r\nAction: failed\r\nStatus: ",
                    status, "\r\n");
    if (!diagnostic.empty()) {
      absl::StrAppend(&dsn, "Diagnostic-Code: ", diagnostic_type, "; ", diagnostic, "\r\n");
    }
    absl::StrAppend(&dsn, "Last-Attempt-Date: ", date, "\r\n");
  }

  std::string msg = absl::StrCat(
      "From: Mail Delivery System <MAILER-DAEMON@", domain, ">\r\n",
      "To: ", sender, "\r\n",
      "Subject: ", expired ? "Undelivered Mail Returned to Sender (expired)"
                           : "Undelivered Mail Returned to Sender",
      "\r\n",
      "Date: ", date, "\r\n",
      "Message-ID: ", bounce_id, "\r\n",
      "Auto-Submitted: auto-replied\r\n",  // RFC 3834: never answer this
      "MIME-Version: 1.0\r\n",
      "Content-Type: multipart/report; report-type=delivery-status;\r\n",
      "\tboundary=\"", boundary, "\"\r\n",
      "\r\n",
      "This is a MIME-encapsulated delivery status notification.\r\n",
      "\r\n--", boundary, "\r\n",
      "Content-Type: text/plain; charset=utf-8\r\n",
      "Content-Transfer-Encoding: quoted-printable\r\n",
      "Content-Description: Notification\r\n",
      "\r\n", QuotedPrintable(text),
      "\r\n--", boundary, "\r\n",
      "Content-Type: message/delivery-status\r\n",
      "Content-Description: Delivery report\r\n",
      "\r\n", dsn,
      "\r\n--", boundary, "\r\n",
      "Content-Type: text/rfc822-headers\r\n",
      "Content-Description: Undelivered message headers\r\n",
      "\r\n", SummaryHeaderFields(s),
      "\r\n--", boundary, "--\r\n");
  return msg;
}

}  // namespace pullmail
