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
#include "store/sqlite/test_support.h"

namespace idsync::store::sqlite {
namespace {

using test_support::TempDir;
using test_support::Query;

using scim::ResourceType;

std::unique_ptr<SqliteStore> OpenOrDie(const std::string& dir, const SqliteOptions& options = {}) {
  auto store = SqliteStore::Open(dir, options);
  if (!store) {
    ADD_FAILURE() << store.error().detail;
    return nullptr;
  }
  return std::move(*store);
}

Connection MakeConnection(const std::string& name) {
  Connection c;
  c.name = name;
  c.directory = "users";
  c.kind = "scim";
  c.created = FromUnixMillis(1000);
  c.settings = Json{{"k", "v"}};
  return c;
}

StoredResource MakeUser(const std::string& id, const std::string& user_name) {
  StoredResource r;
  r.id = id;
  r.type = ResourceType::kUser;
  r.body = Json{{"userName", user_name}};
  r.created = FromUnixMillis(2000);
  r.last_modified = FromUnixMillis(2000);
  return r;
}

StoredResource MakeGroup(const std::string& id, const std::string& display_name) {
  StoredResource r;
  r.id = id;
  r.type = ResourceType::kGroup;
  r.body = Json{{"displayName", display_name}};
  r.created = FromUnixMillis(3000);
  r.last_modified = FromUnixMillis(3000);
  return r;
}

Result<StoredResource> PutUser(Transaction& tx, int64_t conn, const std::string& id,
                               const std::string& user_name) {
  return tx.PutResource(conn, MakeUser(id, user_name), user_name,
                        {{"userName", user_name}, {"id", id}});
}

Result<StoredResource> PutGroup(Transaction& tx, int64_t conn, const std::string& id,
                                const std::string& name) {
  return tx.PutResource(conn, MakeGroup(id, name), name, {{"displayName", name}});
}

template <typename T>
Status AsStatus(const Result<T>& result) {
  return result ? Status::Ok() : Status(result.error());
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenOrDie(dir_.path());
    ASSERT_TRUE(store_);
    auto status = store_->Write([&](Transaction& tx) -> Status {
      auto c = tx.CreateConnection(MakeConnection("okta"));
      if (!c) return c.error();
      conn_ = c->id;
      return Status::Ok();
    });
    ASSERT_TRUE(status) << status.error().detail;
  }

