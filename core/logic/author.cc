// The author rules (see author.h).
#include "core/logic/author.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/util/address.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

bool SameAddress(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AV(a), AV(b));
}

// A domain as RFC 8601 may carry it unquoted: LDH labels and dots only.
bool IsPlainDomain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  for (char c : d) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

// An RFC 8601 pvalue: the text as is when it is made of characters that
// need no quoting (RFC 5322 atext, '.' and '@'), else a quoted-string. Bytes
// outside printable ASCII become '?', so the field stays one ASCII line
// whatever a sender put in its header.
std::string PValue(std::string_view v) {
  static constexpr std::string_view kAtextSpecials = "!#$%&'*+-/=?^_`{|}~.@";
  bool plain = !v.empty();
  std::string clean;
  clean.reserve(v.size());
  for (char c : v) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '?';
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        kAtextSpecials.find(c) == std::string_view::npos) {
      plain = false;
    }
    clean.push_back(c);
  }
  if (plain) return clean;
  std::string quoted = "\"";
  for (char c : clean) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

}  // namespace

absl::Status CheckAuthor(const AuthorFields& fields, std::string_view user) {
  if (fields.from_fields != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "from_malformed: a message needs exactly one From: field (RFC 5322 3.6), this one has ",
        fields.from_fields));
  }
  if (fields.sender_fields > 1) {
    return absl::InvalidArgumentError(
        "from_malformed: a message may have at most one Sender: field (RFC 5322 3.6)");
  }
  auto check = [&](const std::vector<std::string>& addresses,
                   std::string_view field) -> absl::Status {
    for (const std::string& a : addresses) {
      if (a.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("from_malformed: the ", AV(field), ": field names no address"));
      }
      if (!SameAddress(a, user)) {
        return absl::PermissionDeniedError(absl::StrCat(
            "from_not_allowed: ", AV(user), " may not send as ", a, " (", AV(field),
            ": must be your own address)"));
      }
    }
    return absl::OkStatus();
  };
  if (absl::Status s = check(fields.from, "From"); !s.ok()) return s;
  return check(fields.sender, "Sender");
}

bool DomainsAligned(std::string_view from_domain, std::string_view signing_domain,
                    AlignmentMode mode) {
  if (from_domain.empty() || signing_domain.empty()) return false;
  if (from_domain == signing_domain) return true;
  if (mode == AlignmentMode::kStrict) return false;
  auto below = [](std::string_view child, std::string_view parent) {
    return child.size() > parent.size() + 1 && absl::EndsWith(AV(child), AV(parent)) &&
           child[child.size() - parent.size() - 1] == '.';
  };
  return below(from_domain, signing_domain) || below(signing_domain, from_domain);
}

std::string FromDomainOf(std::string_view summary_from) {
  std::vector<std::string> mailboxes = SplitJoinedMailboxes(summary_from);
  if (mailboxes.empty()) return "";
  std::string address = SplitDisplayForm(mailboxes.front()).second;
  size_t at = address.rfind('@');
  if (at == std::string::npos) return "";
  std::string domain = absl::AsciiStrToLower(AV(std::string_view(address).substr(at + 1)));
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  return IsPlainDomain(domain) ? domain : "";
}

AuthorVerdict VerifyAuthor(const AuthorInput& in) {
  AuthorVerdict v;
  if (in.local) {
    v.check = "local";
    return v;
  }
  const std::string signer = absl::AsciiStrToLower(in.signing_domain);
  v.from_domain = FromDomainOf(in.summary_from);
  // Every From: mailbox must be aligned (DMARC evaluates one author domain;
  // several From: domains cannot all be the signer's unless equal).
  bool aligned = !v.from_domain.empty();
  for (const std::string& mb : SplitJoinedMailboxes(in.summary_from)) {
    std::string d = FromDomainOf(mb);
    if (!DomainsAligned(d, signer, in.mode)) aligned = false;
  }
  const bool bridged = in.origin == v1::ORIGIN_BRIDGED_SMTP;
  std::string dmarc;
  if (v.from_domain.empty()) {
    v.check = "none";
    dmarc = "dmarc=none (no From: domain)";
  } else if (bridged) {
    if (in.from_domain_is_pullmail) {
      v.check = "fail";
      dmarc = "dmarc=fail (bridged from SMTP, but the From: domain is a pullmail domain)";
    } else {
      v.check = "bridged";
      dmarc = "dmarc=none (bridged from SMTP: the From: address is not verified)";
    }
  } else if (aligned) {
    v.check = "pass";
    dmarc = absl::StrCat("dmarc=pass (",
                         in.mode == AlignmentMode::kStrict ? "strict" : "relaxed",
                         " alignment with the signing domain)");
  } else {
    v.check = "fail";
    dmarc = "dmarc=fail (the From: domain is not the signing domain's)";
  }
  if (!v.from_domain.empty()) absl::StrAppend(&dmarc, " header.from=", v.from_domain);

  std::string method = "pullmail=pass";
  if (bridged) absl::StrAppend(&method, " (bridged from SMTP by the signing domain's gateway)");
  absl::StrAppend(&method, " header.d=", PValue(signer));
  if (!in.key_id.empty()) absl::StrAppend(&method, " header.s=", PValue(in.key_id));
  if (!in.envelope_sender.empty()) {
    absl::StrAppend(&method, " smtp.mailfrom=", PValue(in.envelope_sender));
  }
  v.authentication_results =
      absl::StrCat(PValue(absl::AsciiStrToLower(in.authserv_id)), "; ", method, "; ", dmarc);
  return v;
}

std::string AuthenticationResultsField(std::string_view value) {
  if (value.empty()) return "";
  return absl::StrCat("Authentication-Results: ", AV(value), "\r\n");
}

std::string ServedHeaderFilter::Feed(std::string_view in) {
  std::string out;
  out.reserve(in.size() + held_.size());
  FeedTo(in, &out);
  return out;
}

void ServedHeaderFilter::FeedTo(std::string_view in, std::string* out) {
  static constexpr std::string_view kName = "authentication-results:";
  static constexpr std::string_view kRenamed = "X-Original-Auth-Result:";
  static_assert(kName.size() == kRenamed.size());
  size_t i = 0;
  while (i < in.size() && in_header_) {
    if (!line_start_) {
      // The rest of a decided line passes as it is.
      const size_t nl = in.find('\n', i);
      const size_t end = nl == std::string_view::npos ? in.size() : nl + 1;
      out->append(in.data() + i, end - i);
      i = end;
      if (nl != std::string_view::npos) line_start_ = true;
      continue;
    }
    held_.push_back(in[i++]);
    if (held_ == "\r") continue;  // maybe the empty line that ends the header
    if (held_ == "\n" || held_ == "\r\n") {
      in_header_ = false;
    } else if (held_.size() <= kName.size() &&
               absl::EqualsIgnoreCase(AV(held_), AV(kName.substr(0, held_.size())))) {
      if (held_.size() < kName.size()) continue;
      held_ = std::string(kRenamed);
    }
    out->append(held_);
    line_start_ = held_.back() == '\n';
    held_.clear();
  }
  out->append(in.data() + i, in.size() - i);
}

std::string ServedHeaderFilter::Finish() {
  std::string rest;
  rest.swap(held_);
  return rest;
}

void ServedHeaderFilter::FinishTo(std::string* out) {
  out->append(held_);
  held_.clear();
}

}  // namespace pullmail
