// The test vectors of docs/PROTOCOL.md ("Test vectors"), checked byte for
// byte. Each object is rebuilt here from its fields as the document lists
// them; its serialization, signing input hash and signature must equal the
// hex strings printed in the document. If this test fails, either the code
// changed the wire format or the document is wrong: fix one, never both
// silently.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/crypto/ed25519.h"
#include "core/crypto/encoding.h"
#include "core/crypto/merkle.h"
#include "core/crypto/sha256.h"
#include "core/directory/memory_directory.h"
#include "core/envelope/envelope.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/util/clock.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

// Every hex string below is copied verbatim from docs/PROTOCOL.md.

// Key A: seed 00 01 02 ... 1f, domain alpha.example, key id "2023a".
constexpr char kKeyAPublic[] = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
// Key B: seed 20 21 22 ... 3f, domain beta.example, key id "b1".
constexpr char kKeyBPublic[] = "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7";

constexpr char kNotificationPayload[] =
    "0801122871346b376d32783677336535723674377932753362346e3570614061"
    "6c7068612e6578616d706c651a11616e6e40616c7068612e6578616d706c6522"
    "10626f6240626574612e6578616d706c6522126361726f6c40626574612e6578"
    "616d706c652a0c626574612e6578616d706c653215706d2e616c7068612e6578"
    "616d706c653a373434333880d095ffbc314080d8c79fbf3148e1215220202122"
    "232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f5ac401"
    "0a17416e6e203c616e6e40616c7068612e6578616d706c653e1210626f624062"
    "6574612e6578616d706c6512126361726f6c40626574612e6578616d706c651a"
    "12646176654067616d6d612e6578616d706c65220b5465737420766563746f72"
    "2a1f5475652c203134204e6f7620323032332032323a31333a3230202b303030"
    "30322a3c71346b376d32783677336535723674377932753362346e3570614061"
    "6c7068612e6578616d706c653e3a153c706172656e7440626574612e6578616d"
    "706c653e6220404142434445464748494a4b4c4d4e4f50515253545556575859"
    "5a5b5c5d5e5f6801";
constexpr char kNotificationInputSha256[] = "914262729f7c80e4e778907c97ec32ca85304b0f08964cf87f4c2c7361212e0a";
constexpr char kNotificationSignature[] =
    "f3a841e8990e319c02c4167d463a8fcd9cdaca2078d8ddff5f0a67317804785e"
    "f381617ab361dec021ed4462d2b26f559d62cef30deaed5ea17c604617d09f08";

constexpr char kRevocationPayload[] =
    "0801122871346b376d32783677336535723674377932753362346e3570614061"
    "6c7068612e6578616d706c651a0d616c7068612e6578616d706c6520c09fbaff"
    "bc312a0f73656e74206279206d697374616b65";
constexpr char kRevocationInputSha256[] = "037ade90cc6da24f3c1785f8100efbc91b68f49ba7b3a82a75cbe1e1a5295f85";
constexpr char kRevocationSignature[] =
    "338040a83fe7e0131cda5a5153af05a432d4b135e8ca46f3115dcf12b6de5346"
    "a719e83c0a7c6ae5e9b923ed7fe08c48484b62ac2bb1e18bbee6541ae726db0d";

constexpr char kSpamReportPayload[] =
    "0801120b626574612d3030303030311a0c626574612e6578616d706c65222871"
    "346b376d32783677336535723674377932753362346e35706140616c7068612e"
    "6578616d706c652a0d616c7068612e6578616d706c6532202021222324252627"
    "28292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f38014080adf180bd"
    "314802";
constexpr char kSpamReportInputSha256[] = "39040a80f21bafd89a2c47c03357d9c6a2549ba0e9e8f2a3b1f1c6d4a868b9e7";
constexpr char kSpamReportSignature[] =
    "f6df94d6be644d900defedad5a65cd069a20f85ca006b9cb5ecfdc5378babf66"
    "fd4a26a664b86ebf85cde27a77529ce3a7d2f7e9302c7c8396b8dbbe4a0aa506";

