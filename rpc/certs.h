// A small local certificate authority for `pullmail init`: one CA per
// federation (or demo), and one TLS certificate per domain whose
// subjectAltName holds the domain name, "localhost" and 127.0.0.1 / ::1.
// Keys are ECDSA P-256, written PEM with mode 0600.
#ifndef PULLMAIL_RPC_CERTS_H_
#define PULLMAIL_RPC_CERTS_H_

#include <string>

#include "absl/status/status.h"

namespace pullmail {

// Creates ca.pem and ca.key in `dir` unless ca.pem already exists there
// (idempotent). Validity 10 years.
absl::Status EnsureCertificateAuthority(const std::string& dir);

// Issues a certificate for `domain` signed by the CA in `ca_dir`, written to
// cert_path and key_path. Validity 2 years.
absl::Status IssueNodeCertificate(const std::string& ca_dir, const std::string& domain,
                                  const std::string& cert_path, const std::string& key_path);

}  // namespace pullmail

#endif  // PULLMAIL_RPC_CERTS_H_
