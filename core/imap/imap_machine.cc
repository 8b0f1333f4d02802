// The IMAP session machine (see imap_machine.h): input framing, the command
// table, and one handler per command. Responses follow RFC 3501 section 7;
// the RFC section each handler implements is named at the handler.
#include "core/imap/imap_machine.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/crypto/encoding.h"
#include "core/imap/imap_format.h"
#include "core/imap/imap_mime.h"
#include "core/imap/imap_reply.h"
#include "core/mail/flags.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

constexpr char kSystemFlags[] = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
constexpr char kJunk[] = "Junk";
constexpr char kFetchUnavailable[] =
    "[UNAVAILABLE] the sender's node cannot be reached; try again later";

// RFC 4315 uid-set: "1:3,7".
std::string UidSet(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  std::string out;
  for (size_t i = 0; i < uids.size();) {
    size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += uids[i] == uids[j] ? absl::StrCat(uids[i]) : absl::StrCat(uids[i], ":", uids[j]);
    i = j + 1;
  }
  return out;
}

bool SummaryEmpty(const v1::HeaderSummary& s) {
  return s.from().empty() && s.date().empty() && s.subject().empty() && s.to_size() == 0 &&
         s.message_id().empty();
}

bool Is7Bit(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Whether the summary can stand in for the message's header fields: the
// summary holds decoded text, and a field with 8-bit text would have to be
// re-encoded, which BODY[HEADER] (the raw bytes) would not show. Then the
// real header is read instead (RFC 3501 6.4.5: the same bytes either way).
bool SummaryIs7Bit(const v1::HeaderSummary& s) {
  if (!Is7Bit(s.from()) || !Is7Bit(s.subject()) || !Is7Bit(s.date())) return false;
  for (const std::string& a : s.to()) {
    if (!Is7Bit(a)) return false;
  }
  for (const std::string& a : s.cc()) {
    if (!Is7Bit(a)) return false;
  }
  return true;
}

std::string Literal(std::string_view bytes) {
  return absl::StrCat("{", bytes.size(), "}\r\n", AV(bytes));
}

std::string_view Partial(std::string_view bytes, const FetchAtt& a, std::string* origin) {
  if (!a.partial_start) return bytes;
  *origin = absl::StrCat("<", *a.partial_start, ">");
  if (*a.partial_start >= bytes.size()) return "";
  return bytes.substr(*a.partial_start, a.partial_length);
}

// A FETCH answered from a message's structure and byte ranges (no whole
// body): per attribute, the bytes read for it (nullopt: its section does
// not exist) and, for BINARY, the part's Content-Transfer-Encoding. A
// BODY[section]<partial> other than HEADER.FIELDS has its partial already
// cut (`precut`); HEADER.FIELDS and BINARY read the whole section.
struct Sectioned {
  const MimeEntity* tree = nullptr;
  std::vector<std::optional<std::string>> bytes;  // by attribute index
  std::vector<std::string> encoding;
  std::vector<bool> precut;
};

// RFC 3501 6.4.5 and RFC 3516: the range of the message (`size` bytes,
// tree `root`) that attribute `a` needs, or nullopt when it needs none or
// its section does not exist (*missing set). Sets *encoding for BINARY and
// *precut when the range is already cut to the partial.
std::optional<ByteRange> RangeFor(const FetchAtt& a, const MimeEntity& root, uint64_t size,
                                  std::string* encoding, bool* precut, bool* missing) {
  using K = FetchAtt::Kind;
  using TX = FetchSection::Text;
  *precut = false;
  *missing = false;
  absl::StatusOr<ByteRange> r = absl::NotFoundError("");
  switch (a.kind) {
    case K::kBinary:
    case K::kBinarySize:
      r = BinaryRange(root, size, a.section.part, encoding);
      break;
    case K::kRfc822Header:
    case K::kRfc822Text: {
      FetchSection s;
      s.text = a.kind == K::kRfc822Header ? TX::kHeader : TX::kText;
      r = SectionRange(root, size, s);
      break;
    }
    case K::kBodySection:
      r = SectionRange(root, size, a.section);
      if (r.ok() && a.section.text != TX::kHeaderFields &&
          a.section.text != TX::kHeaderFieldsNot) {
        *precut = true;
        return PartialRange(*r, a.partial_start, a.partial_length);
      }
      break;
    default:
      return std::nullopt;
  }
  if (!r.ok()) {
    *missing = true;
    return std::nullopt;
  }
  return *r;
}

bool IsTagChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && c != '(' && c != ')' && c != '{' && c != '%' && c != '*' &&
         c != '"' && c != '\\' && c != '+';
}

constexpr unsigned kNotAuth = 1u << static_cast<int>(ImapMachine::State::kNotAuthenticated);
constexpr unsigned kAuth = 1u << static_cast<int>(ImapMachine::State::kAuthenticated);
constexpr unsigned kSel = 1u << static_cast<int>(ImapMachine::State::kSelected);
constexpr unsigned kAny = kNotAuth | kAuth | kSel;
constexpr unsigned kLoggedIn = kAuth | kSel;

}  // namespace

// The selected mailbox: the listing in UID order (index = sequence number
// - 1), kept consistent with what this client has been told (RFC 3501
// 7.4.1: a message leaves the sequence only with an EXPUNGE response).
struct ImapMachine::Selected {
  std::string name;
  bool read_only = false;
  uint32_t uid_validity = 0;
  uint32_t uid_next = 0;
  std::vector<v1::MessageInfo> messages;
  std::set<uint32_t> recent;  // UIDs that arrived while selected
  std::set<std::string> keywords;  // announced in FLAGS (RFC 3501 7.2.6)
  bool expunge_pending = false;    // an EXPUNGE was held back (RFC 3501 7.4.1)
  // RFC 7162 HIGHESTMODSEQ of the last listing (0: the node keeps none,
  // NOMODSEQ). Read before the listing's messages, so never ahead of them.
  uint64_t highest_modseq = 0;
  // The folder's HIGHESTMODSEQ as of the last listing `messages` came from,
  // whatever was announced: a refresh asks only for what changed since
  // (0: list the whole folder).
  uint64_t synced_modseq = 0;

  uint32_t max_uid() const { return messages.empty() ? 0 : messages.back().uid(); }
  // Sequence number (1-based) of `uid`, or 0.
  uint32_t SeqOf(uint32_t uid) const {
    auto it = std::lower_bound(messages.begin(), messages.end(), uid,
                               [](const v1::MessageInfo& m, uint32_t u) { return m.uid() < u; });
    if (it == messages.end() || it->uid() != uid) return 0;
    return static_cast<uint32_t>(it - messages.begin()) + 1;
  }
};

// The command table, in the manner of Dovecot's imap-commands.c: name,
// handler, the states it is valid in, flags.
struct ImapMachine::CommandSpec {
  std::string_view name;
  void (ImapMachine::*handler)(const ImapCommand&);
  unsigned states;
  unsigned flags;
};

using M = ImapMachine;
const M::CommandSpec ImapMachine::kCommandTable[] = {
    // RFC 3501 6.1: any state.
    {"CAPABILITY", &M::CmdCapability, kAny, 0},
    {"NOOP", &M::CmdNoop, kAny, 0},
    {"LOGOUT", &M::CmdLogout, kAny, 0},
    {"ID", &M::CmdId, kAny, 0},  // RFC 2971
    // RFC 3501 6.2: not authenticated.
    {"STARTTLS", &M::CmdStartTls, kNotAuth, 0},
    {"LOGIN", &M::CmdLogin, kNotAuth, 0},
    {"AUTHENTICATE", &M::CmdAuthenticate, kNotAuth, 0},
    // RFC 3501 6.3: authenticated (and selected).
    {"ENABLE", &M::CmdEnable, kLoggedIn, 0},  // RFC 5161
    {"SELECT", &M::CmdSelect, kLoggedIn, M::kBreaksSeqs},
    {"EXAMINE", &M::CmdSelect, kLoggedIn, M::kBreaksSeqs},
    {"CREATE", &M::CmdCreate, kLoggedIn, 0},
    {"DELETE", &M::CmdDelete, kLoggedIn, 0},
    {"RENAME", &M::CmdRename, kLoggedIn, 0},
    {"SUBSCRIBE", &M::CmdSubscribe, kLoggedIn, 0},
    {"UNSUBSCRIBE", &M::CmdSubscribe, kLoggedIn, 0},
    {"LIST", &M::CmdList, kLoggedIn, 0},
    {"LSUB", &M::CmdList, kLoggedIn, 0},
    {"NAMESPACE", &M::CmdNamespace, kLoggedIn, 0},  // RFC 2342
    {"STATUS", &M::CmdStatus, kLoggedIn, 0},
    {"APPEND", &M::CmdAppend, kLoggedIn, 0},
    {"IDLE", &M::CmdIdle, kLoggedIn, 0},  // RFC 2177
    // RFC 3501 6.4: selected.
    {"CHECK", &M::CmdCheck, kSel, 0},
    {"CLOSE", &M::CmdClose, kSel, M::kBreaksSeqs},
    {"UNSELECT", &M::CmdClose, kSel, M::kBreaksSeqs},  // RFC 3691
    {"EXPUNGE", &M::CmdExpunge, kSel, M::kBreaksSeqs},
    {"SEARCH", &M::CmdSearch, kSel, M::kUsesSeqs},
    {"SORT", &M::CmdSort, kSel, M::kUsesSeqs},  // RFC 5256
    {"FETCH", &M::CmdFetch, kSel, M::kUsesSeqs},
    {"STORE", &M::CmdStore, kSel, M::kUsesSeqs},
    {"COPY", &M::CmdCopy, kSel, M::kUsesSeqs},
    {"MOVE", &M::CmdCopy, kSel, M::kUsesSeqs | M::kBreaksSeqs},  // RFC 6851
};

