// SmtpClient (see smtp_client.h): the SMTP client dialogue of SMTP out.
#include "core/smtp/smtp_client.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/smtp/smtp_reply.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// RFC 5321 4.1.2 Path, as far as the dialogue needs: one printable token.
bool SafePath(std::string_view address) {
  if (address.size() > 512) return false;
  for (char c : address) {
    if (c <= ' ' || c > '~' || c == '<' || c == '>') return false;
  }
  return true;
}

}  // namespace

SmtpClient::SmtpClient(SmtpClientParams params) : params_(std::move(params)) {}

SmtpClientAction SmtpClient::Start() {
  std::string bad;
  if (params_.recipients.empty()) bad = "no recipients";
  if (!SafePath(params_.mail_from)) bad = "the envelope sender is not a valid SMTP path";
  for (const std::string& r : params_.recipients) {
    if (r.empty() || !SafePath(r)) bad = "a recipient is not a valid SMTP path";
  }
  if (!bad.empty()) {
    state_ = State::kClosed;
    result_.kind = SmtpClientResult::kPermanent;
    result_.reply = absl::StrCat("554 5.1.3 ", bad);
    return SmtpClientAction{SmtpClientAction::kClose, {}};
  }
  return SmtpClientAction{};
}

SmtpClientAction SmtpClient::OnReplyLine(std::string_view line) {
  if (state_ == State::kClosed) return SmtpClientAction{SmtpClientAction::kClose, {}};
  // RFC 5321 4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
  //                            Reply-code [ SP textstring ] CRLF
  if (line.size() < 3 || !IsDigit(line[0]) || !IsDigit(line[1]) || !IsDigit(line[2]) ||
      line[0] < '2' || line[0] > '5' || (line.size() > 3 && line[3] != ' ' && line[3] != '-') ||
      line.size() > kMaxReplyLineBytes) {
    return OnTransportError(
        absl::StrCat("malformed SMTP reply: ", SanitizeReplyText(line, 100)));
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (!lines_.empty() && code != code_) {
    return OnTransportError(absl::StrCat("SMTP reply changes its code mid-reply: ",
                                         SanitizeReplyText(line, 100)));
  }
  code_ = code;
  lines_.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
  if (lines_.size() > kMaxReplyLines) {
    return OnTransportError("SMTP reply has too many lines");
  }
  if (line.size() > 3 && line[3] == '-') return SmtpClientAction{};  // more to come
  std::vector<std::string> lines = std::move(lines_);
  lines_.clear();
  return OnReply(code, lines);
}

SmtpClientAction SmtpClient::OnTlsStarted() {
  tls_ = true;
  offers_starttls_ = false;
  offers_size_ = false;
  // RFC 3207 4.2: forget what was learnt before TLS and say EHLO again.
  return Send(State::kEhlo, absl::StrCat("EHLO ", params_.helo_domain, "\r\n"));
}

SmtpClientAction SmtpClient::OnTransportError(std::string_view what) {
  state_ = State::kClosed;
  if (!done()) {
    result_.kind = SmtpClientResult::kTemporary;
    result_.reply = std::string(what);
    result_.tls = tls_;
  }
  return SmtpClientAction{SmtpClientAction::kClose, {}};
}

SmtpClientAction SmtpClient::Finish(SmtpClientResult::Kind kind, std::string reply) {
  result_.kind = kind;
  result_.reply = std::move(reply);
  result_.tls = tls_;
  return Send(State::kQuit, "QUIT\r\n");
}

SmtpClientAction SmtpClient::Send(State next, std::string command) {
  state_ = next;
  return SmtpClientAction{SmtpClientAction::kSend, std::move(command)};
}

SmtpClientAction SmtpClient::SendMail() {
  std::string cmd = absl::StrCat("MAIL FROM:<", params_.mail_from, ">");
  // RFC 1870 6: declare the size so that a too-big message is refused now.
  if (offers_size_) absl::StrAppend(&cmd, " SIZE=", params_.message_size);
  return Send(State::kMail, absl::StrCat(cmd, "\r\n"));
}

SmtpClientAction SmtpClient::AfterRcpts() {
  if (!temporary_rcpt_.empty()) {
    return Finish(SmtpClientResult::kTemporary, temporary_rcpt_);
  }
  if (accepted_ == 0) {
    // Every recipient refused for good: the last refusal speaks for all.
    return Finish(SmtpClientResult::kPermanent, result_.refused.back().second);
  }
  return Send(State::kData, "DATA\r\n");
}

SmtpClientAction SmtpClient::OnReply(int code, const std::vector<std::string>& lines) {
  std::string text = absl::StrCat(code, " ", absl::StrJoin(lines, " "));
  if (!lines.empty() && lines.back().empty() && lines.size() == 1) text = absl::StrCat(code);
  const bool ok2 = code >= 200 && code < 300;
  const bool temp = code >= 400 && code < 500;
  auto fail = [&]() {
    return Finish(temp ? SmtpClientResult::kTemporary : SmtpClientResult::kPermanent, text);
  };
  switch (state_) {
    case State::kGreeting:
      if (code != 220) return fail();
      return Send(State::kEhlo, absl::StrCat("EHLO ", params_.helo_domain, "\r\n"));
    case State::kEhlo:
      if (code == 250) {
        // RFC 5321 4.1.1.1: the first line is the greeting, then one
        // extension keyword per line.
        for (size_t i = 1; i < lines.size(); ++i) {
          std::string kw = absl::AsciiStrToUpper(lines[i]);
          if (kw == "STARTTLS") offers_starttls_ = true;
          if (kw == "SIZE" || absl::StartsWith(kw, "SIZE ")) offers_size_ = true;
        }
        if (offers_starttls_ && params_.tls_possible && !tls_) {
          return Send(State::kStartTls, "STARTTLS\r\n");
        }
        return SendMail();
      }
      // RFC 5321 3.2: a server that does not know EHLO gets HELO.
      if (code == 500 || code == 502 || code == 504) {
        return Send(State::kHelo, absl::StrCat("HELO ", params_.helo_domain, "\r\n"));
      }
      return fail();
    case State::kHelo:
      if (code != 250) return fail();
      return SendMail();
    case State::kStartTls:
      if (code == 220) {
        state_ = State::kEhlo;  // OnTlsStarted sends the new EHLO
        return SmtpClientAction{SmtpClientAction::kStartTls, {}};
      }
      // RFC 3207 4: a client may go on without TLS. Opportunistic: we do,
      // unless the refusal is about the session as a whole (421).
      if (code == 421) return fail();
      return SendMail();
    case State::kMail:
      if (!ok2) return fail();
      next_rcpt_ = 0;
      return Send(State::kRcpt,
                  absl::StrCat("RCPT TO:<", params_.recipients[0], ">\r\n"));
    case State::kRcpt: {
      const std::string& rcpt = params_.recipients[next_rcpt_];
      if (ok2) {
        ++accepted_;
      } else if (temp) {
        if (temporary_rcpt_.empty()) temporary_rcpt_ = text;
      } else {
        result_.refused.emplace_back(rcpt, text);
      }
      if (code == 421) return fail();  // the server is closing: stop now
      ++next_rcpt_;
      if (next_rcpt_ < params_.recipients.size()) {
        return Send(State::kRcpt,
                    absl::StrCat("RCPT TO:<", params_.recipients[next_rcpt_], ">\r\n"));
      }
      return AfterRcpts();
    }
    case State::kData:
      if (code == 354) {
        state_ = State::kDataEnd;
        return SmtpClientAction{SmtpClientAction::kSendMessage, {}};
      }
      return fail();
    case State::kDataEnd:
      if (ok2) return Finish(SmtpClientResult::kDelivered, text);
      return fail();
    case State::kQuit:
    case State::kClosed:
      state_ = State::kClosed;
      return SmtpClientAction{SmtpClientAction::kClose, {}};
  }
  return OnTransportError("unreachable state");
}

std::string DotStuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 64 + 8);
  bool line_start = true;
  for (size_t i = 0; i < message.size(); ++i) {
    char c = message[i];
    if (c == '\r' || c == '\n') {
      // CRLF, a bare LF and a bare CR each end one line (RFC 5321 2.3.8).
      if (c == '\r' && i + 1 < message.size() && message[i + 1] == '\n') ++i;
      out.append("\r\n");
      line_start = true;
      continue;
    }
    if (line_start && c == '.') out.push_back('.');  // RFC 5321 4.5.2
    out.push_back(c);
    line_start = false;
  }
  if (!line_start) out.append("\r\n");
  out.append(".\r\n");
  return out;
}

}  // namespace pullmail
