// Directory lookups shared by every back end, and the in-memory back end.
#include "core/directory/directory.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/directory/memory_directory.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "core/util/address.h"

namespace pullmail {

absl::StatusOr<std::string> Directory::LookupKey(std::string_view domain,
                                                 std::string_view key_id) const {
  ASSIGN_OR_RETURN(DomainEntry entry, Lookup(domain));
  auto it = entry.keys.find(std::string(key_id));
  if (it == entry.keys.end()) {
    return absl::NotFoundError(absl::StrCat("unknown key id '", AV(key_id), "' for domain ", AV(domain)));
  }
  return it->second;
}

// Domains are keyed and looked up normalised (NormalizeDomain); a spelling
// that is not a domain is kept lower-cased (Add) or found nowhere (Lookup).
void MemoryDirectory::Add(DomainEntry entry) {
  absl::StatusOr<std::string> normal = NormalizeDomain(entry.domain);
  entry.domain = normal.ok() ? *normal : absl::AsciiStrToLower(entry.domain);
  std::string key = entry.domain;
  entries_[key] = std::move(entry);
}

absl::StatusOr<DomainEntry> MemoryDirectory::Lookup(std::string_view domain) const {
  absl::StatusOr<std::string> normal = NormalizeDomain(domain);
  auto it = normal.ok() ? entries_.find(*normal) : entries_.end();
  if (it == entries_.end()) return absl::NotFoundError(absl::StrCat("unknown domain ", AV(domain)));
  return it->second;
}

std::vector<DomainEntry> MemoryDirectory::All() const {
  std::vector<DomainEntry> out;
  for (const auto& [_, e] : entries_) out.push_back(e);
  return out;
}

}  // namespace pullmail
