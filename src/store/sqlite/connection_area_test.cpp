// Connections and their tokens (store/connection_area.h) over SQLite.
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

TEST_F(SqliteStoreTest, ConnectionsRoundTrip) {
  MustWrite([&](Transaction& tx) -> Status {
    auto second = tx.CreateConnection(MakeConnection("entra"));
    EXPECT_TRUE(second);
    EXPECT_FALSE(second->uuid.empty());
    auto duplicate = tx.CreateConnection(MakeConnection("okta"));
    EXPECT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().code, ErrorCode::kUniqueness);

    auto by_id = tx.GetConnection(conn_);
    EXPECT_TRUE(by_id);
    EXPECT_EQ(by_id->name, "okta");
    EXPECT_EQ(by_id->directory, "users");
    EXPECT_EQ(by_id->kind, "scim");
    EXPECT_EQ(by_id->settings, (Json{{"k", "v"}}));
    EXPECT_EQ(ToUnixMillis(by_id->created), 1000);
    EXPECT_TRUE(by_id->enabled);

    Connection changed = *by_id;
    changed.enabled = false;
    changed.settings = Json{{"k", "w"}};
    EXPECT_TRUE(tx.UpdateConnection(changed));
    auto by_name = tx.GetConnectionByName("okta");
    EXPECT_TRUE(by_name);
    EXPECT_FALSE(by_name->enabled);
    EXPECT_EQ(by_name->settings, (Json{{"k", "w"}}));

    auto all = tx.ListConnections();
    EXPECT_TRUE(all);
    EXPECT_EQ(all->size(), 2u);

    EXPECT_TRUE(tx.DeleteConnection(second->id));
    EXPECT_EQ(tx.GetConnection(second->id).error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.GetConnectionByName("entra").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.DeleteConnection(second->id).error().code, ErrorCode::kNotFound);
    changed.id = 999;
    EXPECT_EQ(tx.UpdateConnection(changed).error().code, ErrorCode::kNotFound);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, TokensAddFindExpire) {
  MustWrite([&](Transaction& tx) -> Status {
    Token a{0, conn_, "hash-a", FromUnixMillis(10), std::nullopt};
    Token b{0, conn_, "hash-b", FromUnixMillis(20), FromUnixMillis(500)};
    EXPECT_TRUE(tx.AddToken(a));
    EXPECT_TRUE(tx.AddToken(b));
    EXPECT_EQ(tx.AddToken(a).error().code, ErrorCode::kUniqueness);
    Token orphan{0, 12345, "hash-c", FromUnixMillis(10), std::nullopt};
    EXPECT_EQ(tx.AddToken(orphan).error().code, ErrorCode::kNotFound);

    EXPECT_TRUE(tx.ExpireTokens(conn_, FromUnixMillis(1000)));
    auto found = tx.FindToken("hash-a");
    EXPECT_TRUE(found);
    EXPECT_EQ(found->connection_id, conn_);
    EXPECT_TRUE(found->expires.has_value());
    EXPECT_EQ(ToUnixMillis(*found->expires), 1000);
    auto earlier = tx.FindToken("hash-b");
    EXPECT_EQ(ToUnixMillis(*earlier->expires), 500);  // already expired earlier: kept
    EXPECT_EQ(tx.FindToken("nope").error().code, ErrorCode::kNotFound);

    auto listed = tx.ListTokens(conn_);
    EXPECT_TRUE(listed);
    EXPECT_EQ(listed->size(), 2u);
    EXPECT_EQ((*listed)[0].hash, "hash-a");
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, DeleteConnectionRemovesMirrorAndTokens) {
  MustWrite([&](Transaction& tx) -> Status {
    EXPECT_TRUE(PutUser(tx, conn_, "u1", "alice"));
    EXPECT_TRUE(PutGroup(tx, conn_, "g1", "Ops"));
    EXPECT_TRUE(tx.AddMember(conn_, "g1", {"u1", "User", ""}));
    EXPECT_TRUE(tx.AddToken({0, conn_, "h", FromUnixMillis(1), std::nullopt}));
    EXPECT_TRUE(tx.DeleteConnection(conn_));
    EXPECT_EQ(*tx.CountResources(conn_, ResourceType::kUser), 0);
    EXPECT_TRUE(tx.FindByIndex(conn_, ResourceType::kUser, "userName", "alice")->empty());
    EXPECT_TRUE(tx.GroupsOf(conn_, "u1")->empty());
    EXPECT_EQ(tx.FindToken("h").error().code, ErrorCode::kNotFound);
    return Status::Ok();
  });
}

}  // namespace
}  // namespace idsync::store::sqlite
