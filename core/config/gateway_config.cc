// Parsing of the [gateway] section (see gateway_config.h).
#include "core/config/gateway_config.h"

#include <toml++/toml.h>

#include <cstdint>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

absl::Status FieldError(const NodeConfig& node, std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(node.path, ": gateway.", AV(field), ": ", AV(why)));
}

}  // namespace

absl::StatusOr<GatewayConfig> ParseGatewayConfig(const NodeConfig& node) {
  GatewayConfig c;
  const toml::table* t = node.Section("gateway");
  if (t == nullptr) return c;

  struct Listen {
    std::string_view key;
    std::string* field;
  };
  const Listen listens[] = {{"imap_listen", &c.imap_listen},
                            {"imaps_listen", &c.imaps_listen},
                            {"pop3_listen", &c.pop3_listen},
                            {"pop3s_listen", &c.pop3s_listen},
                            {"submission_listen", &c.submission_listen},
                            {"smtp_listen", &c.smtp_listen},
                            {"relay_listen", &c.relay_listen},
                            {"smarthost", &c.smarthost}};
  struct Int {
    std::string_view key;
    int64_t min, max;
  };
  const Int ints[] = {{"max_connections", 1, 100000},
                      {"idle_timeout_seconds", 1, 7 * 24 * 3600},
                      {"max_line_bytes", 512, 1 << 20},
                      {"max_message_bytes", 1024, int64_t{64} << 20}};

  for (const auto& [key, value] : *t) {
    std::string_view k = key.str();
    bool known = k == "allow_plaintext_auth";
    for (const Listen& l : listens) known |= l.key == k;
    for (const Int& i : ints) known |= i.key == k;
    if (!known) return FieldError(node, k, "unknown key");
  }
  for (const Listen& l : listens) {
    if (const toml::node* n = t->get(l.key)) {
      const auto* s = n->as_string();
      if (s == nullptr) return FieldError(node, l.key, "must be a \"host:port\" string");
      *l.field = s->get();
    }
  }
  for (const Int& i : ints) {
    const toml::node* n = t->get(i.key);
    if (n == nullptr) continue;
    const auto* v = n->as_integer();
    if (v == nullptr || v->get() < i.min || v->get() > i.max) {
      return FieldError(node, i.key, absl::StrCat("must be an integer in ", i.min, "..", i.max));
    }
    int64_t x = v->get();
    if (i.key == "max_connections") c.max_connections = static_cast<int>(x);
    if (i.key == "idle_timeout_seconds") c.idle_timeout = absl::Seconds(x);
    if (i.key == "max_line_bytes") c.max_line_bytes = static_cast<size_t>(x);
    if (i.key == "max_message_bytes") c.max_message_bytes = static_cast<size_t>(x);
  }
  if (const toml::node* n = t->get("allow_plaintext_auth")) {
    const auto* b = n->as_boolean();
    if (b == nullptr) return FieldError(node, "allow_plaintext_auth", "must be true or false");
    c.allow_plaintext_auth = b->get();
  }
  if (!c.smarthost.empty()) {
    size_t colon = c.smarthost.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(c.smarthost.substr(colon + 1), &port) || port < 1 || port > 65535) {
      return FieldError(node, "smarthost", "must be \"host:port\" (no MX lookup is done)");
    }
  }
  if (c.allow_plaintext_auth) {
    for (const Listen& l : listens) {
      // Neither carries passwords: the relay is gRPC, the smarthost a peer.
      if (l.field == &c.relay_listen || l.field == &c.smarthost) continue;
      if (!l.field->empty() && !IsLoopbackEndpoint(*l.field)) {
        return FieldError(node, "allow_plaintext_auth",
                          absl::StrCat("allowed only on loopback listeners, not ", *l.field));
      }
    }
  }
  return c;
}

}  // namespace pullmail