// 10.5: a batch of three (the 10.2 notification and two copies with other
// message ids).
constexpr char kBatchLeaf0[] = "9264a559d369667c0d6731b6fbf9a14017ee1bc10a25b07d24aebce1d5c16ab5";
constexpr char kBatchLeaf1[] = "b390c2489ecfab37f547af95ab05f5ab841b886c2d39bb4da43535914eb2d018";
constexpr char kBatchLeaf2[] = "30d3c48a8f7d82f09298c6ce2bb77c249985bbe5567c3f3e25c0107c16886e02";
constexpr char kBatchNode01[] = "aacb52aa9a4af106ac6c5c53289054a1bb125b288b67acf0df4200b485f96592";
constexpr char kBatchRoot[] = "0dc1498fc2995f3fd5541cde4121d7250ed89d49a91c019121ea071094364bc8";
constexpr char kBatchTreeHead[] = "000000030dc1498fc2995f3fd5541cde4121d7250ed89d49a91c019121ea071094364bc8";
constexpr char kBatchInputSha256[] = "46e278802b4a3b1d0f9fdd8d837d20441a263dbc9b3ea03eb36ca0b7bb6cfe26";
constexpr char kBatchSignature[] =
    "78a8d1ebd93f31b5bff727e680e952fcdc318dcbdbddb174d496a93ba4e087a0"
    "b1a78df1daf8f696801172d67c045461b7844c1a1379c387e7ad250a7b718d00";
constexpr char kBatchProof2[] = "080310021a20aacb52aa9a4af106ac6c5c53289054a1bb125b288b67acf0df4200b485f96592";

std::string Bytes(uint8_t first, size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(first + i);
  return out;
}

SigningKey KeyA() { return *SigningKey::FromSeed(Bytes(0x00, 32)); }
SigningKey KeyB() { return *SigningKey::FromSeed(Bytes(0x20, 32)); }

v1::Notification VectorNotification() {
  v1::Notification n;
  n.set_version(1);
  n.set_message_id("q4k7m2x6w3e5r6t7y2u3b4n5pa@alpha.example");
  n.set_envelope_sender("ann@alpha.example");
  n.add_recipients("bob@beta.example");
  n.add_recipients("carol@beta.example");
  n.set_recipient_domain("beta.example");
  n.set_sender_endpoint("pm.alpha.example:7443");
  n.set_created_unix_ms(1700000000000);
  n.set_expires_unix_ms(1700604800000);
  n.set_body_size(4321);
  n.set_body_sha256(Bytes(0x20, 32));
  v1::HeaderSummary* s = n.mutable_summary();
  s->set_from("Ann <ann@alpha.example>");
  s->add_to("bob@beta.example");
  s->add_to("carol@beta.example");
  s->add_cc("dave@gamma.example");
  s->set_subject("Test vector");
  s->set_date("Tue, 14 Nov 2023 22:13:20 +0000");
  s->set_message_id("<q4k7m2x6w3e5r6t7y2u3b4n5pa@alpha.example>");
  s->set_in_reply_to("<parent@beta.example>");
  n.set_fetch_token(Bytes(0x40, 32));
  n.set_origin(v1::ORIGIN_NATIVE);
  return n;
}

v1::Revocation VectorRevocation() {
  v1::Revocation r;
  r.set_version(1);
  r.set_message_id("q4k7m2x6w3e5r6t7y2u3b4n5pa@alpha.example");
  r.set_signing_domain("alpha.example");
  r.set_revoked_unix_ms(1700000600000);
  r.set_reason("sent by mistake");
  return r;
}

v1::SpamReport VectorSpamReport() {
  v1::SpamReport r;
  r.set_version(1);
  r.set_report_id("beta-000001");
  r.set_reporter_domain("beta.example");
  r.set_message_id("q4k7m2x6w3e5r6t7y2u3b4n5pa@alpha.example");
  r.set_message_signing_domain("alpha.example");
  r.set_body_sha256(Bytes(0x20, 32));
  r.set_verdict(v1::VERDICT_SPAM);
  r.set_reported_unix_ms(1700003600000);
  r.set_reports(2);
  return r;
}

MemoryDirectory VectorDirectory() {
  MemoryDirectory dir;
  DomainEntry a;
  a.domain = "alpha.example";
  a.keys["2023a"] = KeyA().PublicKey();
  dir.Add(a);
  DomainEntry b;
  b.domain = "beta.example";
  b.keys["b1"] = KeyB().PublicKey();
  dir.Add(b);
  return dir;
}

TEST(Vectors, Keys) {
  EXPECT_EQ(HexEncode(KeyA().PublicKey()), kKeyAPublic);
  EXPECT_EQ(HexEncode(KeyB().PublicKey()), kKeyBPublic);
}

TEST(Vectors, Notification) {
  absl::StatusOr<v1::SignedNotification> s =
      SignNotification(VectorNotification(), "alpha.example", "2023a", KeyA());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(HexEncode(s->payload()), kNotificationPayload);
  EXPECT_EQ(HexEncode(Sha256(std::string(kNotificationContext) + s->payload())),
            kNotificationInputSha256);
  EXPECT_EQ(HexEncode(s->signature()), kNotificationSignature);

  // The document's bytes verify as they stand, within the validity window.
  v1::SignedNotification from_doc;
  from_doc.set_payload(*HexDecode(kNotificationPayload));
  from_doc.set_signing_domain("alpha.example");
  from_doc.set_key_id("2023a");
  from_doc.set_signature(*HexDecode(kNotificationSignature));
  MemoryDirectory dir = VectorDirectory();
  absl::StatusOr<v1::Notification> n = VerifyNotification(
      from_doc, dir, VerifyOptions{FromUnixMs(1700000000000), "beta.example"}, nullptr);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->summary().subject(), "Test vector");
}

