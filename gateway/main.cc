// pullmail-gateway: classic mail protocols for the users of one pullmail
// domain. IMAP4rev1 and POP3 read the recipient node's mailboxes (an IMAP
// FETCH or POP3 RETR of a body is what makes the node pull it from the
// sender); SMTP submission hands mail to the sender node; SMTP in (the
// domain's MX) hands mail from other servers to the sender node's Bridge;
// SMTP out (relay_listen, a gRPC RecipientService) relays the domain's mail
// for legacy domains to a smarthost (gateway/relay_service.h).
// Reads the domain's node.toml ([gateway] section:
// core/config/gateway_config.h).
//
// SECURITY: passwords are accepted only over TLS (STARTTLS/STLS or an
// implicit-TLS port) unless allow_plaintext_auth is set, which the config
// allows only on loopback listeners. The gateway holds no mail and no
// signing keys: it checks a user's password by logging in at the node and
// then acts with that user's bearer token only. With smtp_listen set it
// also reads the domain's token key (data/token.key) to mint its own
// "gateway:bridge" token for SubmitService.Bridge; that key could mint any
// user's token, so such a gateway is as trusted as the nodes and must run
// on their host, as their user. The SMTP-out relay accepts only
// notifications signed by this domain for legacy domains (never an open
// relay). Every line, literal and message has a limit; each listener caps
// its connections.
#include <malloc.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "core/config/gateway_config.h"
#include "core/config/node_config.h"
#include "core/util/logging.h"
#include "gateway/bridge_batcher.h"
#include "gateway/listener.h"
#include "gateway/node_client.h"
#include "gateway/relay_service.h"
#include "gateway/sessions.h"
#include "gateway/tls_context.h"
#include "rpc/memory_trim.h"
#include "rpc/node_directory.h"
#include "rpc/program_clock.h"
#include "rpc/server_runner.h"

ABSL_FLAG(std::string, config, "", "path to the domain's node.toml (made by `pullmail init`)");

