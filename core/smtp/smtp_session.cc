// The submission dialogue as a state machine (see smtp_session.h). Reply
// texts follow Postfix's where a client might match on them; the codes are
// RFC 5321 4.2 / RFC 3463 / RFC 4954 6 / RFC 6409.
#include "core/smtp/smtp_session.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/crypto/encoding.h"
#include "core/envelope/envelope.h"
#include "core/mail/header_summary.h"
#include "core/util/address.h"
#include "core/util/logging.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

SmtpStep Say(const SmtpReply& r, SmtpAction a = SmtpAction::kNone) { return {r.Format(), a}; }

// Codes that mean "the client broke the protocol" (counted towards
// max_errors); 4xx/5xx answers about mail itself (452, 552, 553) are not.
bool IsProtocolError(int code) {
  return code == 500 || code == 501 || code == 502 || code == 503 || code == 504 || code == 530 ||
         code == 538 || code == 555;
}

// Two addresses are the same mailbox: same local part, same domain in any case.
bool SameAddress(std::string_view a, std::string_view b) {
  auto x = SplitAddress(a);
  auto y = SplitAddress(b);
  return x.ok() && y.ok() && *x == *y;
}

}  // namespace

SmtpSession::SmtpSession(SmtpSessionOptions options) : options_(std::move(options)) {
  PM_CHECK(options_.clock != nullptr && options_.random != nullptr);
  PM_CHECK(!relay_in() || options_.directory != nullptr);
}

void SmtpSession::SetTransport(bool tls_available, bool tls_active, bool auth_allowed) {
  tls_available_ = tls_available;
  tls_active_ = tls_active;
  auth_allowed_ = auth_allowed;
}

std::string SmtpSession::Greeting() const {
  return Reply(220, "", absl::StrCat(options_.hostname,
                                     relay_in() ? " ESMTP pullmail" : " ESMTP pullmail submission"))
      .Format();
}

size_t SmtpSession::line_limit() const {
  if (state_ == State::kData) return std::max(options_.max_data_line_bytes, kSmtpMaxTextLine);
  return kSmtpMaxAuthLine;
}

void SmtpSession::ResetTransaction() {
  in_transaction_ = false;
  from_.clear();
  to_.clear();
  data_.reset();
}

SmtpStep SmtpSession::CountError(SmtpStep step) {
  if (++errors_ < options_.max_errors) return step;
  step.reply +=
      Reply(421, "4.7.0", absl::StrCat(options_.hostname, " Error: too many errors; closing"))
          .Format();
  step.action = SmtpAction::kClose;
  state_ = State::kClosed;
  return step;
}

SmtpStep SmtpSession::OnLine(std::string_view line, bool bare_lf) {
  switch (state_) {
    case State::kData:
      if (data_->AddLine(line, bare_lf)) return EndOfData();
      return {};
    case State::kSaslPlain:
    case State::kSaslLoginUser:
    case State::kSaslLoginPass:
      return SaslResponse(line);
    case State::kCommand:
      break;
    case State::kClosed:
      return {"", SmtpAction::kClose};
    case State::kAwaitTls:
    case State::kAwaitAuth:
    case State::kAwaitSubmit:
    case State::kAwaitRcptCheck:
      // The caller broke the contract (it must report the outcome first).
      PM_LOG(ERROR) << "smtp: line fed while an action is pending";
      state_ = State::kClosed;
      return Say(Reply(421, "4.3.0", "Internal error; closing"), SmtpAction::kClose);
  }
  auto parsed = ParseSmtpCommand(line);
  if (auto* err = std::get_if<SmtpReply>(&parsed)) return CountError(Say(*err));
  SmtpStep step = HandleCommand(std::get<SmtpCommand>(parsed));
  int code = 0;
  if (step.reply.size() >= 3) code = std::atoi(step.reply.substr(0, 3).c_str());
  if (IsProtocolError(code)) return CountError(std::move(step));
  return step;
}

