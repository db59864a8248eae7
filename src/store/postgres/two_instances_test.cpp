// Two idsync instances on one PostgreSQL database (issue #15): concurrent writes of both
// lose nothing and a change on one wakes the other.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/postgres/areas_fixture.h"

namespace idsync::store {
namespace {

using scim::ResourceType;

class TwoInstances : public StoreAreas {};

TEST_P(TwoInstances, ConcurrentSameUserNameCreatesGiveExactlyOneWinner) {
  auto other = OpenAnother();
  ASSERT_TRUE(other);
  for (int round = 0; round < 10; ++round) {
    std::string name = "user" + std::to_string(round);
    std::atomic<int> created{0}, taken{0};
    auto create = [&](Store& store, const std::string& id) {
      auto s = store.Write([&](Transaction& tx) { return AsStatus(PutUser(tx, conn_, id, name)); });
      if (s) {
        ++created;
      } else if (s.error().code == ErrorCode::kUniqueness) {
        ++taken;
      }
    };
    std::thread a([&] { create(*store_, "a" + std::to_string(round)); });
    std::thread b([&] { create(*other, "b" + std::to_string(round)); });
    a.join();
    b.join();
    EXPECT_EQ(created.load(), 1) << name;
    EXPECT_EQ(taken.load(), 1) << name;
  }
}

TEST_P(TwoInstances, ConcurrentMemberAddsAndGroupTouchesLoseNothing) {
  MustWrite([&](Transaction& tx) { return AsStatus(PutGroup(tx, conn_, "g1", "Admins")); });
  auto other = OpenAnother();
  ASSERT_TRUE(other);
  constexpr int kEach = 40;
  auto add = [&](Store& store, const std::string& prefix) {
    for (int i = 0; i < kEach; ++i) {
      auto s = store.Write([&](Transaction& tx) -> Status {
        auto added = tx.AddMember(conn_, "g1", {prefix + std::to_string(i), "User", ""});
        if (!added) return added.error();
        return tx.TouchResource(conn_, ResourceType::kGroup, "g1", FromUnixMillis(1));
      });
      EXPECT_TRUE(s) << s.error().detail;
    }
  };
  std::thread a([&] { add(*store_, "a"); });
  std::thread b([&] { add(*other, "b"); });
  a.join();
  b.join();
  MustRead([&](Transaction& tx) -> Status {
    auto count = tx.CountMembers(conn_, "g1");
    if (!count) return count.error();
    EXPECT_EQ(*count, 2 * kEach);
    auto g = tx.GetResource(conn_, ResourceType::kGroup, "g1");
    if (!g) return g.error();
    EXPECT_EQ(g->version, 1 + 2 * kEach);  // every touch counted: no lost update
    return Status::Ok();
  });
}

TEST_P(TwoInstances, AChangeCommittedOnOneInstanceWakesTheOther) {
  std::mutex mu;
  std::condition_variable cv;
  int wakes = 0;
  store_->OnForeignChanges([&] {
    std::lock_guard lock(mu);
    ++wakes;
    cv.notify_all();
  });
  auto other = OpenAnother();
  ASSERT_TRUE(other);
  // The listener may still be connecting: append until it has seen one (each append is
  // notified at its commit), for at most 30 s; the assertion is that a wake comes, not when.
  bool woken = false;
  for (int i = 0; i < 60 && !woken; ++i) {
    auto s = other->Write([&](Transaction& tx) -> Status {
      ChangeRecord change;
      change.directory = "users";
      change.type = "User";
      change.op = "delete";
      change.id = "u" + std::to_string(i);
      return AsStatus(tx.AppendChange(change));
    });
    ASSERT_TRUE(s) << s.error().detail;
    std::unique_lock lock(mu);
    woken = cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return wakes > 0; });
  }
  EXPECT_TRUE(woken);
  store_->Close();  // joins the listener: no call after this
}

INSTANTIATE_TEST_SUITE_P(PostgreSQL, TwoInstances, ::testing::Values("postgresql"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace idsync::store
