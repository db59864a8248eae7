// ConsoleSessions and AdminUsers over a real SqliteStore in a temporary folder, with a clock the
// test moves (no sleeping: the timeouts are decided by comparing times).
#include "service/console_sessions.h"

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "service/admin_users.h"
#include "store/sqlite/sqlite_store.h"

namespace idsync::service {
namespace {

class StepClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(std::chrono::seconds s) { now_ += s; }

 private:
  TimePoint now_ = TimePoint(std::chrono::hours(24 * 365 * 56));
};

class ConsoleSessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        std::filesystem::temp_directory_path().string() + "/idsync-console-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = store::sqlite::SqliteStore::Open(dir_, {});
    ASSERT_TRUE(store) << store.error().detail;
    store_ = std::move(*store);
    users_ = std::make_unique<AdminUsers>(*store_, clock_);
    sessions_ = std::make_unique<ConsoleSessions>(
        *store_, clock_, SessionTimeouts{std::chrono::minutes(30), std::chrono::hours(12)});
  }
  void TearDown() override {
    sessions_.reset();
    users_.reset();
    if (store_) store_->Close();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  store::AdminUser Add(const std::string& name, const std::string& role = "admin") {
    auto made = users_->Add(name, role, "test");
    EXPECT_TRUE(made) << made.error().detail;
    return made->user;
  }

  std::string dir_;
  StepClock clock_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  std::unique_ptr<AdminUsers> users_;
  std::unique_ptr<ConsoleSessions> sessions_;
};

TEST_F(ConsoleSessionsTest, IdleSessionEndsAfterTheIdleTimeoutUseKeepsItAlive) {
  auto user = Add("alice");
  auto id = sessions_->Start(user, "127.0.0.1", "r1");
  ASSERT_TRUE(id);
  for (int i = 0; i < 5; ++i) {  // 5 x 20 min of use: 100 min, beyond the idle timeout
    clock_.Advance(std::chrono::minutes(20));
    ASSERT_TRUE(sessions_->Check(*id)) << i;
  }
  clock_.Advance(std::chrono::minutes(31));
  auto gone = sessions_->Check(*id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kUnauthorized);
}

TEST_F(ConsoleSessionsTest, SessionEndsAtItsLifetimeHoweverUsed) {
  auto user = Add("alice");
  auto id = sessions_->Start(user, "127.0.0.1", "r1");
  ASSERT_TRUE(id);
  for (int i = 0; i < 36; ++i) {  // 36 x 20 min = 12 h
    clock_.Advance(std::chrono::minutes(20));
    ASSERT_TRUE(sessions_->Check(*id)) << i;
  }
  clock_.Advance(std::chrono::minutes(1));
  EXPECT_FALSE(sessions_->Check(*id));
}

TEST_F(ConsoleSessionsTest, RemovalAndResetEndSessionsChangeKeepsOnlyTheChangingOne) {
  auto alice = Add("alice");
  auto bob = Add("bob");
  auto a1 = sessions_->Start(alice, "a", "r");
  auto a2 = sessions_->Start(alice, "a", "r");
  auto b1 = sessions_->Start(bob, "b", "r");
  ASSERT_TRUE(a1 && a2 && b1);

  auto reset = users_->ResetPassword("alice", "test");
  ASSERT_TRUE(reset);
  EXPECT_FALSE(sessions_->Check(*a1));
  EXPECT_FALSE(sessions_->Check(*a2));
  EXPECT_TRUE(sessions_->Check(*b1));

  auto a3 = sessions_->Start(alice, "a", "r");
  auto a4 = sessions_->Start(alice, "a", "r");
  ASSERT_TRUE(a3 && a4);
  ASSERT_TRUE(users_->ChangePassword("alice", reset->password, "a-new-long-password",
                                     ConsoleSessions::HashOf(*a3), "r"));
  EXPECT_TRUE(sessions_->Check(*a3));
  EXPECT_FALSE(sessions_->Check(*a4));
  EXPECT_FALSE(sessions_->Check(*a3)->user.must_change_password);

  ASSERT_TRUE(users_->Remove("bob", "test"));
  EXPECT_FALSE(sessions_->Check(*b1));
}

TEST_F(ConsoleSessionsTest, UnknownOrMalformedIdsAreRefusedAlike) {
  const std::string ids[] = {"", "x", "idsync_session_nope", std::string(1000, 'a'),
                             "idsync_scim_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  for (const std::string& id : ids) {
    auto r = sessions_->Check(id);
    ASSERT_FALSE(r) << id;
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized) << id;
  }
}

TEST_F(ConsoleSessionsTest, CsrfTokenIsPerSessionAndNotTheId) {
  EXPECT_NE(ConsoleSessions::CsrfTokenOf("idsync_session_a"),
            ConsoleSessions::CsrfTokenOf("idsync_session_b"));
  EXPECT_NE(ConsoleSessions::CsrfTokenOf("idsync_session_a"),
            ConsoleSessions::HashOf("idsync_session_a"));
  EXPECT_EQ(ConsoleSessions::CsrfTokenOf("idsync_session_a").find("idsync_session_a"),
            std::string::npos);
}

TEST_F(ConsoleSessionsTest, AdminUsersRefuseBadInputAndKeepTheLastAdmin) {
  EXPECT_EQ(users_->Add("bad name", "admin", "t").error().code, ErrorCode::kInvalidValue);
  EXPECT_EQ(users_->Add("ok", "root", "t").error().code, ErrorCode::kInvalidValue);
  Add("only");
  EXPECT_EQ(users_->Add("only", "viewer", "t").error().code, ErrorCode::kUniqueness);
  Add("watcher", "viewer");
  auto last = users_->Remove("only", "t");
  ASSERT_FALSE(last);
  EXPECT_NE(last.error().detail.find("last admin"), std::string::npos);
  EXPECT_TRUE(users_->Remove("watcher", "t"));
  // Chosen passwords: long enough, not the name; a wrong current one is kUnauthorized.
  EXPECT_FALSE(AdminUsers::CheckNewPassword("alice", "short"));
  EXPECT_FALSE(AdminUsers::CheckNewPassword("alice-is-long", "alice-is-long"));
  EXPECT_TRUE(AdminUsers::CheckNewPassword("alice", "twelve-chars"));
  EXPECT_EQ(users_->ChangePassword("only", "wrong", "a-new-long-password", "", "r").error().code,
            ErrorCode::kUnauthorized);
  EXPECT_EQ(users_->Authenticate("nobody", "whatever-password").error().code,
            ErrorCode::kUnauthorized);
}

}  // namespace
}  // namespace idsync::service
