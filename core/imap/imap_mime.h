// The MIME structure of a message as IMAP4rev1 sees it (RFC 3501 6.4.5 and
// 7.4.2; RFC 2045, RFC 2046 5.1.1): part numbers, BODY[section] bytes and
// BODYSTRUCTURE. Works on the raw bytes (CRLF or bare LF line ends), so
// every size and every section is exactly the bytes stored, as RFC 3501
// requires. Pure; thread-safe.
#ifndef PULLMAIL_CORE_IMAP_IMAP_MIME_H_
#define PULLMAIL_CORE_IMAP_IMAP_MIME_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/imap/imap_command.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

// One MIME entity. Views point into the message given to ParseMime, which
// must outlive the tree; a tree made from a record (MimeFromRecord) has the
// offsets and sizes but empty views.
struct MimeEntity {
  std::string_view header;  // header fields and the empty line after them
  std::string_view body;
  // Where header and body are in the message (the body follows the header).
  uint64_t header_offset = 0, header_size = 0, body_size = 0;
  uint64_t body_offset() const { return header_offset + header_size; }
  // What BODYSTRUCTURE shows beyond the fields below, kept so that it needs
  // no bytes: the body's lines (text parts and message/rfc822, else 0) and a
  // message/rfc822's ENVELOPE ("" otherwise).
  uint64_t lines = 0;
  std::string envelope;
  std::string type = "TEXT";     // upper-case
  std::string subtype = "PLAIN"; // upper-case
  std::vector<std::pair<std::string, std::string>> params;  // names upper-case
  std::string id, description, encoding = "7BIT", disposition, language, location;
  std::vector<std::pair<std::string, std::string>> disposition_params;
  std::vector<MimeEntity> parts;    // multipart/*: the body parts
  std::vector<MimeEntity> message;  // message/rfc822: the one encapsulated message

  bool is_multipart() const { return type == "MULTIPART"; }
  bool is_message() const { return type == "MESSAGE" && subtype == "RFC822"; }
};

// Bounds on what ParseMime builds from a hostile message, so that neither
// the tree nor a BODYSTRUCTURE response grows with the number of boundary
// lines a sender wrote. An entity that would break a limit is not split: it
// is served as one opaque leaf, APPLICATION/OCTET-STREAM with its bytes as
// they are (BODY[n] still returns every byte; only the structure is hidden).
//   max_depth              nested multiparts and encapsulated messages; an
//                          entity at this depth that would nest is opaque
//   max_parts_per_entity   body parts of one multipart
//   max_total_parts        entities in the whole tree (the root included);
//                          this also bounds the header parsing that
//                          multipart/digest (each part a message) costs
//   max_structure_bytes    an upper bound on ImapBodyStructure's length (both
//                          forms); an entity whose fields would not fit is
//                          opaque, a multipart whose parts would not fit too
// Dovecot's comparable limits (CVE-2020-12100) are 100 nesting levels and
// 10,000 parts; these are lower because the gateway holds the whole tree.
struct MimeLimits {
  int max_depth = 20;
  size_t max_parts_per_entity = 1000;
  size_t max_total_parts = 2000;
  size_t max_structure_bytes = size_t{1} << 20;
};

// Parses `message` (RFC 5322 + MIME) within `limits`. Never fails: malformed
// MIME falls back to text/plain, as RFC 2045 5.2 says; what is over a limit
// becomes an opaque leaf (see MimeLimits).
MimeEntity ParseMime(std::string_view message, const MimeLimits& limits = MimeLimits());

// A span of a message's bytes.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const ByteRange& o) const { return offset == o.offset && length == o.length; }
};

// RFC 3501 6.4.5: where BODY[section]'s bytes are in the message of `size`
// bytes whose tree is `root` (parsed or from a record), before any
// <partial>. For HEADER.FIELDS (.NOT): the header they are filtered from
// (FilterHeaderFields). Errors as SectionBytes.
absl::StatusOr<ByteRange> SectionRange(const MimeEntity& root, uint64_t size,
                                       const FetchSection& section);

// RFC 3516 BINARY[part]: where the part's encoded bytes are, and in
// *encoding its Content-Transfer-Encoding (BinaryDecode decodes them).
// kNotFound as SectionBytes.
absl::StatusOr<ByteRange> BinaryRange(const MimeEntity& root, uint64_t size,
                                      const std::vector<uint32_t>& part, std::string* encoding);
