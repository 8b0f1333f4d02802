// libFuzzer harness: POP3 (core/pop3/) as the gateway's session runs it: each
// line through the session machine (which parses it with ParseCommand), with
// logins answered by a three-message maildrop, and each line through the
// parsers alone (command, message number, line count, AUTH PLAIN).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "core/pop3/pop3_command.h"
#include "core/pop3/pop3_machine.h"
#include "core/pop3/pop3_maildrop.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pullmail;
  using namespace pullmail::pop3;
  std::string_view in = fuzz::AsView(data, size);
  uint8_t sel = fuzz::TakeSelector(&in);
  Transport t{.tls_available = (sel & 1) != 0, .tls_active = (sel & 2) != 0,
              .auth_allowed = (sel & 4) != 0};
  bool login_ok = (sel & 8) == 0;
  SessionMachine m;
  (void)m.Greeting();
  for (std::string_view line : fuzz::Lines(in)) {
    auto cmd = ParseCommand(line);
    if (cmd.ok()) {
      for (const std::string& a : cmd->args) {
        (void)ParseMessageNumber(a);
        (void)ParseLineCount(a);
        (void)DecodeAuthPlain(a);
      }
    }
    if (m.state() == State::kClosed) continue;
    Step s = line.size() > m.max_line() ? m.OnLineTooLong() : m.OnLine(line, t);
    switch (s.action) {
      case Step::Action::kStartTls:
        t.tls_active = true;
        t.auth_allowed = true;
        break;
      case Step::Action::kLogin:
        if (login_ok) {
          (void)m.OnLoginResult(absl::OkStatus(),
                                Maildrop({{10, 100, UniqueId(7, 10)}, {11, 0, UniqueId(7, 11)},
                                          {12, 5000, UniqueId(7, 12)}}));
        } else {
          (void)m.OnLoginResult(absl::UnauthenticatedError("bad password"), Maildrop());
        }
        break;
      case Step::Action::kRetrieve:
        (void)m.RetrieveOkLine(s);
        (void)m.RetrieveErrLine(s, absl::UnavailableError("node down"));
        break;
      case Step::Action::kUpdate:
        (void)m.OnUpdateResult(absl::OkStatus(), s.uids.size());
        break;
      case Step::Action::kNone:
      case Step::Action::kClose:
        break;
    }
  }
  return 0;
}