const M::CommandSpec* ImapMachine::FindCommand(std::string_view name) {
  for (const M::CommandSpec& c : kCommandTable) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

ImapMachine::ImapMachine(ImapMachineOptions options, ImapMailbox* mailbox, ImapOutput* out)
    : options_(options), mailbox_(mailbox), out_(out), reader_([&] {
        ImapLimits l;
        l.max_line_bytes = options.max_line_bytes;
        l.max_literal_bytes = options.max_message_bytes;
        l.max_command_bytes = options.max_message_bytes + 65536;
        return l;
      }()) {}

ImapMachine::~ImapMachine() = default;

// --- output ---

void ImapMachine::Write(std::string_view bytes) {
  outbuf_.append(bytes.data(), bytes.size());
  if (outbuf_.size() >= options_.flush_bytes) Flush();
}

void ImapMachine::WriteBody(std::string_view bytes) {
  // A large piece goes out as it is rather than through the buffer.
  if (bytes.size() < options_.flush_bytes / 4) return Write(bytes);
  if (!Flush() || closed_out_) return;
  if (!out_->Write(bytes)) {
    closed_out_ = true;
    closed_ = true;
  }
}

bool ImapMachine::Flush() {
  if (outbuf_.empty() || closed_out_) return !closed_out_;
  if (!out_->Write(outbuf_)) {
    closed_out_ = true;
    closed_ = true;
  }
  // A FETCH of a 16 MiB body leaves the buffer that large; an idle session
  // should not keep it (50 sessions would hold 800 MB).
  if (outbuf_.capacity() > 4 * options_.flush_bytes) {
    std::string().swap(outbuf_);
  } else {
    outbuf_.clear();
  }
  return !closed_out_;
}

void ImapMachine::Tagged(const ImapCommand& cmd, std::string_view status, std::string_view text) {
  Write(absl::StrCat(cmd.tag, " ", AV(status), " ", AV(text), "\r\n"));
}

void ImapMachine::Ok(const ImapCommand& cmd, std::string_view text) {
  Tagged(cmd, "OK", text.empty() ? absl::StrCat(cmd.name, " completed") : std::string(text));
}

std::string ImapMachine::Capabilities(const ImapTransport& t) const {
  std::string caps =
      "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS MOVE UNSELECT NAMESPACE CHILDREN "
      "SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC MULTIAPPEND SORT BINARY";
  // RFC 7889: the largest message APPEND takes.
  absl::StrAppend(&caps, " APPENDLIMIT=", options_.max_message_bytes);
  if (state_ == State::kNotAuthenticated) {
    if (t.tls_available && !t.tls_active) caps += " STARTTLS";
    caps += t.auth_allowed ? " AUTH=PLAIN" : " LOGINDISABLED";
  }
  return caps;
}

// --- input framing ---

ImapNext ImapMachine::Start(const ImapTransport& transport) {
  transport_ = transport;
  Write(absl::StrCat("* OK [CAPABILITY ", Capabilities(transport), "] pullmail IMAP4rev1 ready\r\n"));
  return Flush() ? ImapNext::kRead : ImapNext::kClose;
}

ImapNext ImapMachine::Feed(std::string_view bytes, const ImapTransport& transport) {
  transport_ = transport;
  if (closed_) return ImapNext::kClose;
  in_.append(bytes.data(), bytes.size());
  ProcessInput();
  Flush();
  if (closed_) return ImapNext::kClose;
  if (start_tls_) {
    start_tls_ = false;
    // RFC 3501 6.2.1: nothing the client sent before the handshake counts.
    in_.clear();
    in_pos_ = 0;
    return ImapNext::kStartTls;
  }
  return ImapNext::kRead;
}

void ImapMachine::ProcessInput() {
  while (!closed_ && !start_tls_) {
    std::string_view pending(in_.data() + in_pos_, in_.size() - in_pos_);
    if (literal_pending_) {
      if (pending.size() < literal_needed_) break;
      std::string_view lit = pending.substr(0, literal_needed_);
      in_pos_ += literal_needed_;
      literal_pending_ = false;
      literal_needed_ = 0;
      HandleResult(reader_.FeedLiteral(lit));
      continue;
    }
    size_t nl = pending.find('\n');
    if (discarding_) {
      if (nl == std::string_view::npos) {
        in_pos_ = in_.size();
        break;
      }
      in_pos_ += nl + 1;
      discarding_ = false;
      continue;
    }
    if (nl == std::string_view::npos) {
      if (pending.size() > options_.max_line_bytes) {
        // Over-long: answer now (a client waiting for its tag must not hang)
        // and drop the rest of the line as it arrives.
        OnLineTooLong(pending);
        discarding_ = true;
        in_pos_ = in_.size();
      }
      break;
    }
    std::string_view line = pending.substr(0, nl);
    in_pos_ += nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > options_.max_line_bytes) {
      OnLineTooLong(line);
      continue;
    }
    OnLine(line);
  }
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > 64 * 1024) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
}

void ImapMachine::OnLineTooLong(std::string_view start) {
  if (sasl_) {
    ImapCommand cmd = *std::move(sasl_);
    sasl_.reset();
    Bad(cmd, "line too long");
    return;
  }
  if (idle_) {
    ImapCommand cmd = *std::move(idle_);
    idle_.reset();
    Bad(cmd, "expected DONE");
    return;
  }
  // The tag: the command's (when a literal's continuation line is too long)
  // or the start of this line's, if it reads as a tag.
  std::string tag = reader_.tag();
  if (tag.empty()) {
    size_t i = 0;
    while (i < start.size() && i < 64 && IsTagChar(start[i])) ++i;
    if (i > 0 && i < start.size() && start[i] == ' ') tag = std::string(start.substr(0, i));
  }
  reader_.Reset();
  Write(absl::StrCat(tag.empty() ? "*" : tag, " BAD line too long (at most ",
                     options_.max_line_bytes, " octets)\r\n"));
}

void ImapMachine::OnLine(std::string_view line) {
  if (sasl_) return SaslResponse(line);
  if (idle_) return IdleLine(line);
  HandleResult(reader_.Feed(line));
}

void ImapMachine::HandleResult(ImapFeedResult res) {
  if (auto* need = std::get_if<ImapNeedLiteral>(&res)) {
    // Before login a literal may be no longer than a line (SECURITY).
    uint64_t cap = state_ == State::kNotAuthenticated ? options_.max_line_bytes
                                                      : options_.max_message_bytes;
    if (need->size > cap) {
      reader_.Reset();
      if (!need->synchronizing) {
        Write("* BYE literal too large\r\n");
        closed_ = true;
        return;
      }
      Write(absl::StrCat(need->tag, " BAD literal too large\r\n"));
      return;
    }
    if (need->synchronizing) Write("+ Ready for literal data\r\n");
    literal_pending_ = true;
    literal_needed_ = need->size;
    return;
  }
  if (std::holds_alternative<ImapNeedLine>(res)) return;
  if (auto* err = std::get_if<ImapParseError>(&res)) {
    if (err->fatal) {
      Write(absl::StrCat("* BYE ", err->text, "\r\n"));
      closed_ = true;
      return;
    }
    if (err->literal_too_large && err->name == "APPEND" && state_ != State::kNotAuthenticated) {
      // RFC 7889 4: over APPENDLIMIT is NO [TOOBIG], answered before the
      // client sends the (synchronizing) literal.
      Write(absl::StrCat(err->tag, " NO [TOOBIG] message is larger than ",
                         options_.max_message_bytes, " bytes\r\n"));
      return;
    }
    Write(absl::StrCat(err->tag, " BAD ", err->text, "\r\n"));
    return;
  }
  Dispatch(std::get<ImapCommand>(res));
}

void ImapMachine::Dispatch(const ImapCommand& cmd) {
  const CommandSpec* spec = FindCommand(cmd.name);
  if (spec == nullptr) return Bad(cmd, absl::StrCat("unknown command ", cmd.name));
  unsigned bit = 1u << static_cast<int>(state_);
  if ((spec->states & bit) == 0) {
    if (state_ == State::kNotAuthenticated) return Bad(cmd, absl::StrCat(cmd.name, " needs a login first"));
    if (spec->states == kNotAuth) return Bad(cmd, "already logged in");
    return Bad(cmd, absl::StrCat(cmd.name, " needs a selected mailbox"));
  }
  (this->*spec->handler)(cmd);
}

// --- any state ---

void ImapMachine::CmdCapability(const ImapCommand& cmd) {
  Write(absl::StrCat("* CAPABILITY ", Capabilities(transport_), "\r\n"));
  Ok(cmd);
}

void ImapMachine::CmdNoop(const ImapCommand& cmd) {
  if (!Refresh(true, false)) return;
  Ok(cmd);
}

void ImapMachine::CmdLogout(const ImapCommand& cmd) {
  Write("* BYE pullmail IMAP4rev1 logging out\r\n");
  Ok(cmd);
  state_ = State::kLogout;
  closed_ = true;
}

// RFC 2971 3.3: the server's identification. The client's is not used.
void ImapMachine::CmdId(const ImapCommand& cmd) {
  Write("* ID (\"name\" \"pullmail\" \"vendor\" \"pullmail\" \"support-url\" NIL)\r\n");
  Ok(cmd);
}

// RFC 5161 3.1 ENABLE: the untagged ENABLED lists what this command
// enabled (not what was on already, nothing unknown). RFC 7162 3.2.3:
// QRESYNC implies CONDSTORE. UTF8=ACCEPT is not offered (docs/GATEWAY.md).
void ImapMachine::CmdEnable(const ImapCommand& cmd) {
  std::string enabled;
  for (const std::string& cap : cmd.args) {
    if (cap == "CONDSTORE" && !condstore_) {
      EnableCondstore();
      enabled += " CONDSTORE";
    } else if (cap == "QRESYNC" && !qresync_) {
      EnableCondstore();
      qresync_ = true;
      enabled += " QRESYNC";
    }
  }
  Write(absl::StrCat("* ENABLED", enabled, "\r\n"));
  Ok(cmd);
}

void ImapMachine::EnableCondstore() {
  if (condstore_) return;
  condstore_ = true;
  if (state_ == State::kSelected && sel_->highest_modseq > 0) {
    Write(absl::StrCat("* OK [HIGHESTMODSEQ ", sel_->highest_modseq, "] Highest\r\n"));
  }
}

std::string ImapMachine::ModseqItem(const v1::MessageInfo& m) const {
  if (!condstore_ || !sel_ || sel_->highest_modseq == 0) return "";
  return absl::StrCat(" MODSEQ (", m.modseq(), ")");
}

// --- not authenticated ---

void ImapMachine::CmdStartTls(const ImapCommand& cmd) {
  if (transport_.tls_active) return Bad(cmd, "TLS is already active");
  if (!transport_.tls_available) return No(cmd, "[CANNOT] TLS is not available");
  Ok(cmd, "Begin TLS negotiation now");
  reader_.Reset();
  start_tls_ = true;
}

void ImapMachine::CmdLogin(const ImapCommand& cmd) { Login(cmd, cmd.args[0], cmd.args[1]); }

void ImapMachine::Login(const ImapCommand& cmd, const std::string& user,
                        const std::string& password) {
  if (!transport_.auth_allowed) return No(cmd, "[PRIVACYREQUIRED] use STARTTLS before logging in");
  absl::StatusOr<std::string> who = mailbox_->Login(user, password);
  if (!who.ok()) {
    absl::StatusCode c = who.status().code();
    if (c == absl::StatusCode::kUnauthenticated || c == absl::StatusCode::kInvalidArgument ||
        c == absl::StatusCode::kNotFound || c == absl::StatusCode::kPermissionDenied) {
      No(cmd, "[AUTHENTICATIONFAILED] invalid credentials");
      if (++failed_logins_ >= options_.max_failed_logins) {
        Write("* BYE too many failed logins\r\n");
        closed_ = true;
      }
      return;
    }
    return No(cmd, "[UNAVAILABLE] the mailbox server cannot be reached; try again later");
  }
  user_ = *std::move(who);
  state_ = State::kAuthenticated;
  Ok(cmd, absl::StrCat("[CAPABILITY ", Capabilities(transport_), "] logged in"));
}

