// ARF export: a reader's spam verdict as an RFC 5965 "Abuse Reporting
// Format" feedback report, the message classic mail operators' abuse desks
// and feedback loops understand. A recipient node (or the gateway, for a
// legacy sender) sends it to the sending domain's abuse address.
//
// The report is a multipart/report; report-type=feedback-report message
// (RFC 6522) with three parts (RFC 5965 section 2):
//   1. text/plain: a human-readable description (pullmail message id, body
//      SHA-256, the policy's explanation);
//   2. message/feedback-report: the machine-readable fields (section 3):
//      Feedback-Type, User-Agent, Version (required, once each), then
//      Original-Mail-From, Arrival-Date, Reporting-MTA, Source-IP, Incidents
//      (optional, once each), Original-Rcpt-To, Reported-Domain (optional,
//      repeatable);
//   3. text/rfc822-headers: the original message's header fields, rebuilt
//      from the notification's header summary (the recipient node may never
//      have fetched the body, so the full message is usually unavailable).
//
// The output is 7-bit US-ASCII with CRLF line ends and no line longer than
// 998 octets: non-ASCII header text is RFC 2047 encoded, long header fields
// are folded, and every value is stripped of CR, LF and other controls so
// that nothing a sender wrote (Subject, From) can inject a header.
#ifndef PULLMAIL_CORE_POLICY_ARF_H_
#define PULLMAIL_CORE_POLICY_ARF_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

struct ArfInfo {
  // --- The report message itself -------------------------------------------
  std::string from;        // e.g. "abuse-reports@rcpt.example"; empty: postmaster@reporting_mta
  std::string to;          // e.g. "abuse@sender.example"; empty: no To field
  absl::Time date;         // the report's Date
  std::string report_message_id;  // Message-ID of the report ("<...>" or bare);
                                  // empty: derived from the fields below

  // --- message/feedback-report fields (RFC 5965 section 3) -------------------
  // "abuse", "fraud", "virus", "other" (RFC 5965 7.3) or "not-spam" (RFC 6430).
  std::string feedback_type = "abuse";
  std::string user_agent = "pullmail/0.1";
  std::string original_mail_from;               // the envelope sender
  std::vector<std::string> original_rcpt_to;    // optional: leave empty to keep readers private
  std::optional<absl::Time> arrival_date;       // when the notification arrived
  std::string reporting_mta;                    // host name of the reporting node
  std::string source_ip;                        // optional IPv4/IPv6 literal
  uint32_t incidents = 1;                       // how many reports this one stands for
  std::vector<std::string> reported_domains;    // normally the signing domain

  // --- pullmail specifics, for the human-readable part -------------------------
  std::string message_id;    // pullmail message id
  std::string body_sha256;   // 32 raw bytes (printed in hex) or already hex
  std::string explanation;   // the policy's explanation, if any
  std::string comment;       // free text from the operator or user, optional

  // --- The original message's header summary -------------------------------------
  pullmail::v1::HeaderSummary summary;
};

// Builds the report. Fields that are empty (or, for envelope addresses,
// domains and IPs, that are not printable US-ASCII) are left out; the three
// required fields are always present. Pure and deterministic: the same input
// gives the same bytes (the MIME boundary and a missing Message-ID are
// derived from a hash of the input). Thread-safe.
std::string MakeArfReport(const ArfInfo& info);


}  // namespace pullmail

#endif  // PULLMAIL_CORE_POLICY_ARF_H_
