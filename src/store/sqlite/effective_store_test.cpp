// The layer-2 part of SqliteStore (migration 5): directories, policy versions, effective users
// and groups, memberships, links, the change feed, conflicts and API tokens.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/test_support.h"

namespace idsync::store::sqlite {
namespace {

using test_support::TempDir;
using test_support::Query;

class FixedClock final : public Clock {
 public:
  TimePoint Now() const override { return now; }
  TimePoint now = FromUnixMillis(777000);
};

Connection MakeConnection(const std::string& name) {
  Connection c;
  c.name = name;
  c.directory = "users";
  c.kind = "scim";
  c.created = FromUnixMillis(1000);
  return c;
}

EffectiveUserRow MakeUser(const std::string& id, const std::string& username,
                          const std::string& directory = "users") {
  EffectiveUserRow u;
  u.directory = directory;
  u.id = id;
  u.username = username;
  u.username_key = username;  // tests use lower-case names: already folded
  u.state = "active";
  u.body = Json{{"name", {{"value", username}, {"from", "okta"}}}};
  u.created = FromUnixMillis(5000);
  u.last_modified = FromUnixMillis(5000);
  return u;
}

EffectiveGroupRow MakeGroup(const std::string& id, const std::string& name,
                            const std::string& directory = "users") {
  EffectiveGroupRow g;
  g.directory = directory;
  g.id = id;
  g.name = name;
  g.name_key = name;
  g.body = Json{{"entitlements", Json::array({"e1"})}};
  g.created = FromUnixMillis(6000);
  g.last_modified = FromUnixMillis(6000);
  return g;
}

template <typename T>
Status AsStatus(const Result<T>& result) {
  return result ? Status::Ok() : Status(result.error());
}

class EffectiveStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteOptions options;
    options.clock = &clock_;
    auto store = SqliteStore::Open(dir_.path(), options);
    ASSERT_TRUE(store) << store.error().detail;
    store_ = std::move(*store);
    MustWrite([&](Transaction& tx) -> Status {
      auto a = tx.CreateConnection(MakeConnection("okta"));
      if (!a) return a.error();
      conn_ = a->id;
      auto b = tx.CreateConnection(MakeConnection("entra"));
      if (!b) return b.error();
      conn2_ = b->id;
      return Status::Ok();
    });
  }

  void MustWrite(const std::function<Status(Transaction&)>& job) {
    test_support::MustWrite(*store_, job);
  }
  void MustRead(const std::function<Status(Transaction&)>& job) {
    test_support::MustRead(*store_, job);
  }
  // The error code a write job ends with (the job's changes are rolled back).
  ErrorCode WriteError(const std::function<Status(Transaction&)>& job) {
    auto status = store_->Write(job);
    EXPECT_FALSE(status);
    return status ? ErrorCode::kInternal : status.error().code;
  }
  std::string db_path() const { return store_->path(); }

  TempDir dir_;
  FixedClock clock_;
  std::unique_ptr<SqliteStore> store_;
  int64_t conn_ = 0;
  int64_t conn2_ = 0;
};

TEST_F(EffectiveStoreTest, DirectoriesAreSeededAndPutAssignsVersions) {
  MustRead([&](Transaction& tx) -> Status {
    auto all = tx.ListDirectories();
    EXPECT_TRUE(all);
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 2u);
    if (all->size() != 2u) return Status::Ok();
    EXPECT_EQ((*all)[0].name, "customers");
    EXPECT_EQ((*all)[1].name, "users");
    EXPECT_EQ((*all)[1].custom_attributes, Json::array());
    EXPECT_EQ((*all)[1].version, 1);
    EXPECT_EQ(tx.GetDirectory("nope").error().code, ErrorCode::kNotFound);
    return Status::Ok();
  });
  TimePoint seeded{};
  MustRead([&](Transaction& tx) -> Status {
    seeded = tx.GetDirectory("users")->created;
    return Status::Ok();
  });
  // Seeded "now" by the migration, not the epoch.
  EXPECT_GT(ToUnixMillis(seeded), 1'600'000'000'000);
  MustWrite([&](Transaction& tx) -> Status {
    DirectoryRecord users;
    users.name = "users";
    users.custom_attributes = Json::array({Json{{"name", "costCenter"}}});
    users.created = FromUnixMillis(1);  // ignored on update
    auto put = tx.PutDirectory(users);
    if (!put) return put.error();
    EXPECT_EQ(put->version, 2);
    EXPECT_EQ(put->created, seeded);
    DirectoryRecord partners;
    partners.name = "partners";
    partners.created = FromUnixMillis(4242);
    auto added = tx.PutDirectory(partners);
    if (!added) return added.error();
    EXPECT_EQ(added->version, 1);
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto users = tx.GetDirectory("users");
    if (!users) return users.error();
    EXPECT_EQ(users->version, 2);
    EXPECT_EQ(users->custom_attributes[0]["name"], "costCenter");
    auto partners = tx.GetDirectory("partners");
    if (!partners) return partners.error();
    EXPECT_EQ(partners->created, FromUnixMillis(4242));
    EXPECT_EQ(tx.ListDirectories()->size(), 3u);
    return Status::Ok();
  });
  EXPECT_EQ(Query(db_path(), "SELECT custom_attributes FROM directories WHERE name = 'users'"),
            std::vector<std::string>{R"([{"name":"costCenter"}])"});
}

