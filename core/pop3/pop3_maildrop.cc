// The session's POP3 maildrop snapshot and its deletion marks (RFC 1939 5-6).
#include "core/pop3/pop3_maildrop.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pullmail::pop3 {

std::string UniqueId(uint32_t uid_validity, uint32_t uid) {
  // At most 10 + 1 + 10 characters, all digits and '.': within RFC 1939's
  // 70 characters of 0x21..0x7E.
  return absl::StrCat(uid_validity, ".", uid);
}

Maildrop::Maildrop(std::vector<MaildropMessage> messages)
    : messages_(std::move(messages)), deleted_(messages_.size(), false) {}

uint32_t Maildrop::live_count() const {
  uint32_t n = 0;
  for (bool d : deleted_) n += d ? 0 : 1;
  return n;
}

uint64_t Maildrop::live_octets() const {
  uint64_t n = 0;
  for (size_t i = 0; i < messages_.size(); ++i) {
    if (!deleted_[i]) n += messages_[i].size;
  }
  return n;
}

absl::StatusOr<const MaildropMessage*> Maildrop::Get(uint32_t msg) const {
  if (msg < 1 || msg > size()) return absl::NotFoundError("no such message");
  if (deleted_[msg - 1]) {
    return absl::FailedPreconditionError(absl::StrCat("message ", msg, " already deleted"));
  }
  return &messages_[msg - 1];
}

absl::Status Maildrop::MarkDeleted(uint32_t msg) {
  absl::StatusOr<const MaildropMessage*> m = Get(msg);
  if (!m.ok()) return m.status();
  deleted_[msg - 1] = true;
  return absl::OkStatus();
}

void Maildrop::Reset() { deleted_.assign(messages_.size(), false); }

std::vector<uint32_t> Maildrop::UidsToExpunge() const {
  std::vector<uint32_t> uids;
  for (size_t i = 0; i < messages_.size(); ++i) {
    if (deleted_[i]) uids.push_back(messages_[i].uid);
  }
  return uids;
}

std::vector<uint32_t> Maildrop::LiveNumbers() const {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < messages_.size(); ++i) {
    if (!deleted_[i]) out.push_back(static_cast<uint32_t>(i + 1));
  }
  return out;
}

}  // namespace pullmail::pop3