// RFC 3501 6.2.2 with RFC 4616 PLAIN: [authzid] NUL authcid NUL passwd.
void ImapMachine::CmdAuthenticate(const ImapCommand& cmd) {
  if (cmd.args[0] != "PLAIN") return No(cmd, "[CANNOT] unsupported authentication mechanism");
  if (!transport_.auth_allowed) return No(cmd, "[PRIVACYREQUIRED] use STARTTLS before logging in");
  if (cmd.args.size() > 1) {
    sasl_ = cmd;
    return SaslResponse(cmd.args[1] == "=" ? "" : cmd.args[1]);  // RFC 4959 3
  }
  Write("+ \r\n");
  sasl_ = cmd;
}

void ImapMachine::SaslResponse(std::string_view line) {
  ImapCommand cmd = *std::move(sasl_);
  sasl_.reset();
  if (line == "*") return Bad(cmd, "authentication cancelled");
  absl::StatusOr<std::string> plain = Base64Decode(line);
  if (!plain.ok()) return Bad(cmd, "invalid base64");
  std::vector<std::string> parts = absl::StrSplit(*plain, '\0');
  if (parts.size() != 3 || parts[1].empty()) return Bad(cmd, "malformed PLAIN response");
  if (!parts[0].empty() && parts[0] != parts[1]) {
    return No(cmd, "[AUTHORIZATIONFAILED] cannot act as another user");
  }
  Login(cmd, parts[1], parts[2]);
}

// --- authenticated ---

void ImapMachine::WriteSelectedFlags(bool read_only) {
  std::string kw;
  for (const std::string& k : sel_->keywords) absl::StrAppend(&kw, " ", k);
  Write(absl::StrCat("* FLAGS (", kSystemFlags, kw, ")\r\n"));
  Write(absl::StrCat("* OK [PERMANENTFLAGS (", read_only ? "" : absl::StrCat(kSystemFlags, kw, " \\*"),
                     ")] flags the client can change\r\n"));
}

// RFC 3501 6.3.1 / 6.3.2.
void ImapMachine::CmdSelect(const ImapCommand& cmd) {
  // RFC 7162 3.2.5: QRESYNC only after ENABLE QRESYNC.
  if (cmd.qresync && !qresync_) return Bad(cmd, "QRESYNC must be enabled first (ENABLE QRESYNC)");
  // A failed SELECT leaves no mailbox selected.
  if (sel_) {
    mailbox_->Watch("");
    // RFC 7162 3.2.11: the client learns where the old mailbox's responses end.
    if (qresync_) Write("* OK [CLOSED] Previous mailbox closed\r\n");
  }
  sel_.reset();
  state_ = State::kAuthenticated;
  if (cmd.condstore) EnableCondstore();
  absl::StatusOr<ImapListing> listing =
      mailbox_->ListMessages(cmd.args[0], cmd.qresync ? cmd.qresync->modseq : 0);
  if (!listing.ok()) return No(cmd, ImapNoText(listing.status(), cmd.name));
  sel_ = std::make_unique<Selected>();
  sel_->name = listing->folder.name().empty() ? cmd.args[0] : listing->folder.name();
  sel_->read_only = cmd.name == "EXAMINE";
  sel_->uid_validity = listing->folder.uid_validity();
  sel_->uid_next = listing->folder.uid_next();
  sel_->highest_modseq = listing->folder.highest_modseq();
  sel_->synced_modseq = listing->folder.highest_modseq();
  sel_->messages = std::move(listing->messages);
  for (const v1::MessageInfo& m : sel_->messages) {
    for (const std::string& f : m.flags()) {
      if (!f.empty() && f[0] != '\\') sel_->keywords.insert(f);
    }
  }
  mailbox_->Watch(sel_->name);
  // A message that arrived between the listing and the watch's start would
  // be missed: MayHaveChanged() is true at first, and the next refresh
  // re-lists once.
  state_ = State::kSelected;
  WriteSelectedFlags(sel_->read_only);
  Write(absl::StrCat("* ", sel_->messages.size(), " EXISTS\r\n* 0 RECENT\r\n"));
  for (size_t i = 0; i < sel_->messages.size(); ++i) {
    if (!HasFlag(sel_->messages[i].flags(), kFlagSeen)) {
      Write(absl::StrCat("* OK [UNSEEN ", i + 1, "] first unseen message\r\n"));
      break;
    }
  }
  Write(absl::StrCat("* OK [UIDVALIDITY ", sel_->uid_validity, "] UIDs valid\r\n"));
  Write(absl::StrCat("* OK [UIDNEXT ", sel_->uid_next, "] predicted next UID\r\n"));
  // RFC 7162 3.1.2.1 / 3.1.2.2: with every SELECT and EXAMINE.
  if (sel_->highest_modseq > 0) {
    Write(absl::StrCat("* OK [HIGHESTMODSEQ ", sel_->highest_modseq, "] Highest\r\n"));
  } else {
    Write("* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n");
  }
  if (cmd.qresync && cmd.qresync->uid_validity == sel_->uid_validity &&
      sel_->highest_modseq > 0) {
    WriteQresync(*cmd.qresync, listing->vanished);
  }
  Ok(cmd, absl::StrCat(sel_->read_only ? "[READ-ONLY] " : "[READ-WRITE] ", cmd.name, " completed"));
}

// RFC 7162 3.2.5.1: the UIDs expunged since the client's modseq (among the
// known UIDs it names, if it names them) as one VANISHED (EARLIER), then a
// FETCH (UID FLAGS MODSEQ) for each message changed since then. The node
// remembers every expunge, so the sequence match data is not needed.
void ImapMachine::WriteQresync(const QresyncParams& q, const std::vector<uint32_t>& vanished) {
  uint32_t star = std::max(sel_->max_uid(), sel_->uid_next > 0 ? sel_->uid_next - 1 : 0);
  std::vector<uint32_t> gone;
  for (uint32_t uid : vanished) {
    if (!q.known_uids || q.known_uids->Contains(uid, star)) gone.push_back(uid);
  }
  if (!gone.empty()) Write(absl::StrCat("* VANISHED (EARLIER) ", UidSet(gone), "\r\n"));
  for (size_t i = 0; i < sel_->messages.size(); ++i) {
    const v1::MessageInfo& m = sel_->messages[i];
    if (m.modseq() <= q.modseq) continue;
    if (q.known_uids && !q.known_uids->Contains(m.uid(), star)) continue;
    Write(absl::StrCat("* ", i + 1, " FETCH (UID ", m.uid(), " ", FlagsItem(m), ModseqItem(m),
                       ")\r\n"));
  }
}

// RFC 3501 6.3.3.
void ImapMachine::CmdCreate(const ImapCommand& cmd) {
  std::string name = cmd.args[0];
  while (absl::EndsWith(name, "/")) name.pop_back();
  if (name.empty()) return No(cmd, "[CANNOT] empty mailbox name");
  if (absl::EqualsIgnoreCase(name, "INBOX")) return No(cmd, "[ALREADYEXISTS] INBOX always exists");
  absl::Status s = mailbox_->CreateFolder(name);
  if (!s.ok()) return No(cmd, ImapNoText(s, "CREATE"));
  Ok(cmd);
}

// RFC 3501 6.3.4.
void ImapMachine::CmdDelete(const ImapCommand& cmd) {
  std::string name = cmd.args[0];
  while (absl::EndsWith(name, "/")) name.pop_back();
  if (name.empty()) return No(cmd, "[NONEXISTENT] no such mailbox");
  if (name == "INBOX") return No(cmd, "[CANNOT] INBOX cannot be deleted");
  if (state_ == State::kSelected && sel_->name == name) {
    // RFC 5530 INUSE: this session is sitting on it.
    return No(cmd, "[INUSE] close the mailbox before deleting it");
  }
  absl::Status s = mailbox_->DeleteFolder(name);
  if (!s.ok()) {
    if (s.code() == absl::StatusCode::kNotFound) return No(cmd, "[NONEXISTENT] no such mailbox");
    if (s.code() == absl::StatusCode::kFailedPrecondition) {
      // "Junk cannot be deleted": the node's words are the client's here.
      return No(cmd, absl::StrCat("[CANNOT] ", s.message()));
    }
    return No(cmd, ImapNoText(s, cmd.name));
  }
  Ok(cmd);
}

// RFC 3501 6.3.5. The node has no rename: the gateway creates the new
// folder, moves every message (new UIDs, a new UIDVALIDITY: allowed by RFC
// 3501 6.3.5) and deletes the old one, children first to last. Not atomic:
// a failure half-way leaves both folders, each message in exactly one.
// RENAME INBOX moves its messages and leaves INBOX empty, as RFC 3501 says.
void ImapMachine::CmdRename(const ImapCommand& cmd) {
  std::string from = cmd.args[0], to = cmd.args[1];
  while (absl::EndsWith(from, "/")) from.pop_back();
  while (absl::EndsWith(to, "/")) to.pop_back();
  if (to.empty() || from.empty()) return No(cmd, "[CANNOT] empty mailbox name");
  if (absl::EqualsIgnoreCase(to, "INBOX")) return No(cmd, "[ALREADYEXISTS] INBOX always exists");
  if (from == kJunk) return No(cmd, "[CANNOT] Junk cannot be renamed");
  if (state_ == State::kSelected && (sel_->name == from || absl::StartsWith(sel_->name, from + "/"))) {
    return No(cmd, "[INUSE] close the mailbox before renaming it");
  }
  absl::StatusOr<std::vector<v1::Folder>> folders = mailbox_->ListFolders();
  if (!folders.ok()) return No(cmd, ImapNoText(folders.status(), cmd.name));
  std::vector<std::string> names;
  for (const v1::Folder& f : *folders) names.push_back(f.name());
  if (from == "INBOX" && std::find(names.begin(), names.end(), "INBOX") == names.end()) {
    names.push_back("INBOX");
  }
  if (std::find(names.begin(), names.end(), from) == names.end()) {
    return No(cmd, "[NONEXISTENT] no such mailbox");
  }
  if (std::find(names.begin(), names.end(), to) != names.end()) {
    return No(cmd, "[ALREADYEXISTS] the new name exists");
  }
  std::vector<std::pair<std::string, std::string>> moves = {{from, to}};
  if (from != "INBOX") {  // RFC 3501 6.3.5: INBOX's children stay
    for (const std::string& n : names) {
      if (absl::StartsWith(n, from + "/")) moves.push_back({n, to + n.substr(from.size())});
    }
  }
  for (const auto& [old_name, new_name] : moves) {
    absl::Status s = mailbox_->CreateFolder(new_name);
    if (!s.ok() && s.code() != absl::StatusCode::kAlreadyExists) {
      return No(cmd, ImapNoText(s, cmd.name));
    }
    absl::StatusOr<ImapListing> listing = mailbox_->ListMessages(old_name, 0);
    if (!listing.ok()) return No(cmd, ImapNoText(listing.status(), cmd.name));
    if (!listing->messages.empty()) {
      v1::CopyRequest req;
      req.set_folder(old_name);
      for (const v1::MessageInfo& m : listing->messages) req.add_uids(m.uid());
      req.set_to_folder(new_name);
      req.set_move(true);
      absl::StatusOr<v1::CopyResponse> r = mailbox_->Copy(req);
      if (!r.ok()) return No(cmd, ImapNoText(r.status(), cmd.name));
    }
  }
  if (from != "INBOX") {
    for (auto it = moves.rbegin(); it != moves.rend(); ++it) {
      absl::Status s = mailbox_->DeleteFolder(it->first);
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return No(cmd, ImapNoText(s, cmd.name));
    }
  }
  Ok(cmd);
}