TEST_F(EffectiveStoreTest, PolicyVersionsAppendPerConnection) {
  MustRead([&](Transaction& tx) {
    EXPECT_EQ(tx.GetPolicy(conn_).error().code, ErrorCode::kNotFound);
    EXPECT_TRUE(tx.ListPolicyVersions(conn_)->empty());
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    for (int i = 1; i <= 3; ++i) {
      PolicyVersion p;
      p.connection_id = conn_;
      p.version = 99;  // assigned by the store
      p.body = Json{{"n", i}};
      p.time = FromUnixMillis(1000 * i);
      p.actor = "cli";
      p.comment = "change " + std::to_string(i);
      auto put = tx.PutPolicy(p);
      if (!put) return put.error();
      EXPECT_EQ(put->version, i);
    }
    PolicyVersion other;
    other.connection_id = conn2_;
    auto put = tx.PutPolicy(other);
    if (!put) return put.error();
    EXPECT_EQ(put->version, 1);
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto newest = tx.GetPolicy(conn_);
    if (!newest) return newest.error();
    EXPECT_EQ(newest->version, 3);
    EXPECT_EQ(newest->body, (Json{{"n", 3}}));
    EXPECT_EQ(newest->time, FromUnixMillis(3000));
    EXPECT_EQ(newest->actor, "cli");
    EXPECT_EQ(newest->comment, "change 3");
    auto all = tx.ListPolicyVersions(conn_);
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 3u);
    for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].version, int64_t(i + 1));
    EXPECT_EQ(tx.GetPolicy(conn2_)->version, 1);
    return Status::Ok();
  });
  PolicyVersion orphan;
  orphan.connection_id = conn_ + 100;
  EXPECT_EQ(WriteError([&](Transaction& tx) { return AsStatus(tx.PutPolicy(orphan)); }),
            ErrorCode::kNotFound);
}

TEST_F(EffectiveStoreTest, EffectiveUserPutGetFindAndVersions) {
  MustWrite([&](Transaction& tx) -> Status {
    auto user = MakeUser("u1", "alice");
    user.link_key = "employee:42";
    auto put = tx.PutEffectiveUser(user);
    if (!put) return put.error();
    EXPECT_EQ(put->version, 1);
    EXPECT_EQ(put->created, FromUnixMillis(5000));
    user.username = "Alice2";
    user.username_key = "alice2";
    user.state = "disabled";
    user.created = FromUnixMillis(1);  // the store keeps the original
    user.last_modified = FromUnixMillis(9000);
    auto again = tx.PutEffectiveUser(user);
    if (!again) return again.error();
    EXPECT_EQ(again->version, 2);
    EXPECT_EQ(again->created, FromUnixMillis(5000));
    EXPECT_EQ(again->last_modified, FromUnixMillis(9000));
    return AsStatus(tx.PutEffectiveUser(MakeUser("u2", "bob")));
  });
  MustRead([&](Transaction& tx) -> Status {
    auto u1 = tx.GetEffectiveUser("users", "u1");
    if (!u1) return u1.error();
    EXPECT_EQ(u1->username, "Alice2");
    EXPECT_EQ(u1->username_key, "alice2");
    EXPECT_EQ(u1->state, "disabled");
    EXPECT_EQ(u1->link_key, "employee:42");
    EXPECT_EQ(u1->version, 2);
    EXPECT_EQ(u1->created, FromUnixMillis(5000));
    EXPECT_EQ(u1->last_modified, FromUnixMillis(9000));
    EXPECT_EQ(u1->body, MakeUser("u1", "alice").body);
    EXPECT_EQ(tx.FindEffectiveUserByUsername("users", "alice2")->id, "u1");
    EXPECT_EQ(tx.FindEffectiveUserByUsername("users", "alice").error().code,
              ErrorCode::kNotFound);  // the old name is free again
    EXPECT_EQ(tx.FindEffectiveUserByUsername("customers", "bob").error().code,
              ErrorCode::kNotFound);
    auto linked = tx.FindEffectiveUsersByLinkKey("users", "employee:42");
    if (!linked) return linked.error();
    EXPECT_EQ(linked->size(), 1u);
    EXPECT_EQ(tx.GetEffectiveUser("customers", "u1").error().code, ErrorCode::kNotFound);
    // "" means "no link key": u2 has none and must not be found by it.
    EXPECT_TRUE(tx.FindEffectiveUsersByLinkKey("users", "")->empty());
    EXPECT_EQ(tx.GetEffectiveUser("users", "u2")->link_key, "");
    return Status::Ok();
  });
  // Stored compact and parsed on read; an empty link key is stored as NULL.
  EXPECT_EQ(Query(db_path(), "SELECT body FROM effective_users WHERE id = 'u2'"),
            std::vector<std::string>{R"({"name":{"from":"okta","value":"bob"}})"});
  EXPECT_EQ(Query(db_path(), "SELECT link_key FROM effective_users WHERE id = 'u2'"),
            std::vector<std::string>{"NULL"});
}

TEST_F(EffectiveStoreTest, UsernameKeyIsUniquePerDirectory) {
  MustWrite([&](Transaction& tx) -> Status {
    if (auto put = tx.PutEffectiveUser(MakeUser("u1", "alice")); !put) return put.error();
    if (auto put = tx.PutEffectiveUser(MakeUser("u2", "bob")); !put) return put.error();
    // The same name in another directory is fine.
    return AsStatus(tx.PutEffectiveUser(MakeUser("c1", "alice", "customers")));
  });
  EXPECT_EQ(WriteError([&](Transaction& tx) {
              auto taken = tx.PutEffectiveUser(MakeUser("u3", "alice"));  // insert
              if (!taken) {
                EXPECT_NE(taken.error().detail.find("alice"), std::string::npos);
              }
              return AsStatus(taken);
            }),
            ErrorCode::kUniqueness);
  EXPECT_EQ(WriteError([&](Transaction& tx) {
              return AsStatus(tx.PutEffectiveUser(MakeUser("u2", "alice")));  // rename
            }),
            ErrorCode::kUniqueness);
  MustRead([&](Transaction& tx) {
    EXPECT_EQ(tx.GetEffectiveUser("users", "u3").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.GetEffectiveUser("users", "u2")->username, "bob");
    EXPECT_EQ(tx.GetEffectiveUser("users", "u2")->version, 1);
    EXPECT_EQ(*tx.CountEffectiveUsers("users"), 2);
    return Status::Ok();
  });
}

