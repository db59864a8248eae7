// Mirror resources and their index entries (store/mirror_area.h) over SQLite.
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

TEST_F(SqliteStoreTest, PutGetVersionsAndUniqueness) {
  MustWrite([&](Transaction& tx) -> Status {
    auto first = PutUser(tx, conn_, "u1", "alice");
    EXPECT_TRUE(first);
    EXPECT_EQ(first->version, 1);
    StoredResource next = MakeUser("u1", "alice2");
    next.created = FromUnixMillis(99999);  // ignored on update
    next.last_modified = FromUnixMillis(5000);
    auto second = tx.PutResource(conn_, next, std::string("alice2"), {});
    EXPECT_TRUE(second);
    EXPECT_EQ(second->version, 2);
    EXPECT_EQ(ToUnixMillis(second->created), 2000);

    auto got = tx.GetResource(conn_, ResourceType::kUser, "u1");
    EXPECT_TRUE(got);
    EXPECT_EQ(got->version, 2);
    EXPECT_EQ(got->body["userName"], "alice2");
    EXPECT_EQ(ToUnixMillis(got->created), 2000);
    EXPECT_EQ(ToUnixMillis(got->last_modified), 5000);
    EXPECT_EQ(tx.GetResource(conn_, ResourceType::kGroup, "u1").error().code, ErrorCode::kNotFound);

    // The unique key was replaced, and FindByIndex finds users by it (kUniqueKeyAttr).
    EXPECT_TRUE(tx.FindByIndex(conn_, ResourceType::kUser, "userName", "alice")->empty());
    EXPECT_EQ(tx.FindByIndex(conn_, ResourceType::kUser, "userName", "alice2")->size(), 1u);

    EXPECT_TRUE(PutUser(tx, conn_, "u2", "bob"));
    auto taken = PutUser(tx, conn_, "u3", "bob");
    EXPECT_FALSE(taken);
    EXPECT_EQ(taken.error().code, ErrorCode::kUniqueness);
    auto taken_on_update = PutUser(tx, conn_, "u2", "alice2");
    EXPECT_EQ(taken_on_update.error().code, ErrorCode::kUniqueness);
    // The failed update changed nothing, index entries included.
    EXPECT_EQ(tx.GetResource(conn_, ResourceType::kUser, "u2")->version, 1);
    EXPECT_EQ(tx.FindByIndex(conn_, ResourceType::kUser, "userName", "bob")->size(), 1u);
    // A group may share a user's unique value: uniqueness is per type.
    EXPECT_TRUE(PutGroup(tx, conn_, "g1", "bob"));
    // NULL unique keys never collide.
    EXPECT_TRUE(tx.PutResource(conn_, MakeUser("u4", "x"), std::nullopt, {}));
    EXPECT_TRUE(tx.PutResource(conn_, MakeUser("u5", "x"), std::nullopt, {}));
    EXPECT_EQ(tx.PutResource(12345, MakeUser("u6", "y"), std::nullopt, {}).error().code,
              ErrorCode::kNotFound);

    EXPECT_TRUE(tx.TouchResource(conn_, ResourceType::kUser, "u1", FromUnixMillis(7000)));
    auto touched = tx.GetResource(conn_, ResourceType::kUser, "u1");
    EXPECT_EQ(touched->version, 3);
    EXPECT_EQ(ToUnixMillis(touched->last_modified), 7000);
    EXPECT_EQ(tx.TouchResource(conn_, ResourceType::kUser, "zz", FromUnixMillis(1)).error().code,
              ErrorCode::kNotFound);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, GetResourceTextReturnsTheStoredBodyUnparsed) {
  ASSERT_TRUE(store_->Write(
      [&](Transaction& tx) { return AsStatus(PutUser(tx, conn_, "u1", "al\u00e9")); }));
  ASSERT_TRUE(store_->Read([&](Transaction& tx) -> Status {
    auto text = tx.GetResourceText(conn_, ResourceType::kUser, "u1");
    EXPECT_TRUE(text);
    if (!text) return Status::Ok();
    EXPECT_TRUE(text->body.empty());
    EXPECT_EQ(Json::parse(text->body_text), (Json{{"userName", "al\u00e9"}}));
    auto parsed = tx.GetResource(conn_, ResourceType::kUser, "u1");
    EXPECT_EQ(text->version, parsed->version);
    EXPECT_TRUE(parsed->body_text.empty());
    auto missing = tx.GetResourceText(conn_, ResourceType::kUser, "nope");
    EXPECT_FALSE(missing);
    if (!missing) {
      EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    }
    return Status::Ok();
  }));
}

TEST_F(SqliteStoreTest, FindCountListScan) {
  MustWrite([&](Transaction& tx) -> Status {
    for (int i = 0; i < 600; ++i) {
      auto put = tx.PutResource(conn_, MakeUser("u" + std::to_string(i), "n" + std::to_string(i)),
                                "n" + std::to_string(i),
                                {{"dept", i % 2 == 0 ? "even" : "odd"}, {"dept", "all"}});
      if (!put) return put.error();
    }
    return AsStatus(PutGroup(tx, conn_, "g", "G"));
  });
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.CountResources(conn_, ResourceType::kUser), 600);
    EXPECT_EQ(*tx.CountResources(conn_, ResourceType::kGroup), 1);
    EXPECT_EQ(tx.FindByIndex(conn_, ResourceType::kUser, "dept", "even")->size(), 300u);
    // A duplicate entry in one Put is stored once.
    EXPECT_EQ(tx.FindByIndex(conn_, ResourceType::kUser, "dept", "all")->size(), 600u);
    EXPECT_TRUE(tx.FindByIndex(conn_, ResourceType::kGroup, "dept", "all")->empty());

    auto page = tx.ListResources(conn_, ResourceType::kUser, 10, 5);
    EXPECT_EQ(page->size(), 5u);
    EXPECT_EQ((*page)[0].id, "u10");
    EXPECT_EQ((*page)[4].id, "u14");
    EXPECT_EQ(tx.ListResources(conn_, ResourceType::kUser, 598, 10)->size(), 2u);
    EXPECT_TRUE(tx.ListResources(conn_, ResourceType::kUser, 700, 10)->empty());

    std::vector<std::string> seen;
    EXPECT_TRUE(tx.ScanResources(conn_, ResourceType::kUser, [&](const StoredResource& r) {
      seen.push_back(r.id);
      return true;
    }));
    EXPECT_EQ(seen.size(), 600u);
    EXPECT_EQ(seen[0], "u0");
    EXPECT_EQ(seen[599], "u599");
    int visited = 0;
    EXPECT_TRUE(tx.ScanResources(conn_, ResourceType::kUser, [&](const StoredResource& r) {
      // The visitor may use the transaction while the scan is in progress.
      EXPECT_TRUE(tx.GetResource(conn_, ResourceType::kUser, r.id));
      return ++visited < 300;
    }));
    EXPECT_EQ(visited, 300);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, DeleteResourceRemovesMembershipsAndBumpsGroups) {
  MustWrite([&](Transaction& tx) -> Status {
    EXPECT_TRUE(PutUser(tx, conn_, "u1", "alice"));
    EXPECT_TRUE(PutUser(tx, conn_, "u2", "bob"));
    EXPECT_TRUE(PutGroup(tx, conn_, "g1", "Ops"));
    EXPECT_TRUE(PutGroup(tx, conn_, "g2", "Dev"));
    EXPECT_TRUE(PutGroup(tx, conn_, "g3", "Other"));
    EXPECT_TRUE(tx.AddMember(conn_, "g1", {"u1", "User", ""}));
    EXPECT_TRUE(tx.AddMember(conn_, "g1", {"u2", "User", ""}));
    EXPECT_TRUE(tx.AddMember(conn_, "g2", {"u1", "User", ""}));
    EXPECT_TRUE(tx.AddMember(conn_, "g2", {"g1", "Group", ""}));
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    EXPECT_TRUE(tx.DeleteResource(conn_, ResourceType::kUser, "u1"));
    EXPECT_EQ(tx.GetResource(conn_, ResourceType::kUser, "u1").error().code, ErrorCode::kNotFound);
    EXPECT_TRUE(tx.FindByIndex(conn_, ResourceType::kUser, "userName", "alice")->empty());
    EXPECT_EQ(tx.GetResource(conn_, ResourceType::kGroup, "g1")->version, 2);
    EXPECT_EQ(tx.GetResource(conn_, ResourceType::kGroup, "g2")->version, 2);
    EXPECT_EQ(tx.GetResource(conn_, ResourceType::kGroup, "g3")->version, 1);
    EXPECT_EQ(*tx.CountMembers(conn_, "g1"), 1);
    EXPECT_TRUE(tx.GroupsOf(conn_, "u1")->empty());
    // The unique value is free again.
    EXPECT_TRUE(PutUser(tx, conn_, "u9", "alice"));

    // Deleting a group removes its own members and its membership in g2.
    EXPECT_TRUE(tx.DeleteResource(conn_, ResourceType::kGroup, "g1"));
    EXPECT_TRUE(tx.GroupsOf(conn_, "u2")->empty());
    EXPECT_EQ(*tx.CountMembers(conn_, "g2"), 0);
    EXPECT_EQ(tx.GetResource(conn_, ResourceType::kGroup, "g2")->version, 3);
    EXPECT_EQ(tx.DeleteResource(conn_, ResourceType::kGroup, "g1").error().code,
              ErrorCode::kNotFound);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, CountsFollowInsertsUpdatesAndDeletes) {
  // Counts are kept by triggers (migration 4); updates must not count twice.
  MustWrite([&](Transaction& tx) -> Status {
    for (int i = 0; i < 5; ++i) {
      auto put = PutUser(tx, conn_, "u" + std::to_string(i), "name" + std::to_string(i));
      if (!put) return put.error();
    }
    auto again = PutUser(tx, conn_, "u0", "renamed");  // update
    if (!again) return again.error();
    if (auto g = PutGroup(tx, conn_, "g1", "G"); !g) return g.error();
    return tx.DeleteResource(conn_, ResourceType::kUser, "u1");
  });
  ASSERT_TRUE(store_->Read([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.CountResources(conn_, ResourceType::kUser), 4);
    EXPECT_EQ(*tx.CountResources(conn_, ResourceType::kGroup), 1);
    EXPECT_EQ(*tx.CountResources(conn_ + 1000, ResourceType::kUser), 0);
    return Status::Ok();
  }));
  MustWrite([&](Transaction& tx) { return tx.DeleteConnection(conn_); });
  ASSERT_TRUE(store_->Read([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.CountResources(conn_, ResourceType::kUser), 0);
    return Status::Ok();
  }));
}

// An update that keeps the unique key does not set it: SQLite would rewrite its index entry, one
// random page of every PATCH (issue #13 item 3: pages per write).
TEST_F(SqliteStoreTest, AnUpdateThatKeepsTheUniqueKeyWritesOnlyTheRow) {
  auto name = [](int i) {
    char text[16];
    std::snprintf(text, sizeof text, "user%04d", i);
    return std::string(text);
  };
  MustWrite([&](Transaction& tx) -> Status {
    for (int i = 0; i < 2000; ++i) {
      if (auto put = PutUser(tx, conn_, "u" + name(i), name(i)); !put) return put.error();
    }
    return Status::Ok();
  });
  // A compression dictionary trained on those bodies is written by its own job: not while the
  // frames below are counted.
  store_->WaitForTraining();
  // The WAL frames one write of user u<1000> with `body` and unique key `key` adds.
  auto frames_of = [&](const std::string& key, const Json& body) {
    test_support::WalFrames(store_->path(), "TRUNCATE");
    MustWrite([&](Transaction& tx) {
      StoredResource r = MakeUser("u" + name(1000), key);
      r.body = body;
      return AsStatus(tx.PutResource(conn_, r, key, {{"id", r.id}}));
    });
    return test_support::WalFrames(store_->path(), "PASSIVE");
  };
  EXPECT_EQ(frames_of(name(1000), {{"userName", name(1000)}, {"title", "x"}}), 1);
  EXPECT_GE(frames_of("renamed", {{"userName", "renamed"}}), 2);
  MustRead([&](Transaction& tx) -> Status {
    auto found = tx.FindByIndex(conn_, ResourceType::kUser, "userName", "renamed");
    if (!found) return found.error();
    EXPECT_EQ(found->size(), 1u);
    EXPECT_TRUE(tx.FindByIndex(conn_, ResourceType::kUser, "userName", name(1000))->empty());
    return Status::Ok();
  });
}

}  // namespace
}  // namespace idsync::store::sqlite