// RFC 3501 6.3.6 / 6.3.7: every folder is subscribed; the commands succeed.
void ImapMachine::CmdSubscribe(const ImapCommand& cmd) { Ok(cmd); }

void ImapMachine::CmdNamespace(const ImapCommand& cmd) {
  Write("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
  Ok(cmd);
}

// RFC 3501 6.3.8 / 6.3.9 LIST and LSUB (every folder is subscribed), with
// RFC 5258 LIST-EXTENDED selection (SUBSCRIBED, SPECIAL-USE), RFC 6154
// SPECIAL-USE attributes (Junk is \Junk) and RFC 5819 RETURN (STATUS).
// INBOX and Junk always exist at the node, so they are always listed.
void ImapMachine::CmdList(const ImapCommand& cmd) {
  const std::string& ref = cmd.args[0];
  if (cmd.args.size() == 2 && cmd.args[1].empty()) {
    Write(absl::StrCat("* ", cmd.name, " (\\Noselect) \"/\" \"\"\r\n"));
    return Ok(cmd);
  }
  bool special_only = false;
  for (const std::string& o : cmd.options) {
    if (o == "SPECIAL-USE") special_only = true;
    else if (o != "SUBSCRIBED" && o != "RECURSIVEMATCH" && o != "REMOTE") {
      return Bad(cmd, absl::StrCat("unknown selection option ", o));
    }
  }
  bool ret_status = false, ret_special = false;
  for (const std::string& o : cmd.return_options) {
    if (o == "STATUS") ret_status = true;
    else if (o == "SPECIAL-USE") ret_special = true;
    else if (o != "SUBSCRIBED" && o != "CHILDREN") return Bad(cmd, absl::StrCat("unknown return option ", o));
  }
  (void)ret_special;  // attributes are always sent
  absl::StatusOr<std::vector<v1::Folder>> folders = mailbox_->ListFolders();
  if (!folders.ok()) return No(cmd, ImapNoText(folders.status(), cmd.name));
  std::map<std::string, const v1::Folder*> by_name;
  for (const v1::Folder& f : *folders) by_name[f.name()] = &f;
  std::vector<std::string> names;
  for (const v1::Folder& f : *folders) names.push_back(f.name());
  for (const char* always : {"INBOX", kJunk}) {
    if (std::find(names.begin(), names.end(), always) == names.end()) names.push_back(always);
  }
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return (a == "INBOX") != (b == "INBOX") ? a == "INBOX" : a < b;
  });
  for (const std::string& name : names) {
    bool match = false;
    for (size_t i = 1; i < cmd.args.size() && !match; ++i) {
      std::string full = ref.empty() || absl::EndsWith(ref, "/") ? ref + cmd.args[i]
                                                                  : ref + "/" + cmd.args[i];
      match = name == "INBOX" ? ImapListMatch(absl::AsciiStrToUpper(full), "INBOX") : ImapListMatch(full, name);
    }
    if (!match) continue;
    bool junk = name == kJunk;
    if (special_only && !junk) continue;
    bool children = std::any_of(names.begin(), names.end(), [&](const std::string& o) {
      return absl::StartsWith(o, name + "/");
    });
    std::string attrs = children ? "\\HasChildren" : "\\HasNoChildren";
    if (cmd.name == "LIST" && (!cmd.options.empty() || !cmd.return_options.empty())) {
      attrs += " \\Subscribed";
    }
    if (junk) attrs += " \\Junk";
    Write(absl::StrCat("* ", cmd.name, " (", attrs, ") \"/\" ", ImapString(name), "\r\n"));
    if (ret_status) {
      auto it = by_name.find(name);
      v1::Folder empty;
      empty.set_name(name);
      const v1::Folder& f = it == by_name.end() ? empty : *it->second;
      if (it == by_name.end()) {
        // INBOX or Junk not created yet at the node: ask for its real counters.
        absl::StatusOr<ImapListing> l = mailbox_->ListMessages(name, 0);
        if (l.ok()) empty = l->folder, empty.set_name(name);
      }
      if (auto line = StatusLine(f, cmd.items)) Write(*line);
    }
  }
  Ok(cmd);
}

std::optional<std::string> ImapMachine::StatusLine(const v1::Folder& f,
                                                   const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const std::string& item : items) {
    uint64_t v = 0;
    if (item == "MESSAGES") v = f.messages();
    else if (item == "RECENT") v = 0;
    else if (item == "UIDNEXT") v = f.uid_next();
    else if (item == "UIDVALIDITY") v = f.uid_validity();
    else if (item == "UNSEEN") v = f.unseen();
    else if (item == "HIGHESTMODSEQ") v = f.highest_modseq();  // RFC 7162 3.1.6: 0 = none
    else continue;
    out.push_back(absl::StrCat(item, " ", v));
  }
  return absl::StrCat("* STATUS ", ImapString(f.name()), " (", absl::StrJoin(out, " "), ")\r\n");
}

// RFC 3501 6.3.10; STATUS (HIGHESTMODSEQ) enables CONDSTORE (RFC 7162 3.1).
void ImapMachine::CmdStatus(const ImapCommand& cmd) {
  if (std::find(cmd.items.begin(), cmd.items.end(), "HIGHESTMODSEQ") != cmd.items.end()) {
    EnableCondstore();
  }
  absl::StatusOr<std::vector<v1::Folder>> folders = mailbox_->ListFolders();
  if (!folders.ok()) return No(cmd, ImapNoText(folders.status(), "STATUS"));
  for (const v1::Folder& f : *folders) {
    if (f.name() != cmd.args[0]) continue;
    Write(*StatusLine(f, cmd.items));
    return Ok(cmd);
  }
  if (cmd.args[0] == "INBOX" || cmd.args[0] == kJunk) {
    absl::StatusOr<ImapListing> l = mailbox_->ListMessages(cmd.args[0], 0);
    if (l.ok()) {
      v1::Folder f = l->folder;
      f.set_name(cmd.args[0]);
      Write(*StatusLine(f, cmd.items));
      return Ok(cmd);
    }
  }
  No(cmd, "[NONEXISTENT] no such mailbox");
}

// RFC 3501 6.3.11 APPEND; RFC 3502 MULTIAPPEND: every message or none. The
// node appends one message per call, so a failure after the first undoes
// the ones already stored (\Deleted and UID EXPUNGE of exactly those UIDs)
// before the NO; they were never announced to this session.
void ImapMachine::CmdAppend(const ImapCommand& cmd) {
  std::vector<v1::AppendRequest> reqs;
  for (const ImapCommand::AppendMessage& m : cmd.appends) {
    v1::AppendRequest& req = reqs.emplace_back();
    req.set_folder(cmd.args[0]);
    for (const std::string& f : m.flags) {
      // RFC 3501 2.3.2: \Recent cannot be stored; other flags are kept.
      if (!FlagEquals(f, kFlagRecent)) req.add_flags(CanonicalFlag(f));
    }
    if (!m.date.empty()) {
      std::optional<absl::Time> date = ParseImapDateTime(m.date);
      if (!date.has_value()) return Bad(cmd, "invalid date-time");
      req.set_internal_date_unix_ms(absl::ToUnixMillis(*date));
    }
    if (m.message.empty()) return No(cmd, "[CANNOT] empty message");
    req.set_message(m.message);
  }
  uint32_t uid_validity = 0;
  std::vector<uint32_t> uids;
  for (const v1::AppendRequest& req : reqs) {
    absl::StatusOr<v1::AppendResponse> resp = mailbox_->Append(req);
    if (!resp.ok()) {
      if (!uids.empty()) {
        v1::SetFlagsRequest del;
        del.set_folder(cmd.args[0]);
        del.set_op(v1::FLAG_OP_ADD);
        del.add_flags(std::string(kFlagDeleted));
        v1::ExpungeRequest gone;
        gone.set_folder(cmd.args[0]);
        for (uint32_t uid : uids) del.add_uids(uid), gone.add_uids(uid);
        if (mailbox_->SetFlags(del).ok()) (void)mailbox_->Expunge(gone);
      }
      if (resp.status().code() == absl::StatusCode::kNotFound) return No(cmd, "[TRYCREATE] no such mailbox");
      return No(cmd, ImapNoText(resp.status(), cmd.name));
    }
    uid_validity = resp->uid_validity();
    uids.push_back(resp->uid());
  }
  // A message appended to the selected mailbox is announced (EXISTS) now.
  bool to_selected = state_ == State::kSelected && sel_->name == cmd.args[0];
  if (!Refresh(true, to_selected)) return;
  // RFC 4315 APPENDUID: a uid-set for MULTIAPPEND (ascending: each append
  // gets the folder's next UID).
  Ok(cmd, absl::StrCat("[APPENDUID ", uid_validity, " ", UidSet(uids), "] APPEND completed"));
}

// RFC 2177: untagged updates as they happen until the client says DONE.
void ImapMachine::CmdIdle(const ImapCommand& cmd) {
  Write("+ idling\r\n");
  idle_ = cmd;
}

void ImapMachine::IdleLine(std::string_view line) {
  ImapCommand cmd = *std::move(idle_);
  idle_.reset();
  if (absl::EqualsIgnoreCase(AV(line), "DONE")) return Ok(cmd, "IDLE terminated");
  Bad(cmd, "expected DONE");
}

ImapNext ImapMachine::OnIdleTick() {
  if (closed_) return ImapNext::kClose;
  if (idle_) Refresh(true, false);
  Flush();
  return closed_ ? ImapNext::kClose : ImapNext::kRead;
}

ImapNext ImapMachine::OnTimeout() {
  Write("* BYE autologout; idle for too long\r\n");
  Flush();
  closed_ = true;
  return ImapNext::kClose;
}

// --- selected ---

void ImapMachine::CmdCheck(const ImapCommand& cmd) {
  if (!Refresh(true, false)) return;
  Ok(cmd);
}

// RFC 3501 6.4.2 CLOSE (expunges silently unless read-only), RFC 3691
// UNSELECT (does not).
void ImapMachine::CmdClose(const ImapCommand& cmd) {
  if (cmd.name == "CLOSE" && !sel_->read_only) {
    v1::ExpungeRequest req;
    req.set_folder(sel_->name);
    (void)mailbox_->Expunge(req);  // RFC 3501 6.4.2: no untagged EXPUNGE, no error to report
  }
  mailbox_->Watch("");
  sel_.reset();
  state_ = State::kAuthenticated;
  Ok(cmd);
}

