// Who a message says it is from, and what a node may conclude about it.
//
// Sender side (CheckAuthor): a user may put only their own address in the
// header From: (and Sender:) of what they submit: the node signs for its
// domain, and a recipient shows the header From:, so a user who could write
// another address there could make the domain vouch for a forgery. There are
// no aliases: another local user's address, the domain's postmaster or any
// other address is refused like a foreign one.
//
// Recipient side (VerifyAuthor): what the recipient node verified, in the
// manner of DMARC (RFC 7489 section 3.1): the domain of the header From: is
// *aligned* with the signing domain when they are equal (strict) or, in
// relaxed mode, when one is the other or a subdomain of it (a simplification
// of DMARC's organizational domain that needs no public-suffix list and is
// never looser than it for domains below a public suffix). Bridged mail
// (received over SMTP by the signing domain's gateway) has no verified
// author: it is "bridged", unless its From: claims a pullmail domain, whose
// users never reach a gateway over SMTP ("fail"). The result is shown to the
// user as an Authentication-Results: field (RFC 8601) on top of the message
// and as MessageInfo.author_check.
//
// Pure: no I/O; the caller looks up the directory fact it needs.
#ifndef PULLMAIL_CORE_LOGIC_AUTHOR_H_
#define PULLMAIL_CORE_LOGIC_AUTHOR_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/mail/header_summary.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

// The sender node's rule for a user's submission (not for bridged mail or
// the node's own bounces). OK when the header block has exactly one From:
// field whose every mailbox is `user` (compared case-insensitively), and at
// most one Sender: field, naming `user` only. kInvalidArgument
// "from_malformed: ..." for no From:, several From: or Sender: fields, or a
// field naming no mailbox; kPermissionDenied "from_not_allowed: ..." naming
// the first address the user may not use.
absl::Status CheckAuthor(const AuthorFields& fields, std::string_view user);

enum class AlignmentMode { kStrict, kRelaxed };

// Whether `from_domain` is aligned with `signing_domain` (both already
// lower-case, no trailing dot): equal, or in kRelaxed one a subdomain of the
// other at a label boundary.
bool DomainsAligned(std::string_view from_domain, std::string_view signing_domain,
                    AlignmentMode mode);

// What the recipient node knows about one stored message.
struct AuthorInput {
  std::string authserv_id;      // the verifying node's domain (RFC 8601 authserv-id)
  std::string signing_domain;   // the verified signer
  std::string key_id;           // its key ("" if unknown)
  v1::Origin origin = v1::ORIGIN_NATIVE;
  std::string envelope_sender;  // "" = null reverse path (bridged only)
  std::string summary_from;     // HeaderSummary.from, display forms joined with ", "
  bool local = false;           // the user's own APPEND: nothing was verified
  // Bridged mail only: whether the From: domain is listed in the directory
  // as a pullmail (not legacy) domain. The caller asks only when
  // FromDomainOf(summary_from) is non-empty and origin is bridged.
  bool from_domain_is_pullmail = false;
  AlignmentMode mode = AlignmentMode::kStrict;
};

struct AuthorVerdict {
  // MessageInfo.author_check: "pass", "fail", "bridged", "none", "local".
  std::string check;
  std::string from_domain;  // the (first) From: domain, "" if none
  // The Authentication-Results: field value (after "Authentication-Results:
  // "), one line, printable ASCII, "" for local messages.
  std::string authentication_results;
};

// The domain of the first mailbox of HeaderSummary.from, lower-cased, a
// trailing dot removed; "" when there is none or it is not a domain.
std::string FromDomainOf(std::string_view summary_from);

AuthorVerdict VerifyAuthor(const AuthorInput& in);

// The field a node puts on top of a message it serves:
// "Authentication-Results: " + value + CRLF; "" when `value` is empty. Always
// CRLF (RFC 5322, IMAP and POP3 line ends), whatever the stored message
// uses, so that its size is known before the body is fetched.
std::string AuthenticationResultsField(std::string_view value);

// RFC 8601 section 5: a verifier removes or renames the
// Authentication-Results: fields that arrive with a message, which could
// claim its authserv-id. This renames every one in the stored message's
// header block to "X-Original-Auth-Result:" (the same length, so sizes
// announced before the fetch stay right) as the message is served in
// pieces. Feed() returns the bytes to send now (a line start is held back
// until it is decided, at most 23 bytes); Finish() the rest. The output has
// exactly as many bytes as the input. The body (after the first empty line)
// passes unchanged.
class ServedHeaderFilter {
 public:
  std::string Feed(std::string_view in);
  std::string Finish();
  // The same, appending to *out (no string of their own).
  void FeedTo(std::string_view in, std::string* out);
  void FinishTo(std::string* out);

 private:
  bool in_header_ = true;
  bool line_start_ = true;
  std::string held_;  // a line's first bytes, not yet decided
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_AUTHOR_H_
