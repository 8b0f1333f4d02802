// Small UTF-8 helpers for mail text. Protobuf proto3 `string` fields must hold
// valid UTF-8 (a peer's parser rejects anything else), and RFC 5322 caps a
// header line at 998 bytes, so every header value copied into a message
// summary goes through ToValidUtf8 first.
#ifndef PULLMAIL_CORE_MAIL_UTF8_H_
#define PULLMAIL_CORE_MAIL_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace pullmail {

// True if `s` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// `s` with every ill-formed sequence replaced by U+FFFD, then cut to at most
// `max_bytes` bytes without splitting a character. Pure; thread-safe.
std::string ToValidUtf8(std::string_view s, size_t max_bytes);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_MAIL_UTF8_H_
