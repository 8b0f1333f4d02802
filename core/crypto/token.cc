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
constexpr size_t kIdChars = 26;  // 26 * 5 = 130 bits
constexpr size_t kMaxIdDomain = limits::kMaxMessageId - kIdChars - 1;

}  // namespace

std::string NewToken(Random& random, size_t n) { return random.Bytes(n); }

std::string NewMessageId(Random& random, std::string_view domain) {
  // 17 random bytes = 136 bits; the first 130 become 26 base32 digits.
  std::string bytes = random.Bytes(17);
  std::string id;
  id.reserve(kIdChars + 1 + std::min(domain.size(), kMaxIdDomain));
  uint32_t buffer = 0;
  int bits = 0;
  size_t next = 0;
  while (id.size() < kIdChars) {
    if (bits < 5) {
      buffer = (buffer << 8) | static_cast<uint8_t>(bytes[next++]);
      bits += 8;
    }
    id += kBase32[(buffer >> (bits - 5)) & 31];
    bits -= 5;
  }
  id += '@';
  for (char c : domain.substr(0, kMaxIdDomain)) {
    id += (c > ' ' && c <= '~') ? absl::ascii_tolower(static_cast<unsigned char>(c)) : '_';
  }
  return id;
}

}  // namespace pullmail
