// Client plumbing for `pullmail`'s subcommands (see client.h).
#include "cli/client.h"

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rpc/tls.h"
#include "rpc/user_auth.h"

namespace pullmail::cli {

std::string StatusCodeName(int code) {
  static const char* const kNames[] = {
      "OK",           "CANCELLED",        "UNKNOWN",           "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",   "ALREADY_EXISTS",    "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",  "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",        "UNAVAILABLE",       "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) return kNames[code];
  return absl::StrCat("CODE_", code);
}

int ExitCodeFor(const grpc::Status& s) {
  if (s.ok()) return kExitOk;
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return kExitUnavailable;
  }
  return kExitRefused;
}

int ReportRpcError(std::string_view what, const grpc::Status& s) {
  std::cerr << "pullmail: " << what << ": " << StatusCodeName(s.error_code()) << ": "
            << s.error_message() << "\n";
  return ExitCodeFor(s);
}

int ReportLocalError(const absl::Status& s) {
  std::cerr << "pullmail: " << s.message() << "\n";
  return kExitUsage;
}

absl::StatusOr<Session> Session::Open(const std::string& config_path, std::string user,
                                      std::string password) {
  if (config_path.empty()) {
    return absl::InvalidArgumentError("--config DIR/DOMAIN/node.toml is required");
  }
  auto config = LoadNodeConfig(config_path);
  if (!config.ok()) return config.status();
  Session s;
  s.config_ = *std::move(config);
  if (!user.empty() && user.find('@') == std::string::npos) {
    user = absl::StrCat(user, "@", s.config_.domain);
  }
  s.user_ = std::move(user);
  s.password_ = std::move(password);
  return s;
}

std::unique_ptr<grpc::ClientContext> Session::Context(absl::Duration timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!user_.empty()) {
    ctx->AddMetadata("authorization", BasicAuthorization(user_, password_));
  }
  return ctx;
}

absl::StatusOr<v1::MailboxService::Stub*> Session::Mailbox() {
  if (!mailbox_) {
    if (config_.RecipientEndpoints().empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(config_.path, ": [recipient] listen (or endpoints) is not set"));
    }
    auto ch = Dial(config_.tls, config_.RecipientEndpoints(), config_.domain);
    if (!ch.ok()) return ch.status();
    mailbox_ = v1::MailboxService::NewStub(*ch);
  }
  return mailbox_.get();
}

absl::StatusOr<v1::SubmitService::Stub*> Session::Submit() {
  if (!submit_) {
    if (config_.SenderEndpoints().empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(config_.path, ": [sender] listen (or endpoints) is not set"));
    }
    auto ch = Dial(config_.tls, config_.SenderEndpoints(), config_.domain);
    if (!ch.ok()) return ch.status();
    submit_ = v1::SubmitService::NewStub(*ch);
  }
  return submit_.get();
}

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += ch;
        }
    }
  }
  out += "\"";
  return out;
}

std::string ProtoToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, opts);
  if (!st.ok()) return absl::StrCat("{\"error\":", JsonQuote(st.ToString()), "}");
  return out;
}

}  // namespace pullmail::cli
