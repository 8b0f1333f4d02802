// A Directory backed by the TOML file at `path`, re-read when the file's
// modification time changes (checked at most once a second), so that a
// domain added with `pullmail init` is seen without a restart. A file that
// fails to parse keeps the last good contents and logs the error.
#ifndef PULLMAIL_RPC_FILE_DIRECTORY_H_
#define PULLMAIL_RPC_FILE_DIRECTORY_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "core/directory/memory_directory.h"

namespace pullmail {

class FileDirectory : public Directory {
 public:
  static absl::StatusOr<std::unique_ptr<FileDirectory>> Open(const std::string& path);
  absl::StatusOr<DomainEntry> Lookup(std::string_view domain) const override;

 private:
  explicit FileDirectory(std::string path) : path_(std::move(path)) {}
  absl::Status Reload() const;
  std::string path_;
  mutable std::mutex mu_;
  mutable std::shared_ptr<MemoryDirectory> current_;
  mutable int64_t mtime_ns_ = -1;
  mutable absl::Time last_check_;
};

}  // namespace pullmail

#endif  // PULLMAIL_RPC_FILE_DIRECTORY_H_