SmtpStep SmtpSession::OnLineTooLong() {
  switch (state_) {
    case State::kData:
      data_->AddOverlongLine();
      return {};
    case State::kSaslPlain:
    case State::kSaslLoginUser:
    case State::kSaslLoginPass:
      state_ = State::kCommand;
      credentials_ = {};
      return CountError(Say(Reply(500, "5.5.6", "Authentication exchange line is too long")));
    case State::kClosed:
      return {"", SmtpAction::kClose};
    default:
      return CountError(Say(Reply(500, "5.5.2", "Line too long")));
  }
}

SmtpStep SmtpSession::OnTimeout() {
  state_ = State::kClosed;
  return Say(Reply(421, "4.4.2", absl::StrCat(options_.hostname, " Error: timeout exceeded")),
             SmtpAction::kClose);
}

SmtpStep SmtpSession::OnTlsStarted(bool auth_allowed) {
  // RFC 3207 4.2: discard any knowledge obtained from the client before
  // the handshake (EHLO name, a transaction).
  tls_active_ = true;
  auth_allowed_ = auth_allowed;
  greeted_ = false;
  esmtp_ = false;
  helo_name_.clear();
  ResetTransaction();
  state_ = State::kCommand;
  return {};
}

SmtpStep SmtpSession::HandleCommand(const SmtpCommand& cmd) {
  switch (cmd.verb) {
    case SmtpVerb::kEhlo:
    case SmtpVerb::kHelo:
      return Ehlo(cmd);
    case SmtpVerb::kMail:
      return Mail(cmd);
    case SmtpVerb::kRcpt:
      return Rcpt(cmd);
    case SmtpVerb::kData:
      return Data();
    case SmtpVerb::kRset:  // 4.1.1.5
      ResetTransaction();
      return Say(Reply(250, "2.0.0", "Ok"));
    case SmtpVerb::kNoop:  // 4.1.1.9
      return Say(Reply(250, "2.0.0", "Ok"));
    case SmtpVerb::kQuit:  // 4.1.1.10
      state_ = State::kClosed;
      return Say(Reply(221, "2.0.0", "Bye"), SmtpAction::kClose);
    case SmtpVerb::kVrfy:  // 3.5.3: 252 when verification is not offered
      return Say(Reply(252, "2.5.0", "Cannot VRFY user; try RCPT to attempt delivery"));
    case SmtpVerb::kHelp:  // 4.1.1.8
      if (relay_in()) {
        return Say(Reply(214, "2.0.0",
                         "Commands: EHLO HELO STARTTLS MAIL RCPT DATA RSET NOOP VRFY HELP QUIT; "
                         "see RFC 5321"));
      }
      return Say(Reply(214, "2.0.0",
                       "Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP VRFY HELP "
                       "QUIT; see RFC 6409"));
    case SmtpVerb::kStarttls:  // RFC 3207 4
      if (!tls_available_) return Say(Reply(502, "5.5.1", "STARTTLS not available"));
      if (tls_active_) return Say(Reply(503, "5.5.1", "TLS already active"));
      state_ = State::kAwaitTls;
      return Say(Reply(220, "2.0.0", "Ready to start TLS"), SmtpAction::kStartTls);
    case SmtpVerb::kAuth:
      // An MX takes no passwords: users submit on the submission port.
      if (relay_in()) return Say(Reply(503, "5.5.1", "Error: authentication not enabled"));
      return Auth(cmd);
  }
  return Say(Reply(500, "5.5.2", "Command unrecognized"));
}

