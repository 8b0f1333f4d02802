// libFuzzer harness: a message's header as the node and the gateway read it:
// the header summary (core/mail/header_summary.h, GMime underneath), display
// forms and joined mailbox lists, header filtering for BODY[HEADER.FIELDS],
// the IMAP ENVELOPE built from the summary, and the date parsers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/imap/imap_format.h"
#include "core/imap/imap_mime.h"
#include "core/mail/header_summary.h"
#include "core/mail/utf8.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pullmail;
  std::string_view in = fuzz::AsView(data, size);
  auto summary = ExtractHeaderSummary(in);
  if (summary.ok()) {
    (void)ImapEnvelope(*summary);
    (void)SplitDisplayForm(summary->from());
    for (const std::string& to : summary->to()) (void)SplitDisplayForm(to);
    (void)ParseRfc5322Day(summary->date());
    for (const char* f : {"FROM", "TO", "CC", "SUBJECT", "DATE", "MESSAGE-ID", "X-OTHER"}) {
      (void)SummaryHeaderFields(*summary, {f});
    }
  }
  // The same bytes as single values.
  (void)SplitDisplayForm(in);
  (void)SplitJoinedMailboxes(in);
  (void)ParseRfc5322Day(in);
  (void)ParseImapDateTime(in);
  (void)EncodeWordsIfNeeded(ToValidUtf8(in, 4096));
  (void)FilterHeaderFields(in, {"FROM", "SUBJECT"}, false);
  (void)FilterHeaderFields(in, {"FROM", "SUBJECT"}, true);
  return 0;
}
