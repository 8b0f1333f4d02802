// The TXT resolver the programs use for the DNS directory: c-ares (the DNS
// library gRPC already links), asking the servers of /etc/resolv.conf or the
// ones given. Each Resolve call runs its queries concurrently on a channel of
// its own and gives up at the deadline (the answers still missing are then
// Unavailable, i.e. "directory_unavailable"). Thread-safe.
//
// c-ares already checks that a response answers the question (id, name,
// type), retries over TCP when a UDP answer is truncated and maps the rcode;
// the records and their TTLs are read by core's ParseTxtResponse.
#ifndef PULLMAIL_RPC_CARES_RESOLVER_H_
#define PULLMAIL_RPC_CARES_RESOLVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/directory/dns_directory.h"

namespace pullmail {

struct CaresResolverOptions {
  std::string servers;  // "host:port,host:port" (IPv4 or [IPv6]); empty = resolv.conf
  absl::Duration deadline = absl::Seconds(3);  // one Resolve call, all its queries
  int tries = 2;        // per server, within the deadline
};

class CaresResolver : public TxtResolver {
 public:
  // InvalidArgument for a server list c-ares does not accept.
  static absl::StatusOr<std::unique_ptr<CaresResolver>> Create(CaresResolverOptions options);
  std::vector<absl::StatusOr<TxtRecords>> Resolve(const std::vector<std::string>& names) override;

 private:
  explicit CaresResolver(CaresResolverOptions options) : options_(std::move(options)) {}
  CaresResolverOptions options_;
};

}  // namespace pullmail

#endif  // PULLMAIL_RPC_CARES_RESOLVER_H_