SmtpStep SmtpSession::Ehlo(const SmtpCommand& cmd) {
  // 4.1.4: EHLO/HELO also resets the transaction, as RSET does.
  ResetTransaction();
  greeted_ = true;
  esmtp_ = cmd.verb == SmtpVerb::kEhlo;
  helo_name_ = SanitizeReplyText(cmd.argument, kSmtpMaxDomain);
  if (!esmtp_) return Say(Reply(250, "", options_.hostname));
  SmtpReply r{250, "", {}};
  r.lines.push_back(absl::StrCat(options_.hostname, " Hello ", helo_name_));
  r.lines.push_back("PIPELINING");
  r.lines.push_back(absl::StrCat("SIZE ", options_.max_message_bytes));
  if (tls_available_ && !tls_active_) r.lines.push_back("STARTTLS");
  // RFC 4954 and the gateway's rule: no AUTH offered where a password
  // would cross the network in the clear.
  if (auth_allowed_ && !relay_in()) r.lines.push_back("AUTH PLAIN LOGIN");
  r.lines.push_back("ENHANCEDSTATUSCODES");
  r.lines.push_back("8BITMIME");
  return Say(r);
}

SmtpStep SmtpSession::Mail(const SmtpCommand& cmd) {
  if (!greeted_) return Say(Reply(503, "5.5.1", "Error: send EHLO first"));
  if (relay_in()) return MailRelayIn(cmd);
  // RFC 4954 6 / RFC 6409 4.3: submission requires authentication.
  if (!authenticated()) return Say(Reply(530, "5.7.0", "Authentication required"));
  if (in_transaction_) return Say(Reply(503, "5.5.1", "Error: nested MAIL command"));
  if (cmd.null_path) {
    return Say(Reply(
        553, "5.7.1",
        absl::StrCat("Sender address rejected: pullmail has no null sender; use <", user_, ">")));
  }
  if (cmd.size && *cmd.size > options_.max_message_bytes) {  // RFC 1870 6.1
    return Say(Reply(552, "5.3.4",
                     absl::StrCat("Message size exceeds fixed maximum message size (",
                                  options_.max_message_bytes, " bytes)")));
  }
  // RFC 6409 6.1: the MSA may refuse a sender the user is not entitled
  // to; pullmail's sender node enforces the same rule.
  if (!SameAddress(cmd.address, user_)) {
    return Say(
        Reply(553, "5.7.1", absl::StrCat("Sender address rejected: not owned by user ", user_)));
  }
  in_transaction_ = true;
  from_ = user_;
  to_.clear();
  return Say(Reply(250, "2.1.0", "Ok"));
}

SmtpStep SmtpSession::MailRelayIn(const SmtpCommand& cmd) {
  if (in_transaction_) return Say(Reply(503, "5.5.1", "Error: nested MAIL command"));
  if (cmd.size && *cmd.size > options_.max_message_bytes) {  // RFC 1870 6.1
    return Say(Reply(552, "5.3.4",
                     absl::StrCat("Message size exceeds fixed maximum message size (",
                                  options_.max_message_bytes, " bytes)")));
  }
  std::string from;  // "" is the null reverse path (RFC 5321 4.5.5): bounces
  if (!cmd.null_path) {
    auto split = SplitAddress(cmd.address);
    if (!split.ok()) {
      return Say(Reply(553, "5.1.7",
                       absl::StrCat("Sender address rejected: ",
                                    SanitizeReplyText(SV(split.status().message())))));
    }
    // docs/PROTOCOL.md 6.1 step 6: a bridged notification never speaks for
    // a pullmail domain's users, this one's included; they send natively.
    absl::StatusOr<bool> pullmail = IsPullmailDomain(*options_.directory, split->second);
    if (!pullmail.ok()) {
      return Say(Reply(451, "4.3.0", "Temporary failure (directory), try again later"));
    }
    from = absl::StrCat(split->first, "@", split->second);
    if (*pullmail) {
      return Say(Reply(550, "5.7.1",
                       absl::StrCat("<", SanitizeReplyText(from, kSmtpMaxPath),
                                    "> is a pullmail domain: its mail cannot arrive over SMTP")));
    }
  }
  in_transaction_ = true;
  from_ = std::move(from);
  to_.clear();
  return Say(Reply(250, "2.1.0", "Ok"));
}

