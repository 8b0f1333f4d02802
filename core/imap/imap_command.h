// IMAP4rev1 command reader (RFC 3501 section 9, formal syntax): a push
// parser that is fed one line at a time (without its CRLF) and, after a line
// that ends in a literal announcement "{n}" (or "{n+}", RFC 7888 LITERAL+),
// exactly n literal bytes. It never reads a socket: the session reads, feeds,
// and acts on what the reader returns.
//
//   ImapCommandReader r(limits);
//   auto res = r.Feed("a1 LOGIN {5}");      // -> ImapNeedLiteral{size=5}
//   // session writes "+ Ready\r\n", reads 5 bytes
//   res = r.FeedLiteral("alice");            // -> ImapNeedMore (line follows)
//   res = r.Feed(" secret");                 // -> ImapCommand{LOGIN, ...}
//
// Limits (ImapLimits): line length (the session's reader enforces it first),
// literal size, total command size, number of arguments, nesting depth of
// parenthesised lists, and the number of items in a sequence set. Every
// violation is an ImapParseError carrying the tag (when one was read) and
// the text of a "BAD" reply; the reader is then ready for a new command.
#ifndef PULLMAIL_CORE_IMAP_IMAP_COMMAND_H_
#define PULLMAIL_CORE_IMAP_IMAP_COMMAND_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/time/civil_time.h"

namespace pullmail {

struct ImapLimits {
  size_t max_line_bytes = 8192;
  size_t max_literal_bytes = size_t{64} << 20;
  size_t max_command_bytes = (size_t{64} << 20) + 65536;
  size_t max_arguments = 1000;      // fetch items, search keys, flags, ...
  size_t max_depth = 16;            // nested parentheses
  size_t max_set_items = 1000;      // ranges in one sequence set
};

// RFC 3501 9 "sequence-set": ranges of numbers where 0 stands for "*" (the
// largest number in use). Ranges keep the order written; lo may exceed hi
// ("5:2" is the same as "2:5").
struct SequenceSet {
  struct Range {
    uint32_t lo = 0;  // 0 = "*"
    uint32_t hi = 0;  // 0 = "*"
  };
  std::vector<Range> ranges;

  // Whether n is in the set when "*" means `star` (the largest sequence
  // number or UID of the mailbox; 0 when the mailbox is empty). Linear in
  // the ranges: for many numbers, use Intervals once.
  bool Contains(uint32_t n, uint32_t star) const;