TEST_F(EffectiveStoreTest, GroupNameKeyIsUniquePerDirectory) {
  MustWrite([&](Transaction& tx) -> Status {
    if (auto put = tx.PutEffectiveGroup(MakeGroup("g1", "ops")); !put) return put.error();
    if (auto put = tx.PutEffectiveGroup(MakeGroup("g2", "dev")); !put) return put.error();
    return AsStatus(tx.PutEffectiveGroup(MakeGroup("g9", "ops", "customers")));
  });
  EXPECT_EQ(WriteError([&](Transaction& tx) {
              return AsStatus(tx.PutEffectiveGroup(MakeGroup("g3", "ops")));
            }),
            ErrorCode::kUniqueness);
  EXPECT_EQ(WriteError([&](Transaction& tx) {
              return AsStatus(tx.PutEffectiveGroup(MakeGroup("g2", "ops")));
            }),
            ErrorCode::kUniqueness);
  MustRead([&](Transaction& tx) -> Status {
    auto ops = tx.FindEffectiveGroupByName("users", "ops");
    if (!ops) return ops.error();
    EXPECT_EQ(ops->id, "g1");
    EXPECT_EQ(ops->body, MakeGroup("g1", "ops").body);
    EXPECT_EQ(ops->version, 1);
    EXPECT_EQ(tx.FindEffectiveGroupByName("users", "nope").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.GetEffectiveGroup("users", "g3").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(*tx.CountEffectiveGroups("users"), 2);
    EXPECT_EQ(*tx.CountEffectiveGroups("customers"), 1);
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    auto group = MakeGroup("g1", "Operations");
    group.name_key = "operations";
    group.last_modified = FromUnixMillis(8000);
    auto put = tx.PutEffectiveGroup(group);
    if (!put) return put.error();
    EXPECT_EQ(put->version, 2);
    EXPECT_EQ(put->created, FromUnixMillis(6000));
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) {
    EXPECT_EQ(tx.GetEffectiveGroup("users", "g1")->name, "Operations");
    EXPECT_EQ(tx.GetEffectiveGroup("users", "g1")->last_modified, FromUnixMillis(8000));
    return Status::Ok();
  });
}

TEST_F(EffectiveStoreTest, CountsListsAndScansFollowCreationOrder) {
  constexpr int kUsers = 600;  // more than one scan chunk
  MustWrite([&](Transaction& tx) -> Status {
    // Ids in reverse order so creation order differs from id order.
    for (int i = 0; i < kUsers; ++i) {
      auto put = tx.PutEffectiveUser(
          MakeUser("u" + std::to_string(kUsers - i), "name" + std::to_string(i)));
      if (!put) return put.error();
    }
    for (int i = 0; i < 3; ++i) {
      auto put =
          tx.PutEffectiveGroup(MakeGroup("g" + std::to_string(3 - i), "grp" + std::to_string(i)));
      if (!put) return put.error();
    }
    // Updates do not count twice.
    if (auto put = tx.PutEffectiveUser(MakeUser("u1", "renamed")); !put) return put.error();
    if (auto put = tx.PutEffectiveGroup(MakeGroup("g1", "renamed")); !put) return put.error();
    if (auto put = tx.PutEffectiveUser(MakeUser("c1", "x", "customers")); !put) return put.error();
    if (auto del = tx.DeleteEffectiveUser("users", "u2"); !del) return del;
    return tx.DeleteEffectiveGroup("users", "g2");
  });
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.CountEffectiveUsers("users"), kUsers - 1);
    EXPECT_EQ(*tx.CountEffectiveUsers("customers"), 1);
    EXPECT_EQ(*tx.CountEffectiveUsers("nowhere"), 0);
    EXPECT_EQ(*tx.CountEffectiveGroups("users"), 2);
    EXPECT_EQ(*tx.CountEffectiveGroups("customers"), 0);
    auto page = tx.ListEffectiveUsers("users", 1, 2);
    if (!page) return page.error();
    EXPECT_EQ(page->size(), 2u);
    if (page->size() == 2u) {
      EXPECT_EQ((*page)[0].id, "u" + std::to_string(kUsers - 1));
      EXPECT_EQ((*page)[1].id, "u" + std::to_string(kUsers - 2));
    }
    EXPECT_EQ(tx.ListEffectiveUsers("users", kUsers - 2, 10)->size(), 1u);
    auto groups = tx.ListEffectiveGroups("users", 0, 10);
    if (!groups) return groups.error();
    EXPECT_EQ(groups->size(), 2u);
    if (groups->size() == 2u) {
      EXPECT_EQ((*groups)[0].id, "g3");
      EXPECT_EQ((*groups)[1].id, "g1");
    }
    std::vector<std::string> seen;
    auto scanned = tx.ScanEffectiveUsers("users", [&](const EffectiveUserRow& u) {
      EXPECT_EQ(u.directory, "users");
      // The visitor may use the transaction (statements are finished before it runs).
      EXPECT_TRUE(tx.GetEffectiveUser("users", u.id));
      seen.push_back(u.id);
      return true;
    });
    if (!scanned) return scanned;
    EXPECT_EQ(seen.size(), size_t{kUsers - 1});
    if (!seen.empty()) {
      EXPECT_EQ(seen.front(), "u" + std::to_string(kUsers));
      EXPECT_EQ(seen.back(), "u1");
    }
    int visited = 0;
    EXPECT_TRUE(
        tx.ScanEffectiveUsers("users", [&](const EffectiveUserRow&) { return ++visited < 3; }));
    EXPECT_EQ(visited, 3);
    std::vector<std::string> group_ids;
    EXPECT_TRUE(tx.ScanEffectiveGroups("users", [&](const EffectiveGroupRow& g) {
      group_ids.push_back(g.id);
      return true;
    }));
    EXPECT_EQ(group_ids, (std::vector<std::string>{"g3", "g1"}));
    return Status::Ok();
  });
}

