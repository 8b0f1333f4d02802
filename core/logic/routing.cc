// The routing rule (see routing.h).
#include "core/logic/routing.h"

#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail {

absl::StatusOr<Route> RouteNotifications(const absl::StatusOr<DomainEntry>& entry,
                                         std::string_view domain, std::string_view local_domain,
                                         std::string_view relay_endpoint) {
  if (!entry.ok()) return entry.status();
  Route r;
  r.endpoint = entry->recipient_endpoint;
  r.peer = std::string(domain);
  if (entry->legacy) {
    if (relay_endpoint.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("no SMTP relay configured for legacy domain ", AV(domain)));
    }
    r.endpoint = std::string(relay_endpoint);
    r.peer = std::string(local_domain);
    r.relayed = true;
  }
  if (r.endpoint.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("directory lists no recipient endpoint for ", AV(domain)));
  }
  return r;
}

}  // namespace pullmail
