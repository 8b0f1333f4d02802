// OpenNodeDirectory (see node_directory.h).
#include "rpc/node_directory.h"

#include "core/directory/dns_directory.h"
#include "core/util/clock.h"
#include "core/util/status_macros.h"
#include "rpc/cares_resolver.h"
#include "rpc/file_directory.h"

namespace pullmail {
namespace {

// The DNS directory with its resolver, under an optional file layer.
class NodeDirectory : public Directory {
 public:
  NodeDirectory(std::unique_ptr<Directory> file, std::unique_ptr<TxtResolver> resolver,
                const DnsDirectoryOptions& options)
      : file_(std::move(file)),
        resolver_(std::move(resolver)),
        dns_(resolver_.get(), &SystemClock(), options),
        layered_(file_.get(), &dns_) {}
  absl::StatusOr<DomainEntry> Lookup(std::string_view domain) const override {
    return file_ ? layered_.Lookup(domain) : dns_.Lookup(domain);
  }

 private:
  std::unique_ptr<Directory> file_;
  std::unique_ptr<TxtResolver> resolver_;
  DnsDirectory dns_;
  LayeredDirectory layered_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Directory>> OpenNodeDirectory(const NodeConfig& config) {
  std::unique_ptr<Directory> file;
  if (!config.directory.empty()) {
    ASSIGN_OR_RETURN(file, FileDirectory::Open(config.directory));
  }
  if (!config.dns.enabled) return file;
  CaresResolverOptions ro;
  ro.servers = config.dns.servers;
  ro.deadline = config.dns.timeout;
  ASSIGN_OR_RETURN(std::unique_ptr<CaresResolver> resolver, CaresResolver::Create(ro));
  DnsDirectoryOptions o;
  o.max_ttl = config.dns.max_ttl;
  o.negative_ttl = config.dns.negative_ttl;
  return std::unique_ptr<Directory>(new NodeDirectory(std::move(file), std::move(resolver), o));
}

}  // namespace pullmail