TEST_F(EffectiveStoreTest, MembershipsAddRemoveListInCreationOrder) {
  MustWrite([&](Transaction& tx) -> Status {
    for (const char* id : {"u1", "u2", "u3"}) {
      if (auto put = tx.PutEffectiveUser(MakeUser(id, std::string("n") + id)); !put) {
        return put.error();
      }
    }
    if (auto put = tx.PutEffectiveGroup(MakeGroup("g1", "zeta")); !put) return put.error();
    if (auto put = tx.PutEffectiveGroup(MakeGroup("g2", "alpha")); !put) return put.error();
    if (auto put = tx.PutEffectiveUser(MakeUser("c1", "c", "customers")); !put) return put.error();
    // Not in user pk order: the list must keep the order of the adds.
    for (const char* id : {"u3", "u1", "u2"}) {
      auto added = tx.AddEffectiveMember("users", "g1", id);
      if (!added) return added.error();
      EXPECT_TRUE(*added) << id;
    }
    EXPECT_FALSE(*tx.AddEffectiveMember("users", "g1", "u1"));  // already a member
    EXPECT_TRUE(*tx.AddEffectiveMember("users", "g2", "u1"));
    EXPECT_EQ(tx.AddEffectiveMember("users", "g1", "nobody").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.AddEffectiveMember("users", "nogroup", "u1").error().code, ErrorCode::kNotFound);
    // A user of another directory is not found in this one.
    EXPECT_EQ(tx.AddEffectiveMember("users", "g1", "c1").error().code, ErrorCode::kNotFound);
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.ListEffectiveMembers("users", "g1"),
              (std::vector<std::string>{"u3", "u1", "u2"}));
    EXPECT_EQ(*tx.CountEffectiveMembers("users", "g1"), 3);
    EXPECT_EQ(*tx.CountEffectiveMembers("users", "g2"), 1);
    EXPECT_EQ(tx.CountEffectiveMembers("users", "nogroup").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.ListEffectiveMembers("users", "nogroup").error().code, ErrorCode::kNotFound);
    // By name: "alpha" before "zeta", although g1 was created first.
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(*tx.EffectiveGroupsOf("users", "u1"), (Pairs{{"g2", "alpha"}, {"g1", "zeta"}}));
    EXPECT_EQ(*tx.EffectiveGroupsOf("users", "u2"), (Pairs{{"g1", "zeta"}}));
    EXPECT_TRUE(tx.EffectiveGroupsOf("users", "nobody")->empty());
    EXPECT_TRUE(tx.EffectiveGroupsOf("customers", "u1")->empty());
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    EXPECT_TRUE(*tx.RemoveEffectiveMember("users", "g1", "u3"));
    EXPECT_FALSE(*tx.RemoveEffectiveMember("users", "g1", "u3"));
    EXPECT_FALSE(*tx.RemoveEffectiveMember("users", "g1", "nobody"));
    EXPECT_EQ(tx.RemoveEffectiveMember("users", "nogroup", "u1").error().code,
              ErrorCode::kNotFound);
    // Added again, it goes to the end.
    EXPECT_TRUE(*tx.AddEffectiveMember("users", "g1", "u3"));
    EXPECT_TRUE(*tx.RemoveEffectiveMember("users", "g1", "u1"));
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) {
    EXPECT_EQ(*tx.ListEffectiveMembers("users", "g1"), (std::vector<std::string>{"u2", "u3"}));
    EXPECT_EQ(*tx.CountEffectiveMembers("users", "g1"), 2);
    // Member changes alone do not bump the group (the caller uses TouchEffectiveGroup).
    EXPECT_EQ(tx.GetEffectiveGroup("users", "g1")->version, 1);
    return Status::Ok();
  });
}

TEST_F(EffectiveStoreTest, TouchEffectiveGroupBumpsVersion) {
  MustWrite([&](Transaction& tx) -> Status {
    if (auto put = tx.PutEffectiveGroup(MakeGroup("g1", "ops")); !put) return put.error();
    if (auto t = tx.TouchEffectiveGroup("users", "g1", FromUnixMillis(123456)); !t) return t;
    EXPECT_EQ(tx.TouchEffectiveGroup("users", "nope", FromUnixMillis(1)).error().code,
              ErrorCode::kNotFound);
    EXPECT_EQ(tx.TouchEffectiveGroup("customers", "g1", FromUnixMillis(1)).error().code,
              ErrorCode::kNotFound);
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) {
    auto g = tx.GetEffectiveGroup("users", "g1");
    EXPECT_EQ(g->version, 2);
    EXPECT_EQ(g->last_modified, FromUnixMillis(123456));
    EXPECT_EQ(g->created, FromUnixMillis(6000));
    return Status::Ok();
  });
}