// "* n EXPUNGE" per message, or after ENABLE QRESYNC one "* VANISHED
// uid-set" (RFC 7162 3.2.10).
void ImapMachine::AnnounceExpunged(const std::vector<uint32_t>& uids) {
  std::vector<uint32_t> gone;
  for (uint32_t uid : uids) {
    uint32_t seq = sel_->SeqOf(uid);
    if (seq == 0) continue;
    if (!qresync_) Write(absl::StrCat("* ", seq, " EXPUNGE\r\n"));
    gone.push_back(uid);
    sel_->messages.erase(sel_->messages.begin() + (seq - 1));
    sel_->recent.erase(uid);
  }
  if (qresync_ && !gone.empty()) Write(absl::StrCat("* VANISHED ", UidSet(gone), "\r\n"));
}

// RFC 3501 6.4.3 EXPUNGE, RFC 4315 2.1 UID EXPUNGE.
void ImapMachine::CmdExpunge(const ImapCommand& cmd) {
  if (sel_->read_only) return No(cmd, "[READ-ONLY] mailbox is read-only");
  v1::ExpungeRequest req;
  req.set_folder(sel_->name);
  if (cmd.uid) {
    // Only messages in the set that have \Deleted.
    auto seqs = Resolve(cmd.set, true);
    for (uint32_t seq : *seqs) {
      const v1::MessageInfo& m = sel_->messages[seq - 1];
      if (HasFlag(m.flags(), kFlagDeleted)) req.add_uids(m.uid());
    }
    if (req.uids_size() == 0) {
      if (!Refresh(true, false)) return;
      return Ok(cmd);
    }
  }
  absl::StatusOr<v1::ExpungeResponse> resp = mailbox_->Expunge(req);
  if (!resp.ok()) return No(cmd, ImapNoText(resp.status(), "EXPUNGE"));
  AnnounceExpunged({resp->expunged().begin(), resp->expunged().end()});
  // RFC 7162 3.1.10 (CONDSTORE) / 3.2.10: the expunge moved HIGHESTMODSEQ and
  // no message carries the new value: the tagged OK does.
  bool modseq = condstore_ && resp->expunged_size() > 0 && sel_->highest_modseq > 0;
  if (!Refresh(true, modseq)) return;
  if (modseq) return Ok(cmd, absl::StrCat("[HIGHESTMODSEQ ", sel_->highest_modseq, "] Expunged"));
  Ok(cmd);
}

// The indexes (sequence number - 1, ascending) of the selected messages
// that match cmd.search. Keys the listing answers (flags, dates, sizes, the
// summary's From/To/Cc/Subject) need no body; BODY, TEXT, BCC and HEADER of
// a field the summary lacks read the messages (peek, so \Seen is
// untouched), at most search_max_bodies of them (docs/GATEWAY.md: such a
// search may make the node pull bodies from their senders). False: the NO
// is written.
bool ImapMachine::SearchHits(const ImapCommand& cmd, std::vector<uint32_t>* found) {
  const Selected& sel = *sel_;
  uint32_t count = static_cast<uint32_t>(sel.messages.size());
  auto test = [&](uint32_t i, std::optional<std::string_view> body) {
    const v1::MessageInfo& m = sel.messages[i];
    ImapSearchItem item{i + 1, m.uid(), sel.recent.count(m.uid()) > 0, &m, body};
    if (SearchMatches(cmd.search, item, count, sel.max_uid())) found->push_back(i);
  };
  if (!SearchNeedsBody(cmd.search)) {
    for (uint32_t i = 0; i < count; ++i) test(i, std::nullopt);
    return true;
  }
  if (count > options_.search_max_bodies) {
    No(cmd, absl::StrCat("[LIMIT] searching message text is limited to ",
                         options_.search_max_bodies, " messages; narrow the search"));
    return false;
  }
  std::vector<ImapMailbox::ReadItem> items;
  for (const v1::MessageInfo& m : sel.messages) items.push_back({m.uid(), m.body_size()});
  absl::Status failed;
  mailbox_->ReadBodies(sel.name, items, true, [&](size_t i, absl::StatusOr<ImapBody> b) {
    if (!b.ok()) {
      if (b.status().code() == absl::StatusCode::kNotFound) return true;  // expunged meanwhile
      failed = b.status();
      return false;
    }
    test(static_cast<uint32_t>(i), b->bytes);
    return true;
  });
  if (failed.ok()) return true;
  if (ImapCodeFor(failed) == ImapCode::kUnavailable) {
    No(cmd, kFetchUnavailable);
  } else {
    No(cmd, ImapNoText(failed, cmd.name));
  }
  return false;
}

// RFC 5256 SORT (and UID SORT): the messages SEARCH would find, ordered by
// the criteria, ties by sequence number. Every key is in the listing (the
// summary's Date, From, To, Cc and Subject, INTERNALDATE, size), so a SORT
// whose search keys need no body moves none.
void ImapMachine::CmdSort(const ImapCommand& cmd) {
  if (cmd.charset != "UTF-8" && cmd.charset != "US-ASCII") {
    return No(cmd, "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset");
  }
  if (!Refresh(cmd.uid, false)) return;
  std::vector<uint32_t> found;
  if (!SearchHits(cmd, &found)) return;
  std::vector<ImapSortValues> values;
  values.reserve(found.size());
  for (uint32_t i : found) values.push_back(SortValuesOf(sel_->messages[i]));
  std::vector<size_t> order(found.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return CompareForSort(cmd.sort, values[a], values[b]) < 0;
  });
  std::string out = "* SORT";
  for (size_t k : order) {
    uint32_t i = found[k];
    absl::StrAppend(&out, " ", cmd.uid ? sel_->messages[i].uid() : i + 1);
  }
  Write(out + "\r\n");
  Ok(cmd);
}

// RFC 3501 6.4.4 SEARCH, RFC 4731 ESEARCH (see SearchHits).
void ImapMachine::CmdSearch(const ImapCommand& cmd) {
  if (!cmd.charset.empty() && cmd.charset != "UTF-8" && cmd.charset != "US-ASCII") {
    return No(cmd, "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset");
  }
  // RFC 7162 3.1.5: SEARCH MODSEQ enables CONDSTORE and answers with the
  // highest modseq of the messages found.
  std::function<bool(const SearchKey&)> uses_modseq = [&](const SearchKey& k) {
    if (k.kind == SearchKey::Kind::kModseq) return true;
    return std::any_of(k.children.begin(), k.children.end(), uses_modseq);
  };
  const bool modseq = uses_modseq(cmd.search);
  if (modseq) EnableCondstore();
  if (!Refresh(cmd.uid, false)) return;
  std::vector<uint32_t> found;
  if (!SearchHits(cmd, &found)) return;
  std::vector<uint32_t> hits;
  uint64_t hits_modseq = 0;
  for (uint32_t i : found) {
    const v1::MessageInfo& m = sel_->messages[i];
    hits.push_back(cmd.uid ? m.uid() : i + 1);
    hits_modseq = std::max<uint64_t>(hits_modseq, m.modseq());
  }
  if (!cmd.return_options.empty()) {
    // RFC 4731 3.1: "* ESEARCH (TAG "a") [UID] MIN n MAX n COUNT n ALL set".
    std::vector<std::string> opts = cmd.options;
    if (opts.empty()) opts.push_back("ALL");
    std::string out = absl::StrCat("* ESEARCH (TAG ", ImapString(cmd.tag), ")", cmd.uid ? " UID" : "");
    std::sort(hits.begin(), hits.end());
    for (const std::string& o : opts) {
      if (o == "MIN" && !hits.empty()) absl::StrAppend(&out, " MIN ", hits.front());
      if (o == "MAX" && !hits.empty()) absl::StrAppend(&out, " MAX ", hits.back());
      if (o == "COUNT") absl::StrAppend(&out, " COUNT ", hits.size());
      if (o == "ALL" && !hits.empty()) absl::StrAppend(&out, " ALL ", UidSet(hits));
    }
    if (modseq && !hits.empty()) absl::StrAppend(&out, " MODSEQ ", hits_modseq);  // RFC 7162 3.1.5
    Write(out + "\r\n");
    return Ok(cmd);
  }
  std::string out = "* SEARCH";
  for (uint32_t h : hits) absl::StrAppend(&out, " ", h);
  if (modseq && !hits.empty()) absl::StrAppend(&out, " (MODSEQ ", hits_modseq, ")");
  Write(out + "\r\n");
  Ok(cmd);
}

// RFC 3501 6.4.6 STORE.
void ImapMachine::CmdStore(const ImapCommand& cmd) {
  if (sel_->read_only) return No(cmd, "[READ-ONLY] mailbox is read-only");
  auto seqs = Resolve(cmd.set, cmd.uid);
  if (!seqs) return Bad(cmd, "no such message sequence number");
  v1::SetFlagsRequest req;
  req.set_folder(sel_->name);
  for (uint32_t seq : *seqs) req.add_uids(sel_->messages[seq - 1].uid());
  req.set_op(cmd.store_op == StoreOp::kAdd      ? v1::FLAG_OP_ADD
             : cmd.store_op == StoreOp::kRemove ? v1::FLAG_OP_REMOVE
                                                : v1::FLAG_OP_REPLACE);
  bool new_keyword = false;
  for (const std::string& f : cmd.flags) {
    if (FlagEquals(f, kFlagRecent)) continue;  // not settable (RFC 3501 2.3.2)
    req.add_flags(CanonicalFlag(f));
    if (!f.empty() && f[0] != '\\' && cmd.store_op != StoreOp::kRemove &&
        sel_->keywords.insert(f).second) {
      new_keyword = true;
    }
  }
  // RFC 3501 7.2.6: a new keyword is announced in FLAGS before it is used.
  if (new_keyword) WriteSelectedFlags(false);
  // RFC 7162 3.1.3 UNCHANGEDSINCE: the node checks each message's modseq in
  // the change's own transaction; the ones it left alone are MODIFIED.
  if (cmd.unchanged_since) {
    EnableCondstore();
    req.set_unchanged_since(*cmd.unchanged_since);
  }
  std::vector<uint32_t> modified;
  if (req.uids_size() > 0 &&
      (req.flags_size() > 0 || req.op() == v1::FLAG_OP_REPLACE || cmd.unchanged_since)) {
    absl::StatusOr<v1::SetFlagsResponse> resp = mailbox_->SetFlags(req);
    if (!resp.ok() && resp.status().code() != absl::StatusCode::kNotFound) {
      return No(cmd, ImapNoText(resp.status(), "STORE"));
    }
    if (resp.ok()) {
      for (const v1::MessageInfo& m : resp->messages()) {
        uint32_t seq = sel_->SeqOf(m.uid());
        if (seq == 0) continue;
        v1::MessageInfo& mine = sel_->messages[seq - 1];
        *mine.mutable_flags() = m.flags();
        mine.set_modseq(m.modseq());
        std::string uid = cmd.uid ? absl::StrCat(" UID ", m.uid()) : "";
        if (!cmd.store_silent) {
          Write(absl::StrCat("* ", seq, " FETCH (", FlagsItem(mine), uid, ModseqItem(mine), ")\r\n"));
        } else if (cmd.unchanged_since && !ModseqItem(mine).empty()) {
          // RFC 7162 3.1.3: .SILENT still reports the new modseq.
          std::string items = absl::StrCat(uid, ModseqItem(mine));
          Write(absl::StrCat("* ", seq, " FETCH (", items.substr(1), ")\r\n"));
        }
      }
      for (uint32_t uid : resp->modified()) {
        uint32_t seq = sel_->SeqOf(uid);
        if (seq != 0) modified.push_back(cmd.uid ? uid : seq);
      }
    }
  }
  if (!Refresh(cmd.uid, false)) return;
  if (!modified.empty()) {
    return Ok(cmd, absl::StrCat("[MODIFIED ", UidSet(modified), "] Conditional STORE failed"));
  }
  Ok(cmd);
}

