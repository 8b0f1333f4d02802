// libFuzzer harness: MIME structure for IMAP (core/imap/imap_mime.h) on a
// hostile message: ParseMime, BODYSTRUCTURE and BODY in both forms, and
// BODY[section] for every part path that exists plus some that do not
// (part 0, one past the end, too deep), with every section text.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "core/imap/imap_mime.h"
#include "fuzz/fuzz_util.h"

namespace pullmail {
namespace {

using T = FetchSection::Text;

void TrySections(std::string_view message, const MimeEntity& root, std::vector<uint32_t> path) {
  for (T text : {T::kNone, T::kHeader, T::kHeaderFields, T::kHeaderFieldsNot, T::kText,
                 T::kMime}) {
    FetchSection s;
    s.part = path;
    s.text = text;
    if (text == T::kHeaderFields || text == T::kHeaderFieldsNot) s.fields = {"FROM", "SUBJECT"};
    if (text == T::kMime && path.empty()) continue;  // the grammar has no bare MIME
    (void)SectionBytes(message, root, s);
    (void)SectionSpec(s);
  }
}

// Every existing path, bounded so one input cannot run for long.
void Walk(std::string_view message, const MimeEntity& root, const MimeEntity& e,
          std::vector<uint32_t>* path, int* budget) {
  const MimeEntity* container = &e;
  if (e.is_message() && !e.message.empty()) container = &e.message.front();
  size_t n = container->is_multipart() ? container->parts.size() : 1;
  for (uint32_t i = 1; i <= n + 1 && *budget > 0; ++i) {
    --*budget;
    path->push_back(i);
    TrySections(message, root, *path);
    if (i <= container->parts.size()) Walk(message, root, container->parts[i - 1], path, budget);
    path->pop_back();
  }
}

}  // namespace
}  // namespace pullmail

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pullmail;
  std::string_view message = fuzz::AsView(data, size);
  MimeEntity root = ParseMime(message);
  (void)ImapBodyStructure(root, true);
  (void)ImapBodyStructure(root, false);
  TrySections(message, root, {});
  TrySections(message, root, {0});
  TrySections(message, root, {1, 0});
  std::vector<uint32_t> path;
  int budget = 200;
  Walk(message, root, root, &path, &budget);
  return 0;
}
