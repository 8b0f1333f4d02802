// Ed25519: RFC 8032 section 7.1 known answers, context binding, tampering,
// PEM files and their mode.
#include "core/crypto/ed25519.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto/encoding.h"

namespace pullmail {
namespace {

std::string Unhex(std::string_view hex) {
  absl::StatusOr<std::string> bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.value_or("");
}

struct RfcVector {
  const char* name;
  const char* secret_key;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1, "Test Vectors for Ed25519". The RFC signs the bare
// message: here that is Sign() with an empty context.
const RfcVector kRfcVectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
     "1cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613"
     "d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760"
     "984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST 1024", "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
     "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98"
     "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8"
     "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
     "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc"
     "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe"
     "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
     "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef"
     "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7"
     "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
     "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2"
     "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24"
     "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
     "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc"
     "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07"
     "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
     "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a"
     "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e"
     "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
     "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c"
     "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8"
     "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
     "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08"
     "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649"
     "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
     "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3"
     "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e"
     "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
     "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5"
     "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1"
     "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
     "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c"
     "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0",
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23"
     "c436d94b5e8fcd4f681e30a6ac00a9704a188a03"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c6"
     "6431e0303dca179c138ac17ad9bef1177331a704"},
};

TEST(Ed25519, Rfc8032Section71Vectors) {
  for (const RfcVector& v : kRfcVectors) {
    SCOPED_TRACE(v.name);
    std::string message = Unhex(v.message);
    if (std::string_view(v.name) == "TEST 1024") {
      EXPECT_EQ(message.size(), 1023u);
    }
    absl::StatusOr<SigningKey> key = SigningKey::FromSeed(Unhex(v.secret_key));
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(HexEncode(key->PublicKey()), v.public_key);
    std::string sig = key->Sign("", message);
    EXPECT_EQ(HexEncode(sig), v.signature);
    EXPECT_TRUE(VerifySignature(Unhex(v.public_key), "", message, Unhex(v.signature)));
  }
}

TEST(Ed25519, SignatureCoversContextThenMessage) {
  absl::StatusOr<SigningKey> key = SigningKey::Generate();
  ASSERT_TRUE(key.ok()) << key.status();
  // The signed input is exactly context || message, NUL included.
  EXPECT_EQ(key->Sign(std::string_view("ctx\0", 4), "msg"),
            key->Sign("", std::string_view("ctx\0msg", 7)));
  std::string sig = key->Sign(std::string_view("ctx\0", 4), "msg");
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(VerifySignature(key->PublicKey(), std::string_view("ctx\0", 4), "msg", sig));
  // Another context does not verify, even when the bytes differ only there.
  EXPECT_FALSE(VerifySignature(key->PublicKey(), std::string_view("ctx\1", 4), "msg", sig));
  EXPECT_FALSE(VerifySignature(key->PublicKey(), "", "msg", sig));
}

TEST(Ed25519, GeneratedKeysDiffer) {
  absl::StatusOr<SigningKey> a = SigningKey::Generate();
  absl::StatusOr<SigningKey> b = SigningKey::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->PublicKey().size(), 32u);
  EXPECT_NE(a->PublicKey(), b->PublicKey());
}

TEST(Ed25519, TamperingBreaksVerification) {
  absl::StatusOr<SigningKey> key = SigningKey::FromSeed(std::string(32, '\x07'));
  ASSERT_TRUE(key.ok());
  const std::string ctx("pullmail.test\0", 14);
  const std::string msg = "a message of some length";
  const std::string sig = key->Sign(ctx, msg);
  const std::string pub = key->PublicKey();
  ASSERT_TRUE(VerifySignature(pub, ctx, msg, sig));

  for (size_t i = 0; i < msg.size(); ++i) {
    std::string m = msg;
    m[i] ^= 0x01;
    EXPECT_FALSE(VerifySignature(pub, ctx, m, sig)) << "message byte " << i;
  }
  for (size_t i = 0; i < sig.size(); ++i) {
    std::string s = sig;
    s[i] ^= 0x01;
    EXPECT_FALSE(VerifySignature(pub, ctx, msg, s)) << "signature byte " << i;
  }
  std::string other_pub = SigningKey::FromSeed(std::string(32, '\x08'))->PublicKey();
  EXPECT_FALSE(VerifySignature(other_pub, ctx, msg, sig));
  // Truncated or extended message, signature or key: false, never a crash.
  EXPECT_FALSE(VerifySignature(pub, ctx, msg + "x", sig));
  EXPECT_FALSE(VerifySignature(pub, ctx, msg.substr(1), sig));
  EXPECT_FALSE(VerifySignature(pub, ctx, msg, sig.substr(0, 63)));
  EXPECT_FALSE(VerifySignature(pub, ctx, msg, sig + "x"));
  EXPECT_FALSE(VerifySignature(pub.substr(0, 31), ctx, msg, sig));
  EXPECT_FALSE(VerifySignature("", ctx, msg, sig));
  EXPECT_FALSE(VerifySignature(pub, ctx, msg, ""));
  EXPECT_FALSE(VerifySignature(std::string(32, '\xff'), ctx, msg, sig));
}

