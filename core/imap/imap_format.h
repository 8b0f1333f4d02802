// IMAP4rev1 response formatting and message-attribute logic that needs no
// body (RFC 3501 sections 2.3, 7 and 9): strings as quoted or literal,
// date-time, ENVELOPE from a listing's header summary, header fields
// synthesised from that summary (so that a client's header fetch need not
// pull the body from the sender's node), and SEARCH evaluation against a
// listing. Pure functions; thread-safe.
#ifndef PULLMAIL_CORE_IMAP_IMAP_FORMAT_H_
#define PULLMAIL_CORE_IMAP_IMAP_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/imap/imap_command.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

// RFC 3501 4.3: `s` as a quoted string when it can be (7-bit, no CR, LF or
// NUL, at most 1000 bytes), else as a literal "{n}\r\n<bytes>".
std::string ImapString(std::string_view s);

// NIL for an empty string, else ImapString(s) (RFC 3501 4.5 nstring).
std::string ImapNString(std::string_view s);

// RFC 3501 9 date-time, quoted: "\"17-Jul-1996 02:44:25 +0000\"" (UTC).
std::string ImapDateTime(absl::Time t);

// Parses an RFC 3501 9 date-time as APPEND carries it (the quoted string's
// contents, without the quotes): "dd-Mon-yyyy hh:mm:ss +zzzz", the day
// space-padded (" 7") or, as many clients send it, one or two digits; the
// month name in any letter case. Nullopt when malformed or out of range
// (day past the month's end, hour > 23, minute or second > 59 (60 is taken
// as 59, a leap second), zone beyond +/-2359, year outside 1900..9999).
std::optional<absl::Time> ParseImapDateTime(std::string_view text);

// UTF-8 text as RFC 2047 encoded words when it is not plain 7-bit ASCII
// (envelope strings and synthesised headers must be 7-bit); else unchanged.
std::string EncodeWordsIfNeeded(std::string_view utf8);

// RFC 3501 7.4.2 ENVELOPE from a header summary: (date subject from sender
// reply-to to cc bcc in-reply-to message-id). Sender and Reply-To are the
// summary's, defaulting to From (RFC 3501 7.4.2); Bcc is NIL (a summary
// never holds Bcc: it travels to every recipient domain). Addresses are
// split into (name adl mailbox host).
std::string ImapEnvelope(const v1::HeaderSummary& summary);

// The header fields a summary holds (RFC 5322 names, upper-case): DATE,
// FROM, TO, CC, SUBJECT, MESSAGE-ID, IN-REPLY-TO.
bool SummaryHasField(std::string_view upper_name);

// BODY[HEADER.FIELDS (...)] built from the summary, when every requested
// field (upper-cased) is one SummaryHasField knows; std::nullopt otherwise
// (the caller must read the real header). Fields the message lacks are left
// out, as a real header fetch would. Ends with the blank line (CRLF CRLF).
std::optional<std::string> SummaryHeaderFields(const v1::HeaderSummary& summary,
                                               const std::vector<std::string>& fields);

// What SEARCH knows about one message of the selected mailbox.
struct ImapSearchItem {
  uint32_t seq = 0;
  uint32_t uid = 0;
  bool recent = false;
  const v1::MessageInfo* info = nullptr;  // not owned; must be set
  // The message's bytes, when the caller read them (SearchNeedsBody).
  std::optional<std::string_view> body;
};

// Whether a search key needs the message's bytes: BODY, TEXT, BCC (a
// summary has no Bcc), HEADER of a field the summary does not hold, and
// HEADER with an empty string (RFC 3501 6.4.4: every message that has the
// field, which a summary cannot tell when the field is empty or a group).
bool SearchNeedsBody(const SearchKey& key);

// RFC 3501 6.4.4: whether `item` matches `key`. `max_seq` and `max_uid` are
// what "*" means. String keys match case-insensitively as substrings of the
// summary's fields; date keys compare calendar days in UTC (INTERNALDATE) or
// as written in the Date: field (SENT*). Keys SearchNeedsBody reports are
// matched against item.body (case-insensitive substrings of the raw header
// field values, unfolded, or of the raw text: no MIME decoding), and match
// nothing without it.
bool SearchMatches(const SearchKey& key, const ImapSearchItem& item, uint32_t max_seq,
                   uint32_t max_uid);

// The calendar day of an RFC 5322 Date: value ("Thu, 7 Mar 2024 08:15:02
// +0100" -> 2024-03-07), or nullopt if it cannot be read.
std::optional<absl::CivilDay> ParseRfc5322Day(std::string_view date);

// An RFC 5322 Date: value as a point in time ("Thu, 7 Mar 2024 08:15:02
// +0100"; seconds and zone optional, zone "+0000" when absent), or nullopt.
std::optional<absl::Time> ParseRfc5322DateTime(std::string_view date);

// RFC 5256 2.1 base subject of a (decoded) Subject: "Re: [list] Fwd: x
// (fwd)" -> "x"; whitespace runs become one space; upper-cased for the
// i;ascii-casemap comparison SORT uses.
std::string ImapBaseSubject(std::string_view subject);

// What RFC 5256 SORT compares, computed once per message.
struct ImapSortValues {
  absl::Time arrival;  // INTERNALDATE
  absl::Time date;     // the Date: field, or INTERNALDATE without one
  uint64_t size = 0;
  std::string from, to, cc;  // addr-mailbox of the first address, upper-cased
  std::string subject;       // ImapBaseSubject
};
ImapSortValues SortValuesOf(const v1::MessageInfo& m);

// <0, 0, >0: `a` before, with or after `b` by `keys` (each REVERSE-able);
// the caller breaks ties by sequence number (RFC 5256 3).
int CompareForSort(const std::vector<SortCriterion>& keys, const ImapSortValues& a,
                   const ImapSortValues& b);

// RFC 3501 6.3.8 LIST / LSUB wildcards: whether `name` matches `pattern`,
// where "*" matches any run of characters and "%" any run without the
// hierarchy delimiter "/". SECURITY: time O(pattern x name), memory
// O(name), whatever the wildcards (a backtracking matcher is exponential in
// the number of "*": "*a*a*...*b" against a long name of "a"s).
bool ImapListMatch(std::string_view pattern, std::string_view name);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_IMAP_IMAP_FORMAT_H_