  // The set with "*" = `star` as ascending, disjoint, non-adjacent closed
  // intervals {lo, hi} (lo <= hi): "7,1:3,2:4,5" gives {1,5},{7,7}.
  // O(r log r) in the ranges, so that resolving a set against a mailbox of
  // m messages costs O(m + r log r), not O(m * r).
  std::vector<std::pair<uint32_t, uint32_t>> Intervals(uint32_t star) const;
};

// RFC 3501 6.4.5 section-spec. part = {} for the top-level message; {1,2}
// for "1.2".
struct FetchSection {
  enum class Text { kNone, kHeader, kHeaderFields, kHeaderFieldsNot, kText, kMime };
  std::vector<uint32_t> part;
  Text text = Text::kNone;
  std::vector<std::string> fields;  // HEADER.FIELDS[.NOT], upper-cased
};

// One RFC 3501 6.4.5 fetch-att (the macros ALL/FAST/FULL are expanded).
struct FetchAtt {
  enum class Kind {
    kFlags,
    kUid,
    kRfc822Size,
    kInternalDate,
    kEnvelope,
    kBodyStructure,  // BODYSTRUCTURE
    kBody,           // BODY without a section (non-extensible BODYSTRUCTURE)
    kBodySection,    // BODY[...] / BODY.PEEK[...]
    kRfc822,         // = BODY[]
    kRfc822Header,   // = BODY.PEEK[HEADER]
    kRfc822Text,     // = BODY[TEXT]
    kModseq,         // MODSEQ (RFC 7162 3.1.4.1)
    kBinary,         // BINARY[part] / BINARY.PEEK[part] (RFC 3516), section.part only
    kBinarySize,     // BINARY.SIZE[part] (RFC 3516)
  };
  Kind kind = Kind::kFlags;
  FetchSection section;                 // kBodySection, kBinary, kBinarySize
  bool peek = false;                    // BODY.PEEK, BINARY.PEEK
  std::optional<uint32_t> partial_start;  // <start.length>
  uint32_t partial_length = 0;
};

// RFC 3501 6.4.4 search-key, as a tree.
struct SearchKey {
  enum class Kind {
    kAll, kAnd, kOr, kNot,
    kAnswered, kDeleted, kDraft, kFlagged, kNew, kOld, kRecent, kSeen,
    kUnanswered, kUndeleted, kUndraft, kUnflagged, kUnseen,
    kKeyword, kUnkeyword,                 // text = the keyword
    kFrom, kTo, kCc, kBcc, kSubject,      // text = the string
    kHeader,                              // field + text
    kBody, kText,                         // text (needs the body)
    kBefore, kOn, kSince,                 // date (INTERNALDATE)
    kSentBefore, kSentOn, kSentSince,     // date (Date: header)
    kLarger, kSmaller,                    // number
    kUid, kSequence,                      // set
    kModseq,                              // number: MODSEQ >= it (RFC 7162 3.1.5)
  };
  Kind kind = Kind::kAll;
  std::string field;
  std::string text;
  absl::CivilDay date;
  uint64_t number = 0;
  SequenceSet set;
  std::vector<SearchKey> children;  // kAnd (any number), kOr (2), kNot (1)
};

enum class StoreOp { kReplace, kAdd, kRemove };

// RFC 5256 3 sort-criterion: ["REVERSE" SP] sort-key.
struct SortCriterion {
  enum class Key { kArrival, kCc, kDate, kFrom, kSize, kSubject, kTo };
  Key key = Key::kArrival;
  bool reverse = false;
};

// RFC 7162 3.2.5 SELECT/EXAMINE (QRESYNC (uidvalidity modseq [known-uids]
// [(known-sequence-set known-uid-set)])).
struct QresyncParams {
  uint32_t uid_validity = 0;
  uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;
  std::optional<SequenceSet> match_seqs, match_uids;  // seq-match-data
};

// One parsed command. `name` is upper-cased; for "UID FETCH" name is "FETCH"
// and uid is true. Which fields are set depends on the command:
//   LOGIN                 args = {user, password}
//   AUTHENTICATE          args = {mechanism[, initial response]}
//   SELECT EXAMINE        args = {mailbox}; RFC 7162 parameters: condstore,
//                         qresync
//   CREATE DELETE SUBSCRIBE UNSUBSCRIBE   args = {mailbox}
//   RENAME                args = {from, to}
//   LSUB                  args = {reference, pattern}
//   LIST                  args = {reference, pattern...}, options (RFC 5258
//                         selection options), return_options, items (the
//                         STATUS items of RETURN (STATUS (...)), RFC 5819)
//   STATUS                args = {mailbox}, items (upper-cased)
//   ID                    args = {key, value, key, value...} (RFC 2971)
//   ENABLE                args = capabilities, upper-cased (RFC 5161)
//   APPEND                args = {mailbox}, appends (one message, or more
//                         with RFC 3502 MULTIAPPEND)
//   FETCH                 set, fetch; RFC 7162 modifiers changed_since, vanished
//   STORE                 set, store_op, store_silent, flags; RFC 7162
//                         modifier unchanged_since
//   COPY MOVE             set, args = {mailbox}
//   SEARCH                search (a kAnd node), charset; with RETURN (RFC 4731)
//                         return_options = {"ESEARCH"}, options = MIN MAX...
//   SORT                  sort, charset, search (RFC 5256)
//   EXPUNGE (UID only)    set
// Mailbox names are astrings as sent; "INBOX" in any case is returned as
// "INBOX" (RFC 3501 5.1).
struct ImapCommand {
  std::string tag;
  std::string name;
  bool uid = false;
  std::vector<std::string> args;
  std::vector<std::string> items;
  std::vector<std::string> flags;
  SequenceSet set;
  std::vector<FetchAtt> fetch;
  StoreOp store_op = StoreOp::kReplace;
  bool store_silent = false;
  SearchKey search;
  std::string charset;
  std::vector<std::string> options;         // see above, upper-cased
  std::vector<std::string> return_options;  // see above, upper-cased
  std::vector<SortCriterion> sort;           // SORT (RFC 5256)
  // APPEND's messages in order (one, or more with RFC 3502 MULTIAPPEND).
  struct AppendMessage {
    std::vector<std::string> flags;
    std::string date;  // "" when not given
    std::string message;
  };
  std::vector<AppendMessage> appends;
  // RFC 7162 (CONDSTORE, QRESYNC).
  bool condstore = false;                   // SELECT ... (CONDSTORE)
  std::optional<QresyncParams> qresync;     // SELECT ... (QRESYNC (...))
  std::optional<uint64_t> changed_since;    // FETCH ... (CHANGEDSINCE n)
  bool vanished = false;                    // FETCH ... (... VANISHED)
  std::optional<uint64_t> unchanged_since;  // STORE ... (UNCHANGEDSINCE n) ...
};

// The line ended in a literal announcement: the session must read `size`
// bytes (after writing "+ ..." when `synchronizing`) and pass them to
// FeedLiteral. `tag` and `name` are what the command's first line said, so
// that a session can refuse a command (e.g. APPEND) before its literal.
struct ImapNeedLiteral {
  std::string tag;
  std::string name;
  size_t size = 0;
  bool synchronizing = true;
};

// A literal was taken; the command continues on the next line.
struct ImapNeedLine {};

// The command is malformed or over a limit: answer "<tag> BAD <text>" (tag
// "*" when none could be read). `fatal` when the client will keep sending
// bytes the reader cannot skip (an over-large non-synchronizing literal): the
// session should answer "* BYE" and close.
struct ImapParseError {
  std::string tag;
  std::string text;
  bool fatal = false;
  // The announced literal is over max_literal_bytes; `name` is the command's
  // (upper-cased) so that a session can answer APPEND with NO [TOOBIG]
  // (RFC 7889) instead of BAD.
  bool literal_too_large = false;
  std::string name;
};

using ImapFeedResult = std::variant<ImapCommand, ImapNeedLiteral, ImapNeedLine, ImapParseError>;

class ImapCommandReader {
 public:
  explicit ImapCommandReader(ImapLimits limits) : limits_(limits) {}

