// libFuzzer harness: every TOML file pullmail reads. The first byte picks
//   0  a node config (ParseNodeConfig), then the gateway's view of it, its
//      [recipient.policy] and [sender.retry] sections
//   1  a directory file (ParseTomlDirectory)
//   2  a simulator scenario (ParseScenario) and an override line
//   3  a policy table alone, and the size/rate/duration words
// A config file is written by an operator, not by a peer, but a node must
// still refuse a bad one with an error rather than crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/config/gateway_config.h"
#include "core/config/node_config.h"
#include "core/directory/toml_directory.h"
#include "core/logic/outbox.h"
#include "core/policy/policy_config.h"
#include "core/util/toml.h"
#include "fuzz/fuzz_util.h"
#include "sim/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pullmail;
  std::string_view in = fuzz::AsView(data, size);
  switch (fuzz::TakeSelector(&in) % 4) {
    case 0: {
      auto node = ParseNodeConfig(in, "fuzz.toml");
      if (!node.ok()) break;
      (void)ParseGatewayConfig(*node);
      if (const toml::table* p = node->Section("recipient", "policy")) (void)ParsePolicyConfig(*p);
      if (const toml::table* r = node->Section("sender", "retry")) (void)ParseRetryPolicy(*r);
      for (const std::string* ep : {&node->sender_listen, &node->recipient_listen}) {
        (void)IsLoopbackEndpoint(*ep);
      }
      break;
    }
    case 1:
      (void)ParseTomlDirectory(in, "fuzz");
      break;
    case 2: {
      size_t nl = in.find('\n');
      std::string_view override_line = in.substr(0, nl == std::string_view::npos ? 0 : nl);
      std::string_view text = nl == std::string_view::npos ? in : in.substr(nl + 1);
      auto doc = ParseToml(text, "fuzz");
      if (!doc.ok()) break;
      if (!override_line.empty()) (void)sim::ApplyOverride(*doc, override_line);
      (void)sim::ParseScenario(*doc, "fuzz");
      break;
    }
    case 3: {
      (void)ParsePolicyDuration(in);
      (void)sim::ParseBytes(in);
      (void)sim::ParseBandwidth(in);
      (void)sim::ParseSeconds(in);
      (void)IsLoopbackEndpoint(in);
      auto doc = ParseToml(in, "fuzz");
      if (doc.ok()) {
        (void)ParsePolicyConfig(*doc);
        (void)ParseRetryPolicy(*doc);
      }
      break;
    }
  }
  return 0;
}
