// DnsDirectory and LayeredDirectory (see dns_directory.h).
#include "core/directory/dns_directory.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/directory/dns_record.h"
#include "core/util/limits.h"
#include "core/util/strings.h"

namespace pullmail {

DnsDirectory::DnsDirectory(TxtResolver* resolver, const Clock* clock, DnsDirectoryOptions options)
    : resolver_(resolver), clock_(clock), options_(options) {}

int64_t DnsDirectory::resolves() const {
  absl::MutexLock lock(&mu_);
  return resolves_;
}

absl::StatusOr<DomainEntry> DnsDirectory::Fetch(const std::string& domain,
                                                absl::Duration* ttl) const {
  {
    absl::MutexLock lock(&mu_);
    ++resolves_;
  }
  std::vector<absl::StatusOr<TxtRecords>> answers = resolver_->Resolve({DomainRecordName(domain)});
  if (answers.size() != 1) return absl::InternalError("resolver returned a wrong number of answers");
  const absl::StatusOr<TxtRecords>& answer = answers[0];
  *ttl = options_.negative_ttl;
  if (!answer.ok()) {
    if (absl::IsNotFound(answer.status())) {
      return absl::NotFoundError(absl::StrCat("unknown domain ", domain, " (no ",
                                              DomainRecordName(domain), " TXT record)"));
    }
    return absl::UnavailableError(
        absl::StrCat("DNS lookup of ", DomainRecordName(domain), ": ", answer.status().message()));
  }
  absl::StatusOr<std::string> text = SelectPullmailRecord(answer->records);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat("unknown domain ", domain, " (",
                                            DomainRecordName(domain), ": ", text.status().message(), ")"));
  }
  absl::StatusOr<DomainRecord> record = ParseDomainRecord(*text);
  if (!record.ok()) {
    return absl::NotFoundError(absl::StrCat("unknown domain ", domain, " (invalid ",
                                            DomainRecordName(domain), ": ", record.status().message(), ")"));
  }
  DomainEntry entry;
  entry.domain = domain;
  entry.recipient_endpoint = record->recipient_endpoint;
  entry.sender_endpoint = record->sender_endpoint;
  absl::Duration min_ttl = answer->ttl;

  std::vector<std::string> names;
  for (const std::string& id : record->key_ids) names.push_back(KeyRecordName(domain, id));
  if (!names.empty()) {
    std::vector<absl::StatusOr<TxtRecords>> keys = resolver_->Resolve(names);
    if (keys.size() != names.size()) {
      return absl::InternalError("resolver returned a wrong number of answers");
    }
    for (size_t i = 0; i < names.size(); ++i) {
      const absl::StatusOr<TxtRecords>& k = keys[i];
      if (!k.ok()) {
        if (!absl::IsNotFound(k.status())) {
          return absl::UnavailableError(absl::StrCat("DNS lookup of ", names[i], ": ", k.status().message()));
        }
        min_ttl = std::min(min_ttl, options_.negative_ttl);  // a missing key: not trusted
        continue;
      }
      min_ttl = std::min(min_ttl, k->ttl);
      absl::StatusOr<std::string> key_text = SelectPullmailRecord(k->records);
      if (!key_text.ok()) continue;
      absl::StatusOr<std::string> raw = ParseKeyRecord(*key_text);
      if (!raw.ok()) continue;  // revoked or malformed: not trusted
      entry.keys[record->key_ids[i]] = *std::move(raw);
    }
  }
  *ttl = min_ttl;
  return entry;
}

absl::StatusOr<DomainEntry> DnsDirectory::Lookup(std::string_view raw_domain) const {
  std::string domain = absl::AsciiStrToLower(AV(raw_domain));
  if (domain.empty() || domain.size() > limits::kMaxDomain) {
    return absl::NotFoundError("unknown domain (empty or over-long name)");
  }
  for (char c : domain) {
    // Only host-name bytes go into a query name; anything else is no domain.
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
      return absl::NotFoundError(absl::StrCat("unknown domain '", absl::CHexEscape(domain), "'"));
    }
  }
  absl::Time now = clock_->Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(domain);
    if (it != cache_.end()) {
      if (now < it->second.expires) return it->second.entry;
      cache_.erase(it);
    }
  }
  absl::Duration ttl;
  absl::StatusOr<DomainEntry> result = Fetch(domain, &ttl);
  if (result.ok() || absl::IsNotFound(result.status())) {
    ttl = std::clamp(ttl, options_.min_ttl, options_.max_ttl);
    if (ttl > absl::ZeroDuration()) {
      absl::MutexLock lock(&mu_);
      if (cache_.size() >= options_.max_cached_domains) {
        // Drop what has expired; if that frees nothing, drop everything:
        // the cache is a saving, never a source of truth.
        for (auto it = cache_.begin(); it != cache_.end();) {
          it = it->second.expires <= now ? cache_.erase(it) : std::next(it);
        }
        if (cache_.size() >= options_.max_cached_domains) cache_.clear();
      }
      cache_[domain] = Cached{result, now + ttl};
    }
  }
  return result;
}

absl::StatusOr<DomainEntry> LayeredDirectory::Lookup(std::string_view domain) const {
  absl::StatusOr<DomainEntry> top = over_->Lookup(domain);
  if (top.ok() || !absl::IsNotFound(top.status())) return top;
  return under_->Lookup(domain);
}

}  // namespace pullmail
