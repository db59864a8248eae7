// Members of the mirror's groups (store/member_area.h) over SQLite.
#include "store/sqlite/sqlite_store.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite/migrations.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/store_fixture.h"
#include "store/sqlite/test_support.h"

namespace idsync::store::sqlite {
namespace {

using test_support::AsStatus;
using test_support::MakeConnection;
using test_support::MakeGroup;
using test_support::MakeUser;
using test_support::OpenOrDie;
using test_support::PutGroup;
using test_support::PutUser;
using test_support::Query;
using test_support::SqliteStoreTest;
using test_support::TempDir;

using scim::ResourceType;

TEST_F(SqliteStoreTest, MembersAddRemoveListGroupsOf) {
  MustWrite([&](Transaction& tx) -> Status {
    EXPECT_TRUE(PutUser(tx, conn_, "u1", "alice"));
    EXPECT_TRUE(PutUser(tx, conn_, "u2", "bob"));
    EXPECT_TRUE(PutGroup(tx, conn_, "g1", "Ops"));
    EXPECT_TRUE(PutGroup(tx, conn_, "g2", "Dev"));
    EXPECT_EQ(*tx.AddMember(conn_, "g1", {"u1", "User", "Alice"}), true);
    EXPECT_EQ(*tx.AddMember(conn_, "g1", {"u1", "User", "Alice"}), false);
    EXPECT_EQ(*tx.AddMember(conn_, "g1", {"u2", "User", ""}), true);
    EXPECT_EQ(*tx.AddMember(conn_, "g2", {"u1", "User", ""}), true);
    EXPECT_EQ(*tx.AddMember(conn_, "g2", {"g1", "Group", "Ops"}), true);
    EXPECT_EQ(tx.AddMember(conn_, "nope", {"u1", "User", ""}).error().code, ErrorCode::kNotFound);
    // A user id is not a group.
    EXPECT_EQ(tx.AddMember(conn_, "u1", {"u2", "User", ""}).error().code, ErrorCode::kNotFound);

    auto members = tx.ListMembers(conn_, "g1");
    EXPECT_EQ(members->size(), 2u);
    EXPECT_EQ((*members)[0].value, "u1");
    EXPECT_EQ((*members)[0].type, "User");
    EXPECT_EQ((*members)[0].display, "Alice");
    EXPECT_EQ(*tx.CountMembers(conn_, "g1"), 2);

    auto groups = tx.GroupsOf(conn_, "u1");
    EXPECT_EQ(groups->size(), 2u);
    EXPECT_EQ((*groups)[0], (std::pair<std::string, std::string>{"g1", "Ops"}));
    EXPECT_EQ((*groups)[1], (std::pair<std::string, std::string>{"g2", "Dev"}));
    EXPECT_EQ(tx.GroupsOf(conn_, "g1")->size(), 1u);

    EXPECT_EQ(*tx.RemoveMember(conn_, "g1", "u2"), true);
    EXPECT_EQ(*tx.RemoveMember(conn_, "g1", "u2"), false);
    EXPECT_EQ(*tx.CountMembers(conn_, "g1"), 1);
    EXPECT_TRUE(tx.ClearMembers(conn_, "g2"));
    EXPECT_EQ(*tx.CountMembers(conn_, "g2"), 0);
    EXPECT_EQ(tx.GroupsOf(conn_, "u1")->size(), 1u);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, MemberChangeCostDoesNotGrowWithGroupSize) {
  MustWrite([&](Transaction& tx) -> Status {
    if (auto put = PutGroup(tx, conn_, "big", "Big"); !put) return put.error();
    if (auto put = PutGroup(tx, conn_, "small", "Small"); !put) return put.error();
    for (int i = 0; i < 100000; ++i) {
      auto added = tx.AddMember(conn_, "big", {"m" + std::to_string(i), "User", ""});
      if (!added) return added.error();
    }
    for (int i = 0; i < 10; ++i) {
      auto added = tx.AddMember(conn_, "small", {"m" + std::to_string(i), "User", ""});
      if (!added) return added.error();
    }
    return Status::Ok();
  });
  // 200 single adds and removes, each through the same statements a PATCH uses, in one write
  // so that fsync does not hide the per-member cost.
  auto time_changes = [&](const std::string& group) {
    auto start = std::chrono::steady_clock::now();
    MustWrite([&](Transaction& tx) -> Status {
      for (int i = 0; i < 200; ++i) {
        std::string value = "new" + std::to_string(i);
        auto added = tx.AddMember(conn_, group, {value, "User", ""});
        if (!added || !*added) return MakeError(ErrorCode::kInternal, "add");
        auto touched = tx.TouchResource(conn_, ResourceType::kGroup, group, FromUnixMillis(1));
        if (!touched) return touched;
        auto removed = tx.RemoveMember(conn_, group, value);
        if (!removed || !*removed) return MakeError(ErrorCode::kInternal, "remove");
      }
      return Status::Ok();
    });
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };
  time_changes("small");  // warm the statement cache and the page cache
  time_changes("big");
  double small = time_changes("small");
  double big = time_changes("big");
  std::cout << "[ figures  ] 200 add+touch+remove: 10-member group " << small
            << " ms, 100000-member group " << big << " ms\n";
  // Generous: a scan of the group would cost seconds here, not a small factor.
  EXPECT_LT(big, 5 * small + 100);
}

}  // namespace
}  // namespace idsync::store::sqlite
