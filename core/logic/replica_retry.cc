// Which calls may be sent again to another replica (see replica_retry.h).
#include "core/logic/replica_retry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

constexpr std::string_view kMailbox = "pullmail.v1.MailboxService";
constexpr std::string_view kSubmit = "pullmail.v1.SubmitService";
constexpr std::string_view kSender = "pullmail.v1.SenderService";

constexpr RetryableMethod kMethods[] = {
    {kMailbox, "Login"},   {kMailbox, "ListFolders"}, {kMailbox, "ListMessages"},
    {kMailbox, "Read"},    {kMailbox, "ReadSet"},     {kMailbox, "Watch"},
    {kSubmit, "Login"},    {kSubmit, "ListSent"},     {kSubmit, "Submit"},
    {kSender, "FetchBody"}, {kSender, "FetchBodies"},
};

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.3fs", absl::ToDoubleSeconds(d));
}

}  // namespace

std::span<const RetryableMethod> ReplicaRetryableMethods() { return kMethods; }

std::string ReplicaRetryServiceConfig() {
  std::string names;
  for (const RetryableMethod& m : kMethods) {
    absl::StrAppend(&names, names.empty() ? "" : ",", "{\"service\":\"", AV(m.service),
                    "\",\"method\":\"", AV(m.method), "\"}");
  }
  return absl::StrCat(
      "{\"methodConfig\":[{\"name\":[", names, "],\"retryPolicy\":{\"maxAttempts\":",
      kReplicaRetryAttempts, ",\"initialBackoff\":\"", Seconds(kReplicaRetryInitialBackoff),
      "\",\"maxBackoff\":\"", Seconds(kReplicaRetryMaxBackoff),
      "\",\"backoffMultiplier\":2,\"retryableStatusCodes\":[\"UNAVAILABLE\"]}}]}");
}

}  // namespace pullmail