// RFC 3501 6.4.7 COPY, RFC 6851 MOVE (into any folder, the selected one
// included: the messages get new UIDs there).
void ImapMachine::CmdCopy(const ImapCommand& cmd) {
  bool move = cmd.name == "MOVE";
  if (move && sel_->read_only) return No(cmd, "[READ-ONLY] mailbox is read-only");
  auto seqs = Resolve(cmd.set, cmd.uid);
  if (!seqs) return Bad(cmd, "no such message sequence number");
  const std::string& dest = cmd.args[0];
  if (dest != "INBOX" && dest != kJunk && dest != sel_->name) {
    absl::StatusOr<std::vector<v1::Folder>> folders = mailbox_->ListFolders();
    if (!folders.ok()) return No(cmd, ImapNoText(folders.status(), cmd.name));
    bool exists = std::any_of(folders->begin(), folders->end(),
                              [&](const v1::Folder& f) { return f.name() == dest; });
    if (!exists) return No(cmd, "[TRYCREATE] no such mailbox");
  }
  if (seqs->empty()) return Ok(cmd);
  v1::CopyRequest req;
  req.set_folder(sel_->name);
  for (uint32_t seq : *seqs) req.add_uids(sel_->messages[seq - 1].uid());
  req.set_to_folder(dest);
  req.set_move(move);
  absl::StatusOr<v1::CopyResponse> resp = mailbox_->Copy(req);
  if (!resp.ok()) {
    if (resp.status().code() == absl::StatusCode::kNotFound) {
      return No(cmd, "[EXPUNGEISSUED] the messages were expunged");
    }
    return No(cmd, ImapNoText(resp.status(), cmd.name));
  }
  std::string copyuid;
  if (resp->source_uids_size() > 0) {
    copyuid = absl::StrCat("[COPYUID ", resp->to_uid_validity(), " ",
                           UidSet({resp->source_uids().begin(), resp->source_uids().end()}), " ",
                           UidSet({resp->dest_uids().begin(), resp->dest_uids().end()}), "] ");
  }
  if (!move) {
    if (!Refresh(true, dest == sel_->name)) return;
    return Ok(cmd, absl::StrCat(copyuid, "COPY completed"));
  }
  // RFC 6851 3.3: COPYUID in an untagged OK, then the EXPUNGEs.
  if (!copyuid.empty()) Write(absl::StrCat("* OK ", copyuid, "moved\r\n"));
  AnnounceExpunged({resp->source_uids().begin(), resp->source_uids().end()});
  if (!Refresh(true, dest == sel_->name)) return;
  Ok(cmd, "MOVE completed");
}

