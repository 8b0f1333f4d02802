// libFuzzer harness: the IMAP session machine (core/imap/imap_machine.h) as
// the gateway drives it, over the in-memory mailbox of its unit tests
// (core/imap/imap_test_mailbox.h) holding a few real messages (plain text,
// multipart with an attachment and a nested message, flags and keywords, a
// second folder). Everything a client can send reaches it: the states,
// LOGIN / AUTHENTICATE, literals, IDLE, STARTTLS, every command handler,
// FETCH of sections and BODYSTRUCTURE, SEARCH, STORE, COPY / MOVE, APPEND,
// EXPUNGE announcements while the mailbox changes under the session.
//
// First byte (selector):
//   bit 0    TLS available     bit 1  TLS active at the start
//   bit 2    passwords NOT allowed on this transport (LOGINDISABLED)
//   bits 3-4 how bytes arrive: 0 all at once, 1 one byte at a time (the
//            first 4 KiB, then the rest at once), 2 line by line, 3 in
//            pieces of 7 bytes
//   bit 5    every body read fails UNAVAILABLE (the sender's node is down)
//   bit 6    between pieces the mailbox changes under the session (a new
//            message arrives, the oldest is deleted by another session)
//   bit 7    small limits (line 200, message 300, 2 bodies per SEARCH,
//            flush at 64 bytes)
// The rest: the client's bytes. The gateway's output is checked for what
// every response must be: CRLF-terminated lines, literals of their exact
// length (the harness parses the stream as a client would).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/imap/imap_machine.h"
#include "core/imap/imap_test_mailbox.h"
#include "fuzz/fuzz_util.h"

namespace pullmail {
namespace {

constexpr char kPlain[] =
    "From: Ann <ann@a.example>\r\nTo: bob@b.example\r\nCc: \"C, D\" <c@c.example>\r\n"
    "Subject: lunch\r\nDate: Thu, 7 Mar 2024 08:15:02 +0100\r\nMessage-ID: <m1@a.example>\r\n"
    "\r\nAt noon, by the river.\r\n";
constexpr char kMultipart[] =
    "From: =?UTF-8?Q?J=C3=BCrgen?= <j@b.example>\r\nTo: bob@b.example\r\n"
    "Subject: report\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n"
    "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee attached\r\n"
    "--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n"
    "--b2\r\n\r\nplain\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b2--\r\n"
    "--b1\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.example\r\nSubject: inner\r\n\r\n"
    "inner body\r\n"
    "--b1\r\nContent-Type: application/pdf; name=r.pdf\r\n"
    "Content-Disposition: attachment; filename=r.pdf\r\nContent-Transfer-Encoding: base64\r\n"
    "\r\nJVBERi0xLjQK\r\n--b1--\r\nepilogue\r\n";
constexpr char kShort[] = "Subject: x\r\n\r\n";

class CheckedOutput : public ImapOutput {
 public:
  bool Write(std::string_view bytes) override {
    pending_.append(bytes.data(), bytes.size());
    Parse();
    return true;
  }
  // At the end of a session nothing may be left half-written.
  void CheckComplete() const {
    if (literal_ != 0 || !pending_.empty()) __builtin_trap();
  }

 private:
  // Consumes complete lines and the literals they announce ("{n}\r\n" at a
  // line's end), as a client reads the stream.
  void Parse() {
    while (true) {
      if (literal_ > 0) {
        size_t n = std::min(literal_, pending_.size());
        pending_.erase(0, n);
        literal_ -= n;
        if (literal_ > 0) return;
      }
      size_t nl = pending_.find("\r\n");
      if (nl == std::string::npos) {
        // A bare LF or CR inside a response line is a broken response.
        if (pending_.find('\n') != std::string::npos) __builtin_trap();
        return;
      }
      std::string_view line(pending_.data(), nl);
      if (line.find('\n') != std::string_view::npos) __builtin_trap();
      if (!line.empty() && line.back() == '}') {
        size_t open = line.rfind('{');
        if (open != std::string_view::npos) {
          size_t n = 0;
          bool digits = open + 1 < line.size() - 1;
          for (size_t i = open + 1; i + 1 < line.size(); ++i) {
            char c = line[i];
            if (c < '0' || c > '9') {
              digits = false;
              break;
            }
            n = n * 10 + static_cast<size_t>(c - '0');
          }
          if (digits) literal_ = n;
        }
      }
      pending_.erase(0, nl + 2);
    }
  }

