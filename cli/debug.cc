// Hidden test-support subcommands of `pullmail` (`pullmail debug ...`). They
// speak the node-to-node protocol directly, with the real gRPC stubs over
// real TLS, so that the end-to-end tests can send what a well-behaved node
// never would: the same notification twice, a notification signed with a
// key the directory does not list, a fetch with a wrong token.
//
//   debug notify --config A/node.toml --to bob@b.example [--times N]
//                [--random-key] [--key-id ID] [--message-id ID] [--from ADDR]
//                [--body TEXT | --body-sha256-hex HEX --body-size N]
//                [--bridged] [--raw]
//       Signs one notification as A's domain (or with a fresh key that no
//       directory lists), announcing TEXT's size and hash or any hash and
//       size named (a hostile domain naming another's body); --bridged:
//       origin ORIGIN_BRIDGED_SMTP, as a gateway would; --raw: signs the
//       payload bytes directly, skipping the signer's own checks, as a
//       hostile node would. Sends the same bytes N times to the recipient
//       node the directory lists for bob's domain. One NotifyResult (JSON)
//       per line on stdout. Exit 0 iff every result has code 0.
//   debug fetch --config B/node.toml --from-domain a.example
//               --message-id ID --token-hex HEX [--offset N]
//       FetchBody at the sender node the directory lists for a.example, as
//       recipient domain B. Prints {"code":..,"code_name":..,"message":..,
//       "bytes":N,"chunks":N}; exit code as for any call (client.h).
//   debug share-report --config B/node.toml --to-domain c.example
//                      --message-id ID --message-signing-domain a.example
//                      --body-sha256-hex HEX [--verdict spam|not-spam]
//                      [--reports N] [--report-id ID] [--times N]
//                      [--random-key] [--key-id ID] [--as-abuse]
//                      [--reporter-domain SPELLING]
//       Signs one SpamReport as B's domain (SignSpamReport, B's key, or a
//       fresh key that no directory lists) and sends the same signed bytes N
//       times to RecipientService.ShareReport at the recipient node the
//       directory lists for c.example, as a peer node would. One line of
//       JSON per call on stdout: {"code":..,"code_name":..,"message":..,
//       "result_code":..,"reason":..}. Exit 0 iff every call was OK.
//   debug revoke --config A/node.toml --to-domain b.example --message-id ID
//                [--times N]
//       Signs one Revocation as A's domain and sends the same signed bytes N
//       times to RecipientService.Revoke at the recipient node the directory
//       lists for b.example, as A's sender node would. One line of JSON per
//       call: {"code":..,"code_name":..,"message":..,"result_code":..,
//       "hidden":..}. Exit 0 iff every call was OK.
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "core/crypto/ed25519.h"
#include "core/crypto/encoding.h"
#include "core/crypto/sha256.h"
#include "core/crypto/token.h"
#include "core/directory/toml_directory.h"
#include "core/envelope/envelope.h"
#include "core/mail/header_summary.h"
#include "core/util/clock.h"
#include "core/util/random.h"
#include "rpc/node_directory.h"
#include "rpc/tls.h"

