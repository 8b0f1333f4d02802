// What the IMAP session machine (imap_machine.h) needs from one user's
// mailboxes: the recipient node's MailboxService, narrowed to the calls IMAP
// makes. The gateway implements it over gRPC (gateway/imap_session.cc: the
// RPCs, the Watch stream's thread, the bounded body read-ahead); tests
// implement it in memory. The machine decides; this interface only moves
// data. Errors are absl::Status with the codes the node returns (kNotFound
// for a folder or message that does not exist, kUnavailable for a sender's
// node that cannot be reached, ...); imap_reply.h maps them to IMAP.
// Called from the machine's thread only; calls may block.
#ifndef PULLMAIL_CORE_IMAP_IMAP_MAILBOX_H_
#define PULLMAIL_CORE_IMAP_IMAP_MAILBOX_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/imap/imap_mime.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

// A folder's listing: its counters and every visible message in UID order;
// with a vanished_since, the UIDs that left the folder (or were hidden) in a
// change above that modseq, ascending (RFC 7162 VANISHED (EARLIER)).
struct ImapListing {
  v1::Folder folder;
  std::vector<v1::MessageInfo> messages;
  std::vector<uint32_t> vanished;
  // ListChanges: `messages` holds only those changed since the modseq asked
  // about, `vanished` every UID that left since then.
  bool changed_only = false;
};

// One message's bytes, verified by the node, with the node's MessageInfo.
struct ImapBody {
  v1::MessageInfo info;
  std::string bytes;
};

// One message's MIME structure without its bytes: the tree with offsets into
// the message as the node serves it (info.body_size bytes; views empty).
struct ImapStructure {
  v1::MessageInfo info;
  MimeEntity tree;
};

// Byte ranges of one message: one string per range asked, each range cut at
// the message's end.
struct ImapRanges {
  v1::MessageInfo info;
  std::vector<std::string> bytes;
};

class ImapMailbox {
 public:
  virtual ~ImapMailbox() = default;

  // Checks the password; OK: the session now acts as that user, and the
  // result is the user's address. kUnauthenticated / kInvalidArgument /
  // kNotFound: bad credentials; anything else: the node's trouble.
  virtual absl::StatusOr<std::string> Login(std::string_view user, std::string_view password) = 0;

  virtual absl::StatusOr<std::vector<v1::Folder>> ListFolders() = 0;
  // vanished_since: 0, or fill ImapListing::vanished (QRESYNC).
  virtual absl::StatusOr<ImapListing> ListMessages(const std::string& folder,
                                                   uint64_t vanished_since) = 0;
  // What changed in `folder` since `modseq` (> 0): the messages whose modseq
  // is above it (flag changes, new mail) and, in `vanished`, the UIDs that
  // left the folder or were hidden since, with changed_only set; the
  // folder's counters as ListMessages gives them. A mailbox that cannot tell
  // lists the whole folder instead (changed_only false).
  virtual absl::StatusOr<ImapListing> ListChanges(const std::string& folder, uint64_t modseq) {
    (void)modseq;
    return ListMessages(folder, 0);
  }

  // Starts watching `folder` for changes (another session's flags, new mail,
  // expunges), replacing any earlier watch; "" stops watching.
  virtual void Watch(const std::string& folder) = 0;
  // Whether the watched folder may have changed since the last call (true
  // right after Watch, and whenever the watch cannot tell).
  virtual bool MayHaveChanged() = 0;

  virtual absl::StatusOr<v1::SetFlagsResponse> SetFlags(const v1::SetFlagsRequest& req) = 0;
  virtual absl::StatusOr<v1::CopyResponse> Copy(const v1::CopyRequest& req) = 0;
  virtual absl::StatusOr<v1::ExpungeResponse> Expunge(const v1::ExpungeRequest& req) = 0;
  virtual absl::StatusOr<v1::AppendResponse> Append(const v1::AppendRequest& req) = 0;
  virtual absl::Status CreateFolder(const std::string& name) = 0;
  // kFailedPrecondition: the folder cannot be deleted (its message is for
  // the client: "Junk cannot be deleted").
  virtual absl::Status DeleteFolder(const std::string& name) = 0;

  // Reads the messages `uids` of `folder` (peek: leave \Seen alone; else the
  // node sets it) and calls `each(index, body)` once per uid, in order. The
  // implementation may read ahead. `each` returning false stops the reads.
  struct ReadItem {
    uint32_t uid = 0;
    uint64_t size = 0;  // the listing's size, for bounding read-ahead
  };
  virtual void ReadBodies(const std::string& folder, const std::vector<ReadItem>& items, bool peek,
                          const std::function<bool(size_t, absl::StatusOr<ImapBody>)>& each) = 0;

  // ReadBodies, for a caller that writes each body on as it arrives instead
  // of holding it whole. For each item in order, `each` gets either one
  // piece with a failed `status` (the message cannot be read; nothing of it
  // came), or its pieces: the first with the node's `info`, then the rest,
  // the last with `last` set, `data` adding up to info.body_size(). A read
  // that breaks after a message's first piece gives a piece with a failed
  // status for that message (the caller must drop what it had of it) and
  // ends. `each` returning false stops the reads. `data` is valid during
  // the call only. The default reads each body whole (ReadBodies) and hands
  // it over as one piece.
  struct BodyPiece {
    size_t index = 0;                      // into items
    absl::Status status;                   // not OK: this message failed
    // The message's first piece only. Possibly brief (uid, body_size,
    // sent_size, flags, modseq: proto ReadSetRequest.brief_info): the
    // machine uses no more of it here, nor of ImapBody/ImapStructure/
    // ImapRanges::info.
    const v1::MessageInfo* info = nullptr;
    std::string_view data;
    bool last = false;                     // the message's last piece
    // First piece of a structure or range read that the node served as
    // asked (else the data is the whole body): the structure, if asked.
    bool sectioned = false;
    const v1::MimeStructure* structure = nullptr;
  };
  // ReadBodies, for FETCH items that need a message's structure but not its
  // bytes (BODYSTRUCTURE, BODY; and to find the ranges of sections): for
  // each item in order, its structure or the status ReadBodies would give.
  // A read like ReadBodies' (the node pulls an uncached body, counts it).
  // The default reads each body whole and parses it.
  virtual void ReadStructures(const std::string& folder, const std::vector<ReadItem>& items,
                              bool peek,
                              const std::function<bool(size_t, absl::StatusOr<ImapStructure>)>& each);

  // ReadBodies, cut to byte ranges: for each item in order, the bytes of
  // ranges[i] (offsets into the message as served) or the status ReadBodies
  // would give. Sets \Seen unless peek, as ReadBodies. The default reads
  // each body whole and cuts it.
  virtual void ReadRanges(const std::string& folder, const std::vector<ReadItem>& items,
                          const std::vector<std::vector<ByteRange>>& ranges, bool peek,
                          const std::function<bool(size_t, absl::StatusOr<ImapRanges>)>& each);

  virtual void StreamBodies(const std::string& folder, const std::vector<ReadItem>& items,
                            bool peek, const std::function<bool(const BodyPiece&)>& each) {
    ReadBodies(folder, items, peek, [&](size_t i, absl::StatusOr<ImapBody> b) {
      BodyPiece p;
      p.index = i;
      if (!b.ok()) {
        p.status = b.status();
        return each(p);
      }
      p.info = &b->info;
      p.data = b->bytes;
      p.last = true;
      return each(p);
    });
  }
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_IMAP_IMAP_MAILBOX_H_
