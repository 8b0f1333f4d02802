// libFuzzer harness: the SMTP parsers of the gateway (core/smtp/). The first
// input byte picks one; the rest is the peer's bytes, split into lines:
//   0  command lines (ParseSmtpCommand, ParseSmtpPath, AUTH initial response)
//   1  DATA assembly, strict CRLF (SMTP in)    2  DATA assembly, lenient
//   3  SASL responses (base64, PLAIN, LOGIN fields)
//   4  SMTP out: a server's reply lines to the client machine; DotStuff
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "core/smtp/sasl.h"
#include "core/smtp/smtp_client.h"
#include "core/smtp/smtp_command.h"
#include "core/smtp/smtp_data.h"
#include "core/smtp/smtp_reply.h"
#include "fuzz/fuzz_util.h"

namespace pullmail {
namespace {

void Sasl(std::string_view line) {
  auto decoded = DecodeSaslResponse(line);
  if (!decoded.ok()) return;
  (void)ParseSaslPlain(*decoded);
  (void)CheckSaslLoginField(*decoded, false);
  (void)CheckSaslLoginField(*decoded, true);
}

void Commands(std::string_view in) {
  for (std::string_view line : fuzz::Lines(in)) {
    auto r = ParseSmtpCommand(line);
    if (auto* c = std::get_if<SmtpCommand>(&r)) {
      if (c->initial_response) Sasl(*c->initial_response);
    } else {
      (void)std::get<SmtpReply>(r).Format();
    }
    (void)ParseSmtpPath(line, true);
    (void)SanitizeReplyText(line);
  }
}

void Data(std::string_view in, bool strict) {
  SmtpDataReader reader(8192, strict);
  std::vector<bool> bare_lf;
  std::vector<std::string_view> lines = fuzz::Lines(in, &bare_lf);
  for (size_t i = 0; i < lines.size() && !reader.done(); ++i) {
    if (lines[i].size() > 1000) {
      reader.AddOverlongLine();
    } else {
      reader.AddLine(lines[i], bare_lf[i]);
    }
  }
  if (reader.done() && reader.result() != SmtpDataReader::Result::kOk) {
    (void)reader.ErrorReply().Format();
  }
}

void Client(std::string_view in) {
  SmtpClientParams p;
  p.helo_domain = "gw.a.example";
  p.mail_from = "ann@a.example";
  p.recipients = {"carol@legacy.example", "dave@legacy.example"};
  p.message_size = 1234;
  p.tls_possible = in.size() % 2 == 0;
  SmtpClient client(p);
  SmtpClientAction a = client.Start();
  std::vector<std::string_view> lines = fuzz::Lines(in);
  size_t next = 0;
  for (int guard = 0; guard < 1000 && a.kind != SmtpClientAction::kClose; ++guard) {
    switch (a.kind) {
      case SmtpClientAction::kReadReply:
        if (next >= lines.size()) {
          a = client.OnTransportError("connection closed");
        } else {
          a = client.OnReplyLine(lines[next++]);
        }
        break;
      case SmtpClientAction::kSend:
      case SmtpClientAction::kSendMessage:
        a = SmtpClientAction{};
        break;
      case SmtpClientAction::kStartTls:
        a = client.OnTlsStarted();
        break;
      case SmtpClientAction::kClose:
        break;
    }
  }
  (void)DotStuff(in);
}

}  // namespace
}  // namespace pullmail

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pullmail;
  std::string_view in = fuzz::AsView(data, size);
  switch (fuzz::TakeSelector(&in) % 5) {
    case 0: Commands(in); break;
    case 1: Data(in, true); break;
    case 2: Data(in, false); break;
    case 3:
      for (std::string_view line : fuzz::Lines(in)) Sasl(line);
      break;
    case 4: Client(in); break;
  }
  return 0;
}
