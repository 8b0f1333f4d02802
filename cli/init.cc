// `pullmail init` (see init.h): keys, certificates, node.toml and the
// directory entry of one domain.
#include "cli/init.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/keys.h"
#include "core/config/gateway_config.h"
#include "core/config/node_config.h"
#include "core/crypto/ed25519.h"
#include "core/crypto/encoding.h"
#include "core/directory/toml_directory.h"
#include "core/util/limits.h"
#include "core/util/random.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "rpc/certs.h"

namespace pullmail::cli {
namespace fs = std::filesystem;
namespace {

constexpr char kKeyId[] = "k1";

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(AV(what), " ", path, ": ", strerror(errno)));
}

// Letters, digits, '-' and '.', as in a DNS host name; also keeps the name
// safe to use as a folder name.
absl::Status ValidateDomain(const std::string& d) {
  if (d.empty() || d.size() > limits::kMaxDomain || d.front() == '.' || d.back() == '.' ||
      d.front() == '-') {
    return absl::InvalidArgumentError(absl::StrCat("bad domain name '", d, "'"));
  }
  for (char c : d) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad domain name '", d, "': only letters, digits, '-' and '.'"));
    }
  }
  if (d.find("..") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("bad domain name '", d, "'"));
  }
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path, int mode = 0755) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("mkdir ", path, ": ", ec.message()));
  chmod(path.c_str(), mode);
  return absl::OkStatus();
}

std::string PortOf(const std::string& host_port) {
  size_t colon = host_port.rfind(':');
  return colon == std::string::npos ? "" : host_port.substr(colon + 1);
}

std::string NodeToml(const InitOptions& o, int rport, int sport, int rmport, int smport,
                     int imap_port, int pop3_port, int submission_port, int smtp_port,
                     int relay_port) {
  return absl::StrCat(
      "# pullmail node configuration for ", o.domain, ", written by `pullmail init`.\n",
      "# Both of the domain's nodes read this file (format: core/config/node_config.h).\n",
      "domain = \"", o.domain, "\"\n",
      "data_dir = \"data\"\n",
      o.database.empty() ? std::string()
                         : absl::StrCat("database = \"", o.database,
                                        "\"  # PostgreSQL: shared by replicas\n"),
      "directory = \"../directory.toml\"\n",
      "key_id = \"", kKeyId, "\"\n",
      "signing_key = \"keys/signing.pem\"\n",
      "\n[tls]\n",
      "plaintext = ", o.plaintext ? "true  # loopback only" : "false", "\n",
      "ca = \"../ca/ca.pem\"\n",
      "cert = \"tls/node.pem\"\n",
      "key = \"tls/node.key\"\n",
      "\n[sender]\n",
      "listen = \"127.0.0.1:", sport, "\"\n",
      "metrics_listen = \"127.0.0.1:", smport, "\"\n",
      "retention_hours = ", o.retention_hours, "\n",
      "\n[recipient]\n",
      "listen = \"127.0.0.1:", rport, "\"\n",
      "metrics_listen = \"127.0.0.1:", rmport, "\"\n",
      "prefetch_before_expiry_hours = 24\n",
      "\n[recipient.policy]  # docs/POLICY.md explains every parameter\n",
      "spam_threshold_k = 3.0\n",
      "# Holding mail from domains this node has never seen is opt-in: a fresh\n",
      "# federation would otherwise hold everyone's first mail for hold_period.\n",
      "hold_new_domains = false\n",
      "# Trusted peers whose spam reports count, with their weight:\n",
      "# peer_weights = { \"c.example\" = 0.5 }\n",
      "\n[gateway]  # pullmail-gateway: IMAP, POP3, SMTP submission, SMTP in (docs/GATEWAY.md)\n",
      "imap_listen = \"127.0.0.1:", imap_port, "\"\n",
      "pop3_listen = \"127.0.0.1:", pop3_port, "\"\n",
      "submission_listen = \"127.0.0.1:", submission_port, "\"\n",
      "# SMTP in: other mail servers deliver to this domain's users here (its MX)\n",
      "smtp_listen = \"127.0.0.1:", smtp_port, "\"\n",
      "# SMTP out: the sender node hands mail for legacy domains to this relay\n",
      "# (gRPC, node certificate), which sends it by SMTP to the smarthost.\n",
      "relay_listen = \"127.0.0.1:", relay_port, "\"\n",
      "# smarthost = \"mail.isp.example:25\"  # unset: mail to legacy domains bounces\n");
}

// Creates `path` with 32 random bytes, mode 0600, unless it exists.
absl::Status EnsureTokenKey(const std::string& path, bool* created) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return absl::OkStatus();
    return ErrnoError("create", path);
  }
  std::string key = SecureRandom().Bytes(32);
  bool ok = write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok) return ErrnoError("write", path);
  *created = true;
  return absl::OkStatus();
}

}  // namespace

