// Ed25519 on OpenSSL 3: key generation, PEM files and context-bound
// signatures. OpenSSL's Ed25519 is "pure" EdDSA (RFC 8032 5.1), which has no
// context parameter, so the context is bound by prefixing it to the message;
// every context pullmail uses ends in a NUL byte, so no context string is a
// prefix of another and (context, message) pairs cannot collide.
#include "core/crypto/ed25519.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/util/limits.h"
#include "core/util/logging.h"

namespace pullmail {
namespace {

constexpr size_t kSeedSize = 32;
constexpr size_t kPublicKeySize = 32;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The oldest OpenSSL error on this thread's queue as text, and clears the
// queue so that a later call does not report a stale error.
std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

std::string ErrnoText(int err) { return std::strerror(err); }

// context || message in one buffer: OpenSSL's Ed25519 is one-shot only.
std::string Concat(std::string_view context, std::string_view message) {
  std::string out;
  out.reserve(context.size() + message.size());
  out.append(context);
  out.append(message);
  return out;
}

}  // namespace

absl::StatusOr<SigningKey> SigningKey::Generate() {
  EVP_PKEY* key = nullptr;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), &EVP_PKEY_CTX_free);
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    return absl::InternalError(absl::StrCat("Ed25519 keygen: ", OpenSslError()));
  }
  return SigningKey(key);
}

absl::StatusOr<SigningKey> SigningKey::FromSeed(std::string_view seed) {
  if (seed.size() != kSeedSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("Ed25519 seed must be 32 bytes, got ", seed.size()));
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (key == nullptr) {
    return absl::InternalError(absl::StrCat("Ed25519 from seed: ", OpenSslError()));
  }
  return SigningKey(key);
}

absl::StatusOr<SigningKey> SigningKey::LoadPem(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "rb"));
  if (bio == nullptr) {
    int err = errno;
    ERR_clear_error();
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat("no key file ", path));
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open key file ", path, ": ", ErrnoText(err)));
  }
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    // Like ssh, say so; unlike ssh, still load it: refusing would take a node
    // down over a mode that an operator may have chosen deliberately.
    PM_LOG(WARNING) << "key file " << path << " is readable by group or others (mode "
                    << std::oct << (st.st_mode & 0777) << std::dec << ")";
  }
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("key file ", path, " is not a PEM private key: ", OpenSslError()));
  }
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return absl::InvalidArgumentError(absl::StrCat("key file ", path, " is not an Ed25519 key"));
  }
  return SigningKey(key);
}

absl::Status SigningKey::SavePem(const std::string& path) const {
  BioPtr mem(BIO_new(BIO_s_mem()));
  if (mem == nullptr ||
      PEM_write_bio_PrivateKey(mem.get(), key_, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("PEM encode: ", OpenSslError()));
  }
  char* pem = nullptr;
  long pem_len = BIO_get_mem_data(mem.get(), &pem);

  // O_EXCL: never overwrite a key (losing a signing key is not recoverable),
  // and never follow a symlink planted at `path`. Mode 0600 from creation, so
  // the file is never readable by others, not even for a moment; the umask
  // can only narrow it further.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) return absl::AlreadyExistsError(absl::StrCat("key file ", path, " exists"));
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create key file ", path, ": ", ErrnoText(err)));
  }
  absl::Status status;
  const char* p = pem;
  long left = pem_len;
  while (left > 0 && status.ok()) {
    ssize_t n = write(fd, p, static_cast<size_t>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = absl::InternalError(absl::StrCat("write ", path, ": ", ErrnoText(errno)));
      break;
    }
    p += n;
    left -= n;
  }
  if (status.ok() && fsync(fd) != 0) {
    status = absl::InternalError(absl::StrCat("fsync ", path, ": ", ErrnoText(errno)));
  }
  if (close(fd) != 0 && status.ok()) {
    status = absl::InternalError(absl::StrCat("close ", path, ": ", ErrnoText(errno)));
  }
  OPENSSL_cleanse(pem, static_cast<size_t>(pem_len));
  if (!status.ok()) unlink(path.c_str());
  return status;
}

std::string SigningKey::PublicKey() const {
  std::string out(kPublicKeySize, '\0');
  size_t len = out.size();
  PM_CHECK(EVP_PKEY_get_raw_public_key(key_, reinterpret_cast<unsigned char*>(out.data()),
                                       &len) == 1 &&
           len == kPublicKeySize)
      << "Ed25519 public key: " << OpenSslError();
  return out;
}

std::string SigningKey::Sign(std::string_view context, std::string_view message) const {
  std::string input = Concat(context, message);
  std::string sig(limits::kSignatureSize, '\0');
  size_t sig_len = sig.size();
  MdCtxPtr ctx(EVP_MD_CTX_new());
  // Failure here means a broken key object or allocator, never peer input.
  PM_CHECK(ctx != nullptr &&
           EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_) == 1 &&
           EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                          reinterpret_cast<const unsigned char*>(input.data()),
                          input.size()) == 1 &&
           sig_len == limits::kSignatureSize)
      << "Ed25519 sign: " << OpenSslError();
  return sig;
}

SigningKey::SigningKey(SigningKey&& other) noexcept : key_(other.key_) { other.key_ = nullptr; }

SigningKey& SigningKey::operator=(SigningKey&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(key_);
    key_ = other.key_;
    other.key_ = nullptr;
  }
  return *this;
}

SigningKey::~SigningKey() { EVP_PKEY_free(key_); }

namespace {

// The last few public keys this thread verified with, parsed: making an
// EVP_PKEY from raw bytes costs ~5% of a verification, and a node verifies
// with a handful of keys over and over. Per thread, so no locking; bounded
// (kKeyCacheSize, replaced round-robin), so a peer cycling through keys only
// makes it miss.
constexpr size_t kKeyCacheSize = 8;
struct KeyCache {
  std::string raw[kKeyCacheSize];
  PkeyPtr key[kKeyCacheSize];
  size_t next = 0;
};

EVP_PKEY* CachedPublicKey(std::string_view public_key) {
  thread_local KeyCache cache;
  for (size_t i = 0; i < kKeyCacheSize; ++i) {
    if (cache.key[i] != nullptr && cache.raw[i] == public_key) return cache.key[i].get();
  }
  PkeyPtr key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size()));
  if (key == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  const size_t slot = cache.next;
  cache.next = (cache.next + 1) % kKeyCacheSize;
  cache.raw[slot] = std::string(public_key);
  cache.key[slot] = std::move(key);
  return cache.key[slot].get();
}

}  // namespace

bool VerifySignature(std::string_view public_key, std::string_view context,
                     std::string_view message, std::string_view signature) {
  if (public_key.size() != kPublicKeySize || signature.size() != limits::kSignatureSize) {
    return false;
  }
  EVP_PKEY* key = CachedPublicKey(public_key);
  if (key == nullptr) return false;
  std::string input = Concat(context, message);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = ctx != nullptr &&
            EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(),
                             reinterpret_cast<const unsigned char*>(input.data()),
                             input.size()) == 1;
  // A failed verification leaves an error on the queue; do not let it leak
  // into an unrelated OpenSSL call later on this thread.
  ERR_clear_error();
  return ok;
}

}  // namespace pullmail
