// BodyCacheKey (see body_cache_key.h).
#include "core/logic/body_cache_key.h"

#include "absl/strings/str_cat.h"

namespace pullmail {

std::string BodyCacheKey(const StoredNotification& n) {
  return IsLocalBody(n) ? absl::StrCat(n.body_sha256, "u", n.envelope_sender)
                        : absl::StrCat(n.body_sha256, "d", n.signing_domain);
}

}  // namespace pullmail