  // Feeds one line without its CRLF. Must not be called while a literal is
  // awaited (that is an ImapParseError, and the reader resets).
  ImapFeedResult Feed(std::string_view line);

  // Feeds the literal announced by the last ImapNeedLiteral: exactly its
  // size in bytes. Returns ImapNeedLine (a line always follows a literal).
  ImapFeedResult FeedLiteral(std::string_view bytes);

  // Drops a partly read command (after the session refused it, or after an
  // over-long line).
  void Reset();

  // Whether a command is partly read (a literal or its following line is
  // awaited).
  bool in_command() const { return !buf_.empty(); }

  // The tag of the command partly read ("" when none is, or its first line
  // had no valid tag).
  const std::string& tag() const { return tag_; }

 private:
  ImapLimits limits_;
  std::string buf_;            // the command so far: lines, CRLFs, literals
  size_t literal_pending_ = 0; // bytes the next FeedLiteral must carry
  bool awaiting_literal_ = false;
  std::string tag_;
  std::string name_;
};

// Parses one complete command (lines joined with CRLF, each literal inline
// after its "{n}\r\n"), as the reader does once the last line is in. Exposed
// for tests and fuzzing.
ImapFeedResult ParseImapCommand(std::string_view text, const ImapLimits& limits);

// RFC 3501 9: whether `s` can be sent as an atom (non-empty, only ATOM-CHARs).
bool IsImapAtom(std::string_view s);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_IMAP_IMAP_COMMAND_H_
