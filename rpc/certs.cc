// Local CA and node certificates with OpenSSL 3's X509 API.
#include "rpc/certs.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace pullmail {
namespace {

struct Deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(FILE* p) const { std::fclose(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter>;
using CertPtr = std::unique_ptr<X509, Deleter>;
using FilePtr = std::unique_ptr<FILE, Deleter>;

absl::Status SslError(std::string_view what) {
  return absl::InternalError(absl::StrCat("openssl: ", std::string(what)));
}

KeyPtr NewKey() { return KeyPtr(EVP_EC_gen("P-256")); }

absl::Status WriteKey(const std::string& path, EVP_PKEY* key) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  ::fchmod(fd, 0600);
  FilePtr f(fdopen(fd, "w"));
  if (!f) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("fdopen ", path));
  }
  if (PEM_write_PrivateKey(f.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return SslError("write key");
  }
  return absl::OkStatus();
}

absl::Status WriteCert(const std::string& path, X509* cert) {
  FilePtr f(std::fopen(path.c_str(), "w"));
  if (!f) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  if (PEM_write_X509(f.get(), cert) != 1) return SslError("write cert");
  return absl::OkStatus();
}

absl::Status AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Deleter> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return SslError("extension");
  return absl::OkStatus();
}

CertPtr NewCert(EVP_PKEY* key, const std::string& cn, long days) {
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * days);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("pullmail"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

absl::StatusOr<KeyPtr> ReadKey(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "r"));
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  KeyPtr key(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  if (!key) return SslError(absl::StrCat("parse ", path));
  return key;
}

absl::StatusOr<CertPtr> ReadCert(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "r"));
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  CertPtr cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  if (!cert) return SslError(absl::StrCat("parse ", path));
  return cert;
}

}  // namespace

absl::Status EnsureCertificateAuthority(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const std::string cert_path = dir + "/ca.pem", key_path = dir + "/ca.key";
  if (std::filesystem::exists(cert_path)) return absl::OkStatus();
  KeyPtr key = NewKey();
  if (!key) return SslError("keygen");
  CertPtr cert = NewCert(key.get(), "pullmail local CA", 3650);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  if (absl::Status s = AddExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = AddExt(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
      !s.ok()) {
    return s;
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return SslError("sign CA");
  if (absl::Status s = WriteKey(key_path, key.get()); !s.ok()) return s;
  return WriteCert(cert_path, cert.get());
}

absl::Status IssueNodeCertificate(const std::string& ca_dir, const std::string& domain,
                                  const std::string& cert_path, const std::string& key_path) {
  auto ca_key = ReadKey(ca_dir + "/ca.key");
  if (!ca_key.ok()) return ca_key.status();
  auto ca_cert = ReadCert(ca_dir + "/ca.pem");
  if (!ca_cert.ok()) return ca_cert.status();
  KeyPtr key = NewKey();
  if (!key) return SslError("keygen");
  CertPtr cert = NewCert(key.get(), domain, 730);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert->get()));
  std::string san = absl::StrCat("DNS:", domain, ",DNS:localhost,IP:127.0.0.1,IP:::1");
  for (auto [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                            {NID_basic_constraints, "critical,CA:FALSE"},
                            {NID_ext_key_usage, "serverAuth,clientAuth"}}) {
    if (absl::Status s = AddExt(cert.get(), ca_cert->get(), nid, value.c_str()); !s.ok()) return s;
  }
  if (X509_sign(cert.get(), ca_key->get(), EVP_sha256()) == 0) return SslError("sign cert");
  std::filesystem::create_directories(std::filesystem::path(cert_path).parent_path());
  std::filesystem::create_directories(std::filesystem::path(key_path).parent_path());
  if (absl::Status s = WriteKey(key_path, key.get()); !s.ok()) return s;
  return WriteCert(cert_path, cert.get());
}

}  // namespace pullmail
