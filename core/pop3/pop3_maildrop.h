// The POP3 maildrop of one session (RFC 1939 sections 5 and 6): a snapshot
// of the INBOX taken when the user logs in, so that message numbers 1..n, the
// sizes and the unique ids stay fixed for the whole session, plus the
// deletion marks and the UPDATE-state decision (which UIDs QUIT removes).
// Pure data: the gateway fills it from MailboxService.ListMessages.
// Not thread-safe; one session owns one Maildrop.
#ifndef PULLMAIL_CORE_POP3_POP3_MAILDROP_H_
#define PULLMAIL_CORE_POP3_POP3_MAILDROP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pullmail::pop3 {

struct MaildropMessage {
  uint32_t uid = 0;       // the INBOX UID at the recipient node
  uint64_t size = 0;      // octets (the stored body's size)
  std::string unique_id;  // UIDL value (see UniqueId)
};

// The UIDL of a message (RFC 1939 7: 1..70 characters in 0x21..0x7E, the
// same message keeps it across sessions and no two messages share it):
// "<uidvalidity>.<uid>" in decimal. A node never reuses a UIDVALIDITY for a
// folder nor a UID within one, so the pair is unique and stable; the
// pullmail message id is not (a message copied back into the INBOX twice
// has two UIDs and one message id).
std::string UniqueId(uint32_t uid_validity, uint32_t uid);

class Maildrop {
 public:
  Maildrop() = default;
  // `messages` in ascending UID order (as the node lists them); message
  // number i is messages[i-1].
  explicit Maildrop(std::vector<MaildropMessage> messages);

  // Total messages in the snapshot, deleted ones included (the highest valid
  // message number).
  uint32_t size() const { return static_cast<uint32_t>(messages_.size()); }

  // STAT (RFC 1939 5): messages not marked deleted, and their octets.
  uint32_t live_count() const;
  uint64_t live_octets() const;

  // The message with number `msg`, if it exists and is not marked deleted.
  // kNotFound ("no such message") / kFailedPrecondition ("message N already
  // deleted"); the message text is for the client.
  absl::StatusOr<const MaildropMessage*> Get(uint32_t msg) const;

  // DELE (RFC 1939 5): marks `msg` deleted; errors as Get.
  absl::Status MarkDeleted(uint32_t msg);
  bool deleted(uint32_t msg) const { return msg >= 1 && msg <= size() && deleted_[msg - 1]; }

  // RSET (RFC 1939 5): unmarks every message.
  void Reset();

  // The UPDATE state (RFC 1939 6): the UIDs QUIT removes, ascending: exactly
  // the marked ones. A message that reached the INBOX after the snapshot is
  // never among them. Empty when nothing was marked.
  std::vector<uint32_t> UidsToExpunge() const;

  // Message numbers (1-based) not marked deleted, ascending (LIST, UIDL).
  std::vector<uint32_t> LiveNumbers() const;

 private:
  std::vector<MaildropMessage> messages_;
  std::vector<bool> deleted_;
};

}  // namespace pullmail::pop3

#endif  // PULLMAIL_CORE_POP3_POP3_MAILDROP_H_