TEST_F(EffectiveStoreTest, LinksUpsertTombstoneAndDelete) {
  MustWrite([&](Transaction& tx) -> Status {
    if (auto put = tx.PutEffectiveUser(MakeUser("u1", "alice")); !put) return put.error();
    if (auto l = tx.PutLink({conn_, "s1", "users", "u1", false, ""}); !l) return l;
    if (auto l = tx.PutLink({conn2_, "s9", "users", "u1", false, ""}); !l) return l;
    if (auto l = tx.PutLink({conn_, "s2", "users", "u2", false, ""}); !l) return l;
    // Tombstone: the source user left the mirror, the link stays until the user's fate is
    // decided.
    return tx.PutLink({conn_, "s1", "users", "u1", true, ""});
  });
  MustRead([&](Transaction& tx) -> Status {
    auto s1 = tx.GetLink(conn_, "s1");
    if (!s1) return s1.error();
    EXPECT_TRUE(s1->deleted);
    EXPECT_EQ(s1->effective_user_id, "u1");
    EXPECT_EQ(s1->directory, "users");
    EXPECT_FALSE(tx.GetLink(conn_, "s2")->deleted);
    EXPECT_EQ(tx.GetLink(conn2_, "s1").error().code, ErrorCode::kNotFound);
    auto of_u1 = tx.LinksOf("users", "u1");
    if (!of_u1) return of_u1.error();
    EXPECT_EQ(of_u1->size(), 2u);
    if (of_u1->size() == 2u) {
      EXPECT_EQ((*of_u1)[0].connection_id, conn_);
      EXPECT_EQ((*of_u1)[1].connection_id, conn2_);
    }
    auto of_conn = tx.LinksOfConnection(conn_);
    if (!of_conn) return of_conn.error();
    EXPECT_EQ(of_conn->size(), 2u);
    if (of_conn->size() == 2u) {
      EXPECT_EQ((*of_conn)[0].source_user_id, "s1");
      EXPECT_EQ((*of_conn)[1].source_user_id, "s2");
    }
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    // Re-pointing a link moves it to another effective user.
    if (auto l = tx.PutLink({conn_, "s2", "users", "u1", false, ""}); !l) return l;
    if (auto d = tx.DeleteLink(conn_, "s1"); !d) return d;
    return tx.DeleteLink(conn_, "never-linked");  // nothing to delete is not an error
  });
  MustRead([&](Transaction& tx) {
    EXPECT_EQ(tx.GetLink(conn_, "s1").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.LinksOf("users", "u1")->size(), 2u);
    EXPECT_TRUE(tx.LinksOf("users", "u2")->empty());
    return Status::Ok();
  });
  EXPECT_EQ(WriteError([&](Transaction& tx) {
              return tx.PutLink({conn_ + 100, "s1", "users", "u1", false, ""});
            }),
            ErrorCode::kNotFound);
}

TEST_F(EffectiveStoreTest, DeleteEffectiveUserRemovesMembershipsLinksAndBumpsGroups) {
  MustWrite([&](Transaction& tx) -> Status {
    for (const char* id : {"u1", "u2"}) {
      if (auto put = tx.PutEffectiveUser(MakeUser(id, std::string("n") + id)); !put) {
        return put.error();
      }
    }
    for (const char* id : {"g1", "g2", "g3"}) {
      if (auto put = tx.PutEffectiveGroup(MakeGroup(id, std::string("n") + id)); !put) {
        return put.error();
      }
    }
    for (const char* g : {"g1", "g2"}) {
      if (auto a = tx.AddEffectiveMember("users", g, "u1"); !a) return a.error();
      if (auto a = tx.AddEffectiveMember("users", g, "u2"); !a) return a.error();
    }
    if (auto l = tx.PutLink({conn_, "s1", "users", "u1", false, ""}); !l) return l;
    if (auto l = tx.PutLink({conn2_, "s1", "users", "u1", true, ""}); !l) return l;
    return tx.PutLink({conn_, "s2", "users", "u2", false, ""});
  });
  clock_.now = FromUnixMillis(999000);
  MustWrite([&](Transaction& tx) { return tx.DeleteEffectiveUser("users", "u1"); });
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(tx.GetEffectiveUser("users", "u1").error().code, ErrorCode::kNotFound);
    for (const char* g : {"g1", "g2"}) {
      auto group = tx.GetEffectiveGroup("users", g);
      if (!group) return group.error();
      EXPECT_EQ(group->version, 2) << g;
      EXPECT_EQ(group->last_modified, FromUnixMillis(999000)) << g;
      EXPECT_EQ(*tx.ListEffectiveMembers("users", g), std::vector<std::string>{"u2"}) << g;
      EXPECT_EQ(*tx.CountEffectiveMembers("users", g), 1) << g;
    }
    EXPECT_EQ(tx.GetEffectiveGroup("users", "g3")->version, 1);  // not a group of u1
    EXPECT_TRUE(tx.LinksOf("users", "u1")->empty());
    EXPECT_EQ(tx.GetLink(conn_, "s1").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.GetLink(conn2_, "s1").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.GetLink(conn_, "s2")->effective_user_id, "u2");
    EXPECT_EQ(*tx.CountEffectiveUsers("users"), 1);
    return Status::Ok();
  });
  EXPECT_EQ(WriteError([&](Transaction& tx) { return tx.DeleteEffectiveUser("users", "u1"); }),
            ErrorCode::kNotFound);
  EXPECT_EQ(Query(db_path(), "SELECT count(*) FROM effective_members"),
            std::vector<std::string>{"2"});
}

TEST_F(EffectiveStoreTest, DeleteEffectiveGroupRemovesItsMemberships) {
  MustWrite([&](Transaction& tx) -> Status {
    if (auto put = tx.PutEffectiveUser(MakeUser("u1", "alice")); !put) return put.error();
    if (auto put = tx.PutEffectiveGroup(MakeGroup("g1", "ops")); !put) return put.error();
    if (auto put = tx.PutEffectiveGroup(MakeGroup("g2", "dev")); !put) return put.error();
    if (auto a = tx.AddEffectiveMember("users", "g1", "u1"); !a) return a.error();
    if (auto a = tx.AddEffectiveMember("users", "g2", "u1"); !a) return a.error();
    return tx.DeleteEffectiveGroup("users", "g1");
  });
  MustRead([&](Transaction& tx) {
    EXPECT_EQ(tx.GetEffectiveGroup("users", "g1").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.EffectiveGroupsOf("users", "u1")->size(), 1u);
    EXPECT_EQ(*tx.CountEffectiveGroups("users"), 1);
    EXPECT_EQ(tx.GetEffectiveUser("users", "u1")->version, 1);
    return Status::Ok();
  });
  EXPECT_EQ(WriteError([&](Transaction& tx) { return tx.DeleteEffectiveGroup("users", "g1"); }),
            ErrorCode::kNotFound);
  // A new group with the same id starts with no members (no count left behind).
  MustWrite(
      [&](Transaction& tx) { return AsStatus(tx.PutEffectiveGroup(MakeGroup("g1", "ops"))); });
  MustRead([&](Transaction& tx) {
    EXPECT_EQ(*tx.CountEffectiveMembers("users", "g1"), 0);
    EXPECT_TRUE(tx.ListEffectiveMembers("users", "g1")->empty());
    return Status::Ok();
  });
  EXPECT_EQ(Query(db_path(), "SELECT count(*) FROM effective_members"),
            std::vector<std::string>{"1"});
}

