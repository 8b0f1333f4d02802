// ImapMailbox's default structure and range reads (imap_mailbox.h): whole
// bodies read and parsed or cut here, for a mailbox that cannot serve them
// (the tests' in-memory mailbox, a node that predates them).
#include "core/imap/imap_mailbox.h"

#include <algorithm>
#include <utility>

namespace pullmail {

void ImapMailbox::ReadStructures(
    const std::string& folder, const std::vector<ReadItem>& items, bool peek,
    const std::function<bool(size_t, absl::StatusOr<ImapStructure>)>& each) {
  ReadBodies(folder, items, peek, [&](size_t i, absl::StatusOr<ImapBody> b) {
    if (!b.ok()) return each(i, b.status());
    ImapStructure s;
    s.info = std::move(b->info);
    // Through the record, so that the tree holds no views into the body.
    absl::StatusOr<MimeEntity> tree =
        MimeFromRecord(MimeToRecord(ParseMime(b->bytes), b->bytes.size()), b->bytes.size());
    if (!tree.ok()) return each(i, tree.status());
    s.tree = *std::move(tree);
    return each(i, std::move(s));
  });
}

void ImapMailbox::ReadRanges(const std::string& folder, const std::vector<ReadItem>& items,
                             const std::vector<std::vector<ByteRange>>& ranges, bool peek,
                             const std::function<bool(size_t, absl::StatusOr<ImapRanges>)>& each) {
  ReadBodies(folder, items, peek, [&](size_t i, absl::StatusOr<ImapBody> b) {
    if (!b.ok()) return each(i, b.status());
    ImapRanges r;
    r.info = std::move(b->info);
    const std::string& bytes = b->bytes;
    for (const ByteRange& range : ranges[i]) {
      const ByteRange c = ClampRange(range, bytes.size());
      r.bytes.push_back(bytes.substr(c.offset, c.length));
    }
    return each(i, std::move(r));
  });
}

}  // namespace pullmail
