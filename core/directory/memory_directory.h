// A directory held in memory: filled by the TOML loader, by tests and by the
// simulator. Thread-safe for concurrent reads once filling is done; Add is
// not safe to call concurrently with lookups.
#ifndef PULLMAIL_CORE_DIRECTORY_MEMORY_DIRECTORY_H_
#define PULLMAIL_CORE_DIRECTORY_MEMORY_DIRECTORY_H_

#include <map>
#include <string>
#include <vector>

#include "core/directory/directory.h"

namespace pullmail {

class MemoryDirectory : public Directory {
 public:
  // Adds or replaces the entry for entry.domain (lower-cased).
  void Add(DomainEntry entry);
  absl::StatusOr<DomainEntry> Lookup(std::string_view domain) const override;
  std::vector<DomainEntry> All() const;

 private:
  std::map<std::string, DomainEntry, std::less<>> entries_;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_DIRECTORY_MEMORY_DIRECTORY_H_