SmtpStep SmtpSession::Rcpt(const SmtpCommand& cmd) {
  if (!authenticated() && !relay_in()) {
    return Say(Reply(530, "5.7.0", "Authentication required"));
  }
  if (!in_transaction_) return Say(Reply(503, "5.5.1", "Error: need MAIL command"));
  std::string address = cmd.postmaster ? absl::StrCat("postmaster@", options_.domain) : cmd.address;
  auto split = SplitAddress(address);
  if (!split.ok()) {
    return Say(Reply(553, "5.1.3",
                     absl::StrCat("Recipient address rejected: ",
                                  SanitizeReplyText(SV(split.status().message())))));
  }
  for (const std::string& t : to_) {
    if (SameAddress(t, address)) return Say(Reply(250, "2.1.5", "Ok"));
  }
  // RFC 5321 4.5.3.1.10: 452 for too many recipients; the client sends
  // the rest in another transaction.
  if (to_.size() >= options_.max_recipients) {
    return Say(Reply(452, "4.5.3", "Error: too many recipients"));
  }
  if (relay_in()) {
    // An MX for its own domain only (RFC 5321 3.6.2: no open relay).
    if (!SameDomain(split->second, options_.domain)) {
      return Say(Reply(550, "5.7.1",
                       absl::StrCat("<", SanitizeReplyText(address, kSmtpMaxPath),
                                    ">: Relay access denied")));
    }
    pending_rcpt_ = absl::StrCat(split->first, "@", split->second);
    state_ = State::kAwaitRcptCheck;
    return {"", SmtpAction::kCheckRecipient};
  }
  to_.push_back(absl::StrCat(split->first, "@", split->second));
  return Say(Reply(250, "2.1.5", "Ok"));
}

SmtpStep SmtpSession::OnRecipientResult(const absl::Status& status) {
  state_ = State::kCommand;
  std::string address = std::move(pending_rcpt_);
  pending_rcpt_.clear();
  std::string shown = SanitizeReplyText(address, kSmtpMaxPath);
  if (status.ok()) {
    to_.push_back(std::move(address));
    return Say(Reply(250, "2.1.5", "Ok"));
  }
  switch (status.code()) {
    case absl::StatusCode::kNotFound:  // RFC 3463 3.2: X.1.1 bad destination mailbox
      return Say(Reply(550, "5.1.1",
                       absl::StrCat("<", shown, ">: Recipient address rejected: User unknown")));
    case absl::StatusCode::kInvalidArgument:
      return Say(Reply(550, "5.7.1", absl::StrCat("<", shown, ">: Recipient address rejected")));
    default:
      return Say(Reply(451, "4.3.0",
                       absl::StrCat("<", shown, ">: Temporary failure, try again later")));
  }
}

SmtpStep SmtpSession::Data() {
  if (!authenticated() && !relay_in()) {
    return Say(Reply(530, "5.7.0", "Authentication required"));
  }
  if (!in_transaction_) return Say(Reply(503, "5.5.1", "Error: need MAIL command"));
  // RFC 2920 3.1: DATA after no accepted recipient.
  if (to_.empty()) return Say(Reply(554, "5.5.1", "Error: no valid recipients"));
  data_ = std::make_unique<SmtpDataReader>(options_.max_message_bytes, /*strict_crlf=*/relay_in());
  state_ = State::kData;
  return Say(Reply(354, "", "End data with <CR><LF>.<CR><LF>"));
}