TEST(Vectors, Revocation) {
  absl::StatusOr<v1::SignedRevocation> s =
      SignRevocation(VectorRevocation(), "alpha.example", "2023a", KeyA());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(HexEncode(s->payload()), kRevocationPayload);
  EXPECT_EQ(HexEncode(Sha256(std::string(kRevocationContext) + s->payload())),
            kRevocationInputSha256);
  EXPECT_EQ(HexEncode(s->signature()), kRevocationSignature);

  v1::SignedRevocation from_doc;
  from_doc.set_payload(*HexDecode(kRevocationPayload));
  from_doc.set_signing_domain("alpha.example");
  from_doc.set_key_id("2023a");
  from_doc.set_signature(*HexDecode(kRevocationSignature));
  MemoryDirectory dir = VectorDirectory();
  EXPECT_TRUE(VerifyRevocation(from_doc, dir, FromUnixMs(1700000600000), nullptr).ok());
}

TEST(Vectors, SpamReport) {
  absl::StatusOr<v1::SignedSpamReport> s =
      SignSpamReport(VectorSpamReport(), "beta.example", "b1", KeyB());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(HexEncode(s->payload()), kSpamReportPayload);
  EXPECT_EQ(HexEncode(Sha256(std::string(kSpamReportContext) + s->payload())),
            kSpamReportInputSha256);
  EXPECT_EQ(HexEncode(s->signature()), kSpamReportSignature);

  v1::SignedSpamReport from_doc;
  from_doc.set_payload(*HexDecode(kSpamReportPayload));
  from_doc.set_signing_domain("beta.example");
  from_doc.set_key_id("b1");
  from_doc.set_signature(*HexDecode(kSpamReportSignature));
  MemoryDirectory dir = VectorDirectory();
  EXPECT_TRUE(VerifySpamReport(from_doc, dir, FromUnixMs(1700003600000), nullptr).ok());
}

// 10.5. The three payloads are 10.2's with message ids ...pa, ...pb, ...pc.
std::vector<v1::Notification> VectorBatch() {
  std::vector<v1::Notification> out;
  for (char c : {'a', 'b', 'c'}) {
    v1::Notification n = VectorNotification();
    n.set_message_id(absl::StrCat("q4k7m2x6w3e5r6t7y2u3b4n5p", std::string(1, c), "@alpha.example"));
    out.push_back(std::move(n));
  }
  return out;
}