TEST_F(EffectiveStoreTest, DeleteConnectionRemovesItsPoliciesLinksAndConflicts) {
  MustWrite([&](Transaction& tx) -> Status {
    if (auto put = tx.PutEffectiveUser(MakeUser("u1", "alice")); !put) return put.error();
    for (int64_t c : {conn_, conn2_}) {
      PolicyVersion p;
      p.connection_id = c;
      if (auto put = tx.PutPolicy(p); !put) return put.error();
      if (auto l = tx.PutLink({c, "s1", "users", "u1", false, ""}); !l) return l;
      ConflictRecord conflict;
      conflict.directory = "users";
      conflict.connection_id = c;
      conflict.source_user_id = "s2";
      conflict.username = "alice";
      if (auto put = tx.PutConflict(conflict); !put) return put;
    }
    return tx.DeleteConnection(conn_);
  });
  MustRead([&](Transaction& tx) {
    EXPECT_EQ(tx.GetPolicy(conn_).error().code, ErrorCode::kNotFound);
    EXPECT_TRUE(tx.ListPolicyVersions(conn_)->empty());
    EXPECT_TRUE(tx.LinksOfConnection(conn_)->empty());
    auto conflicts = tx.ListConflicts("users");
    EXPECT_EQ(conflicts->size(), 1u);
    if (conflicts->size() == 1u) {
      EXPECT_EQ((*conflicts)[0].connection_id, conn2_);
    }
    // The other connection keeps its rows; effective users are the directory layer's call.
    EXPECT_EQ(tx.GetPolicy(conn2_)->version, 1);
    EXPECT_EQ(tx.LinksOfConnection(conn2_)->size(), 1u);
    EXPECT_EQ(tx.LinksOf("users", "u1")->size(), 1u);
    EXPECT_TRUE(tx.GetEffectiveUser("users", "u1"));
    return Status::Ok();
  });
}

TEST_F(EffectiveStoreTest, ChangeFeedSeqIncreasesAndIsNeverReused) {
  std::vector<int64_t> seqs;
  MustWrite([&](Transaction& tx) -> Status {
    for (int i = 0; i < 6; ++i) {
      ChangeRecord change;
      change.directory = i % 2 == 0 ? "users" : "customers";
      change.time = FromUnixMillis(100 + i);
      change.type = i == 4 ? "Membership" : "User";
      change.op = i == 4 ? "add" : "upsert";
      change.id = "id" + std::to_string(i);
      if (i == 4) change.member_id = "u9";
      if (i == 0) change.resource = Json{{"userName", "alice"}};
      change.cause = Json{{"connection", "okta"}, {"reason", "scim"}};
      auto seq = tx.AppendChange(change);
      if (!seq) return seq.error();
      seqs.push_back(*seq);
    }
    return Status::Ok();
  });
  ASSERT_EQ(seqs.size(), 6u);
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_GT(seqs[i], seqs[i - 1]);
  MustRead([&](Transaction& tx) -> Status {
    auto users = tx.ListChanges("users", 0, 100);
    if (!users) return users.error();
    EXPECT_EQ(users->size(), 3u);
    if (users->size() != 3u) return Status::Ok();
    EXPECT_EQ((*users)[0].seq, seqs[0]);
    EXPECT_EQ((*users)[0].resource, (Json{{"userName", "alice"}}));
    EXPECT_EQ((*users)[0].cause["connection"], "okta");
    EXPECT_EQ((*users)[0].time, FromUnixMillis(100));
    EXPECT_TRUE((*users)[1].resource.is_null());
    EXPECT_EQ((*users)[2].type, "Membership");
    EXPECT_EQ((*users)[2].op, "add");
    EXPECT_EQ((*users)[2].member_id, "u9");
    auto after = tx.ListChanges("users", seqs[0], 1);
    if (!after) return after.error();
    EXPECT_EQ(after->size(), 1u);
    if (!after->empty()) {
      EXPECT_EQ((*after)[0].seq, seqs[2]);
    }
    EXPECT_EQ(*tx.LastChangeSeq("users"), seqs[4]);
    EXPECT_EQ(*tx.LastChangeSeq("customers"), seqs[5]);
    EXPECT_EQ(*tx.LastChangeSeq("nowhere"), 0);
    return Status::Ok();
  });
  // Pruning the newest rows must not hand their numbers out again: readers page by seq.
  Query(db_path(), "DELETE FROM changes");
  MustWrite([&](Transaction& tx) -> Status {
    ChangeRecord change;
    change.directory = "users";
    change.type = "User";
    change.op = "delete";
    change.id = "u1";
    auto seq = tx.AppendChange(change);
    if (!seq) return seq.error();
    EXPECT_GT(*seq, seqs.back());
    return Status::Ok();
  });
}

