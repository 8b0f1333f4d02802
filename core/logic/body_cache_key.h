// The recipient node's body cache key (docs/PROTOCOL.md "Fetch", SECURITY.md):
// which cached body may serve which message. A fetched body is cached once
// per sending domain, not once per node: the key is the body's SHA-256 plus
// the signing domain that served it, so that a domain never gets back, by
// naming a hash in a notification it signed, a body that another domain sent
// (nor learns whether the node holds one). Copies from one domain still
// share one cached body whatever the number of readers. A user's own stored
// copy (IMAP APPEND; IsLocalBody) is keyed by that user alone: no domain,
// not even the node's own, reaches it by naming its hash.
#ifndef PULLMAIL_CORE_LOGIC_BODY_CACHE_KEY_H_
#define PULLMAIL_CORE_LOGIC_BODY_CACHE_KEY_H_

#include <string>

#include "core/storage/types.h"

namespace pullmail {

// Whether a stored row is a user's own copy (IMAP APPEND) rather than an
// accepted notification: only an accepted notification has signed bytes.
inline bool IsLocalBody(const StoredNotification& n) { return n.signed_bytes.empty(); }

// The key under which `n`'s body is cached (RecipientStore's body cache):
// the 32 raw bytes of n.body_sha256, then "d" and n.signing_domain for an
// accepted notification, or "u" and n.envelope_sender (the owner) for a
// user's own copy. The hash comes first and has a fixed length, so two
// different (hash, scope) pairs never give the same key. Pure.
std::string BodyCacheKey(const StoredNotification& n);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_BODY_CACHE_KEY_H_