namespace pullmail::cli {

int RunDebugNotify(const Args& args) {
  auto session = Session::Open(args.GetOr("config", ""), "", "");
  if (!session.ok()) return ReportLocalError(session.status());
  const NodeConfig& c = session->config();
  std::string to = absl::AsciiStrToLower(args.GetOr("to", ""));
  size_t at = to.rfind('@');
  if (at == std::string::npos || at == 0) {
    return ReportLocalError(absl::InvalidArgumentError("--to local@domain is required"));
  }
  std::string to_domain = to.substr(at + 1);
  int64_t times = 1;
  if (auto t = args.Get("times")) {
    auto n = ParseInt(*t, "--times", 1, 1000);
    if (!n.ok()) return ReportLocalError(n.status());
    times = *n;
  }
  auto directory = OpenNodeDirectory(c);
  if (!directory.ok()) return ReportLocalError(directory.status());
  auto entry = (*directory)->Lookup(to_domain);
  if (!entry.ok()) return ReportLocalError(entry.status());

  std::optional<SigningKey> key;
  std::string key_id = args.GetOr("key-id", c.key_id);
  if (args.Has("random-key")) {
    auto k = SigningKey::Generate();
    if (!k.ok()) return ReportLocalError(k.status());
    key.emplace(*std::move(k));
  } else {
    auto k = SigningKey::LoadPem(c.signing_key);
    if (!k.ok()) return ReportLocalError(k.status());
    key.emplace(*std::move(k));
  }

  std::string body = args.GetOr(
      "body", "From: debug\r\nSubject: crafted by pullmail debug notify\r\n\r\nhello\r\n");
  absl::Time now = absl::Now();
  v1::Notification n;
  n.set_version(1);
  n.set_message_id(args.GetOr("message-id", NewMessageId(SecureRandom(), c.domain)));
  n.set_envelope_sender(args.GetOr("from", absl::StrCat("debug@", c.domain)));
  n.add_recipients(to);
  n.set_recipient_domain(to_domain);
  n.set_sender_endpoint(c.sender_listen);
  n.set_created_unix_ms(ToUnixMs(now));
  n.set_expires_unix_ms(ToUnixMs(now + absl::Hours(24)));
  n.set_body_size(body.size());
  n.set_body_sha256(Sha256(body));
  if (auto hex = args.Get("body-sha256-hex")) {
    auto hash = HexDecode(*hex);
    if (!hash.ok() || hash->size() != 32) {
      return ReportLocalError(absl::InvalidArgumentError("--body-sha256-hex: 64 hex digits"));
    }
    auto size = ParseInt(args.GetOr("body-size", ""), "--body-size", 0, int64_t{1} << 40);
    if (!size.ok()) return ReportLocalError(size.status());
    n.set_body_sha256(*hash);
    n.set_body_size(static_cast<uint64_t>(*size));
  }
  // With --body, the summary is the body's own header (as a sender node
  // makes it), so that a test can announce any From: it likes.
  absl::StatusOr<v1::HeaderSummary> summary = ExtractHeaderSummary(body);
  if (args.Has("body") && summary.ok()) {
    *n.mutable_summary() = *summary;
  } else {
    n.mutable_summary()->set_from(n.envelope_sender());
    n.mutable_summary()->set_subject("crafted by pullmail debug notify");
  }
  n.set_fetch_token(NewToken(SecureRandom()));
  n.set_origin(args.Has("bridged") ? v1::ORIGIN_BRIDGED_SMTP : v1::ORIGIN_NATIVE);
  absl::StatusOr<v1::SignedNotification> signed_n;
  if (args.Has("raw")) {
    v1::SignedNotification raw;
    raw.set_payload(n.SerializeAsString());
    raw.set_signing_domain(c.domain);
    raw.set_key_id(key_id);
    raw.set_signature(key->Sign(kNotificationContext, raw.payload()));
    signed_n = std::move(raw);
  } else {
    signed_n = SignNotification(n, c.domain, key_id, *key);
  }
  if (!signed_n.ok()) return ReportLocalError(signed_n.status());

  auto channel = Dial(c.tls, entry->recipient_endpoint, to_domain);
  if (!channel.ok()) return ReportLocalError(channel.status());
  auto stub = v1::RecipientService::NewStub(*channel);
  int rc = kExitOk;
  for (int64_t i = 0; i < times; ++i) {
    auto ctx = session->Context(absl::Seconds(15));
    v1::NotifyResult result;
    grpc::Status s = stub->Notify(ctx.get(), *signed_n, &result);
    if (!s.ok()) {
      std::cout << "{\"rpc_error\":" << JsonQuote(StatusCodeName(s.error_code()))
                << ",\"message\":" << JsonQuote(s.error_message()) << "}\n";
      rc = std::max(rc, ExitCodeFor(s));
      continue;
    }
    std::cout << ProtoToJson(result) << "\n";
    if (result.code() != 0) {
      rc = std::max(rc, result.code() == grpc::StatusCode::UNAVAILABLE ? kExitUnavailable
                                                                         : kExitRefused);
    }
  }
  std::cerr << "message_id " << n.message_id() << " fetch_token "
            << HexEncode(n.fetch_token()) << "\n";
  return rc;
}

int RunDebugFetch(const Args& args) {
  auto session = Session::Open(args.GetOr("config", ""), "", "");
  if (!session.ok()) return ReportLocalError(session.status());
  const NodeConfig& c = session->config();
  std::string from_domain = absl::AsciiStrToLower(args.GetOr("from-domain", ""));
  std::string message_id = args.GetOr("message-id", "");
  if (from_domain.empty() || message_id.empty()) {
    return ReportLocalError(
        absl::InvalidArgumentError("--from-domain and --message-id are required"));
  }
  auto token = HexDecode(args.GetOr("token-hex", ""));
  if (!token.ok()) return ReportLocalError(token.status());
  uint64_t offset = 0;
  if (auto o = args.Get("offset")) {
    auto n = ParseInt(*o, "--offset", 0, int64_t{1} << 40);
    if (!n.ok()) return ReportLocalError(n.status());
    offset = static_cast<uint64_t>(*n);
  }
  auto directory = OpenNodeDirectory(c);
  if (!directory.ok()) return ReportLocalError(directory.status());
  auto entry = (*directory)->Lookup(from_domain);
  if (!entry.ok()) return ReportLocalError(entry.status());
  auto channel = Dial(c.tls, entry->sender_endpoint, from_domain);
  if (!channel.ok()) return ReportLocalError(channel.status());
  auto stub = v1::SenderService::NewStub(*channel);

  v1::FetchRequest req;
  req.set_message_id(message_id);
  req.set_fetch_token(*token);
  req.set_offset(offset);
  req.set_recipient_domain(args.GetOr("recipient-domain", c.domain));
  auto ctx = session->Context(absl::Seconds(30));
  auto reader = stub->FetchBody(ctx.get(), req);
  v1::BodyChunk chunk;
  uint64_t bytes = 0, chunks = 0;
  while (reader->Read(&chunk)) {
    bytes += chunk.data().size();
    ++chunks;
  }
  grpc::Status s = reader->Finish();
  std::cout << "{\"code\":" << s.error_code()
            << ",\"code_name\":" << JsonQuote(StatusCodeName(s.error_code()))
            << ",\"message\":" << JsonQuote(s.error_message()) << ",\"bytes\":" << bytes
            << ",\"chunks\":" << chunks << "}\n";
  return ExitCodeFor(s);
}

int RunDebugShareReport(const Args& args) {
  auto session = Session::Open(args.GetOr("config", ""), "", "");
  if (!session.ok()) return ReportLocalError(session.status());
  const NodeConfig& c = session->config();
  std::string to_domain = absl::AsciiStrToLower(args.GetOr("to-domain", ""));
  std::string message_id = args.GetOr("message-id", "");
  std::string signing_domain = absl::AsciiStrToLower(args.GetOr("message-signing-domain", ""));
  if (to_domain.empty() || message_id.empty() || signing_domain.empty()) {
    return ReportLocalError(absl::InvalidArgumentError(
        "--to-domain, --message-id and --message-signing-domain are required"));
  }
  auto body_sha256 = HexDecode(args.GetOr("body-sha256-hex", ""));
  if (!body_sha256.ok() || body_sha256->size() != 32) {
    return ReportLocalError(
        absl::InvalidArgumentError("--body-sha256-hex must be 64 hex digits"));
  }
  std::string verdict = absl::AsciiStrToLower(args.GetOr("verdict", "spam"));
  if (verdict != "spam" && verdict != "not-spam") {
    return ReportLocalError(absl::InvalidArgumentError("--verdict must be spam or not-spam"));
  }
  int64_t reports = 1, times = 1;
  if (auto r = args.Get("reports")) {
    auto n = ParseInt(*r, "--reports", 1, 1'000'000);
    if (!n.ok()) return ReportLocalError(n.status());
    reports = *n;
  }
  if (auto t = args.Get("times")) {
    auto n = ParseInt(*t, "--times", 1, 1000);
    if (!n.ok()) return ReportLocalError(n.status());
    times = *n;
  }
  auto directory = OpenNodeDirectory(c);
  if (!directory.ok()) return ReportLocalError(directory.status());
  auto entry = (*directory)->Lookup(to_domain);
  if (!entry.ok()) return ReportLocalError(entry.status());

  std::optional<SigningKey> key;
  if (args.Has("random-key")) {
    auto k = SigningKey::Generate();
    if (!k.ok()) return ReportLocalError(k.status());
    key.emplace(*std::move(k));
  } else {
    auto k = SigningKey::LoadPem(c.signing_key);
    if (!k.ok()) return ReportLocalError(k.status());
    key.emplace(*std::move(k));
  }

  v1::SpamReport report;
  report.set_version(1);
  report.set_report_id(args.GetOr("report-id", NewMessageId(SecureRandom(), c.domain)));
  // Another spelling of this domain (case, a trailing dot) tries how the
  // peer compares it; the signer is this domain either way.
  report.set_reporter_domain(args.GetOr("reporter-domain", c.domain));
  report.set_message_id(message_id);
  report.set_message_signing_domain(signing_domain);
  report.set_body_sha256(*body_sha256);
  report.set_verdict(verdict == "spam" ? v1::VERDICT_SPAM : v1::VERDICT_NOT_SPAM);
  report.set_reported_unix_ms(ToUnixMs(absl::Now()));
  report.set_reports(static_cast<uint32_t>(reports));
  auto signed_report =
      SignSpamReport(report, c.domain, args.GetOr("key-id", c.key_id), *key);
  if (!signed_report.ok()) return ReportLocalError(signed_report.status());

  // --as-abuse: to the domain's sender node as SenderService.ReportAbuse.
  const bool as_abuse = args.Has("as-abuse");
  auto channel = Dial(c.tls, as_abuse ? entry->sender_endpoint : entry->recipient_endpoint,
                      to_domain);
  if (!channel.ok()) return ReportLocalError(channel.status());
  auto stub = v1::RecipientService::NewStub(*channel);
  auto sender_stub = v1::SenderService::NewStub(*channel);
  int rc = kExitOk;
  for (int64_t i = 0; i < times; ++i) {
    auto ctx = session->Context(absl::Seconds(15));
    v1::ReportResult result;
    grpc::Status s;
    if (as_abuse) {
      v1::AbuseResult abuse;
      s = sender_stub->ReportAbuse(ctx.get(), *signed_report, &abuse);
      result.set_code(abuse.code());
      result.set_reason(abuse.reason());
    } else {
      s = stub->ShareReport(ctx.get(), *signed_report, &result);
    }
    std::cout << "{\"code\":" << s.error_code()
              << ",\"code_name\":" << JsonQuote(StatusCodeName(s.error_code()))
              << ",\"message\":" << JsonQuote(s.error_message())
              << ",\"result_code\":" << result.code()
              << ",\"reason\":" << JsonQuote(result.reason()) << "}\n";
    rc = std::max(rc, ExitCodeFor(s));
  }
  std::cerr << "report_id " << report.report_id() << "\n";
  return rc;
}

int RunDebugRevoke(const Args& args) {
  auto session = Session::Open(args.GetOr("config", ""), "", "");
  if (!session.ok()) return ReportLocalError(session.status());
  const NodeConfig& c = session->config();
  std::string to_domain = absl::AsciiStrToLower(args.GetOr("to-domain", ""));
  std::string message_id = args.GetOr("message-id", "");
  if (to_domain.empty() || message_id.empty()) {
    return ReportLocalError(
        absl::InvalidArgumentError("--to-domain and --message-id are required"));
  }
  int64_t times = 1;
  if (auto t = args.Get("times")) {
    auto n = ParseInt(*t, "--times", 1, 1000);
    if (!n.ok()) return ReportLocalError(n.status());
    times = *n;
  }
  auto directory = LoadTomlDirectory(c.directory);
  if (!directory.ok()) return ReportLocalError(directory.status());
  auto entry = (*directory)->Lookup(to_domain);
  if (!entry.ok()) return ReportLocalError(entry.status());
  auto key = SigningKey::LoadPem(c.signing_key);
  if (!key.ok()) return ReportLocalError(key.status());

  v1::Revocation rev;
  rev.set_version(1);
  rev.set_message_id(message_id);
  rev.set_signing_domain(c.domain);
  rev.set_revoked_unix_ms(ToUnixMs(absl::Now()));
  rev.set_reason("sent by pullmail debug revoke");
  auto signed_rev = SignRevocation(rev, c.domain, c.key_id, *key);
  if (!signed_rev.ok()) return ReportLocalError(signed_rev.status());
  auto channel = Dial(c.tls, entry->recipient_endpoint, to_domain);
  if (!channel.ok()) return ReportLocalError(channel.status());
  auto stub = v1::RecipientService::NewStub(*channel);
  int rc = kExitOk;
  for (int64_t i = 0; i < times; ++i) {
    auto ctx = session->Context(absl::Seconds(15));
    v1::RevokeResult result;
    grpc::Status s = stub->Revoke(ctx.get(), *signed_rev, &result);
    std::cout << "{\"code\":" << s.error_code()
              << ",\"code_name\":" << JsonQuote(StatusCodeName(s.error_code()))
              << ",\"message\":" << JsonQuote(s.error_message())
              << ",\"result_code\":" << result.code() << ",\"hidden\":" << result.hidden()
              << "}\n";
    rc = std::max(rc, ExitCodeFor(s));
  }
  return rc;
}

}  // namespace pullmail::cli
