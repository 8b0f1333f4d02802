// The DNS directory back end (docs/PROTOCOL.md section 5.2): a domain's
// endpoints and keys read from its TXT records (dns_record.h), each answer
// cached for its TTL on an injected clock. The queries go through an
// injected TxtResolver: tests pass a fake, programs pass the c-ares resolver
// (rpc/cares_resolver.h). LayeredDirectory puts a TOML directory over it.
//
// Failure semantics, which decide whether a peer's notification is rejected
// for good or retried:
//   - no _pullmail record (NXDOMAIN, no TXT, no v=pm1 record): NotFound
//     ("unknown domain"), cached for negative_ttl;
//   - a v=pm1 record that does not parse: NotFound naming the error, cached
//     for negative_ttl (a permanent failure, as DKIM's PERMFAIL);
//   - a key id listed in k= whose key record is missing, revoked (empty p=)
//     or bad: that key is absent from the entry (its signatures are
//     "unknown_key"); the rest of the entry stands;
//   - a timeout, SERVFAIL, REFUSED, an unreachable server or a malformed
//     response, for the domain record or any key record: Unavailable
//     ("directory_unavailable"), never cached, never turned into an answer.
// An entry expires at the smallest TTL of the records it was built from,
// clamped to [min_ttl, max_ttl].
#ifndef PULLMAIL_CORE_DIRECTORY_DNS_DIRECTORY_H_
#define PULLMAIL_CORE_DIRECTORY_DNS_DIRECTORY_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/directory/directory.h"
#include "core/util/clock.h"

namespace pullmail {

// The TXT records at one name and their TTL.
struct TxtRecords {
  std::vector<std::string> records;
  absl::Duration ttl = absl::ZeroDuration();
};

// Looks up TXT records. Implementations bound the time of one Resolve call
// (their query deadline) and are thread-safe.
class TxtResolver {
 public:
  virtual ~TxtResolver() = default;
  // One result per name, in order: the records (an empty RRset or NXDOMAIN
  // is NotFound), or Unavailable for a timeout, a server failure or a
  // malformed answer. The names are looked up concurrently.
  virtual std::vector<absl::StatusOr<TxtRecords>> Resolve(const std::vector<std::string>& names) = 0;
};

struct DnsDirectoryOptions {
  absl::Duration min_ttl = absl::ZeroDuration();
  absl::Duration max_ttl = absl::Hours(1);
  absl::Duration negative_ttl = absl::Seconds(60);  // unknown domains
  size_t max_cached_domains = 10000;
};

class DnsDirectory : public Directory {
 public:
  // `resolver` and `clock` are borrowed and must outlive this object.
  DnsDirectory(TxtResolver* resolver, const Clock* clock, DnsDirectoryOptions options = {});
  // Thread-safe. Misses for one domain from several threads may each query.
  absl::StatusOr<DomainEntry> Lookup(std::string_view domain) const override;

  // The number of Resolve calls made so far (each a set of queries).
  int64_t resolves() const;

 private:
  struct Cached {
    absl::StatusOr<DomainEntry> entry;  // OK or NotFound
    absl::Time expires;
  };
  // Queries DNS; returns the result and its TTL (not for Unavailable).
  absl::StatusOr<DomainEntry> Fetch(const std::string& domain, absl::Duration* ttl) const;

  TxtResolver* resolver_;
  const Clock* clock_;
  DnsDirectoryOptions options_;
  mutable absl::Mutex mu_;
  mutable std::map<std::string, Cached, std::less<>> cache_ ABSL_GUARDED_BY(mu_);
  mutable int64_t resolves_ ABSL_GUARDED_BY(mu_) = 0;
};

// Answers from `over` when it lists the domain, from `under` otherwise (the
// TOML file overrides DNS, domain by domain: a domain in `over` is taken from
// it whole). Any error of `over` other than NotFound is returned as is.
// Both are borrowed; thread-safe if both are.
class LayeredDirectory : public Directory {
 public:
  LayeredDirectory(const Directory* over, const Directory* under) : over_(over), under_(under) {}
  absl::StatusOr<DomainEntry> Lookup(std::string_view domain) const override;

 private:
  const Directory* over_;
  const Directory* under_;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_DIRECTORY_DNS_DIRECTORY_H_
