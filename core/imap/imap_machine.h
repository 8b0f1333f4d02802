// The IMAP4rev1 session machine of one client connection (RFC 3501, with
// RFC 2177 IDLE, RFC 2971 ID, RFC 3691 UNSELECT, RFC 4315 UIDPLUS, RFC 4731
// ESEARCH, RFC 4959 SASL-IR, RFC 5161 ENABLE, RFC 5258 LIST-EXTENDED,
// RFC 5530 response codes, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE,
// RFC 6851 MOVE, RFC 7162 CONDSTORE and QRESYNC, RFC 3502 MULTIAPPEND,
// RFC 5256 SORT, RFC 3516 BINARY, RFC 7888 LITERAL+, RFC 7889 APPENDLIMIT),
// without I/O.
//
// The gateway (gateway/imap_session.cc) feeds it the bytes its socket reads,
// in pieces of any size down to one byte; the machine splits lines, takes
// literals, parses commands (core/imap/imap_command.h), runs each through its
// command table (name, handler, the states it is valid in, and Dovecot's
// "uses / breaks sequence numbers" flags: imap_machine.cc), and writes the
// responses to an ImapOutput, buffered so that a pipelined burst and a
// command's untagged lines and tagged reply leave in one write. What the
// mailbox holds it asks an ImapMailbox (the recipient node, over gRPC in the
// gateway; in memory in tests). Every protocol decision is here: the states,
// the selected mailbox's sequence numbers <-> UIDs and when EXISTS, EXPUNGE
// and FETCH FLAGS are announced (RFC 3501 7.4.1: never an EXPUNGE during a
// FETCH, STORE or SEARCH by sequence number), which FETCH items need the
// body and which the listing's header summary answers, when \Seen is set,
// and the Status -> response code table (imap_reply.h).
//
// SECURITY: the client is untrusted. A line longer than max_line_bytes is
// dropped and answered with a tagged BAD (the tag read from its start), so
// a client waiting for its tag never hangs; literals are bounded (before
// login by the line limit, so an anonymous client cannot make the gateway
// buffer megabytes; after login by max_message_bytes, APPEND over it gets NO
// [TOOBIG] before the client sends it, RFC 7889); a password is taken only
// when the transport allows it (else LOGINDISABLED and [PRIVACYREQUIRED]);
// after max_failed_logins the connection is closed. Message bytes always go
// out as literals of their exact length. A body the node cannot get is
// answered NO [UNAVAILABLE], never with a partial or empty body.
//
// Not thread-safe; one per connection.
#ifndef PULLMAIL_CORE_IMAP_IMAP_MACHINE_H_
#define PULLMAIL_CORE_IMAP_IMAP_MACHINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/imap/imap_command.h"
#include "core/imap/imap_mailbox.h"

namespace pullmail {

// Where the machine's responses go (the gateway's socket; a string in
// tests). False: the peer is gone; the machine stops.
class ImapOutput {
 public:
  virtual ~ImapOutput() = default;
  virtual bool Write(std::string_view bytes) = 0;
};

// What the connection is like now; passed with every Feed because STARTTLS
// changes it.
struct ImapTransport {
  bool tls_available = false;  // a TLS context exists (STARTTLS can be offered)
  bool tls_active = false;
  bool auth_allowed = false;   // a password may be taken now (gateway::AuthAllowed)
};

struct ImapMachineOptions {
  size_t max_line_bytes = 8192;
  uint64_t max_message_bytes = uint64_t{64} << 20;  // APPENDLIMIT, literal cap after login
  int max_failed_logins = 3;
  // SEARCH BODY / TEXT / BCC / HEADER of a field the summary lacks read
  // message bytes (the node may pull them from the sender's node): at most
  // this many messages per SEARCH, else NO [LIMIT] (docs/GATEWAY.md).
  size_t search_max_bodies = 500;
  // Flush the output buffer once it holds this much (a large FETCH).
  size_t flush_bytes = 256 * 1024;
};

// What the gateway does after Feed / OnIdleTick.
enum class ImapNext {
  kRead,      // read more bytes (when idling(): wait for bytes or tick)
  kStartTls,  // the TLS handshake now (the machine has dropped buffered input)
  kClose,     // close the connection
};

class ImapMachine {
 public:
  // `mailbox` and `out` must outlive the machine.
  ImapMachine(ImapMachineOptions options, ImapMailbox* mailbox, ImapOutput* out);
  ~ImapMachine();
  ImapMachine(const ImapMachine&) = delete;
  ImapMachine& operator=(const ImapMachine&) = delete;

  // Writes the greeting ("* OK [CAPABILITY ...] ..."). kClose if the write
  // failed.
  ImapNext Start(const ImapTransport& transport);

  // Bytes the client sent (any amount).
  ImapNext Feed(std::string_view bytes, const ImapTransport& transport);

  // While idling() and no byte arrived for a while: look at the mailbox and
  // announce changes (RFC 2177).
  ImapNext OnIdleTick();

  // The connection's idle timeout passed (or IDLE's own limit): "* BYE
  // autologout" (RFC 3501 5.4). Always kClose.
  ImapNext OnTimeout();

  // In IDLE (RFC 2177), waiting for DONE.
  bool idling() const { return idle_.has_value(); }

  enum class State { kNotAuthenticated, kAuthenticated, kSelected, kLogout };
  State state() const { return state_; }

  // The capability list as the current state offers it.
  std::string Capabilities(const ImapTransport& t) const;

  // Command table entry (Dovecot's struct command): valid states as a
  // bit set of State, and flags.
  enum Flags : unsigned {
    kUsesSeqs = 1,    // refers to sequence numbers: no EXPUNGE may be sent
                      // while it runs (RFC 3501 7.4.1), unless it is UID-based
    kBreaksSeqs = 2,  // may remove messages (EXPUNGE, MOVE, CLOSE)
  };
  struct CommandSpec;