SmtpStep SmtpSession::EndOfData() {
  state_ = State::kCommand;
  if (data_->result() != SmtpDataReader::Result::kOk) {
    SmtpReply r = data_->ErrorReply();
    ResetTransaction();
    return Say(r);
  }
  SmtpTraceInfo trace;
  trace.helo = helo_name_;
  trace.client = options_.client;
  trace.hostname = options_.hostname;
  // RFC 3848: ESMTP, ESMTPS (TLS), ESMTPSA (TLS and AUTH).
  trace.protocol =
      absl::StrCat(esmtp_ ? "ESMTP" : "SMTP", tls_active_ ? "S" : "", relay_in() ? "" : "A");
  trace.user = user_;
  if (relay_in()) {
    trace.service = "pullmail smtp-in";
    trace.add_missing_fields = false;
  }
  if (to_.size() == 1) trace.for_rcpt = to_.front();
  trace.now = options_.clock->Now();
  trace.message_id_local =
      absl::StrCat(HexEncode(options_.random->Bytes(12)), ".", absl::ToUnixSeconds(trace.now));
  envelope_.from = from_;
  envelope_.to = to_;
  envelope_.message = AddSubmissionHeaders(data_->message(), trace);
  ResetTransaction();
  state_ = State::kAwaitSubmit;
  return {"", SmtpAction::kSubmit};
}

SmtpStep SmtpSession::OnSubmitResult(const absl::StatusOr<std::string>& message_id) {
  envelope_ = {};
  state_ = State::kCommand;
  if (!message_id.ok()) {
    return Say(relay_in() ? SmtpReplyForBridgeError(message_id.status())
                          : SmtpReplyForSubmitError(message_id.status()));
  }
  return Say(
      Reply(250, "2.0.0", absl::StrCat("Ok: queued as ", SanitizeReplyText(*message_id, 128))));
}

SmtpStep SmtpSession::Auth(const SmtpCommand& cmd) {
  if (!greeted_ || !esmtp_) return Say(Reply(503, "5.5.1", "Error: send EHLO first"));
  // RFC 4954 4: one successful AUTH per session, none inside a transaction.
  if (authenticated()) return Say(Reply(503, "5.5.1", "Error: already authenticated"));
  if (in_transaction_) {
    return Say(Reply(503, "5.5.1", "Error: AUTH not permitted during a mail transaction"));
  }
  if (!auth_allowed_) {
    return Say(Reply(538, "5.7.11", "Encryption required for requested authentication mechanism"));
  }
  credentials_ = {};
  if (cmd.argument == "PLAIN") {
    if (!cmd.initial_response) {
      state_ = State::kSaslPlain;
      return Say(Reply(334, "", ""));
    }
    state_ = State::kSaslPlain;
    return SaslResponse(*cmd.initial_response);
  }
  if (cmd.argument == "LOGIN") {
    state_ = State::kSaslLoginUser;
    if (!cmd.initial_response) return Say(Reply(334, "", Base64Encode("Username:")));
    return SaslResponse(*cmd.initial_response);
  }
  return Say(Reply(504, "5.5.4", "Unrecognized authentication type"));
}

SmtpStep SmtpSession::SaslResponse(std::string_view line) {
  const State was = state_;
  state_ = State::kCommand;
  if (line.size() + 2 > kSmtpMaxAuthLine) {
    credentials_ = {};
    return CountError(Say(Reply(500, "5.5.6", "Authentication exchange line is too long")));
  }
  auto decoded = DecodeSaslResponse(line);
  if (!decoded.ok()) {
    credentials_ = {};
    if (absl::IsCancelled(decoded.status())) {
      return Say(Reply(501, "5.0.0", "Authentication cancelled"));
    }
    return CountError(Say(Reply(501, "5.5.2", "Cannot decode the base64 response")));
  }
  switch (was) {
    case State::kSaslPlain: {
      auto creds = ParseSaslPlain(*decoded);
      if (!creds.ok()) {
        return CountError(Say(Reply(
            501, "5.5.2", absl::StrCat("Malformed PLAIN response: ", creds.status().message()))));
      }
      credentials_ = std::move(*creds);
      state_ = State::kAwaitAuth;
      return {"", SmtpAction::kAuthenticate};
    }
    case State::kSaslLoginUser:
      if (!CheckSaslLoginField(*decoded, false).ok()) {
        return CountError(Say(Reply(501, "5.5.2", "Malformed user name")));
      }
      credentials_.authcid = std::move(*decoded);
      state_ = State::kSaslLoginPass;
      return Say(Reply(334, "", Base64Encode("Password:")));
    case State::kSaslLoginPass:
      if (!CheckSaslLoginField(*decoded, true).ok()) {
        credentials_ = {};
        return CountError(Say(Reply(501, "5.5.2", "Malformed password")));
      }
      credentials_.password = std::move(*decoded);
      state_ = State::kAwaitAuth;
      return {"", SmtpAction::kAuthenticate};
    default:
      break;
  }
  return Say(Reply(503, "5.5.1", "Error: no authentication in progress"));
}