TEST_F(EffectiveStoreTest, ConflictsAreReplacedOnPut) {
  MustWrite([&](Transaction& tx) -> Status {
    ConflictRecord c;
    c.directory = "users";
    c.connection_id = conn2_;
    c.source_user_id = "s1";
    c.username = "alice";
    c.detail = Json{{"held_by", "u1"}};
    c.time = FromUnixMillis(10);
    if (auto put = tx.PutConflict(c); !put) return put;
    c.connection_id = conn_;
    if (auto put = tx.PutConflict(c); !put) return put;
    c.username = "alice2";
    c.detail = Json{{"held_by", "u7"}};
    c.time = FromUnixMillis(20);
    if (auto put = tx.PutConflict(c); !put) return put;  // replaces (conn_, s1)
    c.directory = "customers";
    c.source_user_id = "s5";
    return tx.PutConflict(c);
  });
  MustRead([&](Transaction& tx) -> Status {
    auto users = tx.ListConflicts("users");
    if (!users) return users.error();
    EXPECT_EQ(users->size(), 2u);
    if (users->size() != 2u) return Status::Ok();
    EXPECT_EQ((*users)[0].connection_id, conn_);
    EXPECT_EQ((*users)[0].username, "alice2");
    EXPECT_EQ((*users)[0].detail, (Json{{"held_by", "u7"}}));
    EXPECT_EQ((*users)[0].time, FromUnixMillis(20));
    EXPECT_EQ((*users)[1].connection_id, conn2_);
    EXPECT_EQ(tx.ListConflicts("customers")->size(), 1u);
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) { return tx.DeleteConflict(conn_, "s1"); });
  MustRead([&](Transaction& tx) {
    EXPECT_EQ(tx.ListConflicts("users")->size(), 1u);
    return Status::Ok();
  });
}

TEST_F(EffectiveStoreTest, ApiTokensCreateFindListDelete) {
  ApiToken admin;
  admin.name = "console";
  admin.kind = "admin";
  admin.hash = "hash-a";
  admin.created = FromUnixMillis(50);
  ApiToken reader;
  reader.name = "crm";
  reader.kind = "read";
  reader.directory = "customers";
  reader.hash = "hash-r";
  MustWrite([&](Transaction& tx) -> Status {
    auto a = tx.CreateApiToken(admin);
    if (!a) return a.error();
    EXPECT_GT(a->id, 0);
    auto r = tx.CreateApiToken(reader);
    if (!r) return r.error();
    EXPECT_NE(r->id, a->id);
    return Status::Ok();
  });
  ApiToken same_name = reader;
  same_name.hash = "hash-other";
  EXPECT_EQ(WriteError([&](Transaction& tx) { return AsStatus(tx.CreateApiToken(same_name)); }),
            ErrorCode::kUniqueness);
  MustRead([&](Transaction& tx) -> Status {
    auto found = tx.FindApiToken("hash-r");
    if (!found) return found.error();
    EXPECT_EQ(found->name, "crm");
    EXPECT_EQ(found->kind, "read");
    EXPECT_EQ(found->directory, "customers");
    EXPECT_EQ(tx.FindApiToken("hash-a")->created, FromUnixMillis(50));
    EXPECT_EQ(tx.FindApiToken("nope").error().code, ErrorCode::kNotFound);
    auto all = tx.ListApiTokens();
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 2u);
    if (all->size() == 2u) {
      EXPECT_EQ((*all)[0].name, "console");
    }
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) { return tx.DeleteApiToken("crm"); });
  EXPECT_EQ(WriteError([&](Transaction& tx) { return tx.DeleteApiToken("crm"); }),
            ErrorCode::kNotFound);
  MustRead([&](Transaction& tx) {
    EXPECT_EQ(tx.FindApiToken("hash-r").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.ListApiTokens()->size(), 1u);
    return Status::Ok();
  });
}

TEST_F(EffectiveStoreTest, ConfigGenerationFollowsPoliciesDirectoriesAndApiTokens) {
  auto generation = [&] {
    auto g = store_->ConfigGeneration();
    EXPECT_TRUE(g);
    return g ? *g : -1;
  };
  int64_t before = generation();
  // Effective data and the feed are not configuration: the caches must survive them.
  MustWrite([&](Transaction& tx) -> Status {
    if (auto put = tx.PutEffectiveUser(MakeUser("u1", "alice")); !put) return put.error();
    if (auto l = tx.PutLink({conn_, "s1", "users", "u1", false, ""}); !l) return l;
    ChangeRecord change;
    change.directory = "users";
    return AsStatus(tx.AppendChange(change));
  });
  EXPECT_EQ(generation(), before);

  PolicyVersion policy;
  policy.connection_id = conn_;
  MustWrite([&](Transaction& tx) { return AsStatus(tx.PutPolicy(policy)); });
  int64_t after_policy = generation();
  EXPECT_NE(after_policy, before);

  ApiToken token;
  token.name = "t";
  token.kind = "admin";
  token.hash = "h";
  MustWrite([&](Transaction& tx) { return AsStatus(tx.CreateApiToken(token)); });
  int64_t after_token = generation();
  EXPECT_NE(after_token, after_policy);

  DirectoryRecord directory;
  directory.name = "users";
  MustWrite([&](Transaction& tx) { return AsStatus(tx.PutDirectory(directory)); });
  int64_t after_directory = generation();
  EXPECT_NE(after_directory, after_token);

  MustWrite([&](Transaction& tx) { return tx.DeleteApiToken("t"); });
  EXPECT_NE(generation(), after_directory);
}

