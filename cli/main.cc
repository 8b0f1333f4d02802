// pullmail: the command a person types. It sets up a domain (`init`, `user
// add`), sends and reads mail as a user of that domain (`send`, `list`,
// `read`, `flag`, `move`, `delete`, `report`, `revoke`), shows what the
// domain's nodes are doing (`status`), and runs the loopback demo (`demo`).
//
// Commands are dispatched from one table (words, arguments, options, help,
// handler), as Postfix dispatches SMTP verbs; each handler lives in
// commands.cc, demo.cc or debug.cc and returns the exit code (client.h).
//
// SECURITY: passwords come from --password or PULLMAIL_PASSWORD (prefer the
// latter: argv is visible to other local users); `init` writes private keys
// and the token secret with mode 0600; every call goes over TLS unless the
// domain's node.toml says plaintext (loopback only).
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/args.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/keys.h"
#include "core/util/logging.h"

namespace pullmail::cli {
namespace {

struct Command {
  std::vector<std::string> words;  // e.g. {"user", "add"}
  std::string arguments;           // positional arguments, for the usage line
  std::string summary;             // one line
  std::string details;             // more help text, may be empty
  std::vector<OptionSpec> options;
  int (*run)(const Args&);
  bool hidden = false;
};

std::vector<OptionSpec> With(std::vector<OptionSpec> base, std::vector<OptionSpec> more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

const std::vector<Command>& Commands() {
  static const auto* kCommands = new std::vector<Command>{
      {{"init"}, "", "create a domain: keys, TLS certificate, node.toml, directory entry",
       "Creates (keeping what exists) ROOT/ca/, ROOT/DOMAIN/{node.toml,keys,tls,data} and\n"
       "the domain's entry in ROOT/directory.toml. Free loopback ports are picked\n"
       "unless given. Run it once per domain with the same --root to build a federation.",
       {{"root", true, "the federation's folder (shared CA and directory)", "DIR"},
        {"domain", true, "the domain to create, e.g. a.example", "DOMAIN"},
        {"recipient-port", true, "recipient node gRPC port (default: a free one)", "PORT"},
        {"sender-port", true, "sender node gRPC port (default: a free one)", "PORT"},
        {"recipient-metrics-port", true, "recipient node /metrics port", "PORT"},
        {"sender-metrics-port", true, "sender node /metrics port", "PORT"},
        {"retention-hours", true, "how long bodies are kept (default 720)", "HOURS"},
        {"plaintext", false, "no TLS (loopback only; the nodes warn loudly)"},
        {"database", true,
         "keep the stores in PostgreSQL, shared by replicas (docs/SCALE-OUT.md)", "URL"},
        {"json", false, "print JSON instead of text"}},
       &RunInit},
      {{"user", "add"}, "ADDRESS", "add a user to the domain (password from --password or env)",
       "Writes the scrypt hash of the password to DATA_DIR/users.db, which both of the\n"
       "domain's nodes read. --update changes the password of an existing user.",
       {{"config", true, "the domain's node.toml", "FILE"},
        {"password", true, "the new user's password (or set PULLMAIL_PASSWORD)", "PASSWORD"},
        {"update", false, "change the password if the user exists"},
        {"json", false, "print JSON instead of text"}},
       &RunUserAdd},
      {{"user", "list"}, "", "list the domain's users", "",
       {{"config", true, "the domain's node.toml", "FILE"},
        {"json", false, "print JSON instead of text"}},
       &RunUserList},
      {{"key", "rotate"}, "", "make a new signing key; the old one stays published while needed",
       "Generates KEYS_DIR/<id>.pem (id: --key-id, or k<N+1>), makes it the key both\n"
       "nodes sign with (node.toml key_id, signing_key) and records the replaced key in\n"
       "KEYS_DIR/published.toml, published until every notification it signed has\n"
       "expired (sender retention + 5 minutes' clock skew). A TOML directory file the\n"
       "domain uses is updated. Then publish `pullmail dns-records` and restart both\n"
       "nodes (docs/DNS.md).",
       {{"config", true, "the domain's node.toml", "FILE"},
        {"key-id", true, "id of the new key (one DNS label: a-z, 0-9, '-')", "ID"},
        {"json", false, "print JSON instead of text"}},
       &RunKeyRotate},
      {{"key", "revoke"}, "KEY_ID", "withdraw an older key now (e.g. compromised)",
       "Removes KEY_ID from KEYS_DIR/published.toml (and from a TOML directory file the\n"
       "domain uses). Once the zone without it is served and its TTL has passed,\n"
       "receivers reject everything it signed with unknown_key, also notifications\n"
       "still queued. The signing key itself cannot be revoked: rotate first.",
       {{"config", true, "the domain's node.toml", "FILE"}},
       &RunKeyRevoke},
      {{"key", "list"}, "", "the domain's keys: the signing key and the older published ones", "",
       {{"config", true, "the domain's node.toml", "FILE"},
        {"json", false, "print JSON instead of text"}},
       &RunKeyList},
      {{"dns-records"}, "", "print the DNS zone lines that publish this domain",
       "Prints the TXT records of docs/PROTOCOL.md 5.2 in zone-file syntax: the domain\n"
       "record _pullmail.DOMAIN (endpoints, key ids newest first) and one\n"
       "ID._pmkey.DOMAIN record per published key. Endpoints default to the nodes'\n"
       "listen addresses; give the public names with --recipient-endpoint and\n"
       "--sender-endpoint. Paste the lines into the domain's zone (docs/DNS.md).",
       {{"config", true, "the domain's node.toml", "FILE"},
        {"ttl", true, "TTL of the records in seconds (default 300)", "SECONDS"},
        {"recipient-endpoint", true, "public host:port of the recipient node", "HOST:PORT"},
        {"sender-endpoint", true, "public host:port of the sender node", "HOST:PORT"}},
       &RunDnsRecords},
      {{"send"}, "", "send a message (composed from flags, or RFC 5322 from a file or stdin)",
       "With --subject/--body the message is composed for you. Otherwise the RFC 5322\n"
       "message is read from --file (or stdin, `--file -`) and, without --to, the\n"
       "recipients are taken from its To and Cc fields.",
       With(ClientOptions(),
            {{"to", true, "a recipient (repeat for more)", "ADDRESS"},
             {"subject", true, "subject of a composed message", "TEXT"},
             {"body", true, "body of a composed message", "TEXT"},
             {"file", true, "an RFC 5322 message to send ('-' = stdin)", "FILE"},
             {"idempotency-key", true,
              "key of this message (default: a fresh one); sending again with the same key "
              "stores and delivers it once",
              "KEY"}}),
       &RunSend},
      {{"list"}, "", "list a folder (no body moves: a listing needs only notifications)",
       "Columns: UID, flags (N new, F flagged, A answered, D deleted), size, where the\n"
       "body is (here = cached at your node, remote = still at the sender's node),\n"
       "From and Subject. --junk lists the Junk folder with why each message is there.\n"
       "Before From, a mark says what your node verified of the author: none when the\n"
       "From: domain is the signing domain's, '!' when it is not (a forged From:), '~'\n"
       "for mail bridged from SMTP (From: unverified), '?' when there is no From:.",
       With(ClientOptions(),
            {{"folder", true, "folder to list (default INBOX)", "FOLDER"},
             {"junk", false, "list the Junk folder, with reasons"},
             {"limit", true, "at most this many messages", "N"}}),
       &RunList},
      {{"read"}, "UID", "print a message (the first read fetches the body from the sender)",
       "The body goes to stdout; a summary line to stderr says whether it was fetched\n"
       "from the sender's node or served from your node's cache. Exit 3 when the\n"
       "sender's node is unavailable (nothing is printed then).",
       With(ClientOptions(),
            {{"folder", true, "folder (default INBOX)", "FOLDER"},
             {"peek", false, "do not mark the message \\Seen"}}),
       &RunRead},
      {{"flag"}, "UID [+FLAG|-FLAG]...", "set or clear flags, e.g. flag 3 +\\Flagged -\\Seen", "",
       With(ClientOptions(), {{"folder", true, "folder (default INBOX)", "FOLDER"}}), &RunFlag},
      {{"move"}, "UID", "move a message to another folder (created if missing)", "",
       With(ClientOptions(),
            {{"to", true, "destination folder", "FOLDER"},
             {"folder", true, "source folder (default INBOX)", "FOLDER"}}),
       &RunMove},
      {{"delete"}, "UID", "delete a message (\\Deleted, then expunge that UID)", "",
       With(ClientOptions(), {{"folder", true, "folder (default INBOX)", "FOLDER"}}), &RunDelete},
      {{"report"}, "UID spam|not-spam", "report a message as spam or not spam",
       "Reports feed the recipient node's spam policy: enough reports on one body\n"
       "suppress its unread copies for everyone at this domain.",
       With(ClientOptions(), {{"folder", true, "folder (default INBOX)", "FOLDER"},
                              {"arf", true, "also write an RFC 5965 ARF report ('-' = stdout)",
                               "FILE"}}),
       &RunReport},
      {{"revoke"}, "MESSAGE_ID", "recall a message you sent that has not been read yet", "",
       With(ClientOptions(), {{"reason", true, "a note for the recipients' operators", "TEXT"}}),
       &RunRevoke},
      {{"status"}, "", "the domain's two nodes: up or down, counters, your sent mail's delivery",
       "Reads both nodes' /metrics; with --user also lists your sent messages and the\n"
       "delivery state per recipient domain (queued, delivered, fetched, bounced).\n"
       "Exit 3 if a node is down.",
       ClientOptions(), &RunStatus},
      {{"demo"}, "", "run the two-domain loopback demo and narrate it",
       "Builds a.example and b.example in a temporary folder, starts their four nodes\n"
       "(pullmail-sender and pullmail-recipient, found next to this program or in\n"
       "--bin-dir), sends mail both ways, and shows with byte counters that bodies\n"
       "move only when read, are cached, and that a downed sender gives a clean\n"
       "UNAVAILABLE. Then a spam campaign to ten users at b.example: two early\n"
       "readers report it, and the other eight never see it nor cause a fetch.\n"
       "Exit 0 only if every step did what it says.",
       {{"dir", true, "use this (new or empty) folder instead of a temporary one", "DIR"},
        {"keep", false, "keep the folder afterwards"},
        {"bin-dir", true, "build folder holding sender-node/ and recipient-node/", "DIR"}},
       &RunDemo},
      {{"debug", "notify"}, "", "test support: send a crafted notification",
       "", With(ClientOptions(),
                {{"to", true, "recipient address", "ADDRESS"},
                 {"times", true, "send the same signed bytes N times", "N"},
                 {"random-key", false, "sign with a fresh key no directory lists"},
                 {"key-id", true, "key id to put in the envelope", "ID"},
                 {"message-id", true, "message id", "ID"},
                 {"from", true, "envelope sender", "ADDRESS"},
                 {"bridged", false, "origin ORIGIN_BRIDGED_SMTP (as a gateway sends)"},
                 {"raw", false, "sign the payload as is, skipping the signer's checks"},
                 {"body", true, "body whose size and hash to announce", "TEXT"},
                 {"body-sha256-hex", true, "announce this body hash instead (hex)", "HEX"},
                 {"body-size", true, "with --body-sha256-hex: the size to announce", "N"}}),
       &RunDebugNotify, true},
      {{"debug", "fetch"}, "", "test support: fetch a body as a recipient node would",
       "", With(ClientOptions(),
                {{"from-domain", true, "the sender's domain", "DOMAIN"},
                 {"message-id", true, "message id", "ID"},
                 {"token-hex", true, "fetch token, hex", "HEX"},
                 {"recipient-domain", true, "domain the token is for (default: --config's)", "D"},
                 {"offset", true, "resume offset", "N"}}),
       &RunDebugFetch, true},
      {{"debug", "share-report"}, "", "test support: share a signed spam report with a peer",
       "", With(ClientOptions(),
                {{"to-domain", true, "the peer whose recipient node gets it", "DOMAIN"},
                 {"message-id", true, "the reported message's id", "ID"},
                 {"message-signing-domain", true, "the domain that signed it", "DOMAIN"},
                 {"body-sha256-hex", true, "the reported body's SHA-256, hex", "HEX"},
                 {"verdict", true, "spam (default) or not-spam", "VERDICT"},
                 {"reports", true, "how many local users the report stands for", "N"},
                 {"report-id", true, "report id (default: a fresh one)", "ID"},
                 {"times", true, "send the same signed bytes N times", "N"},
                 {"random-key", false, "sign with a fresh key no directory lists"},
                 {"key-id", true, "key id to put in the envelope", "ID"},
                 {"as-abuse", false, "send it to the domain's sender node (ReportAbuse)"},
                 {"reporter-domain", true, "reporter_domain as written (default: this domain)",
                  "DOMAIN"}}),
       &RunDebugShareReport, true},
      {{"debug", "revoke"}, "", "test support: send a signed revocation to a recipient node",
       "", With(ClientOptions(),
                {{"to-domain", true, "the domain whose recipient node gets it", "DOMAIN"},
                 {"message-id", true, "the revoked message's id", "ID"},
                 {"times", true, "send the same signed bytes N times", "N"}}),
       &RunDebugRevoke, true},
  };
  return *kCommands;
}

void PrintUsage(std::ostream& out) {
  out << "usage: pullmail COMMAND [options]   (pullmail COMMAND --help for more)\n\n"
         "pullmail is a pull-based mail transport: a message's body stays on its\n"
         "sender's node until someone reads it.\n\ncommands:\n";
  for (const Command& c : Commands()) {
    if (c.hidden) continue;
    std::string left = absl::StrCat("  ", absl::StrJoin(c.words, " "),
                                    c.arguments.empty() ? "" : " " + c.arguments);
    if (left.size() < 28) left.resize(28, ' ');
    out << left << " " << c.summary << "\n";
  }
  out << "\nexit codes: 0 ok, 1 usage or local error, 2 the server said no, 3 unavailable\n"
         "start here: pullmail demo\n";
}

void PrintCommandHelp(const Command& c, std::ostream& out) {
  out << "usage: pullmail " << absl::StrJoin(c.words, " ")
      << (c.arguments.empty() ? "" : " " + c.arguments) << " [options]\n\n"
      << c.summary << "\n";
  if (!c.details.empty()) out << "\n" << c.details << "\n";
  out << "\noptions:\n" << FormatOptionHelp(c.options);
}

}  // namespace
}  // namespace pullmail::cli

int main(int argc, char** argv) {
  using namespace pullmail::cli;
  pullmail::SetLogProgramName("pullmail");
  // The command's own output is what a person reads; library chatter (e.g.
  // "migrated schema") only with PULLMAIL_LOG_LEVEL=info or debug.
  if (std::getenv("PULLMAIL_LOG_LEVEL") == nullptr) {
    pullmail::SetMinLogLevel(pullmail::LogLevel::kWarning);
  }
  std::vector<std::string> rest(argv + 1, argv + argc);
  if (rest.empty() || rest[0] == "--help" || rest[0] == "-h" || rest[0] == "help") {
    PrintUsage(rest.empty() ? std::cerr : std::cout);
    return rest.empty() ? kExitUsage : kExitOk;
  }
  // The longest run of leading words that names a command.
  const Command* found = nullptr;
  for (const Command& c : Commands()) {
    if (rest.size() < c.words.size()) continue;
    bool match = std::equal(c.words.begin(), c.words.end(), rest.begin());
    if (match && (found == nullptr || c.words.size() > found->words.size())) found = &c;
  }
  if (found == nullptr) {
    // "pullmail user" alone (or "pullmail user --help"): show that group.
    std::vector<const Command*> group;
    for (const Command& c : Commands()) {
      if (c.words.size() > 1 && c.words[0] == rest[0] && !c.hidden) group.push_back(&c);
    }
    bool asked = rest.size() > 1 && (rest[1] == "--help" || rest[1] == "-h");
    if (!group.empty()) {
      std::ostream& out = asked ? std::cout : std::cerr;
      if (!asked && rest.size() > 1) out << "pullmail: unknown command '" << rest[0] << " " << rest[1] << "'\n";
      for (const Command* c : group) {
        out << "  pullmail " << absl::StrJoin(c->words, " ")
            << (c->arguments.empty() ? "" : " " + c->arguments) << "    " << c->summary << "\n";
      }
      return asked ? kExitOk : kExitUsage;
    }
    std::cerr << "pullmail: unknown command '" << rest[0] << "'\n\n";
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  std::vector<std::string> tail(rest.begin() + static_cast<long>(found->words.size()), rest.end());
  auto args = Args::Parse(tail, found->options);
  if (!args.ok()) {
    std::cerr << "pullmail " << absl::StrJoin(found->words, " ") << ": " << args.status().message()
              << "\n\n";
    PrintCommandHelp(*found, std::cerr);
    return kExitUsage;
  }
  if (args->Has("help")) {
    PrintCommandHelp(*found, std::cout);
    return kExitOk;
  }
  return found->run(*args);
}
