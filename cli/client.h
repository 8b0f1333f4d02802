// What every client subcommand of `pullmail` shares: loading the domain's
// node.toml, dialling its nodes over TLS (rpc/tls.h), the authorization
// metadata, and the one mapping from a failed call to an exit code and a
// message a person can act on.
//
// Exit codes: 0 ok, 1 usage or local problem (bad flags, unreadable config),
// 2 the server said no (its gRPC code name and message are printed),
// 3 unavailable (a node could not be reached, or it said UNAVAILABLE).
#ifndef PULLMAIL_CLI_CLIENT_H_
#define PULLMAIL_CLI_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/config/node_config.h"
#include "pullmail/v1/pullmail.grpc.pb.h"

namespace pullmail::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;
inline constexpr int kExitRefused = 2;
inline constexpr int kExitUnavailable = 3;

// The gRPC code's canonical name, e.g. "PERMISSION_DENIED".
std::string StatusCodeName(int code);

// Exit code for a call's outcome: OK 0; UNAVAILABLE and DEADLINE_EXCEEDED 3;
// anything else 2.
int ExitCodeFor(const grpc::Status& s);

// Prints "pullmail: <what>: <CODE>: <message>" to stderr and returns
// ExitCodeFor(s).
int ReportRpcError(std::string_view what, const grpc::Status& s);

// Prints "pullmail: <message>" to stderr and returns kExitUsage.
int ReportLocalError(const absl::Status& s);

// A logged-in view of one domain's nodes. Holds the channels; cheap calls.
// Not thread-safe (a CLI runs one call at a time).
class Session {
 public:
  // Loads `config_path`. `user` may be empty for commands that need no
  // login; when given without a domain, the config's domain is appended.
  // Errors: the config's load error (kExitUsage material).
  static absl::StatusOr<Session> Open(const std::string& config_path, std::string user,
                                      std::string password);

  const NodeConfig& config() const { return config_; }
  const std::string& user() const { return user_; }

  // A context with the authorization header and a deadline `timeout` away.
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(30)) const;

  // Stubs for this domain's nodes (channels made on first use), over the
  // config's RecipientEndpoints() / SenderEndpoints(): every replica listed,
  // calls spread over those that are up.
  absl::StatusOr<v1::MailboxService::Stub*> Mailbox();
  absl::StatusOr<v1::SubmitService::Stub*> Submit();

 private:
  NodeConfig config_;
  std::string user_;
  std::string password_;
  std::unique_ptr<v1::MailboxService::Stub> mailbox_;
  std::unique_ptr<v1::SubmitService::Stub> submit_;
};

// A JSON string literal (with quotes) for `s`; bytes >= 0x80 are passed
// through, so `s` should be valid UTF-8 for the result to be valid JSON.
std::string JsonQuote(std::string_view s);

// A protobuf message as one line of JSON (proto3 JSON mapping: bytes fields
// base64, 64-bit integers as strings, fields with default values included).
std::string ProtoToJson(const google::protobuf::Message& m);

}  // namespace pullmail::cli

#endif  // PULLMAIL_CLI_CLIENT_H_
