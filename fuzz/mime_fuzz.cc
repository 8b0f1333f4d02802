// libFuzzer harness: MIME structure for IMAP (core/imap/imap_mime.h) on a
// hostile message: ParseMime, BODYSTRUCTURE and BODY in both forms, and
// BODY[section] for every part path that exists plus some that do not
// (part 0, one past the end, too deep), with every section text. Then the
// structure record (MimeToRecord / MimeFromRecord): the record of the
// message read back must give the same BODYSTRUCTURE and section ranges
// (a difference traps), and the input taken as a record (untrusted, as one
// read back from a store) must be refused or give ranges inside the message.
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

// The record's tree answers `s` as the parsed tree does.
void SameRange(const MimeEntity& parsed, const MimeEntity& back, uint64_t size,
               const FetchSection& s) {
  absl::StatusOr<ByteRange> want = SectionRange(parsed, size, s);
  absl::StatusOr<ByteRange> got = SectionRange(back, size, s);
  if (want.status().code() != got.status().code()) __builtin_trap();
  if (want.ok() && (!(*want == *got) || got->offset + got->length > size)) __builtin_trap();
}

void TrySections(std::string_view message, const MimeEntity& root, std::vector<uint32_t> path,
                 const MimeEntity* back = nullptr) {
  for (T text : {T::kNone, T::kHeader, T::kHeaderFields, T::kHeaderFieldsNot, T::kText,
                 T::kMime}) {
    FetchSection s;
    s.part = path;
    s.text = text;
    if (text == T::kHeaderFields || text == T::kHeaderFieldsNot) s.fields = {"FROM", "SUBJECT"};
    if (text == T::kMime && path.empty()) continue;  // the grammar has no bare MIME
    (void)SectionBytes(message, root, s);
    (void)SectionSpec(s);
    if (back != nullptr) SameRange(root, *back, message.size(), s);
  }
}

// Every existing path, bounded so one input cannot run for long.
void Walk(std::string_view message, const MimeEntity& root, const MimeEntity& e,
          std::vector<uint32_t>* path, int* budget, const MimeEntity* back) {
  const MimeEntity* container = &e;
  if (e.is_message() && !e.message.empty()) container = &e.message.front();
  size_t n = container->is_multipart() ? container->parts.size() : 1;
  for (uint32_t i = 1; i <= n + 1 && *budget > 0; ++i) {
    --*budget;
    path->push_back(i);
    TrySections(message, root, *path, back);
    if (i <= container->parts.size()) {
      Walk(message, root, container->parts[i - 1], path, budget, back);
    }
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
  // The record round trip must change nothing.
  absl::StatusOr<MimeEntity> back =
      MimeFromRecordBytes(MimeToRecord(root, size).SerializeAsString(), size);
  if (!back.ok()) __builtin_trap();
  if (ImapBodyStructure(*back, true) != ImapBodyStructure(root, true)) __builtin_trap();
  Walk(message, root, root, &path, &budget, &*back);
  // The input as a record read back from a store: refused, or in bounds.
  for (uint64_t claimed : {uint64_t{size}, uint64_t{1} << 20}) {
    absl::StatusOr<MimeEntity> lie = MimeFromRecordBytes(message, claimed);
    if (!lie.ok()) continue;
    (void)ImapBodyStructure(*lie, true);
    for (T text : {T::kNone, T::kText, T::kMime}) {
      FetchSection s;
      s.text = text;
      s.part = {1};
      absl::StatusOr<ByteRange> r = SectionRange(*lie, claimed, s);
      if (r.ok() && r->offset + r->length > claimed) __builtin_trap();
    }
  }
  return 0;
}