namespace pullmail::gateway {
namespace {

int Run(const std::string& path) {
  auto clock = ProgramClock();
  if (!clock.ok()) {
    PM_LOG(ERROR) << clock.status();
    return 1;
  }
  auto node = LoadNodeConfig(path);
  if (!node.ok()) {
    PM_LOG(ERROR) << node.status();
    return 1;
  }
  auto config = ParseGatewayConfig(*node);
  if (!config.ok()) {
    PM_LOG(ERROR) << config.status();
    return 1;
  }
  auto nodes = NodeClient::Open(*node);
  if (!nodes.ok()) {
    PM_LOG(ERROR) << "cannot reach the nodes: " << nodes.status();
    return 1;
  }
  // The classic protocols always get a TLS context from the node's
  // certificate; with [tls] plaintext = true there may be none.
  SslCtxPtr tls;
  if (!node->tls.cert.empty() && !node->tls.key.empty()) {
    auto ctx = MakeServerTlsContext(node->tls);
    if (!ctx.ok()) {
      PM_LOG(ERROR) << ctx.status();
      return 1;
    }
    tls = std::move(*ctx);
  }

  // SMTP in needs the directory (pullmail domains never arrive over SMTP)
  // and the token key (the Bridge principal's token).
  // SMTP out needs it too (verification, legacy domains, the sender node).
  std::unique_ptr<Directory> directory;
  if (!config->smtp_listen.empty() || !config->relay_listen.empty()) {
    auto d = OpenNodeDirectory(*node);
    if (!d.ok()) {
      PM_LOG(ERROR) << "smtp: " << d.status();
      return 1;
    }
    directory = std::move(*d);
  }
  if (!config->smtp_listen.empty()) {
    if (absl::Status s = (*nodes)->LoadBridgeKey(node->TokenKeyPath()); !s.ok()) {
      PM_LOG(ERROR) << "smtp: " << s;
      return 1;
    }
  } else if (absl::Status s = (*nodes)->LoadBridgeKey(node->TokenKeyPath()); !s.ok()) {
    // Without it, logins still work; the nodes count failed ones against
    // the gateway's address instead of the client's.
    PM_LOG(WARNING) << "logins: " << s;
  }
  auto penalty = ParseLoginPenaltyConfig(*node);
  if (!penalty.ok()) {
    PM_LOG(ERROR) << penalty.status();
    return 1;
  }
  (*nodes)->SetLoginPenalty(*penalty);

  SessionEnv env;
  env.config = &*config;
  env.nodes = nodes->get();
  env.hostname = node->domain;
  env.directory = directory.get();
  env.clock = *clock;
  // SMTP in: a user the sender node confirmed at RCPT is not asked about
  // again for a minute (the node re-checks every recipient at DATA anyway).
  KnownRecipients known_recipients(absl::Seconds(60), 10000);
  env.known_recipients = &known_recipients;
  // SMTP in: messages that sessions finish at the same moment go to the
  // sender node in one BridgeBatch call (gateway/bridge_batcher.h).
  BridgeBatcher bridge_batcher(NodeBridgeTransport(env.nodes), BridgeBatcher::Options());
  env.bridge_batcher = &bridge_batcher;

  struct Kind {
    const char* name;
    const std::string& listen;
    bool implicit_tls;
    const char* busy;
    void (*serve)(Conn&, const SessionEnv&);
  };
  const Kind kinds[] = {
      {"imap", config->imap_listen, false, "* BYE [UNAVAILABLE] too many connections\r\n",
       ServeImap},
      {"imaps", config->imaps_listen, true, "* BYE [UNAVAILABLE] too many connections\r\n",
       ServeImap},
      {"pop3", config->pop3_listen, false, "-ERR [SYS/TEMP] too many connections\r\n", ServePop3},
      {"pop3s", config->pop3s_listen, true, "-ERR [SYS/TEMP] too many connections\r\n",
       ServePop3},
      {"submission", config->submission_listen, false,
       "421 4.7.0 too many connections, try again later\r\n", ServeSubmission},
      {"smtp", config->smtp_listen, false, "421 4.7.0 too many connections, try again later\r\n",
       ServeSmtpIn},
  };
  std::vector<std::unique_ptr<Listener>> listeners;
  for (const Kind& k : kinds) {
    if (k.listen.empty()) continue;
    ListenerSpec spec;
    spec.name = k.name;
    spec.listen = k.listen;
    spec.implicit_tls = k.implicit_tls;
    spec.max_connections = config->max_connections;
    spec.idle_timeout = config->idle_timeout;
    spec.busy_reply = k.busy;
    auto serve = k.serve;
    spec.serve = [serve, &env](Conn& conn) { serve(conn, env); };
    auto l = Listener::Start(std::move(spec), tls.get());
    if (!l.ok()) {
      PM_LOG(ERROR) << k.name << ": " << l.status();
      return 1;
    }
    PM_LOG(INFO) << k.name << " on " << (*l)->address()
                 << (tls ? "" : " (no TLS: passwords only if allow_plaintext_auth)");
    listeners.push_back(std::move(*l));
  }
  std::unique_ptr<RelayServer> relay;
  if (!config->relay_listen.empty()) {
    RelayOptions ro;
    ro.domain = node->domain;
    ro.smarthost = config->smarthost;
    ro.max_message_bytes = config->max_message_bytes;
    ro.tls = &node->tls;
    ro.directory = directory.get();
    ro.clock = *clock;
    auto r = RelayServer::Start(config->relay_listen, std::move(ro));
    if (!r.ok()) {
      PM_LOG(ERROR) << "relay: " << r.status();
      return 1;
    }
    relay = std::move(*r);
    PM_LOG(INFO) << "relay (SMTP out) on " << relay->address() << " to "
                 << (config->smarthost.empty() ? "(no smarthost: mail to legacy domains bounces)"
                                               : config->smarthost);
  }
  if (listeners.empty() && relay == nullptr) {
    PM_LOG(ERROR) << path << ": [gateway] has no listener (imap_listen, pop3_listen, ...)";
    return 1;
  }
  for (const auto& l : listeners) std::printf("READY %s\n", l->address().c_str());
  if (relay != nullptr) std::printf("READY %s\n", relay->address().c_str());
  std::fflush(stdout);

  int sig = WaitForShutdownSignal();
  PM_LOG(INFO) << "signal " << sig << ": shutting down";
  for (auto& l : listeners) l->Stop();
  if (relay != nullptr) relay->Stop();
  return 0;
}

}  // namespace
}  // namespace pullmail::gateway

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // locks among them) would record a stack trace and update a global lock
  // graph on each acquisition, looking for lock-order cycles. That is a
  // debugging aid; production nodes run without it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Bodies (up to 64 MiB) pass through the sessions' threads. glibc raises
  // its mmap threshold to the size of each large block freed (up to 32 MiB),
  // after which such bodies come from the threads' heaps, whose freed middle
  // is never returned: the 50-client soak saw the gateway's RSS climb. A
  // fixed threshold keeps every block above 1 MiB in its own mapping,
  // returned to the system when freed (a ReadSet stream's 256 KiB messages
  // stay below it: a mapping each cost page faults).
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  pullmail::SetProgramHelp(
      "pullmail-gateway --config DIR/node.toml\n\n"
      "Classic mail protocols for one pullmail domain's users, so that Thunderbird,\n"
      "mutt, fetchmail and other IMAP/POP3/SMTP clients work unchanged:\n"
      "  IMAP4rev1 (STARTTLS) on [gateway] imap_listen, implicit TLS on imaps_listen\n"
      "  POP3 (STLS) on pop3_listen, implicit TLS on pop3s_listen\n"
      "  SMTP submission (STARTTLS + AUTH) on submission_listen\n"
      "  SMTP in from other mail servers (the domain's MX, STARTTLS) on smtp_listen\n"
      "  SMTP out: the sender node's mail for legacy domains, on relay_listen (gRPC),\n"
      "  relayed by SMTP to [gateway] smarthost\n"
      "Mailboxes are the recipient node's; submissions go to the sender node.\n"
      "Prints 'READY <address>' per listener once serving; stops on SIGTERM/SIGINT.\n"
      "Logging: PULLMAIL_LOG_LEVEL=debug|info|warning|error.\n"
      "Test runs: --clock_speed=S [--clock_origin=UNIX_SECONDS] compress time.",
      "gateway/main.cc");
  pullmail::BlockShutdownSignals();
  absl::ParseCommandLine(argc, argv);
  pullmail::SetLogProgramName("pullmail-gateway");
  std::string path = absl::GetFlag(FLAGS_config);
  if (path.empty()) {
    std::fprintf(stderr, "pullmail-gateway: --config is required (see --help)\n");
    return 1;
  }
  // Free heap pages go back to the system every 10 s (rpc/memory_trim.h:
  // under many concurrent calls glibc's arenas kept tens of MB of freed
  // memory resident).
  pullmail::MemoryTrimmer trimmer(absl::Seconds(10));
  return pullmail::gateway::Run(path);
}
