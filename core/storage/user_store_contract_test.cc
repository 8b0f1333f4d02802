// The UserStore contract, run against every back end; plus SQLite-only
// durability checks (close and reopen).
#include <gtest/gtest.h>

#include <memory>

#include "core/storage/memory_store.h"
#include "core/storage/pg_store.h"
#include "core/storage/sqlite_store.h"
#include "core/storage/storage_test_util.h"

namespace pullmail {
namespace {

using ::pullmail::testing::Backend;
using ::pullmail::testing::TempDir;

User MakeUser(std::string address, std::string hash) {
  User u;
  u.address = std::move(address);
  u.password_hash = std::move(hash);
  // Sub-microsecond part: every store keeps microseconds.
  u.created = absl::FromUnixNanos(1'700'000'000'123'456'789);
  return u;
}

class UserStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kMemory) {
      store_ = NewMemoryUserStore();
    } else if (GetParam() == Backend::kPostgres) {
      pg_ = std::make_unique<::pullmail::testing::PgTestSchema>();
      if (!pg_->ok()) GTEST_SKIP() << pg_->skip_reason();
      auto db = OpenPgDb(pg_->url());
      PM_ASSERT_OK(db);
      store_ = NewPgUserStore(*std::move(db));
    } else {
      auto s = OpenSqliteUserStore(dir_.File("users.db"));
      PM_ASSERT_OK(s);
      store_ = *std::move(s);
    }
  }

  TempDir dir_;
  std::unique_ptr<::pullmail::testing::PgTestSchema> pg_;  // outlives store_
  std::unique_ptr<UserStore> store_;
};

TEST_P(UserStoreContract, AddGetAndDuplicate) {
  PM_ASSERT_OK(store_->AddUser(MakeUser("alice@a.example", "hash1")));
  auto got = store_->GetUser("alice@a.example");
  PM_ASSERT_OK(got);
  EXPECT_EQ(got->address, "alice@a.example");
  EXPECT_EQ(got->password_hash, "hash1");
  EXPECT_EQ(got->created, absl::FromUnixMicros(1'700'000'000'123'456));

  PM_EXPECT_CODE(store_->AddUser(MakeUser("alice@a.example", "other")), kAlreadyExists);
  EXPECT_EQ(store_->GetUser("alice@a.example")->password_hash, "hash1");  // unchanged
  PM_EXPECT_CODE(store_->GetUser("bob@a.example"), kNotFound);
  PM_EXPECT_CODE(store_->GetUser("ALICE@a.example"), kNotFound);  // exact match
  PM_EXPECT_CODE(store_->AddUser(MakeUser("", "h")), kInvalidArgument);
}

TEST_P(UserStoreContract, SetPassword) {
  PM_ASSERT_OK(store_->AddUser(MakeUser("alice@a.example", "hash1")));
  PM_ASSERT_OK(store_->SetPassword("alice@a.example", "hash2"));
  EXPECT_EQ(store_->GetUser("alice@a.example")->password_hash, "hash2");
  PM_EXPECT_CODE(store_->SetPassword("nobody@a.example", "x"), kNotFound);
}

TEST_P(UserStoreContract, ListUsersSortedByAddress) {
  auto empty = store_->ListUsers();
  PM_ASSERT_OK(empty);
  EXPECT_TRUE(empty->empty());
  for (const char* a : {"carol@a.example", "alice@a.example", "bob@a.example"}) {
    PM_ASSERT_OK(store_->AddUser(MakeUser(a, "h")));
  }
  auto users = store_->ListUsers();
  PM_ASSERT_OK(users);
  ASSERT_EQ(users->size(), 3u);
  EXPECT_EQ((*users)[0].address, "alice@a.example");
  EXPECT_EQ((*users)[1].address, "bob@a.example");
  EXPECT_EQ((*users)[2].address, "carol@a.example");
}

INSTANTIATE_TEST_SUITE_P(Backends, UserStoreContract,
                         ::testing::Values(Backend::kMemory, Backend::kSqlite, Backend::kPostgres),
                         ::pullmail::testing::BackendName);

TEST(SqliteUserStore, SurvivesCloseAndReopen) {
  TempDir dir;
  {
    auto store = OpenSqliteUserStore(dir.File("u.db"));
    PM_ASSERT_OK(store);
    PM_ASSERT_OK((*store)->AddUser(MakeUser("alice@a.example", "h1")));
    PM_ASSERT_OK((*store)->AddUser(MakeUser("bob@a.example", "h2")));
    PM_ASSERT_OK((*store)->SetPassword("bob@a.example", "h3"));
  }
  auto store = OpenSqliteUserStore(dir.File("u.db"));
  PM_ASSERT_OK(store);
  auto users = (*store)->ListUsers();
  PM_ASSERT_OK(users);
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].password_hash, "h1");
  EXPECT_EQ((*users)[1].password_hash, "h3");
  EXPECT_EQ((*users)[1].created, absl::FromUnixMicros(1'700'000'000'123'456));
}

}  // namespace
}  // namespace pullmail