TEST(Vectors, Batch) {
  absl::StatusOr<std::vector<v1::SignedNotification>> b =
      SignNotificationBatch(VectorBatch(), "alpha.example", "2023a", KeyA());
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->size(), 3u);
  const std::vector<v1::SignedNotification>& batch = *b;
  EXPECT_EQ(HexEncode(batch[0].payload()), kNotificationPayload);
  EXPECT_EQ(HexEncode(MerkleLeafHash(batch[0].payload())), kBatchLeaf0);
  EXPECT_EQ(HexEncode(MerkleLeafHash(batch[1].payload())), kBatchLeaf1);
  EXPECT_EQ(HexEncode(MerkleLeafHash(batch[2].payload())), kBatchLeaf2);
  EXPECT_EQ(HexEncode(MerkleNodeHash(*HexDecode(kBatchLeaf0), *HexDecode(kBatchLeaf1))),
            kBatchNode01);
  std::string root = MerkleNodeHash(*HexDecode(kBatchNode01), *HexDecode(kBatchLeaf2));
  EXPECT_EQ(HexEncode(root), kBatchRoot);
  EXPECT_EQ(HexEncode(BatchTreeHead(3, root)), kBatchTreeHead);
  EXPECT_EQ(HexEncode(Sha256(std::string(kNotificationBatchContext) + BatchTreeHead(3, root))),
            kBatchInputSha256);
  for (const v1::SignedNotification& s : batch) {
    EXPECT_EQ(HexEncode(s.signature()), kBatchSignature);
    EXPECT_EQ(s.signing_domain(), "alpha.example");
    EXPECT_EQ(s.key_id(), "2023a");
  }
  // The proofs, as the document lists them.
  auto path = [&](size_t i) {
    std::vector<std::string> out;
    for (const std::string& h : batch[i].batch().path()) out.push_back(HexEncode(h));
    return out;
  };
  EXPECT_EQ(path(0), (std::vector<std::string>{kBatchLeaf1, kBatchLeaf2}));
  EXPECT_EQ(path(1), (std::vector<std::string>{kBatchLeaf0, kBatchLeaf2}));
  EXPECT_EQ(path(2), (std::vector<std::string>{kBatchNode01}));
  EXPECT_EQ(HexEncode(batch[2].batch().SerializeAsString()), kBatchProof2);

  // The document's bytes verify as they stand; the listed tampering is
  // refused with the listed reasons, and only for the tampered one.
  MemoryDirectory dir = VectorDirectory();
  VerifyOptions at{FromUnixMs(1700000000000), "beta.example"};
  auto from_doc = [&](size_t i) {
    v1::SignedNotification s;
    s.set_payload(batch[i].payload());
    s.set_signing_domain("alpha.example");
    s.set_key_id("2023a");
    s.set_signature(*HexDecode(kBatchSignature));
    s.mutable_batch()->set_tree_size(3);
    s.mutable_batch()->set_leaf_index(static_cast<uint32_t>(i));
    const char* const paths[3][2] = {{kBatchLeaf1, kBatchLeaf2}, {kBatchLeaf0, kBatchLeaf2},
                                     {kBatchNode01, nullptr}};
    for (const char* h : paths[i]) {
      if (h != nullptr) s.mutable_batch()->add_path(*HexDecode(h));
    }
    return s;
  };
  auto reason = [&](const v1::SignedNotification& s) {
    Rejection r = Rejection::kNone;
    (void)VerifyNotification(s, dir, at, &r);
    return r;
  };
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(reason(from_doc(i)), Rejection::kNone) << i;
  v1::SignedNotification t = from_doc(1);
  *t.mutable_batch()->mutable_path() = from_doc(0).batch().path();
  EXPECT_EQ(reason(t), Rejection::kBadSignature);
  t = from_doc(1);
  t.mutable_batch()->set_leaf_index(0);
  EXPECT_EQ(reason(t), Rejection::kBadSignature);
  t = from_doc(1);
  t.mutable_batch()->set_leaf_index(3);
  EXPECT_EQ(reason(t), Rejection::kBadProof);
  t = from_doc(1);
  t.mutable_batch()->mutable_path()->RemoveLast();
  EXPECT_EQ(reason(t), Rejection::kBadProof);
  EXPECT_EQ(reason(from_doc(0)), Rejection::kNone);
  EXPECT_EQ(reason(from_doc(2)), Rejection::kNone);
}

// The constants above are the document's, not a private copy: every one of
// them (and each context's hex) must appear in docs/PROTOCOL.md, found from
// this source file's path.
TEST(Vectors, DocumentHasTheseExactValues) {
  std::filesystem::path doc =
      std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "docs" / "PROTOCOL.md";
  std::ifstream in(doc);
  ASSERT_TRUE(in.good()) << "cannot read " << doc;
  std::stringstream text;
  text << in.rdbuf();
  // Hex in the document is wrapped at 64 digits: compare without whitespace.
  std::string flat = absl::StrReplaceAll(text.str(), {{"\n", ""}, {" ", ""}, {"\r", ""}});
  const char* values[] = {
      kKeyAPublic,          kKeyBPublic,           kNotificationPayload,
      kNotificationInputSha256, kNotificationSignature, kRevocationPayload,
      kRevocationInputSha256,   kRevocationSignature,   kSpamReportPayload,
      kSpamReportInputSha256,   kSpamReportSignature,   kBatchLeaf0,
      kBatchLeaf1,              kBatchLeaf2,            kBatchNode01,
      kBatchRoot,               kBatchTreeHead,         kBatchInputSha256,
      kBatchSignature,          kBatchProof2,
  };
  for (const char* v : values) {
    EXPECT_NE(flat.find(v), std::string::npos) << "not in PROTOCOL.md: " << v;
  }
  // Payloads 1 and 2 of 10.5 (the batch test checks they are what the
  // signer serializes).
  for (const v1::Notification& n : VectorBatch()) {
    EXPECT_NE(flat.find(HexEncode(n.SerializeAsString())), std::string::npos)
        << "batch payload not in PROTOCOL.md: " << n.message_id();
  }
  for (std::string_view ctx : {kNotificationContext, kSpamReportContext, kRevocationContext,
                               kNotificationBatchContext}) {
    EXPECT_NE(flat.find(HexEncode(ctx)), std::string::npos) << "context hex not in PROTOCOL.md";
  }
}

}  // namespace
}  // namespace pullmail
