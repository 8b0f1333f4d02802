// Random identifiers. Base32 rather than base64 in message ids: ids end up in
// IMAP responses, file names and URLs, where '+' and '/' need quoting and
// case may be folded.
#include "core/crypto/token.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"

namespace pullmail {
namespace {

constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";
// The same 32 characters in ASCII order: digits whose byte order is their
// value order (a time-ordered id's time digits).
constexpr char kSortedBase32[] = "234567abcdefghijklmnopqrstuvwxyz";
constexpr size_t kIdChars = 26;  // 26 * 5 = 130 bits
constexpr size_t kTimeChars = 9;  // 45 bits of milliseconds: until the year 3084
constexpr size_t kMaxIdDomain = limits::kMaxMessageId - kIdChars - 1;

// Appends `chars` base32 digits of random bits to *id.
void AppendRandomDigits(Random& random, size_t chars, std::string* id) {
  std::string bytes = random.Bytes((chars * 5 + 7) / 8);
  uint32_t buffer = 0;
  int bits = 0;
  size_t next = 0;
  for (size_t i = 0; i < chars; ++i) {
    if (bits < 5) {
      buffer = (buffer << 8) | static_cast<uint8_t>(bytes[next++]);
      bits += 8;
    }
    *id += kBase32[(buffer >> (bits - 5)) & 31];
    bits -= 5;
  }
}

void AppendDomain(std::string_view domain, std::string* id) {
  *id += '@';
  for (char c : domain.substr(0, kMaxIdDomain)) {
    *id += (c > ' ' && c <= '~') ? absl::ascii_tolower(static_cast<unsigned char>(c)) : '_';
  }
}

}  // namespace

std::string NewToken(Random& random, size_t n) { return random.Bytes(n); }

std::string NewMessageId(Random& random, std::string_view domain) {
  // 17 random bytes = 136 bits; the first 130 become 26 base32 digits.
  std::string id;
  id.reserve(kIdChars + 1 + std::min(domain.size(), kMaxIdDomain));
  AppendRandomDigits(random, kIdChars, &id);
  AppendDomain(domain, &id);
  return id;
}

std::string NewMessageId(Random& random, std::string_view domain, absl::Time now) {
  std::string id;
  id.reserve(kIdChars + 1 + std::min(domain.size(), kMaxIdDomain));
  constexpr int64_t kMaxMs = (int64_t{1} << (5 * kTimeChars)) - 1;
  const int64_t ms = std::clamp<int64_t>(absl::ToUnixMillis(now), 0, kMaxMs);
  for (size_t i = kTimeChars; i-- > 0;) id += kSortedBase32[(ms >> (5 * i)) & 31];
  AppendRandomDigits(random, kIdChars - kTimeChars, &id);
  AppendDomain(domain, &id);
  return id;
}

}  // namespace pullmail
