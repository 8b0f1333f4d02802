// A minimal blocking IMAP4rev1 client for `pullmail demo`: STARTTLS with the
// federation's CA and the server's name checked, LOGIN, SELECT and FETCH.
// It shows that a classic client gets its mail through pullmail-gateway; it
// is not a general IMAP library (one literal per response line, no IDLE).
#ifndef PULLMAIL_CLI_IMAP_CLIENT_H_
#define PULLMAIL_CLI_IMAP_CLIENT_H_

#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pullmail::cli {

class ImapClient {
 public:
  ImapClient() = default;
  ~ImapClient();
  ImapClient(const ImapClient&) = delete;
  ImapClient& operator=(const ImapClient&) = delete;

  // Connects to host:port (numeric host), reads the greeting, issues
  // STARTTLS and verifies the certificate against `ca_file` and the name
  // `server_name`. Errors: kUnavailable (connect, TLS, verification).
  absl::Status Connect(const std::string& host_port, const std::string& ca_file,
                       const std::string& server_name, absl::Duration timeout);

  struct Response {
    std::vector<std::string> untagged;  // "* ..." lines, literals inline
    std::vector<std::string> literals;  // each {n} literal's bytes, in order
    std::string status;                 // "OK ...", "NO ...", "BAD ..."
  };
  // Sends "<tag> <command>" and reads up to the tagged reply. A NO or BAD is
  // not an error here (the caller reads `status`); kUnavailable when the
  // connection fails, kDataLoss on a malformed response.
  absl::StatusOr<Response> Command(const std::string& command);

 private:
  absl::StatusOr<std::string> ReadLine();
  absl::StatusOr<std::string> ReadBytes(size_t n);
  absl::Status Write(const std::string& s);

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buf_;
  int next_tag_ = 1;
};

}  // namespace pullmail::cli

#endif  // PULLMAIL_CLI_IMAP_CLIENT_H_
