// libFuzzer harness: the IMAP command reader (core/imap/imap_command.h) fed
// as a session feeds it (lines, then announced literals), and what a session
// does with a parsed command: sequence sets, SEARCH keys evaluated against a
// message, FETCH section specs written back.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "core/imap/imap_command.h"
#include "core/imap/imap_format.h"
#include "core/imap/imap_mime.h"
#include "fuzz/fuzz_util.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {
namespace {

ImapLimits SmallLimits() {
  ImapLimits l;
  l.max_line_bytes = 4096;
  l.max_literal_bytes = 4096;
  l.max_command_bytes = 16384;
  l.max_arguments = 100;
  l.max_depth = 8;
  l.max_set_items = 50;
  return l;
}

void UseCommand(const ImapCommand& cmd, const v1::MessageInfo& info) {
  for (uint32_t n : {0u, 1u, 7u, 0xffffffffu}) (void)cmd.set.Contains(n, 10);
  for (const FetchAtt& att : cmd.fetch) {
    if (att.kind == FetchAtt::Kind::kBodySection) (void)SectionSpec(att.section);
  }
  if (cmd.name == "SEARCH") {
    (void)SearchNeedsBody(cmd.search);
    ImapSearchItem item{.seq = 3, .uid = 42, .recent = true, .info = &info};
    (void)SearchMatches(cmd.search, item, 10, 100);
  }
  for (const std::string& a : cmd.args) (void)ParseImapDateTime(a);
}

}  // namespace
}  // namespace pullmail

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pullmail;
  static const v1::MessageInfo* info = [] {
    auto* i = new v1::MessageInfo;
    i->set_uid(42);
    i->set_body_size(1234);
    i->set_received_unix_ms(1700000000000);
    i->add_flags("\\Seen");
    i->add_flags("$Junk");
    auto* s = i->mutable_summary();
    s->set_from("Ann <ann@a.example>");
    s->add_to("bob@b.example");
    s->set_subject("Hello there");
    s->set_date("Thu, 7 Mar 2024 08:15:02 +0100");
    return i;
  }();

  std::string_view in = fuzz::AsView(data, size);
  const ImapLimits limits = SmallLimits();

  // The whole input as one complete command.
  ImapFeedResult whole = ParseImapCommand(in, limits);
  if (auto* c = std::get_if<ImapCommand>(&whole)) UseCommand(*c, *info);

  // The input as a session would read it: a line, and after a literal
  // announcement exactly that many bytes.
  ImapCommandReader reader(limits);
  size_t pos = 0;
  size_t literal = 0;
  bool want_literal = false;
  while (pos < in.size()) {
    ImapFeedResult r;
    if (want_literal) {
      size_t n = std::min(literal, in.size() - pos);
      if (n < literal) break;  // the client hung up mid-literal
      r = reader.FeedLiteral(in.substr(pos, n));
      pos += n;
    } else {
      size_t nl = in.find('\n', pos);
      size_t end = nl == std::string_view::npos ? in.size() : nl;
      std::string_view line = in.substr(pos, end - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      pos = nl == std::string_view::npos ? in.size() : nl + 1;
      if (line.size() > limits.max_line_bytes) {
        reader.Reset();  // the connection refuses an over-long line
        continue;
      }
      r = reader.Feed(line);
    }
    want_literal = false;
    if (auto* need = std::get_if<ImapNeedLiteral>(&r)) {
      want_literal = true;
      literal = need->size;
    } else if (auto* c = std::get_if<ImapCommand>(&r)) {
      UseCommand(*c, *info);
    } else if (auto* e = std::get_if<ImapParseError>(&r)) {
      if (e->fatal) break;
    }
  }
  return 0;
}