SmtpStep SmtpSession::AuthFailed(const SmtpReply& reply) {
  SmtpStep step = Say(reply);
  if (++auth_failures_ >= options_.max_auth_failures) {
    step.reply += Reply(421, "4.7.0",
                        absl::StrCat(options_.hostname, " Error: too many failed authentications"))
                      .Format();
    step.action = SmtpAction::kClose;
    state_ = State::kClosed;
  }
  return step;
}

SmtpStep SmtpSession::OnAuthResult(const absl::Status& status, std::string_view address) {
  SaslCredentials creds = std::move(credentials_);
  credentials_ = {};
  state_ = State::kCommand;
  if (absl::IsUnauthenticated(status) || absl::IsInvalidArgument(status) ||
      absl::IsPermissionDenied(status) || absl::IsNotFound(status)) {
    return AuthFailed(Reply(535, "5.7.8", "Authentication credentials invalid"));
  }
  if (!status.ok()) {
    return Say(Reply(454, "4.7.0", "Temporary authentication failure; try again later"));
  }
  // RFC 4616 2: an authorization identity other than the user's own would
  // mean acting as someone else, which no pullmail user may do.
  if (!creds.authzid.empty() && creds.authzid != creds.authcid &&
      !SameAddress(creds.authzid, address)) {
    return AuthFailed(Reply(535, "5.7.8", "Authentication credentials invalid (authzid)"));
  }
  user_ = std::string(address);
  return Say(Reply(235, "2.7.0", "Authentication successful"));
}

SmtpReply SmtpReplyForSubmitError(const absl::Status& status) {
  std::string why = SanitizeReplyText(SV(status.message()));
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kCancelled:
      return Reply(451, "4.3.0", absl::StrCat("Temporary failure, try again later: ", why));
    case absl::StatusCode::kUnauthenticated:
      return Reply(451, "4.7.0", absl::StrCat("Session expired, authenticate again: ", why));
    case absl::StatusCode::kPermissionDenied:
      return Reply(553, "5.7.1", absl::StrCat("Rejected: ", why));
    case absl::StatusCode::kInvalidArgument:
      return Reply(554, "5.6.0", absl::StrCat("Message rejected: ", why));
    case absl::StatusCode::kResourceExhausted:
      return Reply(552, "5.3.4", absl::StrCat("Message too big: ", why));
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
      return Reply(554, "5.1.2", absl::StrCat("Rejected: ", why));
    default:
      return Reply(554, "5.0.0", absl::StrCat("Rejected: ", why));
  }
}

SmtpReply SmtpReplyForBridgeError(const absl::Status& status) {
  std::string why = SanitizeReplyText(SV(status.message()));
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kUnauthenticated:   // the gateway's own credentials:
    case absl::StatusCode::kPermissionDenied:  // a fault here, not the client's
      return Reply(451, "4.3.0", absl::StrCat("Temporary failure, try again later: ", why));
    case absl::StatusCode::kNotFound:
      return Reply(550, "5.1.1", absl::StrCat("Recipient address rejected: ", why));
    case absl::StatusCode::kInvalidArgument:
      if (absl::StrContains(status.message(), "sender_outside_domain") ||
          absl::StrContains(status.message(), "relaying denied")) {
        return Reply(550, "5.7.1", absl::StrCat("Rejected: ", why));
      }
      return Reply(554, "5.6.0", absl::StrCat("Message rejected: ", why));
    case absl::StatusCode::kResourceExhausted:
      return Reply(552, "5.3.4", absl::StrCat("Message too big: ", why));
    default:
      return Reply(554, "5.0.0", absl::StrCat("Rejected: ", why));
  }
}