TEST(Ed25519, FromSeedRejectsWrongSize) {
  EXPECT_EQ(SigningKey::FromSeed("short").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SigningKey::FromSeed(std::string(33, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Ed25519, MoveKeepsTheKey) {
  absl::StatusOr<SigningKey> key = SigningKey::FromSeed(std::string(32, '\x01'));
  ASSERT_TRUE(key.ok());
  std::string pub = key->PublicKey();
  SigningKey moved = std::move(*key);
  EXPECT_EQ(moved.PublicKey(), pub);
  SigningKey assigned = std::move(*SigningKey::Generate());
  assigned = std::move(moved);
  EXPECT_EQ(assigned.PublicKey(), pub);
}

class Ed25519PemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "pullmail_pem_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const char* f : {"/key.pem", "/bad.pem", "/loose.pem"}) unlink((dir_ + f).c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(Ed25519PemTest, RoundTripWithMode0600) {
  absl::StatusOr<SigningKey> key = SigningKey::Generate();
  ASSERT_TRUE(key.ok());
  const std::string path = dir_ + "/key.pem";
  // Even with an empty umask the file must come out 0600.
  mode_t old_umask = umask(0);
  absl::Status saved = key->SavePem(path);
  umask(old_umask);
  ASSERT_TRUE(saved.ok()) << saved;

  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::ifstream in(path);
  std::string first_line;
  std::getline(in, first_line);
  EXPECT_EQ(first_line, "-----BEGIN PRIVATE KEY-----");  // PKCS#8, unencrypted

  absl::StatusOr<SigningKey> loaded = SigningKey::LoadPem(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->PublicKey(), key->PublicKey());
  EXPECT_EQ(loaded->Sign("c", "m"), key->Sign("c", "m"));

  // Never overwrites an existing key.
  absl::StatusOr<SigningKey> other = SigningKey::Generate();
  EXPECT_EQ(other->SavePem(path).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(SigningKey::LoadPem(path)->PublicKey(), key->PublicKey());
}

TEST_F(Ed25519PemTest, LoadErrors) {
  EXPECT_EQ(SigningKey::LoadPem(dir_ + "/missing.pem").status().code(),
            absl::StatusCode::kNotFound);
  {
    std::ofstream out(dir_ + "/bad.pem");
    out << "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n";
  }
  EXPECT_EQ(SigningKey::LoadPem(dir_ + "/bad.pem").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(Ed25519PemTest, LoadsAKeyWithLooseModeButStillWorks) {
  absl::StatusOr<SigningKey> key = SigningKey::FromSeed(std::string(32, '\x02'));
  const std::string path = dir_ + "/loose.pem";
  ASSERT_TRUE(key->SavePem(path).ok());
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  absl::StatusOr<SigningKey> loaded = SigningKey::LoadPem(path);  // logs a warning
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->PublicKey(), key->PublicKey());
}

// VerifySignature keeps a few parsed public keys per thread: with more keys
// in turn than it holds (so entries are replaced while in use), from two
// threads at once, every signature verifies with its own key only.
TEST(Ed25519, ManyKeysInTurnFromTwoThreads) {
  constexpr int kKeys = 20;
  const std::string ctx("pullmail.test\0", 14);
  std::vector<std::string> pubs, sigs;
  for (int i = 0; i < kKeys; ++i) {
    absl::StatusOr<SigningKey> key = SigningKey::FromSeed(std::string(32, static_cast<char>(i + 1)));
    ASSERT_TRUE(key.ok());
    pubs.push_back(key->PublicKey());
    sigs.push_back(key->Sign(ctx, "message " + std::to_string(i)));
  }
  std::atomic<int> failures{0};
  auto check = [&](int offset) {
    for (int round = 0; round < 3; ++round) {
      for (int k = 0; k < kKeys; ++k) {
        const int i = (k + offset) % kKeys;
        const std::string msg = "message " + std::to_string(i);
        if (!VerifySignature(pubs[i], ctx, msg, sigs[i])) ++failures;
        if (VerifySignature(pubs[(i + 1) % kKeys], ctx, msg, sigs[i])) ++failures;
        if (VerifySignature(std::string(32, '\xff'), ctx, msg, sigs[i])) ++failures;
      }
    }
  };
  std::thread other(check, 7);
  check(0);
  other.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace pullmail