// Rewrites the directory file at `path` with `entry` added or replaced,
// under an exclusive lock (DIR/.directory.lock) so that two writers of one
// file do not lose each other's entry.
absl::Status UpdateDirectoryFile(const std::string& path, const DomainEntry& entry) {
  std::string lock_path = (fs::path(path).parent_path() / ".directory.lock").string();
  int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0) return ErrnoError("open", lock_path);
  struct Unlock {
    int fd;
    ~Unlock() { close(fd); }  // closing releases the flock
  } unlock{lock};
  if (flock(lock, LOCK_EX) != 0) return ErrnoError("lock", lock_path);

  MemoryDirectory dir;
  if (fs::exists(path)) {
    ASSIGN_OR_RETURN(auto existing, LoadTomlDirectory(path));
    for (DomainEntry& e : existing->All()) dir.Add(std::move(e));
  }
  dir.Add(entry);
  std::string text =
      "# The pullmail directory of this federation: every domain's endpoints and\n"
      "# public keys (format: core/directory/toml_directory.h). `pullmail init`\n"
      "# adds or refreshes a domain's entry; nodes read it when they start.\n";
  for (const DomainEntry& e : dir.All()) absl::StrAppend(&text, "\n", FormatTomlDirectoryEntry(e));
  return WriteFileAtomically(path, text, 0644);
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!fs::exists(path)) return absl::NotFoundError(absl::StrCat("no such file: ", path));
    return absl::UnavailableError(absl::StrCat("cannot read ", path));
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view data, int mode) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("create", tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      unlink(tmp.c_str());
      return ErrnoError("write", tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    close(fd);
    unlink(tmp.c_str());
    return ErrnoError("fsync", tmp);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return ErrnoError("rename", path);
  }
  return absl::OkStatus();
}

namespace {

// Whether 127.0.0.1:port can be bound now (0 asks the kernel for one; the
// port bound is returned through `port`).
bool CanBind(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(*port));
  socklen_t len = sizeof(a);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(fd);
  if (ok) *port = ntohs(a.sin_port);
  return ok;
}

// The lowest port the kernel hands out for outgoing connections
// (/proc/sys/net/ipv4/ip_local_port_range; 32768 by default).
int EphemeralLow() {
  int low = 32768, high = 60999;
  if (FILE* f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (fscanf(f, "%d %d", &low, &high) != 2) low = 32768;
    fclose(f);
  }
  return low;
}

}  // namespace

// Claims `port` for this process among every PickFreePort caller on the
// machine: a file per port in TMPDIR/pullmail-ports, made with O_EXCL. A
// claim older than kClaimLifetime is stale and may be taken over.
static bool ClaimPort(int port) {
  constexpr int kClaimLifetimeSeconds = 30 * 60;
  const char* tmp = getenv("TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/pullmail-ports");
  mkdir(dir.c_str(), 01777);
  std::string path = absl::StrCat(dir, "/", port);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    close(fd);
    return true;
  }
  struct stat st {};
  if (errno != EEXIST || stat(path.c_str(), &st) != 0) return false;
  if (time(nullptr) - st.st_mtime < kClaimLifetimeSeconds) return false;
  return utime(path.c_str(), nullptr) == 0;  // stale: take it over
}

absl::StatusOr<int> PickFreePort() {
  // Below the ephemeral range: a port picked there (bind to 0) can be taken
  // by any outgoing connection before the node binds it, which happens when
  // many nodes and clients start at once (tests run in parallel). Ports
  // below it are taken only by listeners that ask for them, and a claim file
  // keeps two concurrent pickers (two tests' `pullmail init`) from choosing
  // the same one before either has bound it.
  const int high = EphemeralLow();
  const int low = 10000;
  if (high - low >= 1000) {
    uint64_t seed = 0;
    std::string r = SecureRandom().Bytes(sizeof seed);
    std::memcpy(&seed, r.data(), sizeof seed);
    for (int attempt = 0; attempt < 500; ++attempt) {
      int port = low + static_cast<int>((seed + static_cast<uint64_t>(attempt) * 7919) %
                                        static_cast<uint64_t>(high - low));
      int bound = port;
      if (CanBind(&bound) && ClaimPort(port)) return port;
    }
  }
  int port = 0;
  if (!CanBind(&port)) return absl::UnavailableError(absl::StrCat("bind 127.0.0.1:0: ", strerror(errno)));
  return port;
}