// The content of `bytes` encoded as `encoding` (an upper-case
// Content-Transfer-Encoding; "" for BINARY[] of the whole message: as is).
// kUnimplemented for an encoding it does not know (IMAP [UNKNOWN-CTE]).
absl::StatusOr<std::string> BinaryDecode(std::string_view bytes, std::string_view encoding);

// `r` cut to a message of `size` bytes (a range past the end is cut there;
// one that starts past it is empty, at the end).
inline ByteRange ClampRange(ByteRange r, uint64_t size) {
  uint64_t at = r.offset < size ? r.offset : size;
  uint64_t left = size - at;
  return ByteRange{at, r.length < left ? r.length : left};
}

// RFC 3501 6.4.5 <partial>: the part of `r` that <start.length> names (an
// empty range at its end when start is past it). No start: `r`.
ByteRange PartialRange(ByteRange r, std::optional<uint64_t> start, uint64_t length);

// --- The structure record (proto MimeStructure), kept beside a cached body.
// Bump kMimeRecordVersion whenever ParseMime's result or a record's meaning
// changes: a record of another version is not used (the body is parsed and
// the record written again).
inline constexpr uint32_t kMimeRecordVersion = 1;
// A record read back larger than this is refused without being parsed.
inline constexpr size_t kMaxMimeRecordBytes = size_t{8} << 20;

// The record of `root` (a ParseMime tree of a message of `size` bytes).
v1::MimeStructure MimeToRecord(const MimeEntity& root, uint64_t size);
// The serialized record of `message` (ParseMime with the default limits):
// what a recipient store keeps beside a cached body.
std::string MimeRecordOf(std::string_view message);
// The tree a record describes, offsets and sizes set, views empty; for the
// message of `size` bytes. Untrusted input: kDataLoss for a record of
// another version or size, one whose entities do not nest inside one
// another and inside the message, or one over `limits` (entities, depth);
// the caller then parses the body instead.
absl::StatusOr<MimeEntity> MimeFromRecord(const v1::MimeStructure& record, uint64_t size,
                                          const MimeLimits& limits = MimeLimits());
// MimeFromRecord of serialized bytes (kDataLoss when they do not parse or
// are over kMaxMimeRecordBytes).
absl::StatusOr<MimeEntity> MimeFromRecordBytes(std::string_view bytes, uint64_t size,
                                               const MimeLimits& limits = MimeLimits());
// The record of the message as a node serves it: `prefix_size` bytes of
// header fields (the Authentication-Results: field) put before the stored
// message the record describes. The fields join the top-level header;
// everything else moves by prefix_size.
void ShiftMimeRecord(v1::MimeStructure* record, uint64_t prefix_size);

// RFC 3501 6.4.5: the bytes of BODY[section] (before any <partial>).
// kNotFound: the part does not exist (part numbers start at 1: a 0 anywhere
// in the path is refused), or HEADER/TEXT of a part that is not a
// message/rfc822.
absl::StatusOr<std::string> SectionBytes(std::string_view message, const MimeEntity& root,
                                         const FetchSection& section);

// RFC 3516 BINARY[part]: the part's content decoded from its
// Content-Transfer-Encoding (base64, quoted-printable; 7bit, 8bit and
// binary as they are; a multipart or message part as its raw body); no part
// numbers: the whole message as stored. kNotFound as SectionBytes;
// kUnimplemented for an encoding it does not know (IMAP [UNKNOWN-CTE]).
absl::StatusOr<std::string> BinarySectionBytes(std::string_view message, const MimeEntity& root,
                                               const std::vector<uint32_t>& part);

// RFC 2045 6.8 base64, skipping characters outside the alphabet and
// stopping at "="; RFC 2045 6.7 quoted-printable (soft line breaks removed,
// a malformed "=" kept).
std::string DecodeBase64Lenient(std::string_view in);
std::string DecodeQuotedPrintable(std::string_view in);

// Lines of header `header` whose field name is (or, with `exclude`, is not)
// in `upper_names`, folded lines kept, followed by the empty line.
std::string FilterHeaderFields(std::string_view header,
                               const std::vector<std::string>& upper_names, bool exclude);

// RFC 3501 7.4.2 BODYSTRUCTURE (extensible = true) or BODY (false) of the
// message whose tree is `root` (parsed, or from a record: the same bytes).
std::string ImapBodyStructure(const MimeEntity& root, bool extensible);

// RFC 3501 6.4.5 section spec as written back in a FETCH response:
// "", "HEADER", "1.2.MIME", "HEADER.FIELDS (FROM TO)".
std::string SectionSpec(const FetchSection& section);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_IMAP_IMAP_MIME_H_