// RFC 3501 6.4.5 FETCH. What the request needs is decided once: items the
// listing answers (FLAGS, UID, sizes, INTERNALDATE, ENVELOPE, and header
// fields the summary holds, when 7-bit) move no body; anything else reads
// the message, which at the first read makes the node pull it from the
// sender's node. BODY[...] without .PEEK, RFC822 and RFC822.TEXT set \Seen
// (the node sets it with the read; the FETCH then includes FLAGS).
void ImapMachine::CmdFetch(const ImapCommand& cmd) {
  using K = FetchAtt::Kind;
  // RFC 7162 3.2.6: VANISHED only in UID FETCH with CHANGEDSINCE, after
  // ENABLE QRESYNC.
  if (cmd.vanished && (!cmd.uid || !cmd.changed_since || !qresync_)) {
    return Bad(cmd, "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC");
  }
  auto seqs = Resolve(cmd.set, cmd.uid);
  if (!seqs) return Bad(cmd, "no such message sequence number");
  bool wants_flags = false, wants_uid = cmd.uid, needs_body = false, sets_seen = false;
  // RFC 7162 3.1.4: MODSEQ and CHANGEDSINCE enable CONDSTORE; CHANGEDSINCE
  // keeps only the messages changed since then and implies MODSEQ.
  bool wants_modseq = cmd.changed_since.has_value();
  for (const FetchAtt& a : cmd.fetch) {
    if (a.kind == K::kModseq) wants_modseq = true;
  }
  if (wants_modseq) EnableCondstore();
  if (cmd.changed_since) {
    std::vector<uint32_t> kept;
    for (uint32_t seq : *seqs) {
      if (sel_->messages[seq - 1].modseq() > *cmd.changed_since) kept.push_back(seq);
    }
    seqs = std::move(kept);
  }
  if (cmd.vanished) {
    // RFC 7162 3.2.6: before the FETCH responses, the UIDs of the set that
    // were expunged since CHANGEDSINCE.
    absl::StatusOr<ImapListing> l = mailbox_->ListMessages(sel_->name, *cmd.changed_since);
    if (!l.ok()) return No(cmd, ImapNoText(l.status(), "FETCH"));
    uint32_t star = std::max(sel_->max_uid(), sel_->uid_next > 0 ? sel_->uid_next - 1 : 0);
    std::vector<uint32_t> gone;
    for (uint32_t uid : l->vanished) {
      if (cmd.set.Contains(uid, star) && sel_->SeqOf(uid) == 0) gone.push_back(uid);
    }
    if (!gone.empty()) Write(absl::StrCat("* VANISHED (EARLIER) ", UidSet(gone), "\r\n"));
  }
  for (const FetchAtt& a : cmd.fetch) {
    switch (a.kind) {
      case K::kModseq: break;
      case K::kBinary:  // RFC 3516: as BODY[part], decoded
        if (!a.peek) sets_seen = true;
        needs_body = true;
        break;
      case K::kBinarySize: needs_body = true; break;
      case K::kFlags: wants_flags = true; break;
      case K::kUid: wants_uid = true; break;
      case K::kRfc822Size: case K::kInternalDate: case K::kEnvelope: break;
      case K::kBodyStructure: case K::kBody: case K::kRfc822Header: needs_body = true; break;
      case K::kRfc822: case K::kRfc822Text: needs_body = sets_seen = true; break;
      case K::kBodySection:
        if (!a.peek) sets_seen = true;
        needs_body = true;  // maybe served from the summary: decided per message
        break;
    }
  }
  if (sel_->read_only) sets_seen = false;
  auto needs_read = [&](const v1::MessageInfo& m) {
    if (sets_seen && !HasFlag(m.flags(), kFlagSeen)) return true;
    if (!needs_body) return false;
    for (const FetchAtt& a : cmd.fetch) {
      bool from_summary = a.kind == K::kBodySection && a.peek && a.section.part.empty() &&
                          a.section.text == FetchSection::Text::kHeaderFields &&
                          !SummaryEmpty(m.summary()) && SummaryIs7Bit(m.summary()) &&
                          SummaryHeaderFields(m.summary(), a.section.fields).has_value();
      bool simple = a.kind == K::kFlags || a.kind == K::kUid || a.kind == K::kRfc822Size ||
                    a.kind == K::kInternalDate || a.kind == K::kEnvelope || a.kind == K::kModseq;
      if (!from_summary && !simple) return true;
    }
    return false;
  };

  // A BINARY of a part whose Content-Transfer-Encoding is unknown: that
  // message's response is not sent, the FETCH ends NO [UNKNOWN-CTE].
  bool unknown_cte = false;
  // The one attribute that needs a message's bytes, when it is their whole
  // (BODY[], RFC822) and nothing else needs them parsed: then each body is
  // written on to the client as it arrives (StreamBodies) instead of held.
  const FetchAtt* streamed = nullptr;
  bool streamable = true;
  for (const FetchAtt& a : cmd.fetch) {
    const bool whole = a.kind == K::kRfc822 ||
                       (a.kind == K::kBodySection && a.section.part.empty() &&
                        a.section.text == FetchSection::Text::kNone && !a.partial_start);
    if (whole) {
      if (streamed != nullptr) streamable = false;
      streamed = &a;
    } else if (a.kind != K::kFlags && a.kind != K::kUid && a.kind != K::kModseq &&
               a.kind != K::kRfc822Size && a.kind != K::kInternalDate &&
               a.kind != K::kEnvelope) {
      streamable = false;
    }
  }
  if (!streamable) streamed = nullptr;

  // Writes one message's FETCH response; `body` is null when not read. With
  // `split`, the `streamed` attribute's literal is left open after its
  // "{literal_size}\r\n" (at *split in what is written): the caller writes
  // the bytes, then the rest.
  auto respond = [&](uint32_t seq, const std::string* body, bool now_seen,
                     uint64_t literal_size = 0, size_t* split = nullptr,
                     const Sectioned* sec = nullptr) {
    v1::MessageInfo& m = sel_->messages[seq - 1];
    bool flags = wants_flags, seen_changed = false;
    if (now_seen && !HasFlag(m.flags(), kFlagSeen)) {
      m.add_flags(std::string(kFlagSeen));
      flags = seen_changed = true;  // RFC 3501 6.4.5: the \Seen change is reported
    }
    std::optional<MimeEntity> mime;
    auto tree = [&]() -> const MimeEntity& {
      if (sec != nullptr) return *sec->tree;
      if (!mime) mime = ParseMime(*body);
      return *mime;
    };
    // With `sec`: attribute k's bytes, or NotFound when its section is missing.
    auto sec_bytes = [&](size_t k) -> absl::StatusOr<std::string> {
      if (!sec->bytes[k]) return absl::NotFoundError("no such section");
      return *sec->bytes[k];
    };
    size_t att_index = 0;
    std::string out = absl::StrCat("* ", seq, " FETCH (");
    bool first = true;
    auto item = [&](std::string_view head, std::string_view rest = "") {
      if (!first) out += " ";
      first = false;
      absl::StrAppend(&out, AV(head), AV(rest));
    };
    if (wants_uid) item(absl::StrCat("UID ", m.uid()));
    if (flags) item(FlagsItem(m));
    // RFC 7162 3.1.4.1; and a \Seen change reports the new modseq once
    // CONDSTORE is enabled.
    if (wants_modseq || (seen_changed && ModseqItem(m) != "")) {
      item(absl::StrCat("MODSEQ (", m.modseq(), ")"));
    }
    for (const FetchAtt& a : cmd.fetch) {
      const size_t k = att_index++;
      switch (a.kind) {
        case K::kFlags: case K::kUid: case K::kModseq: break;
        case K::kBinary:
        case K::kBinarySize: {
          absl::StatusOr<std::string> b = absl::NotFoundError("");
          if (sec == nullptr) {
            b = BinarySectionBytes(*body, tree(), a.section.part);
          } else if (sec->bytes[k]) {
            b = BinaryDecode(*sec->bytes[k], sec->encoding[k]);
          }
          if (!b.ok() && b.status().code() == absl::StatusCode::kUnimplemented) {
            unknown_cte = true;
            break;
          }
          std::string bytes = b.ok() ? *std::move(b) : "";  // a missing part is empty
          std::string spec = absl::StrJoin(a.section.part, ".");
          if (a.kind == K::kBinarySize) {
            item(absl::StrCat("BINARY.SIZE[", spec, "] ", bytes.size()));
            break;
          }
          std::string origin;
          std::string_view shown = Partial(bytes, a, &origin);
          // RFC 3516 4.2: literal8 when the content holds a NUL.
          bool nul = shown.find('\0') != std::string_view::npos;
          item(absl::StrCat("BINARY[", spec, "]", origin, " "),
               nul ? absl::StrCat("~", Literal(shown)) : Literal(shown));
          break;
        }
        case K::kRfc822Size: item(absl::StrCat("RFC822.SIZE ", m.body_size())); break;
        case K::kInternalDate:
          item(absl::StrCat("INTERNALDATE ", ImapDateTime(absl::FromUnixMillis(m.received_unix_ms()))));
          break;
        case K::kEnvelope: item(absl::StrCat("ENVELOPE ", ImapEnvelope(m.summary()))); break;
        case K::kBodyStructure: item("BODYSTRUCTURE ", ImapBodyStructure(tree(), true)); break;
        case K::kBody: item("BODY ", ImapBodyStructure(tree(), false)); break;
        case K::kRfc822:
          if (split != nullptr) {
            item("RFC822 ", absl::StrCat("{", literal_size, "}\r\n"));
            *split = out.size();
            break;
          }
          item("RFC822 ", Literal(*body));
          break;
        case K::kRfc822Header: {
          FetchSection h;
          h.text = FetchSection::Text::kHeader;
          auto b = sec != nullptr ? sec_bytes(k) : SectionBytes(*body, tree(), h);
          item("RFC822.HEADER ", Literal(b.ok() ? *b : ""));
          break;
        }
        case K::kRfc822Text: {
          FetchSection t;
          t.text = FetchSection::Text::kText;
          auto b = sec != nullptr ? sec_bytes(k) : SectionBytes(*body, tree(), t);
          item("RFC822.TEXT ", Literal(b.ok() ? *b : ""));
          break;
        }
        case K::kBodySection: {
          if (split != nullptr && &a == streamed) {
            item(absl::StrCat("BODY[] {", literal_size, "}\r\n"));
            *split = out.size();
            break;
          }
          std::string bytes;
          if (sec != nullptr) {
            absl::StatusOr<std::string> b = sec_bytes(k);
            if (b.ok() && sec->precut[k]) {
              // Already cut to <partial> by the range read.
              std::string origin =
                  a.partial_start ? absl::StrCat("<", *a.partial_start, ">") : "";
              item(absl::StrCat("BODY[", SectionSpec(a.section), "]", origin, " "), Literal(*b));
              break;
            }
            if (b.ok()) {
              bytes = FilterHeaderFields(*b, a.section.fields,
                                         a.section.text == FetchSection::Text::kHeaderFieldsNot);
            }
          } else if (body == nullptr) {
            bytes = *SummaryHeaderFields(m.summary(), a.section.fields);
          } else if (a.section.part.empty() && a.section.text == FetchSection::Text::kNone) {
            bytes = *body;  // BODY[]: no parse, no copy beyond this one
          } else {
            auto b = SectionBytes(*body, tree(), a.section);
            bytes = b.ok() ? *std::move(b) : "";  // RFC 3501 6.4.5: a missing part is empty
          }
          std::string origin;
          std::string_view shown = Partial(bytes, a, &origin);
          item(absl::StrCat("BODY[", SectionSpec(a.section), "]", origin, " "), Literal(shown));
          break;
        }
      }
    }
    out += ")\r\n";
    if (split != nullptr) {
      Write(std::string_view(out).substr(0, *split));
      out.erase(0, *split);
      *split = 0;
      return out;
    }
    if (!unknown_cte) Write(out);
    return std::string();
  };

  std::vector<ImapMailbox::ReadItem> reads;
  std::vector<size_t> read_pos;  // index into *seqs of each read
  for (size_t k = 0; k < seqs->size(); ++k) {
    const v1::MessageInfo& m = sel_->messages[(*seqs)[k] - 1];
    if (!needs_read(m)) continue;
    read_pos.push_back(k);
    reads.push_back({m.uid(), m.body_size()});
  }
  // Messages go out in order: those that need no read are answered as the
  // reads before and after them complete.
  size_t next = 0;  // the next index into *seqs to answer
  auto answer_unread_until = [&](size_t end) {
    for (; next < end; ++next) respond((*seqs)[next], nullptr, false);
  };
  bool expunged = false;
  absl::Status failed;
  // Every attribute that needs the message is answered from its structure
  // and byte ranges (BODYSTRUCTURE, BODY, BODY[section]<partial> other than
  // the whole BODY[], BINARY, RFC822.HEADER/TEXT): no whole body moves. The
  // structures of a window of messages are read first, then the ranges
  // their attributes need (ReadRanges, which also sets \Seen).
  // (At most 64 attributes: the node's cap on ranges per message.)
  bool sectioned = needs_body && streamed == nullptr && cmd.fetch.size() <= 64;
  for (const FetchAtt& a : cmd.fetch) {
    if (a.kind == K::kRfc822 ||
        (a.kind == K::kBodySection && a.section.part.empty() &&
         a.section.text == FetchSection::Text::kNone && !a.partial_start)) {
      sectioned = false;
    }
  }
  if (!reads.empty() && sectioned) {
    constexpr size_t kWindow = 64;  // structures held at once
    for (size_t w = 0; w < reads.size() && failed.ok() && !closed_ && !unknown_cte; w += kWindow) {
      const size_t n = std::min(kWindow, reads.size() - w);
      std::vector<ImapMailbox::ReadItem> items(reads.begin() + w, reads.begin() + w + n);
      std::vector<std::optional<ImapStructure>> got(n);
      size_t fail_at = n;  // the read that failed: it and those after go unanswered
      mailbox_->ReadStructures(sel_->name, items, /*peek=*/true,
                               [&](size_t i, absl::StatusOr<ImapStructure> st) {
        if (st.ok()) {
          got[i] = *std::move(st);
        } else if (st.status().code() == absl::StatusCode::kNotFound) {
          expunged = true;  // removed by another session; announced later
        } else {
          failed = st.status();
          fail_at = i;
          return false;
        }
        return !closed_;
      });
      // What each message's attributes need, and which messages to read.
      std::vector<Sectioned> plans(n);
      std::vector<ImapMailbox::ReadItem> range_items;
      std::vector<std::vector<ByteRange>> ranges;
      std::vector<std::vector<size_t>> range_att;  // range q of a read -> attribute index
      std::vector<size_t> range_of;                // read -> index into got
      for (size_t i = 0; i < fail_at; ++i) {
        if (!got[i]) continue;
        Sectioned& plan = plans[i];
        plan.tree = &got[i]->tree;
        plan.bytes.assign(cmd.fetch.size(), std::nullopt);
        plan.encoding.assign(cmd.fetch.size(), "");
        plan.precut.assign(cmd.fetch.size(), false);
        std::vector<ByteRange> mine;
        std::vector<size_t> atts;
        for (size_t k = 0; k < cmd.fetch.size(); ++k) {
          std::string enc;
          bool precut = false, missing = false;
          std::optional<ByteRange> r = RangeFor(cmd.fetch[k], got[i]->tree,
                                                got[i]->info.body_size(), &enc, &precut, &missing);
          plan.encoding[k] = enc;
          plan.precut[k] = precut;
          if (!r) continue;
          mine.push_back(*r);
          atts.push_back(k);
        }
        const v1::MessageInfo& m = sel_->messages[(*seqs)[read_pos[w + i]] - 1];
        if (mine.empty() && !(sets_seen && !HasFlag(m.flags(), kFlagSeen))) continue;
        range_items.push_back(items[i]);
        ranges.push_back(std::move(mine));
        range_att.push_back(std::move(atts));
        range_of.push_back(i);
      }
      std::vector<bool> gone(n, false);
      std::vector<std::optional<v1::MessageInfo>> info(n);
      if (!range_items.empty()) {
        mailbox_->ReadRanges(sel_->name, range_items, ranges, !sets_seen,
                             [&](size_t j, absl::StatusOr<ImapRanges> rr) {
          const size_t i = range_of[j];
          if (rr.ok() && rr->bytes.size() != range_att[j].size()) {
            rr = absl::InternalError("the mailbox answered other ranges than asked");
          }
          if (!rr.ok()) {
            if (rr.status().code() == absl::StatusCode::kNotFound) {
              expunged = true;
              gone[i] = true;
              return !closed_;
            }
            if (failed.ok()) failed = rr.status();
            fail_at = std::min(fail_at, i);
            return false;
          }
          for (size_t q = 0; q < range_att[j].size(); ++q) {
            plans[i].bytes[range_att[j][q]] = std::move(rr->bytes[q]);
          }
          info[i] = std::move(rr->info);
          return true;
        });
        // A read that stopped early leaves the rest unread: they fail too.
        for (size_t j = 0; j < range_of.size(); ++j) {
          const size_t i = range_of[j];
          if (!info[i] && !gone[i] && i < fail_at) {
            if (failed.ok()) failed = absl::UnavailableError("the read stopped early");
            fail_at = i;
          }
        }
      }
      // Attributes whose section is missing answer empty (RFC 3501 6.4.5).
      for (size_t i = 0; i < fail_at && !closed_ && !unknown_cte; ++i) {
        answer_unread_until(read_pos[w + i]);
        next = read_pos[w + i] + 1;
        if (!got[i] || gone[i]) continue;  // expunged: announced later
        v1::MessageInfo& m = sel_->messages[(*seqs)[read_pos[w + i]] - 1];
        const v1::MessageInfo& fresh = info[i] ? *info[i] : got[i]->info;
        if (fresh.uid() == m.uid() && fresh.modseq() > m.modseq()) {
          m.set_modseq(fresh.modseq());  // the read set \Seen: a change
        }
        respond((*seqs)[read_pos[w + i]], nullptr, sets_seen, 0, nullptr, &plans[i]);
      }
      if (!failed.ok() && fail_at < n && !unknown_cte) {
        answer_unread_until(read_pos[w + fail_at]);
        next = read_pos[w + fail_at] + 1;
      }
    }
  } else if (!reads.empty() && streamed != nullptr) {
    // A literal cannot be taken back: once its size is out, a body that
    // breaks off (or does not add up to it) ends the connection.
    std::string tail;      // what follows the open literal
    uint64_t left = 0;     // its bytes still to come
    bool open = false;
    auto abandon = [&] {
      outbuf_.clear();
      closed_ = true;
      return false;
    };
    mailbox_->StreamBodies(sel_->name, reads, !sets_seen,
                           [&](const ImapMailbox::BodyPiece& p) {
      if (!p.status.ok()) {
        if (open) return abandon();
        answer_unread_until(read_pos[p.index]);
        next = read_pos[p.index] + 1;
        if (p.status.code() == absl::StatusCode::kNotFound) {
          expunged = true;  // removed by another session; announced later
          return !closed_;
        }
        failed = p.status;
        return false;
      }
      if (p.info != nullptr) {
        if (open) return abandon();
        answer_unread_until(read_pos[p.index]);
        next = read_pos[p.index] + 1;
        v1::MessageInfo& m = sel_->messages[(*seqs)[read_pos[p.index]] - 1];
        if (p.info->uid() == m.uid() && p.info->modseq() > m.modseq()) {
          m.set_modseq(p.info->modseq());  // the read set \Seen: a change
        }
        size_t split = 0;
        left = p.info->body_size();
        tail = respond((*seqs)[read_pos[p.index]], nullptr, sets_seen, left, &split);
        open = true;
      } else if (!open) {
        return abandon();
      }
      if (p.data.size() > left) return abandon();
      left -= p.data.size();
      WriteBody(p.data);
      if (p.last) {
        if (left != 0) return abandon();
        open = false;
        Write(tail);
      }
      return !closed_;
    });
    if (open) abandon();  // the reads ended inside a literal
  } else if (!reads.empty()) {
    mailbox_->ReadBodies(sel_->name, reads, !sets_seen, [&](size_t i, absl::StatusOr<ImapBody> b) {
      answer_unread_until(read_pos[i]);
      next = read_pos[i] + 1;
      if (!b.ok()) {
        if (b.status().code() == absl::StatusCode::kNotFound) {
          expunged = true;  // removed by another session; announced later
          return !closed_;
        }
        failed = b.status();
        return false;
      }
      v1::MessageInfo& m = sel_->messages[(*seqs)[read_pos[i]] - 1];
      if (b->info.uid() == m.uid() && b->info.modseq() > m.modseq()) {
        m.set_modseq(b->info.modseq());  // the read set \Seen: a change
      }
      respond((*seqs)[read_pos[i]], &b->bytes, sets_seen);
      return !closed_ && !unknown_cte;
    });
  }
  if (!failed.ok()) {
    if (ImapCodeFor(failed) == ImapCode::kUnavailable) return No(cmd, kFetchUnavailable);
    return No(cmd, ImapNoText(failed, "FETCH"));
  }
  if (closed_) return;
  if (unknown_cte) {
    return No(cmd, "[UNKNOWN-CTE] a part has a Content-Transfer-Encoding this server cannot decode");
  }
  answer_unread_until(seqs->size());
  if (!Refresh(cmd.uid, false)) return;
  if (expunged) return No(cmd, "[EXPUNGEISSUED] some messages were expunged");
  Ok(cmd);
}

