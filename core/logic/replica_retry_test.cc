#include "core/logic/replica_retry.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "google/protobuf/descriptor.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {
namespace {

const google::protobuf::MethodDescriptor* Find(const RetryableMethod& m) {
  const google::protobuf::ServiceDescriptor* s =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(std::string(m.service));
  return s == nullptr ? nullptr : s->FindMethodByName(std::string(m.method));
}

TEST(ReplicaRetryTest, EveryListedMethodExistsInTheProtocol) {
  // A renamed or removed method would silently stop being retried.
  v1::ReadSetRequest link;  // the generated descriptors are linked in
  (void)link;
  for (const RetryableMethod& m : ReplicaRetryableMethods()) {
    EXPECT_NE(Find(m), nullptr) << m.service << "/" << m.method;
  }
}

TEST(ReplicaRetryTest, WritesThatAreNotIdempotentAreNotRetried) {
  std::set<std::string> listed;
  for (const RetryableMethod& m : ReplicaRetryableMethods()) {
    listed.insert(std::string(m.service) + "/" + std::string(m.method));
  }
  for (const char* never :
       {"pullmail.v1.MailboxService/SetFlags", "pullmail.v1.MailboxService/Copy",
        "pullmail.v1.MailboxService/Expunge", "pullmail.v1.MailboxService/Append",
        "pullmail.v1.MailboxService/Report", "pullmail.v1.SubmitService/Bridge",
        "pullmail.v1.SubmitService/Revoke", "pullmail.v1.RecipientService/NotifyStream",
        "pullmail.v1.RecipientService/Notify", "pullmail.v1.SenderService/ReportAbuse"}) {
    EXPECT_EQ(listed.count(never), 0u) << never;
  }
  EXPECT_EQ(listed.count("pullmail.v1.MailboxService/ReadSet"), 1u);
  EXPECT_EQ(listed.count("pullmail.v1.SubmitService/Submit"), 1u);
  EXPECT_EQ(listed.count("pullmail.v1.SenderService/FetchBody"), 1u);
  EXPECT_EQ(listed.count("pullmail.v1.SenderService/FetchBodies"), 1u);
}

TEST(ReplicaRetryTest, TheServiceConfigRetriesOnlyUnavailable) {
  const std::string json = ReplicaRetryServiceConfig();
  EXPECT_NE(json.find("\"retryableStatusCodes\":[\"UNAVAILABLE\"]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"maxAttempts\":3"), std::string::npos) << json;
  EXPECT_NE(json.find("\"initialBackoff\":\"0.050s\""), std::string::npos) << json;
  EXPECT_NE(json.find("{\"service\":\"pullmail.v1.MailboxService\",\"method\":\"ReadSet\"}"),
            std::string::npos)
      << json;
  EXPECT_EQ(json.find("SetFlags"), std::string::npos) << json;
}

}  // namespace
}  // namespace pullmail