  std::string pending_;
  size_t literal_ = 0;
};

void Populate(TestMailbox& mb) {
  v1::HeaderSummary plain;
  plain.set_from("Ann <ann@a.example>");
  plain.add_to("bob@b.example");
  plain.add_cc("\"C, D\" <c@c.example>");
  plain.set_subject("lunch");
  plain.set_date("Thu, 7 Mar 2024 08:15:02 +0100");
  plain.set_message_id("<m1@a.example>");
  mb.Add("INBOX", kPlain, {"\\Seen", "$Work"}, plain);
  v1::HeaderSummary multi;
  multi.set_from("J\xc3\xbcrgen <j@b.example>");
  multi.add_to("bob@b.example");
  multi.set_subject("report");
  mb.Add("INBOX", kMultipart, {"\\Flagged"}, multi);
  mb.Add("INBOX", kShort, {"\\Deleted", "Later"});
  mb.Add("Archive", kPlain, {}, plain);
  mb.Add("Archive/2024", kShort);
}

// Another session changes the mailbox: a message arrives, the oldest goes.
void ChangeUnder(TestMailbox& mb, int step) {
  if (step % 2 == 0) {
    mb.Add("INBOX", step % 4 == 0 ? kPlain : kMultipart, {});
  } else {
    auto& msgs = mb.BoxFor("INBOX").msgs;
    if (!msgs.empty()) msgs.erase(msgs.begin());
    mb.changed_ = true;
  }
}

}  // namespace
}  // namespace pullmail

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pullmail;
  std::string_view in = fuzz::AsView(data, size);
  const uint8_t sel = fuzz::TakeSelector(&in);

  ImapTransport t;
  t.tls_available = sel & 1;
  t.tls_active = t.tls_available && (sel & 2);
  t.auth_allowed = !(sel & 4);
  const int mode = (sel >> 3) & 3;
  const bool changes = sel & 0x40;

  ImapMachineOptions o;
  o.max_line_bytes = 1000;
  o.max_message_bytes = 64 * 1024;
  if (sel & 0x80) {
    o.max_line_bytes = 200;
    o.max_message_bytes = 300;
    o.search_max_bodies = 2;
    o.flush_bytes = 64;
  }

  TestMailbox mb;
  Populate(mb);
  if (sel & 0x20) mb.fail_reads = absl::UnavailableError("sender node down");
  CheckedOutput out;
  ImapMachine machine(o, &mb, &out);
  if (machine.Start(t) != ImapNext::kRead) return 0;

  size_t pos = 0;
  int step = 0;
  bool open = true;
  while (open && pos < in.size()) {
    size_t n = in.size() - pos;
    if (mode == 1 && pos < 4096) {
      n = 1;
    } else if (mode == 2) {
      size_t nl = in.find('\n', pos);
      n = nl == std::string_view::npos ? in.size() - pos : nl + 1 - pos;
    } else if (mode == 3) {
      n = std::min<size_t>(7, n);
    }
    ImapNext next = machine.Feed(in.substr(pos, n), t);
    pos += n;
    if (next == ImapNext::kClose) {
      open = false;
    } else if (next == ImapNext::kStartTls) {
      // The gateway's handshake succeeded; from now on the channel is TLS.
      t.tls_active = true;
      t.auth_allowed = true;
    }
    if (changes && open && (mode != 1 || pos % 64 == 0)) ChangeUnder(mb, step++);
    if (open && machine.idling() && machine.OnIdleTick() != ImapNext::kRead) open = false;
  }
  if (open) machine.OnTimeout();
  out.CheckComplete();
  return 0;
}