  struct Selected;  // the selected mailbox (imap_machine.cc)

 private:
  static const CommandSpec kCommandTable[];
  static const CommandSpec* FindCommand(std::string_view name);

  bool Flush();
  // Write for a literal's bytes: a large piece is written out directly
  // (after what is buffered) instead of copied into the buffer.
  void WriteBody(std::string_view bytes);
  void Write(std::string_view bytes);
  void Tagged(const ImapCommand& cmd, std::string_view status, std::string_view text);
  void Ok(const ImapCommand& cmd, std::string_view text = "");
  void No(const ImapCommand& cmd, std::string_view text) { Tagged(cmd, "NO", text); }
  void Bad(const ImapCommand& cmd, std::string_view text) { Tagged(cmd, "BAD", text); }

  void ProcessInput();
  void OnLine(std::string_view line);
  void OnLineTooLong(std::string_view start);
  void HandleResult(ImapFeedResult res);
  void Dispatch(const ImapCommand& cmd);

  // Commands (one per RFC section, as Dovecot's cmd-*.c).
  void CmdCapability(const ImapCommand& cmd);
  void CmdNoop(const ImapCommand& cmd);
  void CmdLogout(const ImapCommand& cmd);
  void CmdId(const ImapCommand& cmd);
  void CmdEnable(const ImapCommand& cmd);
  void CmdStartTls(const ImapCommand& cmd);
  void CmdLogin(const ImapCommand& cmd);
  void CmdAuthenticate(const ImapCommand& cmd);
  void CmdSelect(const ImapCommand& cmd);
  void CmdCreate(const ImapCommand& cmd);
  void CmdDelete(const ImapCommand& cmd);
  void CmdRename(const ImapCommand& cmd);
  void CmdSubscribe(const ImapCommand& cmd);
  void CmdList(const ImapCommand& cmd);
  void CmdNamespace(const ImapCommand& cmd);
  void CmdStatus(const ImapCommand& cmd);
  void CmdAppend(const ImapCommand& cmd);
  void CmdIdle(const ImapCommand& cmd);
  void CmdCheck(const ImapCommand& cmd);
  void CmdClose(const ImapCommand& cmd);
  void CmdExpunge(const ImapCommand& cmd);
  void CmdSearch(const ImapCommand& cmd);
  void CmdSort(const ImapCommand& cmd);
  bool SearchHits(const ImapCommand& cmd, std::vector<uint32_t>* found);
  void CmdFetch(const ImapCommand& cmd);
  void CmdStore(const ImapCommand& cmd);
  void CmdCopy(const ImapCommand& cmd);

  void Login(const ImapCommand& cmd, const std::string& user, const std::string& password);
  void SaslResponse(std::string_view line);
  void IdleLine(std::string_view line);
  std::optional<std::string> StatusLine(const v1::Folder& f, const std::vector<std::string>& items);
  // Brings the selected mailbox up to date and announces changes (see .cc).
  bool Refresh(bool allow_expunge, bool force);
  // Refresh's second half: `listing` is the whole folder now, or (with
  // changed_only) what changed since the selected listing. Moves from it.
  bool ApplyListing(ImapListing& listing, bool allow_expunge);
  // Whether `delta` (changed_only) and the selected listing add up to the
  // folder the node counted; if not, the folder is listed whole.
  bool ChangesAddUp(const ImapListing& delta) const;
  std::string FlagsItem(const v1::MessageInfo& m) const;
  std::optional<std::vector<uint32_t>> Resolve(const SequenceSet& set, bool uid) const;
  void AnnounceExpunged(const std::vector<uint32_t>& uids);
  void WriteSelectedFlags(bool read_only);
  // RFC 7162 3.1: a CONDSTORE enabling command. The first one while a
  // mailbox is selected announces its HIGHESTMODSEQ.
  void EnableCondstore();
  // " MODSEQ (n)" when CONDSTORE is enabled (RFC 7162 3.1.4), else "".
  std::string ModseqItem(const v1::MessageInfo& m) const;
  // RFC 7162 3.2.5.1 SELECT (QRESYNC ...): what changed since the client's
  // modseq, as VANISHED (EARLIER) and FETCH responses.
  void WriteQresync(const QresyncParams& q, const std::vector<uint32_t>& vanished);

  ImapMachineOptions options_;
  ImapMailbox* mailbox_;
  ImapOutput* out_;
  ImapCommandReader reader_;
  ImapTransport transport_;

  State state_ = State::kNotAuthenticated;
  bool closed_ = false;      // the output failed, or LOGOUT / BYE: kClose
  bool closed_out_ = false;  // the output failed: write nothing more
  bool start_tls_ = false;   // kStartTls after this Feed
  int failed_logins_ = 0;
  std::string user_;
  bool condstore_ = false;  // RFC 7162 3.1: a CONDSTORE enabling command was seen
  bool qresync_ = false;    // ENABLE QRESYNC (RFC 7162 3.2.3): VANISHED, not EXPUNGE

  std::string in_;           // bytes fed and not yet used
  size_t in_pos_ = 0;
  size_t literal_needed_ = 0;  // bytes of an announced literal still awaited
  bool literal_pending_ = false;
  bool discarding_ = false;  // dropping the rest of an over-long line
  std::string outbuf_;

  std::optional<ImapCommand> sasl_;  // AUTHENTICATE awaiting the client's response
  std::optional<ImapCommand> idle_;  // IDLE awaiting DONE

  std::unique_ptr<Selected> sel_;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_IMAP_IMAP_MACHINE_H_