namespace {

// RFC 5322 3.6.8: field-name = 1*ftext (%d33-57 / %d59-126), then ':'.
// Returns the lower-cased name of a header field line, or "" if the line
// does not start a field.
std::string FieldName(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return "";
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  if (name.empty()) return "";
  for (char c : name) {
    if (c < 33 || c > 126) return "";
  }
  return absl::AsciiStrToLower(AV(name));
}

// "127.0.0.1:54321" -> "[127.0.0.1]"; "[::1]:54321" -> "[IPv6:::1]"
// (RFC 5321 4.1.3 address literals).
std::string ClientLiteral(std::string_view peer) {
  size_t colon = peer.rfind(':');
  std::string_view host = colon == std::string_view::npos ? peer : peer.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return "[unknown]";
  std::string h = SanitizeReplyText(host, 64);
  return host.find(':') != std::string_view::npos ? absl::StrCat("[IPv6:", h, "]")
                                                  : absl::StrCat("[", h, "]");
}

}  // namespace

std::string AddSubmissionHeaders(std::string_view message, const SmtpTraceInfo& trace) {
  // Find the end of the header block: the first empty line, or the first
  // line that is neither a field nor a continuation.
  size_t pos = 0;
  size_t header_end = message.size();
  bool have_date = false, have_id = false, saw_field = false;
  bool blank_follows = false;
  while (pos < message.size()) {
    size_t eol = message.find("\r\n", pos);
    size_t next = eol == std::string_view::npos ? message.size() : eol + 2;
    std::string_view line =
        message.substr(pos, (eol == std::string_view::npos ? message.size() : eol) - pos);
    if (line.empty()) {
      header_end = pos;
      blank_follows = true;
      break;
    }
    if ((line.front() == ' ' || line.front() == '\t') && saw_field) {
      pos = next;
      continue;
    }
    std::string name = FieldName(line);
    if (name.empty()) {
      header_end = pos;
      break;
    }
    saw_field = true;
    if (name == "date") have_date = true;
    if (name == "message-id") have_id = true;
    pos = next;
  }
  std::string date = FormatRfc5322Date(trace.now);
  std::string out;
  out.reserve(message.size() + 512);
  absl::StrAppend(&out, "Received: from ", trace.helo.empty() ? "unknown" : trace.helo, " (",
                  ClientLiteral(trace.client), ")\r\n\tby ", trace.hostname, " (", trace.service,
                  ") with ", trace.protocol);
  if (!trace.user.empty()) absl::StrAppend(&out, "\r\n\t(authenticated user ", trace.user, ")");
  if (!trace.for_rcpt.empty()) absl::StrAppend(&out, "\r\n\tfor <", trace.for_rcpt, ">");
  absl::StrAppend(&out, "; ", date, "\r\n");
  out.append(message.substr(0, header_end));
  // A header block that does not end with CRLF (the message is all header
  // and has no final line end) gets one before the added fields.
  if (header_end > 0 && !absl::EndsWith(AV(message.substr(0, header_end)), "\r\n")) {
    out += "\r\n";
  }
  if (!trace.add_missing_fields) have_date = have_id = true;
  if (!have_date) absl::StrAppend(&out, "Date: ", date, "\r\n");
  if (!have_id) {
    absl::StrAppend(&out, "Message-ID: <", trace.message_id_local, "@", trace.hostname, ">\r\n");
  }
  // The body starts at header_end: with its blank line if it has one; a
  // body that started without one (malformed headers) gets one.
  if (!blank_follows && header_end < message.size()) out += "\r\n";
  out.append(message.substr(header_end));
  return out;
}

}  // namespace pullmail