// --- the selected mailbox's state ---

std::string ImapMachine::FlagsItem(const v1::MessageInfo& m) const {
  std::vector<std::string> flags(m.flags().begin(), m.flags().end());
  if (sel_ && sel_->recent.count(m.uid())) flags.push_back(std::string(kFlagRecent));
  return absl::StrCat("FLAGS (", absl::StrJoin(flags, " "), ")");
}

// The sequence numbers (1-based, ascending) that `set` names. For sequence
// numbers past the end: nullopt (the caller answers BAD, RFC 3501 9).
std::optional<std::vector<uint32_t>> ImapMachine::Resolve(const SequenceSet& set, bool uid) const {
  const Selected& sel = *sel_;
  uint32_t count = static_cast<uint32_t>(sel.messages.size());
  std::vector<uint32_t> out;
  if (uid) {
    // UIDs ascend with sequence numbers: one walk over both lists.
    const auto intervals = set.Intervals(sel.max_uid());
    size_t k = 0;
    for (uint32_t i = 0; i < count && k < intervals.size(); ++i) {
      const uint32_t u = sel.messages[i].uid();
      while (k < intervals.size() && intervals[k].second < u) ++k;
      if (k < intervals.size() && intervals[k].first <= u) out.push_back(i + 1);
    }
    return out;
  }
  for (const SequenceSet::Range& r : set.ranges) {
    if ((r.lo != 0 && r.lo > count) || (r.hi != 0 && r.hi > count) || count == 0) return std::nullopt;
  }
  for (const auto& [lo, hi] : set.Intervals(count)) {
    for (uint64_t i = lo; i <= hi; ++i) out.push_back(static_cast<uint32_t>(i));
  }
  return out;
}

// Brings the selected mailbox up to date when the mailbox says it may have
// changed (or `force`), and tells the client: "* n EXPUNGE" (only when
// `allow_expunge`: RFC 3501 7.4.1 forbids it during FETCH, STORE and SEARCH
// by sequence number), "* n EXISTS", "* n RECENT", and "* n FETCH (FLAGS)"
// for flags another session changed. False: the session ends (UIDVALIDITY
// changed).
//
// Only what changed since the last listing is asked for (ListChanges: the
// messages whose modseq went up, the UIDs that left) and merged into the
// selected listing, unless an expunge is being held back or the two do not
// add up; then the whole folder is listed, as a mailbox without MODSEQ
// always needs. Either way the same whole listing is compared below.
bool ImapMachine::Refresh(bool allow_expunge, bool force) {
  if (state_ != State::kSelected) return true;
  Selected& sel = *sel_;
  bool changed = mailbox_->MayHaveChanged();
  if (!changed && !force && !(allow_expunge && sel.expunge_pending)) return true;
  if (sel.synced_modseq > 0 && !sel.expunge_pending) {
    absl::StatusOr<ImapListing> delta = mailbox_->ListChanges(sel.name, sel.synced_modseq);
    if (!delta.ok()) return true;  // try again at the next command
    if (!delta->changed_only || ChangesAddUp(*delta)) return ApplyListing(*delta, allow_expunge);
  }
  absl::StatusOr<ImapListing> listing = mailbox_->ListMessages(sel.name, 0);
  if (!listing.ok()) return true;  // try again at the next command
  return ApplyListing(*listing, allow_expunge);
}

bool ImapMachine::ChangesAddUp(const ImapListing& delta) const {
  const Selected& sel = *sel_;
  if (delta.folder.uid_validity() != sel.uid_validity) return false;
  size_t gone = 0;
  for (uint32_t uid : delta.vanished) gone += sel.SeqOf(uid) != 0 ? 1 : 0;
  const uint32_t max_uid = sel.max_uid();
  uint32_t last_added = max_uid;
  size_t added = 0;
  for (const v1::MessageInfo& m : delta.messages) {
    if (m.uid() > max_uid) {
      if (m.uid() <= last_added) return false;
      last_added = m.uid();
      ++added;
    } else if (sel.SeqOf(m.uid()) == 0 ||
               std::binary_search(delta.vanished.begin(), delta.vanished.end(), m.uid())) {
      return false;  // an old UID this listing never held, or one both changed and gone
    }
  }
  // The node counts the whole folder: a change missed in between shows here.
  return sel.messages.size() - gone + added == delta.folder.messages();
}

bool ImapMachine::ApplyListing(ImapListing& listing, bool allow_expunge) {
  Selected& sel = *sel_;
  if (listing.folder.uid_validity() != sel.uid_validity) {
    // The folder was re-created: RFC 3501 2.3.1.1 says the client must
    // resynchronise; the clean way is to end the session.
    Write("* BYE [UNAVAILABLE] mailbox UIDVALIDITY changed; reconnect\r\n");
    closed_ = true;
    return false;
  }
  // What each selected message is now: nullptr if it left; itself if a
  // listing of changes did not name it (unchanged).
  std::map<uint32_t, v1::MessageInfo*> fresh;
  for (v1::MessageInfo& m : listing.messages) fresh[m.uid()] = &m;
  auto now_of = [&](v1::MessageInfo& old) -> v1::MessageInfo* {
    auto it = fresh.find(old.uid());
    if (!listing.changed_only) return it == fresh.end() ? nullptr : it->second;
    if (std::binary_search(listing.vanished.begin(), listing.vanished.end(), old.uid())) {
      return nullptr;
    }
    return it == fresh.end() ? &old : it->second;
  };
  sel.expunge_pending = false;
  std::string out;
  std::vector<v1::MessageInfo> kept;
  kept.reserve(sel.messages.size() + listing.messages.size());
  std::vector<uint32_t> vanished;  // after ENABLE QRESYNC: one VANISHED (RFC 7162 3.2.10)
  bool new_keyword = false;
  const uint32_t max_uid = sel.max_uid();
  for (size_t i = 0; i < sel.messages.size(); ++i) {
    v1::MessageInfo& old = sel.messages[i];
    v1::MessageInfo* now = now_of(old);
    if (now == nullptr) {
      if (allow_expunge) {
        // The number the client knows now: earlier expunges in this loop
        // have shifted it down.
        if (qresync_) {
          vanished.push_back(old.uid());
        } else {
          absl::StrAppend(&out, "* ", kept.size() + 1, " EXPUNGE\r\n");
        }
        sel.recent.erase(old.uid());
        continue;
      }
      kept.push_back(std::move(old));  // stays until it can be announced
      sel.expunge_pending = true;
      continue;
    }
    if (now == &old) {
      kept.push_back(std::move(old));
      continue;
    }
    std::vector<std::string> a(old.flags().begin(), old.flags().end());
    std::vector<std::string> b(now->flags().begin(), now->flags().end());
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    for (const std::string& f : b) {
      if (!f.empty() && f[0] != '\\' && sel.keywords.insert(f).second) new_keyword = true;
    }
    // With CONDSTORE, a new modseq alone is news too (RFC 7162 3.1.4).
    const bool announce =
        a != b || (!ModseqItem(*now).empty() && now->modseq() != old.modseq());
    kept.push_back(std::move(*now));
    if (announce) {
      const v1::MessageInfo& m = kept.back();
      absl::StrAppend(&out, "* ", kept.size(), " FETCH (", FlagsItem(m), " UID ", m.uid(),
                      ModseqItem(m), ")\r\n");
    }
  }
  if (!vanished.empty()) out = absl::StrCat("* VANISHED ", UidSet(vanished), "\r\n", out);
  size_t before = kept.size();
  for (v1::MessageInfo& m : listing.messages) {
    if (m.uid() <= max_uid) continue;
    sel.recent.insert(m.uid());
    for (const std::string& f : m.flags()) {
      if (!f.empty() && f[0] != '\\' && sel.keywords.insert(f).second) new_keyword = true;
    }
    kept.push_back(std::move(m));
  }
  bool grew = kept.size() != before;
  sel.messages = std::move(kept);
  sel.uid_next = listing.folder.uid_next();
  sel.synced_modseq = listing.folder.highest_modseq();
  if (!sel.expunge_pending) sel.highest_modseq = listing.folder.highest_modseq();
  if (new_keyword) WriteSelectedFlags(sel.read_only);
  if (grew) {
    absl::StrAppend(&out, "* ", sel.messages.size(), " EXISTS\r\n* ", sel.recent.size(), " RECENT\r\n");
  }
  Write(out);
  return !closed_;
}

}  // namespace pullmail
