// FileDirectory: the TOML directory, re-read when it changes.
#include "rpc/file_directory.h"

#include <sys/stat.h>

#include "absl/time/clock.h"
#include "core/directory/toml_directory.h"
#include "core/util/logging.h"

namespace pullmail {

absl::StatusOr<std::unique_ptr<FileDirectory>> FileDirectory::Open(const std::string& path) {
  std::unique_ptr<FileDirectory> d(new FileDirectory(path));
  absl::Status s = d->Reload();
  if (!s.ok()) return s;
  return d;
}

absl::Status FileDirectory::Reload() const {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) return absl::NotFoundError("cannot stat " + path_);
  int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (mtime == mtime_ns_ && current_) return absl::OkStatus();
  auto loaded = LoadTomlDirectory(path_);
  if (!loaded.ok()) return loaded.status();
  current_ = std::shared_ptr<MemoryDirectory>(std::move(*loaded));
  mtime_ns_ = mtime;
  return absl::OkStatus();
}

absl::StatusOr<DomainEntry> FileDirectory::Lookup(std::string_view domain) const {
  std::shared_ptr<MemoryDirectory> dir;
  {
    std::lock_guard<std::mutex> lock(mu_);
    absl::Time now = absl::Now();
    if (now - last_check_ >= absl::Seconds(1)) {
      last_check_ = now;
      absl::Status s = Reload();
      if (!s.ok()) PM_LOG(ERROR) << "directory " << path_ << ": " << s << " (keeping last good)";
    }
    dir = current_;
  }
  absl::StatusOr<DomainEntry> entry = dir->Lookup(domain);
  if (entry.ok() || entry.status().code() != absl::StatusCode::kNotFound) return entry;
  // A miss looks at the file again at once (one stat): a domain added within
  // the last second must not be answered "unknown", which bounces for good.
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_check_ = absl::Now();
    absl::Status s = Reload();
    if (!s.ok()) PM_LOG(ERROR) << "directory " << path_ << ": " << s << " (keeping last good)";
    if (current_ == dir) return entry;
    dir = current_;
  }
  return dir->Lookup(domain);
}

}  // namespace pullmail
