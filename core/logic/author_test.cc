// The From: rules: what a user may submit, and what a recipient node says
// about a message's author (core/logic/author.h).
#include "core/logic/author.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace pullmail {
namespace {

AuthorFields Fields(const std::string& message) {
  auto f = ExtractAuthorFields(message);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *f : AuthorFields();
}

absl::StatusCode Check(const std::string& header, const std::string& user = "ann@a.example") {
  return CheckAuthor(Fields(header + "Subject: s\r\n\r\nbody\r\n"), user).code();
}

TEST(CheckAuthor, OwnAddressOnly) {
  EXPECT_EQ(Check("From: Ann <ann@a.example>\r\n"), absl::StatusCode::kOk);
  EXPECT_EQ(Check("From: ann@A.EXAMPLE\r\n"), absl::StatusCode::kOk);
  EXPECT_EQ(Check("From: \"Boss\" <ANN@a.example>\r\nSender: ann@a.example\r\n"),
            absl::StatusCode::kOk);
  // Another local user, the postmaster, a foreign address: no aliases.
  EXPECT_EQ(Check("From: Bob <bob@a.example>\r\n"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Check("From: postmaster@a.example\r\n"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Check("From: Boss <boss@b.example>\r\n"), absl::StatusCode::kPermissionDenied);
  // A display name that looks like the user does not help.
  EXPECT_EQ(Check("From: \"ann@a.example\" <boss@b.example>\r\n"),
            absl::StatusCode::kPermissionDenied);
  // An encoded word hiding an address in the name, the real one elsewhere.
  EXPECT_EQ(Check("From: =?utf-8?q?ann=40a=2Eexample?= <boss@b.example>\r\n"),
            absl::StatusCode::kPermissionDenied);
  // Several mailboxes: every one must be the user's.
  EXPECT_EQ(Check("From: ann@a.example, boss@b.example\r\n"),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Check("From: Team: ann@a.example, boss@b.example;\r\n"),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Check("From: ann@a.example\r\nSender: boss@b.example\r\n"),
            absl::StatusCode::kPermissionDenied);
}

TEST(CheckAuthor, MalformedAuthorFieldsAreRefused) {
  EXPECT_EQ(Check("To: bob@b.example\r\n"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Check("From: ann@a.example\r\nFrom: boss@b.example\r\n"),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Check("From: ann@a.example\r\nfrom: ann@a.example\r\n"),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Check("From: ann@a.example\r\nSender: ann@a.example\r\nSender: ann@a.example\r\n"),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Check("From: \r\n"), absl::StatusCode::kInvalidArgument);
  auto s = CheckAuthor(Fields("From: Boss <boss@b.example>\r\n\r\n"), "ann@a.example");
  EXPECT_TRUE(absl::StartsWith(s.message(), "from_not_allowed: ")) << s;
}

TEST(Alignment, StrictAndRelaxed) {
  EXPECT_TRUE(DomainsAligned("a.example", "a.example", AlignmentMode::kStrict));
  EXPECT_FALSE(DomainsAligned("mail.a.example", "a.example", AlignmentMode::kStrict));
  EXPECT_TRUE(DomainsAligned("mail.a.example", "a.example", AlignmentMode::kRelaxed));
  EXPECT_TRUE(DomainsAligned("a.example", "mail.a.example", AlignmentMode::kRelaxed));
  EXPECT_FALSE(DomainsAligned("evila.example", "a.example", AlignmentMode::kRelaxed));
  EXPECT_FALSE(DomainsAligned("b.example", "a.example", AlignmentMode::kRelaxed));
  EXPECT_FALSE(DomainsAligned("", "a.example", AlignmentMode::kRelaxed));
}

TEST(FromDomain, FirstMailboxLowerCasedWithoutTrailingDot) {
  EXPECT_EQ(FromDomainOf("Boss <boss@B.Example.>"), "b.example");
  EXPECT_EQ(FromDomainOf("ann@a.example, bob@b.example"), "a.example");
  EXPECT_EQ(FromDomainOf("Doe, John <j@x.example>"), "x.example");
  EXPECT_EQ(FromDomainOf(""), "");
  EXPECT_EQ(FromDomainOf("no address here"), "");
  EXPECT_EQ(FromDomainOf("x <a@b;c>"), "");
}

AuthorInput Native(const std::string& from) {
  AuthorInput in;
  in.authserv_id = "b.example";
  in.signing_domain = "a.example";
  in.key_id = "k1";
  in.envelope_sender = "ann@a.example";
  in.summary_from = from;
  return in;
}

TEST(VerifyAuthor, AlignedNativeMailPasses) {
  AuthorVerdict v = VerifyAuthor(Native("Ann <ann@a.example>"));
  EXPECT_EQ(v.check, "pass");
  EXPECT_EQ(v.from_domain, "a.example");
  EXPECT_EQ(v.authentication_results,
            "b.example; pullmail=pass header.d=a.example header.s=k1 smtp.mailfrom=ann@a.example; "
            "dmarc=pass (strict alignment with the signing domain) header.from=a.example");
  EXPECT_EQ(AuthenticationResultsField(v.authentication_results),
            "Authentication-Results: " + v.authentication_results + "\r\n");
}

// The case: signed by a.example, shown as "Boss <boss@b.example>".
TEST(VerifyAuthor, ForeignFromFails) {
  AuthorVerdict v = VerifyAuthor(Native("Boss <boss@b.example>"));
  EXPECT_EQ(v.check, "fail");
  EXPECT_TRUE(absl::StrContains(v.authentication_results, "dmarc=fail")) << v.authentication_results;
  EXPECT_TRUE(absl::StrContains(v.authentication_results, "header.from=b.example"));
  EXPECT_TRUE(absl::StrContains(v.authentication_results, "header.d=a.example"));
  // A second author at another domain spoils an aligned first one.
  EXPECT_EQ(VerifyAuthor(Native("ann@a.example, boss@b.example")).check, "fail");
  // Relaxed: a subdomain aligns, a sibling does not.
  AuthorInput in = Native("x@news.a.example");
  EXPECT_EQ(VerifyAuthor(in).check, "fail");
  in.mode = AlignmentMode::kRelaxed;
  EXPECT_EQ(VerifyAuthor(in).check, "pass");
  EXPECT_TRUE(absl::StrContains(VerifyAuthor(in).authentication_results, "relaxed"));
}

TEST(VerifyAuthor, BridgedMailIsMarkedUnverified) {
  AuthorInput in = Native("Carol <carol@legacy.example>");
  in.origin = v1::ORIGIN_BRIDGED_SMTP;
  in.envelope_sender = "carol@legacy.example";
  AuthorVerdict v = VerifyAuthor(in);
  EXPECT_EQ(v.check, "bridged");
  EXPECT_TRUE(absl::StrContains(v.authentication_results, "bridged from SMTP"));
  EXPECT_TRUE(absl::StrContains(v.authentication_results, "dmarc=none"));
  // Over SMTP, claiming a pullmail domain (even the signer's own): spoofed.
  in.summary_from = "CEO <ceo@a.example>";
  in.from_domain_is_pullmail = true;
  EXPECT_EQ(VerifyAuthor(in).check, "fail");
  // The null reverse path has no smtp.mailfrom.
  in.envelope_sender.clear();
  EXPECT_FALSE(absl::StrContains(VerifyAuthor(in).authentication_results, "smtp.mailfrom"));
}

TEST(VerifyAuthor, NoFromAndLocal) {
  EXPECT_EQ(VerifyAuthor(Native("")).check, "none");
  EXPECT_FALSE(absl::StrContains(VerifyAuthor(Native("")).authentication_results, "header.from"));
  AuthorInput in = Native("ann@a.example");
  in.local = true;
  EXPECT_EQ(VerifyAuthor(in).check, "local");
  EXPECT_EQ(VerifyAuthor(in).authentication_results, "");
  EXPECT_EQ(AuthenticationResultsField(""), "");
}

// Whatever a hostile sender puts in its addresses, the field stays one line
// of printable ASCII (quoted where needed).
TEST(VerifyAuthor, FieldIsOneAsciiLine) {
  AuthorInput in = Native("Bad\r\nInjected: yes <x@a.example>");
  in.envelope_sender = "we;ird\"(x)@a.example";
  in.key_id = "k 1\r\n";
  AuthorVerdict v = VerifyAuthor(in);
  for (char c : v.authentication_results) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
  }
  EXPECT_TRUE(absl::StrContains(v.authentication_results, "smtp.mailfrom=\"we;ird\\\"(x)@a.example\""))
      << v.authentication_results;
}

std::string Filtered(const std::string& message, size_t piece) {
  ServedHeaderFilter f;
  std::string out;
  for (size_t i = 0; i < message.size(); i += piece) {
    out += f.Feed(std::string_view(message).substr(i, piece));
  }
  out += f.Finish();
  return out;
}

// RFC 8601 section 5: the sender's own Authentication-Results: fields are
// renamed (same length) in the header, never in the body, whatever the
// pieces the message is served in.
TEST(ServedHeaderFilter, RenamesSendersResultsInTheHeaderOnly) {
  const std::string message =
      "From: x@a.example\r\nauthentication-RESULTS: b.example; dmarc=pass\r\n"
      "Subject: Authentication-Results: in a value\r\n"
      "X-Authentication-Results: other\r\n\tAuthentication-Results: folded\r\n"
      "\r\nAuthentication-Results: in the body\r\n";
  const std::string want =
      "From: x@a.example\r\nX-Original-Auth-Result: b.example; dmarc=pass\r\n"
      "Subject: Authentication-Results: in a value\r\n"
      "X-Authentication-Results: other\r\n\tAuthentication-Results: folded\r\n"
      "\r\nAuthentication-Results: in the body\r\n";
  for (size_t piece : {1u, 2u, 3u, 7u, 22u, 23u, 24u, 1000u}) {
    EXPECT_EQ(Filtered(message, piece), want) << piece;
  }
  // First field; LF line ends; a message that is all header.
  EXPECT_EQ(Filtered("Authentication-Results: x\n\nbody", 5),
            "X-Original-Auth-Result: x\n\nbody");
  EXPECT_EQ(Filtered("Authentication-Res", 4), "Authentication-Res");
  EXPECT_EQ(Filtered("", 4), "");
}

}  // namespace
}  // namespace pullmail
