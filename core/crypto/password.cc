// scrypt password hashes. The parameters are bounded on verify so that a
// corrupted or hostile stored hash cannot make a login take minutes or
// gigabytes.
#include "core/crypto/password.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/crypto/encoding.h"
#include "core/util/logging.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

constexpr int kLogN = 14;
constexpr int kR = 8;
constexpr int kP = 1;
constexpr size_t kSaltSize = 16;
constexpr size_t kHashSize = 32;
// scrypt needs about 128 * r * N bytes: 16 MiB for our own parameters, but
// 2 GiB for ln=20, r=16, which the field ranges alone would allow. This cap
// makes OpenSSL refuse (and VerifyPassword return false) instead.
constexpr uint64_t kMaxMem = 256ull * 1024 * 1024;

std::optional<std::string> Scrypt(std::string_view password, std::string_view salt, int log_n,
                                  int r, int p, size_t out_len) {
  std::string out(out_len, '\0');
  if (EVP_PBE_scrypt(password.data(), password.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(),
                     uint64_t{1} << log_n, static_cast<uint64_t>(r), static_cast<uint64_t>(p),
                     kMaxMem, reinterpret_cast<unsigned char*>(out.data()), out.size()) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return out;
}

// "name=value" with value an int in [lo, hi].
std::optional<int> Param(absl::string_view field, absl::string_view name, int lo, int hi) {
  if (!absl::ConsumePrefix(&field, name) || !absl::ConsumePrefix(&field, "=")) return std::nullopt;
  // Digits only: SimpleAtoi alone would also take "+14" or " 14", and a
  // stored hash should have one spelling.
  if (field.empty() || field.size() > 2 || field[0] == '0' ||
      !absl::c_all_of(field, absl::ascii_isdigit)) {
    return std::nullopt;
  }
  int v;
  if (!absl::SimpleAtoi(field, &v) || v < lo || v > hi) return std::nullopt;
  return v;
}

}  // namespace

std::string HashPassword(std::string_view password, Random& random) {
  std::string salt = random.Bytes(kSaltSize);
  std::optional<std::string> hash = Scrypt(password, salt, kLogN, kR, kP, kHashSize);
  PM_CHECK(hash.has_value()) << "scrypt failed with fixed parameters";
  std::string encoded = absl::StrCat("$scrypt$ln=", kLogN, ",r=", kR, ",p=", kP, "$",
                                     Base64Encode(salt), "$", Base64Encode(*hash));
  OPENSSL_cleanse(hash->data(), hash->size());
  return encoded;
}

bool VerifyPassword(std::string_view password, std::string_view encoded) {
  // "", "scrypt", "ln=..,r=..,p=..", salt, hash
  std::vector<absl::string_view> parts = absl::StrSplit(AV(encoded), '$');
  if (parts.size() != 5 || !parts[0].empty() || parts[1] != "scrypt") return false;
  std::vector<absl::string_view> params = absl::StrSplit(parts[2], ',');
  if (params.size() != 3) return false;
  std::optional<int> log_n = Param(params[0], "ln", 10, 20);
  std::optional<int> r = Param(params[1], "r", 1, 16);
  std::optional<int> p = Param(params[2], "p", 1, 4);
  if (!log_n || !r || !p) return false;
  absl::StatusOr<std::string> salt = Base64Decode(SV(parts[3]));
  absl::StatusOr<std::string> expected = Base64Decode(SV(parts[4]));
  if (!salt.ok() || salt->size() < 8 || !expected.ok() || expected->size() < 16 ||
      expected->size() > 64) {
    return false;
  }
  std::optional<std::string> actual = Scrypt(password, *salt, *log_n, *r, *p, expected->size());
  if (!actual.has_value()) return false;
  bool match = ConstantTimeEquals(*actual, *expected);
  OPENSSL_cleanse(actual->data(), actual->size());
  return match;
}

}  // namespace pullmail