  // Runs `job` in a write and fails the test if it returns an error.
  void MustWrite(const std::function<Status(Transaction&)>& job) {
    auto status = store_->Write(job);
    ASSERT_TRUE(status) << status.error().detail;
  }
  void MustRead(const std::function<Status(Transaction&)>& job) {
    auto status = store_->Read(job);
    ASSERT_TRUE(status) << status.error().detail;
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  int64_t conn_ = 0;
};

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

TEST_F(SqliteStoreTest, PutGetVersionsAndUniqueness) {
  MustWrite([&](Transaction& tx) -> Status {
    auto first = PutUser(tx, conn_, "u1", "alice");
    EXPECT_TRUE(first);
    EXPECT_EQ(first->version, 1);
    StoredResource next = MakeUser("u1", "alice2");
    next.created = FromUnixMillis(99999);  // ignored on update
    next.last_modified = FromUnixMillis(5000);
    auto second = tx.PutResource(conn_, next, std::string("alice2"), {{"userName", "alice2"}});
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

    // The index was replaced, not extended.
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

TEST_F(SqliteStoreTest, AuditAppendAndQuery) {
  MustWrite([&](Transaction& tx) -> Status {
    for (int i = 0; i < 10; ++i) {
      AuditRecord r;
      r.time = FromUnixMillis(1000 * i);
      r.connection_id = i % 2 == 0 ? conn_ : 0;
      r.connection_name = "okta";
      r.request_id = "req" + std::to_string(i);
      r.actor = "scim";
      r.operation = "create";
      r.resource_type = "User";
      r.resource_id = "u" + std::to_string(i);
      r.status = 201;
      r.detail = "d";
      EXPECT_TRUE(tx.AppendAudit(r));
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto all = tx.ListAudit({});
    EXPECT_EQ(all->size(), 10u);
    for (size_t i = 1; i < all->size(); ++i) EXPECT_LT((*all)[i - 1].seq, (*all)[i].seq);
    EXPECT_EQ((*all)[3].request_id, "req3");
    EXPECT_EQ((*all)[3].status, 201);
    EXPECT_EQ(ToUnixMillis((*all)[3].time), 3000);

    AuditQuery by_conn;
    by_conn.connection_id = conn_;
    EXPECT_EQ(tx.ListAudit(by_conn)->size(), 5u);
    by_conn.since = FromUnixMillis(4000);
    EXPECT_EQ(tx.ListAudit(by_conn)->size(), 3u);  // 4, 6, 8

    AuditQuery page;
    page.after_seq = (*all)[6].seq;
    page.limit = 2;
    auto rest = tx.ListAudit(page);
    EXPECT_EQ(rest->size(), 2u);
    EXPECT_EQ((*rest)[0].request_id, "req7");

    AuditQuery since;
    since.since = FromUnixMillis(8000);
    EXPECT_EQ(tx.ListAudit(since)->size(), 2u);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, WritesThroughReadTransactionFail) {
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(PutUser(tx, conn_, "u1", "alice").error().code, ErrorCode::kInternal);
    EXPECT_EQ(tx.CreateConnection(MakeConnection("x")).error().code, ErrorCode::kInternal);
    EXPECT_EQ(tx.AppendAudit({}).error().code, ErrorCode::kInternal);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, GroupCommitBatchesConcurrentWrites) {
  constexpr int kThreads = 16;
  constexpr int kWrites = 200;
  int64_t commits_before = store_->commit_count();
  std::atomic<int> failures{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto status = store_->Write([&](Transaction& tx) -> Status {
          auto put = PutUser(tx, conn_, id, id);
          return put ? Status::Ok() : Status(put.error());
        });
        if (!status) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int64_t commits = store_->commit_count() - commits_before;
  std::cout << "[ figures  ] " << kThreads * kWrites << " writes in " << seconds << " s ("
            << kThreads * kWrites / seconds << " writes/s), " << commits << " commits ("
            << commits / seconds << " commits/s, " << double(kThreads * kWrites) / commits
            << " writes/commit)\n";
  EXPECT_EQ(failures, 0);
  EXPECT_LT(commits, kThreads * kWrites);
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.CountResources(conn_, ResourceType::kUser), kThreads * kWrites);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, FailingJobDoesNotAffectOthersInItsBatch) {
  constexpr int kThreads = 8;
  constexpr int kWrites = 50;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        int kind = (t + i) % 3;  // 0 succeeds, 1 writes then fails, 2 writes then throws
        auto status = store_->Write([&](Transaction& tx) -> Status {
          auto put = PutUser(tx, conn_, id, id);
          if (!put) return put.error();
          if (kind == 1) return MakeError(ErrorCode::kInvalidValue, "no");
          if (kind == 2) throw std::runtime_error("boom");
          return Status::Ok();
        });
        ErrorCode expected = kind == 1 ? ErrorCode::kInvalidValue : ErrorCode::kInternal;
        if (kind == 0 ? !status.ok() : (status.ok() || status.error().code != expected)) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong, 0);
  MustRead([&](Transaction& tx) -> Status {
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kWrites; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        bool present = tx.GetResource(conn_, ResourceType::kUser, id).has_value();
        EXPECT_EQ(present, (t + i) % 3 == 0) << id;
      }
    }
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, ConcurrentAddMemberLosesNothing) {
  MustWrite([&](Transaction& tx) -> Status { return AsStatus(PutGroup(tx, conn_, "g", "G")); });
  constexpr int kThreads = 8;
  constexpr int kAdds = 100;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAdds; ++i) {
        std::string value = "m" + std::to_string(t) + "-" + std::to_string(i);
        auto status = store_->Write([&](Transaction& tx) -> Status {
          auto added = tx.AddMember(conn_, "g", {value, "User", ""});
          if (!added) return added.error();
          return tx.TouchResource(conn_, ResourceType::kGroup, "g", FromUnixMillis(1));
        });
        if (!status) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.CountMembers(conn_, "g"), kThreads * kAdds);
    EXPECT_EQ(tx.GetResource(conn_, ResourceType::kGroup, "g")->version, 1 + kThreads * kAdds);
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, WriteAfterCloseIsUnavailable) {
  store_->Close();
  store_->Close();
  auto status = store_->Write([](Transaction&) { return Status::Ok(); });
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store_->Read([](Transaction&) { return Status::Ok(); }).error().code,
            ErrorCode::kUnavailable);
}

TEST_F(SqliteStoreTest, ReopenAfterCloseKeepsData) {
  MustWrite([&](Transaction& tx) -> Status { return AsStatus(PutUser(tx, conn_, "u1", "alice")); });
  store_->Close();
  store_ = OpenOrDie(dir_.path());
  ASSERT_TRUE(store_);
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(tx.GetResource(conn_, ResourceType::kUser, "u1")->body["userName"], "alice");
    EXPECT_EQ(tx.GetConnection(conn_)->name, "okta");
    return Status::Ok();
  });
}

TEST_F(SqliteStoreTest, CheckpointsRunWhileTheStoreIsOpen) {
  // SQLite's auto-checkpoint is replaced by a checkpoint thread: pages must still move from the
  // WAL into the database file while the store is open, and the WAL must not grow without end.
  const std::string db = dir_.path() + "/idsync.db";
  const auto initial = std::filesystem::file_size(db);
  const std::string filler(3000, 'x');
  for (int batch = 0; batch < 20; ++batch) {
    MustWrite([&](Transaction& tx) -> Status {
      for (int i = 0; i < 100; ++i) {
        StoredResource r = MakeUser("u" + std::to_string(batch * 100 + i), "n");
        r.body["filler"] = filler + std::to_string(i);
        auto put = tx.PutResource(conn_, r, std::nullopt, {});
        if (!put) return put.error();
      }
      return Status::Ok();
    });
  }
  // ~6 MB written: more than 1,000 pages, so at least one checkpoint was asked for.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::file_size(db) < initial + (4u << 20) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(std::filesystem::file_size(db), initial + (4u << 20));
  // Sustained writes (~36 MB from 4 writers, with a reader always reading) restart the WAL
  // instead of appending for ever: past 2,000 pages (8 MB) the writer completes the checkpoint
  // itself, because the background one never reaches a last frame that keeps moving.
  std::atomic<bool> done{false};
  std::atomic<uintmax_t> largest_wal{0};
  std::thread reader([&] {
    while (!done) {
      (void)store_->Read([&](Transaction& tx) -> Status {
        (void)tx.CountResources(conn_, ResourceType::kUser);
        return Status::Ok();
      });
      std::error_code ec;
      uintmax_t wal = std::filesystem::file_size(db + "-wal", ec);
      if (!ec && wal > largest_wal) largest_wal = wal;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int batch = 0; batch < 30; ++batch) {
        (void)store_->Write([&](Transaction& tx) -> Status {
          for (int i = 0; i < 100; ++i) {
            StoredResource r =
                MakeUser("w" + std::to_string(w) + "-" + std::to_string(batch * 100 + i), "n");
            r.body["filler"] = filler + std::to_string(i);
            auto put = tx.PutResource(conn_, r, std::nullopt, {});
            if (!put) return put.error();
          }
          return Status::Ok();
        });
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  EXPECT_LT(largest_wal.load(), 24u << 20);
}

TEST_F(SqliteStoreTest, WriteFromInsideAJobIsRefused) {
  MustWrite([&](Transaction&) -> Status {
    auto nested = store_->Write([](Transaction&) { return Status::Ok(); });
    EXPECT_EQ(nested.error().code, ErrorCode::kInternal);
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

TEST_F(SqliteStoreTest, HotQueriesSearchIndexesNeverScan) {
  for (const auto& [name, text] : sql::IndexedQueries()) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(store_->path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    std::string explain = std::string("EXPLAIN QUERY PLAN ") + text;
    ASSERT_EQ(sqlite3_prepare_v2(db, explain.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << name << ": " << sqlite3_errmsg(db);
    std::string plan;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      plan += "; ";
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    EXPECT_NE(plan.find("SEARCH "), std::string::npos) << name << ": " << plan;
    EXPECT_EQ(plan.find("SCAN "), std::string::npos) << name << ": " << plan;
    // These sort only the groups of one member.
    if (name != "GroupsOf" && name != "EffectiveGroupsOf") {
      EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << name << ": " << plan;
    }
  }
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

TEST(SqliteStoreOpen, MissingFolderSaysWhatToDo) {
  auto store = SqliteStore::Open("/tmp/idsync-no-such-folder-for-sure", {});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store.error().detail,
            "data folder /tmp/idsync-no-such-folder-for-sure does not exist; create it or pass "
            "--data");
}

TEST(SqliteStoreOpen, NotADatabaseIsUnavailable) {
  TempDir dir;
  std::FILE* f = std::fopen((dir.path() + "/idsync.db").c_str(), "w");
  std::fputs("this is not a database, just some text that is long enough to be a header", f);
  std::fclose(f);
  auto store = SqliteStore::Open(dir.path(), {});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(store.error().detail.find("cannot open database " + dir.path() + "/idsync.db"),
            std::string::npos)
      << store.error().detail;
}

TEST(SqliteStoreOpen, FilesAreReadableByTheOwnerOnly) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store);
  // Write once so the -wal and -shm files exist.
  ASSERT_TRUE(store->Write(
      [](Transaction& tx) { return AsStatus(tx.CreateConnection(MakeConnection("c"))); }));
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string file = dir.path() + "/idsync.db" + suffix;
    struct stat info {};
    ASSERT_EQ(stat(file.c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << file;
  }
}

TEST(SqliteStoreOpen, MigratesADatabaseFromAnOlderRelease) {
  TempDir dir;
  const size_t latest = Migrations().size();
  ASSERT_GE(latest, 2u);
  int64_t conn = 0;
  {
    SqliteOptions older;
    older.migrations = latest - 1;
    auto store = OpenOrDie(dir.path(), older);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
      auto c = tx.CreateConnection(MakeConnection("okta"));
      if (!c) return c.error();
      conn = c->id;
      if (auto put = PutUser(tx, conn, "u1", "alice"); !put) return put.error();
      if (auto put = PutGroup(tx, conn, "g1", "Ops"); !put) return put.error();
      return AsStatus(tx.AddMember(conn, "g1", {"u1", "User", "Alice"}));
    }));
    store->Close();
  }
  EXPECT_EQ(Query(dir.path() + "/idsync.db", "SELECT max(version) FROM schema_migrations"),
            std::vector<std::string>{std::to_string(latest - 1)});

  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->Write([&](Transaction& tx) {
    AuditRecord record;
    record.connection_id = conn;
    record.operation = "create";
    return tx.AppendAudit(record);
  }));
  EXPECT_TRUE(store->Read([&](Transaction& tx) -> Status {
    EXPECT_EQ(tx.GetConnection(conn)->name, "okta");
    EXPECT_EQ(tx.GetResource(conn, ResourceType::kUser, "u1")->body["userName"], "alice");
    EXPECT_EQ(tx.ListMembers(conn, "g1")->size(), 1u);
    EXPECT_EQ(tx.ListAudit({})->size(), 1u);
    // Counts kept by triggers since migration 4 start from what the older database held.
    EXPECT_EQ(*tx.CountResources(conn, ResourceType::kUser), 1);
    EXPECT_EQ(*tx.CountResources(conn, ResourceType::kGroup), 1);
    return Status::Ok();
  }));
  store->Close();
  EXPECT_EQ(Query(dir.path() + "/idsync.db", "SELECT count(*) FROM schema_migrations"),
            std::vector<std::string>{std::to_string(latest)});
}

TEST(SqliteStoreOpen, RefusesADatabaseFromANewerRelease) {
  TempDir dir;
  OpenOrDie(dir.path())->Close();
  Query(dir.path() + "/idsync.db",
        "INSERT INTO schema_migrations(version, applied_at) VALUES (99, 'future')");
  auto store = SqliteStore::Open(dir.path(), {});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store.error().detail, "database " + dir.path() +
                                      "/idsync.db was written by a newer idsync (schema 99 > " +
                                      std::to_string(Migrations().back().version) + ")");
}

TEST(SqliteStoreOpen, TwoStoresOnOneFileBothWrite) {
  // The second store stands for the CLI writing while the server runs.
  TempDir dir;
  auto server = OpenOrDie(dir.path());
  auto cli = OpenOrDie(dir.path());
  ASSERT_TRUE(server && cli);
  int64_t conn = 0;
  ASSERT_TRUE(server->Write([&](Transaction& tx) -> Status {
    auto c = tx.CreateConnection(MakeConnection("okta"));
    if (!c) return c.error();
    conn = c->id;
    return Status::Ok();
  }));
  constexpr int kThreads = 4;
  constexpr int kWrites = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreads; ++t) {
    SqliteStore* store = t % 2 == 0 ? server.get() : cli.get();
    threads.emplace_back([&, t, store] {
      for (int i = 0; i < kWrites; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!store->Write([&](Transaction& tx) { return AsStatus(PutUser(tx, conn, id, id)); })) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  for (SqliteStore* store : {server.get(), cli.get()}) {
    EXPECT_TRUE(store->Read([&](Transaction& tx) -> Status {
      EXPECT_EQ(*tx.CountResources(conn, ResourceType::kUser), 2 * kThreads * kWrites);
      return Status::Ok();
    }));
  }
}

TEST(SqliteStoreOpen, ConfigGenerationSeesConnectionChangesFromAnotherStore) {
  // The server caches authentication against this number; the CLI is another process.
  TempDir dir;
  auto server = OpenOrDie(dir.path());
  auto cli = OpenOrDie(dir.path());
  ASSERT_TRUE(server && cli);
  auto g0 = server->ConfigGeneration();
  ASSERT_TRUE(g0);
  EXPECT_EQ(*server->ConfigGeneration(), *g0);  // stable while nothing changes
  int64_t conn = 0;
  ASSERT_TRUE(cli->Write([&](Transaction& tx) -> Status {
    auto c = tx.CreateConnection(MakeConnection("okta"));
    if (!c) return c.error();
    conn = c->id;
    return Status::Ok();
  }));
  auto g1 = server->ConfigGeneration();
  ASSERT_TRUE(g1);
  EXPECT_NE(*g1, *g0);
  // Mirror writes do not change it (so the cache survives SCIM traffic)...
  ASSERT_TRUE(
      server->Write([&](Transaction& tx) { return AsStatus(PutUser(tx, conn, "u1", "u1")); }));
  EXPECT_EQ(*server->ConfigGeneration(), *g1);
  // ...but disabling the connection does, and so does a token change.
  ASSERT_TRUE(cli->Write([&](Transaction& tx) -> Status {
    auto c = tx.GetConnection(conn);
    if (!c) return c.error();
    c->enabled = false;
    return tx.UpdateConnection(*c);
  }));
  auto g2 = server->ConfigGeneration();
  ASSERT_TRUE(g2);
  EXPECT_NE(*g2, *g1);
  ASSERT_TRUE(
      cli->Write([&](Transaction& tx) { return tx.ExpireTokens(conn, FromUnixMillis(5)); }));
  EXPECT_EQ(*server->ConfigGeneration(), *g2);  // no token to expire: nothing changed
  Token t;
  t.connection_id = conn;
  t.hash = "h";
  t.created = FromUnixMillis(1);
  ASSERT_TRUE(cli->Write([&](Transaction& tx) { return tx.AddToken(t); }));
  EXPECT_NE(*server->ConfigGeneration(), *g2);
}

TEST(SqliteStoreOpen, SigkillLosesNoAcknowledgedWrite) {
  TempDir dir;
  int64_t conn = 0;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
      auto c = tx.CreateConnection(MakeConnection("okta"));
      if (!c) return c.error();
      conn = c->id;
      return Status::Ok();
    }));
  }
  int acks[2];
  ASSERT_EQ(pipe(acks), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child writes until killed and reports each acknowledged write on the pipe.
    close(acks[0]);
    auto store = SqliteStore::Open(dir.path(), {});
    if (!store) _exit(1);
    for (int32_t i = 0;; ++i) {
      std::string id = "u" + std::to_string(i);
      if (!(*store)->Write([&](Transaction& tx) { return AsStatus(PutUser(tx, conn, id, id)); })) {
        _exit(2);
      }
      if (write(acks[1], &i, sizeof i) != sizeof i) _exit(3);
    }
  }
  close(acks[1]);
  int32_t last = -1;
  for (int32_t got = 0; last < 50 && read(acks[0], &got, sizeof got) == sizeof got;) last = got;
  kill(child, SIGKILL);
  int32_t got = 0;
  while (read(acks[0], &got, sizeof got) == sizeof got) last = got;  // acks sent before the kill
  close(acks[0]);
  int wstatus = 0;
  waitpid(child, &wstatus, 0);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the child stopped by itself: " << wstatus;
  ASSERT_GE(last, 50);

  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->Read([&](Transaction& tx) -> Status {
    for (int32_t i = 0; i <= last; ++i) {
      EXPECT_TRUE(tx.GetResource(conn, ResourceType::kUser, "u" + std::to_string(i))) << i;
    }
    return Status::Ok();
  }));
}

}  // namespace
}  // namespace idsync::store::sqlite