TEST_F(EffectiveStoreTest, ReadTransactionsRefuseEffectiveWrites) {
  auto status = store_->Read([&](Transaction& tx) -> Status {
    EXPECT_EQ(tx.PutEffectiveUser(MakeUser("u1", "alice")).error().code, ErrorCode::kInternal);
    EXPECT_EQ(tx.PutEffectiveGroup(MakeGroup("g1", "ops")).error().code, ErrorCode::kInternal);
    EXPECT_EQ(tx.AppendChange({}).error().code, ErrorCode::kInternal);
    EXPECT_EQ(tx.PutLink({conn_, "s1", "users", "u1", false, ""}).error().code, ErrorCode::kInternal);
    EXPECT_EQ(tx.CreateApiToken({}).error().code, ErrorCode::kInternal);
    EXPECT_EQ(tx.PutDirectory({}).error().code, ErrorCode::kInternal);
    return Status::Ok();
  });
  EXPECT_TRUE(status);
}

TEST(EffectiveStoreUpgrade, MigratesADatabaseBuiltWithMigrationFour) {
  TempDir dir;
  const std::string path = dir.path() + "/idsync.db";
  int64_t conn = 0;
  int64_t generation_before = 0;
  {
    SqliteOptions older;
    older.migrations = 4;
    auto store = SqliteStore::Open(dir.path(), older);
    ASSERT_TRUE(store) << store.error().detail;
    ASSERT_TRUE((*store)->Write([&](Transaction& tx) -> Status {
      auto c = tx.CreateConnection(MakeConnection("okta"));
      if (!c) return c.error();
      conn = c->id;
      StoredResource user;
      user.id = "m1";
      user.body = Json{{"userName", "alice"}};
      return AsStatus(tx.PutResource(conn, user, std::string("alice"), {}));
    }));
    generation_before = *(*store)->ConfigGeneration();
    (*store)->Close();
  }
  EXPECT_EQ(Query(path, "SELECT max(version) FROM schema_migrations"),
            std::vector<std::string>{"4"});
  EXPECT_TRUE(Query(path, "SELECT name FROM sqlite_master WHERE name = 'effective_users'").empty());

  auto store = SqliteStore::Open(dir.path(), {});
  ASSERT_TRUE(store) << store.error().detail;
  // Upgraded to this build's newest migration (5 or later).
  EXPECT_EQ(Query(path, "SELECT max(version) FROM schema_migrations"),
            std::vector<std::string>{std::to_string(Migrations().back().version)});
  // The seed rows fire the directories trigger only if it existed before them; either way
  // the counter must not go backwards.
  EXPECT_GE(*(*store)->ConfigGeneration(), generation_before);
  EXPECT_TRUE((*store)->Write([&](Transaction& tx) -> Status {
    if (auto put = tx.PutEffectiveUser(MakeUser("u1", "alice")); !put) return put.error();
    if (auto l = tx.PutLink({conn, "m1", "users", "u1", false, ""}); !l) return l;
    PolicyVersion p;
    p.connection_id = conn;
    return AsStatus(tx.PutPolicy(p));
  }));
  EXPECT_TRUE((*store)->Read([&](Transaction& tx) -> Status {
    EXPECT_EQ(tx.ListDirectories()->size(), 2u);
    EXPECT_EQ(tx.GetResource(conn, scim::ResourceType::kUser, "m1")->body["userName"], "alice");
    EXPECT_EQ(*tx.CountResources(conn, scim::ResourceType::kUser), 1);
    EXPECT_EQ(*tx.CountEffectiveUsers("users"), 1);
    EXPECT_EQ(tx.GetLink(conn, "m1")->effective_user_id, "u1");
    EXPECT_EQ(tx.GetPolicy(conn)->version, 1);
    return Status::Ok();
  }));
}

// An update sets only the indexed columns that change: SQLite rewrites the entry of every index
// whose column an UPDATE sets, even to its old value, so a PATCH of a display name wrote the
// username, e-mail and LDAP-name index pages again (issue #13 item 3: pages per write).
TEST_F(EffectiveStoreTest, AnUpdateWritesOnlyTheIndexesOfTheColumnsItChanges) {
  // Enough users that every index has leaves of its own.
  auto user = [](int i) {
    char name[16];
    std::snprintf(name, sizeof name, "user%04d", i);
    return test_support::MakeEUser(std::string("e") + name, name);
  };
  MustWrite([&](Transaction& tx) -> Status {
    for (int i = 0; i < 2000; ++i) {
      if (auto put = tx.PutEffectiveUser(user(i)); !put) return put.error();
    }
    return Status::Ok();
  });
  // A compression dictionary trained on those bodies is written by its own job: not while the
  // frames below are counted.
  store_->WaitForTraining();
  // The WAL frames one write of `row` adds.
  auto frames_of = [&](const EffectiveUserRow& row) {
    test_support::WalFrames(db_path(), "TRUNCATE");
    MustWrite([&](Transaction& tx) { return AsStatus(tx.PutEffectiveUser(row)); });
    return test_support::WalFrames(db_path(), "PASSIVE");
  };
  EffectiveUserRow u = user(1000);
  u.body = {{"name", "changed"}};
  const int body = frames_of(u);
  EXPECT_EQ(body, 1) << "the row's own page only";
  u.state = "disabled";
  const int state = frames_of(u);
  EXPECT_EQ(state, 2) << "and the state index";
  u.state = "active";
  u.mail_key = "other@example.com";
  const int mail = frames_of(u);
  EXPECT_GE(mail, 3) << "a key changed: every key's index is written";
  MustRead([&](Transaction& tx) -> Status {
    auto row = tx.GetEffectiveUser("users", u.id);
    if (!row) return row.error();
    EXPECT_EQ(row->body, u.body);
    EXPECT_EQ(row->state, "active");
    EXPECT_EQ(row->mail_key, "other@example.com");
    EXPECT_EQ(row->version, 4);
    auto by_mail = tx.FindEffectiveUserByUsername("users", "user1000");
    if (!by_mail) return by_mail.error();
    EXPECT_EQ(by_mail->id, u.id);
    return Status::Ok();
  });
}

}  // namespace
}  // namespace idsync::store::sqlite