absl::StatusOr<InitResult> InitDomain(const InitOptions& options) {
  InitOptions o = options;
  o.domain = absl::AsciiStrToLower(o.domain);
  RETURN_IF_ERROR(ValidateDomain(o.domain));
  if (o.root.empty()) return absl::InvalidArgumentError("--root is required");
  o.root = fs::absolute(o.root).lexically_normal().string();
  if (!o.root.empty() && o.root.back() == '/' && o.root.size() > 1) o.root.pop_back();

  InitResult r;
  std::string ddir = o.root + "/" + o.domain;
  RETURN_IF_ERROR(MakeDirs(o.root));
  RETURN_IF_ERROR(MakeDirs(ddir));
  RETURN_IF_ERROR(MakeDirs(ddir + "/keys", 0700));
  RETURN_IF_ERROR(MakeDirs(ddir + "/tls", 0700));
  RETURN_IF_ERROR(MakeDirs(ddir + "/data", 0700));

  // The CA (once per root) and this domain's TLS certificate.
  std::string ca_dir = o.root + "/ca";
  bool had_ca = fs::exists(ca_dir + "/ca.pem");
  RETURN_IF_ERROR(MakeDirs(ca_dir, 0700));
  RETURN_IF_ERROR(EnsureCertificateAuthority(ca_dir));
  if (!had_ca) r.created.push_back(ca_dir + "/ca.pem");
  std::string cert = ddir + "/tls/node.pem";
  std::string cert_key = ddir + "/tls/node.key";
  if (!fs::exists(cert) || !fs::exists(cert_key)) {
    RETURN_IF_ERROR(IssueNodeCertificate(ca_dir, o.domain, cert, cert_key));
    r.created.push_back(cert);
  }

  // The signing key.
  std::string key_path = ddir + "/keys/signing.pem";
  std::optional<SigningKey> key;
  if (fs::exists(key_path)) {
    ASSIGN_OR_RETURN(SigningKey k, SigningKey::LoadPem(key_path));
    key.emplace(std::move(k));
  } else {
    ASSIGN_OR_RETURN(SigningKey k, SigningKey::Generate());
    RETURN_IF_ERROR(k.SavePem(key_path));
    key.emplace(std::move(k));
    r.created.push_back(key_path);
  }
  r.public_key_base64 = Base64Encode(key->PublicKey());

  // The bearer-token secret shared by the domain's two nodes.
  bool token_created = false;
  RETURN_IF_ERROR(EnsureTokenKey(ddir + "/data/token.key", &token_created));
  if (token_created) r.created.push_back(ddir + "/data/token.key");

  // node.toml: kept if present (its ports are what the directory must list).
  r.config_path = ddir + "/node.toml";
  if (!fs::exists(r.config_path)) {
    int ports[9] = {o.recipient_port, o.sender_port, o.recipient_metrics_port,
                    o.sender_metrics_port, 0, 0, 0, 0, 0};
    for (int& p : ports) {
      if (p != 0) continue;
      // Ports picked one after another can repeat only if the kernel hands
      // the same one out twice; retry in that case.
      for (int attempt = 0; attempt < 20 && p == 0; ++attempt) {
        ASSIGN_OR_RETURN(int candidate, PickFreePort());
        bool dup = false;
        for (int q : ports) dup = dup || q == candidate;
        if (!dup) p = candidate;
      }
      if (p == 0) return absl::UnavailableError("could not pick nine distinct free ports");
    }
    RETURN_IF_ERROR(WriteFileAtomically(
        r.config_path, NodeToml(o, ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6],
                                  ports[7], ports[8]),
        0644));
    r.created_config = true;
    r.created.push_back(r.config_path);
  }
  ASSIGN_OR_RETURN(NodeConfig config, LoadNodeConfig(r.config_path));
  if (config.domain != o.domain) {
    return absl::FailedPreconditionError(absl::StrCat(
        r.config_path, " is for domain ", config.domain, ", not ", o.domain));
  }
  auto check_port = [&](int asked, const std::string& listen, const char* what) -> absl::Status {
    if (asked != 0 && PortOf(listen) != std::to_string(asked)) {
      return absl::FailedPreconditionError(absl::StrCat(
          r.config_path, " exists and its ", what, " is ", listen, ", not port ", asked,
          "; edit it or remove it first"));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(check_port(o.recipient_port, config.recipient_listen, "recipient listen"));
  RETURN_IF_ERROR(check_port(o.sender_port, config.sender_listen, "sender listen"));
  r.recipient_listen = config.recipient_listen;
  r.sender_listen = config.sender_listen;
  r.recipient_metrics_listen = config.recipient_metrics_listen;
  r.sender_metrics_listen = config.sender_metrics_listen;
  ASSIGN_OR_RETURN(GatewayConfig gateway, ParseGatewayConfig(config));
  r.imap_listen = gateway.imap_listen;
  r.pop3_listen = gateway.pop3_listen;
  r.submission_listen = gateway.submission_listen;
  r.smtp_listen = gateway.smtp_listen;
  r.relay_listen = gateway.relay_listen;

  // The key the nodes sign with (after `pullmail key rotate`, not
  // keys/signing.pem) and the older keys still published.
  std::vector<std::string> order;
  ASSIGN_OR_RETURN(DomainEntry entry, PublishedEntryOf(config, absl::Now(), &order));
  r.public_key_base64 = Base64Encode(entry.keys[config.key_id]);
  RETURN_IF_ERROR(UpdateDirectoryFile(o.root + "/directory.toml", entry));
  return r;
}

}  // namespace pullmail::cli
