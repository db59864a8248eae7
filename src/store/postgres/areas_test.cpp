// The areas the PostgreSQL store ports from SQLite, tested against both back-ends with the same
// assertions (a parameterised test: "sqlite" and "postgresql"), so a difference in behaviour
// between the two fails here. The PostgreSQL runs use a database of their own on the test
// cluster (tools/pg-test-cluster.sh).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "base/json.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/test_database.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/test_support.h"

namespace idsync::store {
namespace {

using scim::ResourceType;

StoredResource MakeResource(ResourceType type, const std::string& id, const Json& body,
                            int64_t ms) {
  StoredResource r;
  r.id = id;
  r.type = type;
  r.body = body;
  r.created = FromUnixMillis(ms);
  r.last_modified = FromUnixMillis(ms);
  return r;
}

Result<StoredResource> PutUser(Transaction& tx, int64_t conn, const std::string& id,
                               const std::string& name) {
  return tx.PutResource(conn, MakeResource(ResourceType::kUser, id, {{"userName", name}}, 2000),
                        name, {{"userName", name}, {"id", id}});
}

Result<StoredResource> PutGroup(Transaction& tx, int64_t conn, const std::string& id,
                                const std::string& name) {
  return tx.PutResource(conn,
                        MakeResource(ResourceType::kGroup, id, {{"displayName", name}}, 3000),
                        name, {{"displayName", name}});
}

EffectiveUserRow MakeEUser(const std::string& id, const std::string& name) {
  EffectiveUserRow row;
  row.directory = "users";
  row.id = id;
  row.username = name;
  row.username_key = name;
  row.state = "active";
  row.mail_key = name + "@example.com";
  row.body = {{"name", name}};
  row.created = FromUnixMillis(5000);
  row.last_modified = FromUnixMillis(5000);
  return row;
}

template <typename T>
Status AsStatus(const Result<T>& r) {
  return r ? Status::Ok() : Status(r.error());
}

class StoreAreas : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = std::make_unique<sqlite::test_support::TempDir>();
      auto s = sqlite::SqliteStore::Open(dir_->path(), {});
      ASSERT_TRUE(s) << s.error().detail;
      store_ = std::move(*s);
    } else {
      db_ = std::make_unique<postgres::TestDatabase>();
      store_ = OpenAnother();
      ASSERT_TRUE(store_);
    }
    Connection c;
    c.name = "okta";
    c.directory = "users";
    c.kind = "scim";
    c.created = FromUnixMillis(1000);
    MustWrite([&](Transaction& tx) -> Status {
      auto made = tx.CreateConnection(c);
      if (!made) return made.error();
      conn_ = made->id;
      return Status::Ok();
    });
  }

  // A second instance on the same database (PostgreSQL only).
  std::unique_ptr<Store> OpenAnother() {
    auto s = postgres::PostgresStore::Open(db_->url());
    EXPECT_TRUE(s) << (s ? "" : s.error().detail);
    if (!s) return nullptr;
    return std::move(*s);
  }

  void MustWrite(const std::function<Status(Transaction&)>& job) {
    auto status = store_->Write(job);
    ASSERT_TRUE(status) << status.error().detail;
  }
  void MustRead(const std::function<Status(Transaction&)>& job) {
    auto status = store_->Read(job);
    ASSERT_TRUE(status) << status.error().detail;
  }

  std::unique_ptr<sqlite::test_support::TempDir> dir_;
  std::unique_ptr<postgres::TestDatabase> db_;
  std::unique_ptr<Store> store_;
  int64_t conn_ = 0;
};

TEST_P(StoreAreas, MirrorPutGetUpdateAndUniqueKey) {
  MustWrite([&](Transaction& tx) -> Status {
    auto a = PutUser(tx, conn_, "u1", "alice");
    if (!a) return a.error();
    EXPECT_EQ(a->version, 1);
    auto taken = PutUser(tx, conn_, "u2", "alice");
    EXPECT_FALSE(taken);
    if (!taken) {
      EXPECT_EQ(taken.error().code, ErrorCode::kUniqueness);
      EXPECT_EQ(taken.error().detail, "User \"alice\" already exists");
    }
    // The job goes on after a refused put, and the refused one left nothing.
    auto b = PutUser(tx, conn_, "u2", "bob");
    return AsStatus(b);
  });
  MustWrite([&](Transaction& tx) -> Status {
    auto again = tx.PutResource(
        conn_, MakeResource(ResourceType::kUser, "u1", {{"userName", "alice"}, {"x", 1}}, 9000),
        std::string("alice"), {{"userName", "alice"}, {"id", "u1"}});
    if (!again) return again.error();
    EXPECT_EQ(again->version, 2);
    EXPECT_EQ(ToUnixMillis(again->created), 2000);
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto u = tx.GetResource(conn_, ResourceType::kUser, "u1");
    if (!u) return u.error();
    EXPECT_EQ(u->body["x"], 1);
    EXPECT_EQ(u->version, 2);
    EXPECT_EQ(ToUnixMillis(u->last_modified), 9000);
    auto text = tx.GetResourceText(conn_, ResourceType::kUser, "u1");
    if (!text) return text.error();
    EXPECT_EQ(Json::parse(text->body_text), u->body);
    EXPECT_TRUE(text->body.empty());
    auto missing = tx.GetResource(conn_, ResourceType::kUser, "nope");
    EXPECT_FALSE(missing);
    if (!missing) {
      EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    }
    // A group with a user's id is another resource.
    EXPECT_FALSE(tx.GetResource(conn_, ResourceType::kGroup, "u1"));
    auto found = tx.FindByIndex(conn_, ResourceType::kUser, "userName", "bob");
    if (!found) return found.error();
    EXPECT_EQ(found->size(), 1u);
    if (!found->empty()) {
      EXPECT_EQ(found->front().id, "u2");
    }
    auto none = tx.FindByIndex(conn_, ResourceType::kUser, "userName", "alice2");
    if (!none) return none.error();
    EXPECT_TRUE(none->empty());
    auto count = tx.CountResources(conn_, ResourceType::kUser);
    if (!count) return count.error();
    EXPECT_EQ(*count, 2);
    return Status::Ok();
  });
}

// A write job reads back the user it has just stored (the derivation does) from memory, in both
// stores: what it gets must equal what the row holds, and nothing stale may survive a delete, a
// touch or a failed write.
TEST_P(StoreAreas, UserReadBackInTheWritingJobEqualsTheRow) {
  StoredResource in_job;
  MustWrite([&](Transaction& tx) -> Status {
    StoredResource u = MakeResource(ResourceType::kUser, "rb1", {{"userName", "reader"}}, 2000);
    u.body["name"] = {{"givenName", "Réa"}, {"familyName", "Der"}};
    u.body["emails"] = Json::array({{{"value", "r@example.com"}, {"primary", true}}});
    u.body["x"] = 1.5;
    auto put = tx.PutResource(conn_, u, std::string("reader"), {{"userName", "reader"}});
    EXPECT_TRUE(put);
    auto got = tx.GetResource(conn_, ResourceType::kUser, "rb1");
    EXPECT_TRUE(got);
    if (got) {
      in_job = *got;
    }
    // A failed write of the same user leaves the stored one readable, unchanged.
    EXPECT_TRUE(PutUser(tx, conn_, "rb2", "other"));
    StoredResource clash = MakeResource(ResourceType::kUser, "rb1", {{"userName", "other"}}, 2000);
    auto refused = tx.PutResource(conn_, clash, std::string("other"), {{"userName", "other"}});
    EXPECT_FALSE(refused);
    if (!refused) {
      EXPECT_EQ(refused.error().code, ErrorCode::kUniqueness);
    }
    auto after = tx.GetResource(conn_, ResourceType::kUser, "rb1");
    EXPECT_TRUE(after);
    if (after) {
      EXPECT_EQ(after->body, in_job.body);
    }
    // A touch bumps the version in the row: the read sees it.
    EXPECT_TRUE(PutUser(tx, conn_, "rb3", "touched"));
    EXPECT_TRUE(tx.TouchResource(conn_, ResourceType::kUser, "rb3", FromUnixMillis(7000)));
    auto touched = tx.GetResource(conn_, ResourceType::kUser, "rb3");
    EXPECT_TRUE(touched);
    if (touched) {
      EXPECT_EQ(touched->version, 2);
    }
    // A delete right after a write: gone.
    EXPECT_TRUE(PutUser(tx, conn_, "rb4", "gone"));
    EXPECT_TRUE(tx.DeleteResource(conn_, ResourceType::kUser, "rb4"));
    auto gone = tx.GetResource(conn_, ResourceType::kUser, "rb4");
    EXPECT_FALSE(gone);
    if (!gone) {
      EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto row = tx.GetResource(conn_, ResourceType::kUser, "rb1");
    if (!row) return row.error();
    EXPECT_EQ(row->body, in_job.body);
    EXPECT_EQ(DumpJson(row->body), DumpJson(in_job.body));
    EXPECT_EQ(row->version, in_job.version);
    EXPECT_EQ(row->created, in_job.created);
    EXPECT_EQ(row->last_modified, in_job.last_modified);
    EXPECT_TRUE(row->body_text.empty());
    EXPECT_TRUE(in_job.body_text.empty());
    return Status::Ok();
  });
}

TEST_P(StoreAreas, MirrorIndexIsReplacedWhenItChanges) {
  MustWrite([&](Transaction& tx) { return AsStatus(PutUser(tx, conn_, "u1", "alice")); });
  MustWrite([&](Transaction& tx) {
    return AsStatus(tx.PutResource(
        conn_, MakeResource(ResourceType::kUser, "u1", {{"userName", "alicia"}}, 2500),
        std::string("alicia"), {{"userName", "alicia"}, {"id", "u1"}}));
  });
  MustRead([&](Transaction& tx) -> Status {
    auto old_name = tx.FindByIndex(conn_, ResourceType::kUser, "userName", "alice");
    auto new_name = tx.FindByIndexText(conn_, ResourceType::kUser, "userName", "alicia");
    if (!old_name) return old_name.error();
    if (!new_name) return new_name.error();
    EXPECT_TRUE(old_name->empty());
    EXPECT_EQ(new_name->size(), 1u);
    return Status::Ok();
  });
  // The old name is free again.
  MustWrite([&](Transaction& tx) { return AsStatus(PutUser(tx, conn_, "u2", "alice")); });
}

TEST_P(StoreAreas, MirrorListsPagesAndScansInCreationOrder) {
  MustWrite([&](Transaction& tx) -> Status {
    for (int i = 0; i < 7; ++i) {
      // Ids in reverse so that creation order differs from id order.
      auto put = PutUser(tx, conn_, "u" + std::to_string(9 - i), "user" + std::to_string(i));
      if (!put) return put.error();
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto page = tx.ListResources(conn_, ResourceType::kUser, 2, 3);
    if (!page) return page.error();
    std::vector<std::string> ids;
    for (const auto& r : *page) ids.push_back(r.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"u7", "u6", "u5"}));
    auto text = tx.ListResourcesText(conn_, ResourceType::kUser, 6, 10);
    if (!text) return text.error();
    EXPECT_EQ(text->size(), 1u);
    auto past = tx.ListResources(conn_, ResourceType::kUser, 50, 10);
    if (!past) return past.error();
    EXPECT_TRUE(past->empty());
    std::vector<std::string> scanned;
    auto scan = tx.ScanResources(conn_, ResourceType::kUser, [&](const StoredResource& r) {
      scanned.push_back(r.id);
      return scanned.size() < 4;
    });
    if (!scan) return scan;
    EXPECT_EQ(scanned, (std::vector<std::string>{"u9", "u8", "u7", "u6"}));
    return Status::Ok();
  });
}

TEST_P(StoreAreas, MembersAndDeletingAMemberTouchesItsGroups) {
  MustWrite([&](Transaction& tx) -> Status {
    for (auto s : {AsStatus(PutUser(tx, conn_, "u1", "alice")),
                   AsStatus(PutUser(tx, conn_, "u2", "bob")),
                   AsStatus(PutGroup(tx, conn_, "g1", "Admins")),
                   AsStatus(PutGroup(tx, conn_, "g2", "Ops"))}) {
      if (!s) return s;
    }
    auto added = tx.AddMember(conn_, "g1", {"u2", "User", "bob"});
    if (!added) return added.error();
    EXPECT_TRUE(*added);
    auto again = tx.AddMember(conn_, "g1", {"u2", "User", "bob"});
    if (!again) return again.error();
    EXPECT_FALSE(*again);
    if (auto a = tx.AddMember(conn_, "g1", {"u1", "User", ""}); !a) return a.error();
    if (auto a = tx.AddMember(conn_, "g2", {"u1", "User", ""}); !a) return a.error();
    auto no_group = tx.AddMember(conn_, "g9", {"u1", "User", ""});
    EXPECT_FALSE(no_group);
    if (!no_group) {
      EXPECT_EQ(no_group.error().code, ErrorCode::kNotFound);
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto members = tx.ListMembers(conn_, "g1");
    if (!members) return members.error();
    EXPECT_EQ(members->size(), 2u);
    if (members->size() == 2) {
      EXPECT_EQ((*members)[0].value, "u1");
      EXPECT_EQ((*members)[1].display, "bob");
    }
    auto count = tx.CountMembers(conn_, "g1");
    if (!count) return count.error();
    EXPECT_EQ(*count, 2);
    auto groups = tx.GroupsOf(conn_, "u1");
    if (!groups) return groups.error();
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(*groups, (Pairs{{"g1", "Admins"}, {"g2", "Ops"}}));
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    auto removed = tx.RemoveMember(conn_, "g1", "u2");
    if (!removed) return removed.error();
    EXPECT_TRUE(*removed);
    return tx.DeleteResource(conn_, ResourceType::kUser, "u1");
  });
  MustRead([&](Transaction& tx) -> Status {
    auto g1 = tx.GetResource(conn_, ResourceType::kGroup, "g1");
    if (!g1) return g1.error();
    EXPECT_EQ(g1->version, 2);  // the deleted member's group changed
    auto count = tx.CountMembers(conn_, "g1");
    if (!count) return count.error();
    EXPECT_EQ(*count, 0);
    EXPECT_FALSE(tx.GetResource(conn_, ResourceType::kUser, "u1"));
    auto found = tx.FindByIndex(conn_, ResourceType::kUser, "userName", "alice");
    if (!found) return found.error();
    EXPECT_TRUE(found->empty());
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    if (auto s = tx.ClearMembers(conn_, "g2"); !s) return s;
    auto gone = tx.DeleteResource(conn_, ResourceType::kGroup, "g9");
    EXPECT_FALSE(gone);
    return tx.TouchResource(conn_, ResourceType::kGroup, "g2", FromUnixMillis(7777));
  });
  MustRead([&](Transaction& tx) -> Status {
    auto g2 = tx.GetResource(conn_, ResourceType::kGroup, "g2");
    if (!g2) return g2.error();
    EXPECT_EQ(ToUnixMillis(g2->last_modified), 7777);
    EXPECT_EQ(g2->version, 3);  // touched when u1 was deleted, then by TouchResource
    return Status::Ok();
  });
}

TEST_P(StoreAreas, DirectoriesAndPolicyVersions) {
  auto before = store_->ConfigGeneration();
  ASSERT_TRUE(before);
  MustWrite([&](Transaction& tx) -> Status {
    auto dirs = tx.ListDirectories();
    if (!dirs) return dirs.error();
    EXPECT_EQ(dirs->size(), 2u);  // "customers" and "users", made by the schema
    DirectoryRecord users;
    users.name = "users";
    users.custom_attributes = Json::array({{{"name", "badge"}}});
    auto put = tx.PutDirectory(users);
    if (!put) return put.error();
    EXPECT_EQ(put->version, 2);
    EXPECT_FALSE(tx.GetPolicy(conn_));
    for (int i = 1; i <= 2; ++i) {
      PolicyVersion p;
      p.connection_id = conn_;
      p.body = {{"n", i}};
      p.time = FromUnixMillis(i * 1000);
      p.actor = "cli";
      auto stored = tx.PutPolicy(p);
      if (!stored) return stored.error();
      EXPECT_EQ(stored->version, i);
    }
    PolicyVersion orphan;
    orphan.connection_id = conn_ + 100;
    auto refused = tx.PutPolicy(orphan);
    EXPECT_FALSE(refused);
    if (!refused) {
      EXPECT_EQ(refused.error().code, ErrorCode::kNotFound);
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto p = tx.GetPolicy(conn_);
    if (!p) return p.error();
    EXPECT_EQ(p->version, 2);
    EXPECT_EQ(p->body["n"], 2);
    auto all = tx.ListPolicyVersions(conn_);
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 2u);
    auto users = tx.GetDirectory("users");
    if (!users) return users.error();
    EXPECT_EQ(users->custom_attributes.size(), 1u);
    EXPECT_FALSE(tx.GetDirectory("nope"));
    return Status::Ok();
  });
  // Directories and policies are configuration: every instance's next request sees the change.
  auto after = store_->ConfigGeneration();
  ASSERT_TRUE(after);
  EXPECT_GT(*after, *before);
}

TEST_P(StoreAreas, EffectiveUsersGroupsAndMemberships) {
  MustWrite([&](Transaction& tx) -> Status {
    auto alice = MakeEUser("e1", "alice");
    alice.link_key = "emp:1";
    if (auto s = tx.PutEffectiveUser(alice); !s) return s.error();
    if (auto s = tx.PutEffectiveUser(MakeEUser("e2", "bob")); !s) return s.error();
    auto dup = tx.PutEffectiveUser(MakeEUser("e3", "alice"));
    EXPECT_FALSE(dup);
    if (!dup) {
      EXPECT_EQ(dup.error().code, ErrorCode::kUniqueness);
    }
    auto updated = tx.PutEffectiveUser(alice);
    if (!updated) return updated.error();
    EXPECT_EQ(updated->version, 2);
    for (auto [id, name] : {std::pair{"g1", "Zeta"}, std::pair{"g2", "alpha"}}) {
      EffectiveGroupRow g;
      g.directory = "users";
      g.id = id;
      g.name = name;
      g.name_key = name;
      g.created = FromUnixMillis(6000);
      g.last_modified = FromUnixMillis(6000);
      if (auto s = tx.PutEffectiveGroup(g); !s) return s.error();
    }
    for (auto [g, u] : {std::pair{"g1", "e2"}, std::pair{"g1", "e1"}, std::pair{"g2", "e1"}}) {
      auto added = tx.AddEffectiveMember("users", g, u);
      if (!added) return added.error();
      EXPECT_TRUE(*added);
    }
    auto again = tx.AddEffectiveMember("users", "g1", "e1");
    if (!again) return again.error();
    EXPECT_FALSE(*again);
    auto not_member = tx.RemoveEffectiveMember("users", "g1", "nobody");
    if (!not_member) return not_member.error();
    EXPECT_FALSE(*not_member);
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto members = tx.ListEffectiveMembers("users", "g1");
    if (!members) return members.error();
    EXPECT_EQ(*members, (std::vector<std::string>{"e2", "e1"}));  // membership order
    auto count = tx.CountEffectiveMembers("users", "g1");
    if (!count) return count.error();
    EXPECT_EQ(*count, 2);
    EXPECT_FALSE(tx.CountEffectiveMembers("users", "g9"));
    auto groups = tx.EffectiveGroupsOf("users", "e1");
    if (!groups) return groups.error();
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(*groups, (Pairs{{"g1", "Zeta"}, {"g2", "alpha"}}));  // by name key, bytewise
    auto by_link = tx.FindEffectiveUsersByLinkKey("users", "emp:1");
    if (!by_link) return by_link.error();
    EXPECT_EQ(by_link->size(), 1u);
    auto by_none = tx.FindEffectiveUsersByLinkKey("users", "");
    if (!by_none) return by_none.error();
    EXPECT_TRUE(by_none->empty());
    auto bob = tx.FindEffectiveUserByUsername("users", "bob");
    if (!bob) return bob.error();
    EXPECT_EQ(bob->id, "e2");
    EXPECT_EQ(bob->mail_key, "bob@example.com");
    EXPECT_EQ(bob->link_key, "");
    auto n = tx.CountEffectiveUsers("users");
    if (!n) return n.error();
    EXPECT_EQ(*n, 2);
    auto page = tx.ListEffectiveGroups("users", 1, 5);
    if (!page) return page.error();
    EXPECT_EQ(page->size(), 1u);
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    SourceLink link{conn_, "s1", "users", "e1", false, "alice"};
    if (auto s = tx.PutLink(link); !s) return s;
    return tx.DeleteEffectiveUser("users", "e1");
  });
  MustRead([&](Transaction& tx) -> Status {
    auto g1 = tx.GetEffectiveGroup("users", "g1");
    if (!g1) return g1.error();
    EXPECT_EQ(g1->version, 2);  // touched when its member left
    auto members = tx.ListEffectiveMembers("users", "g1");
    if (!members) return members.error();
    EXPECT_EQ(*members, (std::vector<std::string>{"e2"}));
    EXPECT_FALSE(tx.GetLink(conn_, "s1"));  // the user's links went with it
    std::vector<std::string> scanned;
    auto scan = tx.ScanEffectiveUsers("users", [&](const EffectiveUserRow& u) {
      scanned.push_back(u.id);
      return true;
    });
    if (!scan) return scan;
    EXPECT_EQ(scanned, (std::vector<std::string>{"e2"}));
    return Status::Ok();
  });
}

TEST_P(StoreAreas, LinksTombstonesConflictsAuditSyncAndSecrets) {
  MustWrite([&](Transaction& tx) -> Status {
    for (const SourceLink& l : {SourceLink{conn_, "s2", "users", "e1", true, "alice"},
                                SourceLink{conn_, "s1", "users", "e1", true, "alice"},
                                SourceLink{conn_, "s3", "users", "e2", false, "alice"}}) {
      if (auto s = tx.PutLink(l); !s) return s;
    }
    ConflictRecord c;
    c.directory = "users";
    c.connection_id = conn_;
    c.source_user_id = "s9";
    c.username = "alice";
    c.detail = {{"holder", "e1"}};
    c.time = FromUnixMillis(4000);
    if (auto s = tx.PutConflict(c); !s) return s;
    for (int i = 0; i < 3; ++i) {
      AuditRecord a;
      a.time = FromUnixMillis(10'000 + i * 1000);
      a.connection_id = i == 2 ? 0 : conn_;
      a.actor = "scim";
      a.operation = "create";
      a.resource_id = i == 1 ? "u1" : "u0";
      a.status = 201;
      if (auto s = tx.AppendAudit(a); !s) return s;
    }
    SyncRun run;
    run.connection_id = conn_;
    run.mode = "full";
    run.trigger = "cli";
    run.outcome = "running";
    run.started = FromUnixMillis(1);
    run.owner = "a";
    auto id = tx.InsertSyncRun(run);
    if (!id) return id.error();
    auto abandoned = tx.AbandonSyncRuns(conn_, "b", FromUnixMillis(2));
    if (!abandoned) return abandoned.error();
    EXPECT_EQ(*abandoned, 1);
    if (auto s = tx.PutSecret(conn_, "bind_password", "sealed1"); !s) return s;
    if (auto s = tx.PutSecret(conn_, "bind_password", "sealed2"); !s) return s;
    if (auto s = tx.PutSyncState(conn_, {{"usn", 5}}); !s) return s;
    auto first = tx.AcquireSyncLease(conn_, "a", FromUnixMillis(100), FromUnixMillis(200));
    auto other = tx.AcquireSyncLease(conn_, "b", FromUnixMillis(150), FromUnixMillis(300));
    auto expired = tx.AcquireSyncLease(conn_, "b", FromUnixMillis(200), FromUnixMillis(300));
    if (!first || !other || !expired) return MakeError(ErrorCode::kInternal, "lease failed");
    EXPECT_TRUE(*first);
    EXPECT_FALSE(*other);
    EXPECT_TRUE(*expired);
    return tx.ReleaseSyncLease(conn_, "b");
  });
  MustRead([&](Transaction& tx) -> Status {
    auto tombstones = tx.FindTombstones(conn_, "alice");
    if (!tombstones) return tombstones.error();
    EXPECT_EQ(tombstones->size(), 2u);
    if (tombstones->size() == 2) {
      EXPECT_EQ((*tombstones)[0].source_user_id, "s1");
    }
    auto of = tx.LinksOf("users", "e1");
    if (!of) return of.error();
    EXPECT_EQ(of->size(), 2u);
    auto conflicts = tx.ListConflicts("users");
    if (!conflicts) return conflicts.error();
    EXPECT_EQ(conflicts->size(), 1u);
    if (!conflicts->empty()) {
      EXPECT_EQ(conflicts->front().detail["holder"], "e1");
    }
    AuditQuery q;
    auto all = tx.ListAudit(q);
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 3u);
    q.connection_id = conn_;
    auto of_conn = tx.ListAudit(q);
    if (!of_conn) return of_conn.error();
    EXPECT_EQ(of_conn->size(), 2u);
    q.connection_id.reset();
    q.resource_id = "u1";
    auto of_user = tx.ListAudit(q);
    if (!of_user) return of_user.error();
    EXPECT_EQ(of_user->size(), 1u);
    AuditQuery window;
    window.since = FromUnixMillis(11'000);
    window.until = FromUnixMillis(11'000);
    auto in_window = tx.ListAudit(window);
    if (!in_window) return in_window.error();
    EXPECT_EQ(in_window->size(), 1u);
    auto runs = tx.ListSyncRuns(conn_, 10);
    if (!runs) return runs.error();
    EXPECT_EQ(runs->size(), 1u);
    if (!runs->empty()) {
      EXPECT_EQ(runs->front().outcome, "abandoned");
    }
    auto secret = tx.GetSecret(conn_, "bind_password");
    if (!secret) return secret.error();
    EXPECT_EQ(*secret, "sealed2");
    EXPECT_FALSE(tx.GetSecret(conn_, "other"));
    auto state = tx.GetSyncState(conn_);
    if (!state) return state.error();
    EXPECT_EQ((*state)["usn"], 5);
    return Status::Ok();
  });
}

TEST_P(StoreAreas, DeletingAConnectionTakesItsMirrorAlong) {
  MustWrite([&](Transaction& tx) -> Status {
    if (auto s = PutGroup(tx, conn_, "g1", "Admins"); !s) return s.error();
    if (auto s = tx.AddMember(conn_, "g1", {"u1", "User", ""}); !s) return s.error();
    return tx.DeleteConnection(conn_);
  });
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_FALSE(tx.GetResource(conn_, ResourceType::kGroup, "g1"));
    auto groups = tx.GroupsOf(conn_, "u1");
    if (!groups) return groups.error();
    EXPECT_TRUE(groups->empty());
    return Status::Ok();
  });
}

TEST_P(StoreAreas, ConsoleAdminUsersSessionsAndActivity) {
  constexpr int64_t kHour = 3'600'000;
  int64_t alice_id = 0;
  MustWrite([&](Transaction& tx) -> Status {
    ConsoleArea& console = tx.Console();
    AdminUser alice{0, "alice", "admin", "$argon2id$a", true, FromUnixMillis(100),
                    FromUnixMillis(100)};
    auto made = console.CreateAdminUser(alice);
    if (!made) return made.error();
    alice_id = made->id;
    EXPECT_GT(alice_id, 0);
    auto again = console.CreateAdminUser(alice);
    EXPECT_FALSE(again);
    EXPECT_EQ(again ? ErrorCode::kInternal : again.error().code, ErrorCode::kUniqueness);
    // The refused insert leaves the transaction usable.
    auto bob = console.CreateAdminUser(
        {0, "bob", "viewer", "$argon2id$b", false, FromUnixMillis(200), FromUnixMillis(200)});
    if (!bob) return bob.error();
    if (auto s = console.SetAdminPassword("alice", "$argon2id$a2", false, FromUnixMillis(300));
        !s) {
      return s;
    }
    auto missing = console.SetAdminPassword("carol", "x", false, FromUnixMillis(300));
    EXPECT_EQ(missing ? ErrorCode::kInternal : missing.error().code, ErrorCode::kNotFound);
    for (const ConsoleSession& session :
         {ConsoleSession{"h1", alice_id, FromUnixMillis(1000), FromUnixMillis(1000)},
          ConsoleSession{"h2", alice_id, FromUnixMillis(1000), FromUnixMillis(1000)},
          ConsoleSession{"h3", alice_id, FromUnixMillis(1000), FromUnixMillis(1000)},
          ConsoleSession{"h4", bob->id, FromUnixMillis(10), FromUnixMillis(5000)}}) {
      if (auto s = console.CreateSession(session); !s) return s;
    }
    if (auto s = console.TouchSession("h1", FromUnixMillis(4000)); !s) return s;
    if (auto s = console.DeleteSessionsOf(alice_id, "h1"); !s) return s;
    // h4 was created too long ago; h1 was touched after the idle bound.
    auto expired = console.DeleteExpiredSessions(FromUnixMillis(2000), FromUnixMillis(100));
    if (!expired) return expired.error();
    EXPECT_EQ(*expired, 1);
    // Activity: three SCIM requests (one refused) and an administration record in hour 10,
    // one LDAP run in hour 11, one record before the window; two changes in hour 11.
    struct Rec { int64_t ms; const char* op; int status; };
    for (const Rec& rec : {Rec{9 * kHour, "create", 201}, Rec{10 * kHour, "create", 201},
                           Rec{10 * kHour + 5, "patch", 400}, Rec{10 * kHour + 9, "delete", 204},
                           Rec{10 * kHour + 7, "policy.set", 200},
                           Rec{11 * kHour + 1, "sync.run", 200}}) {
      AuditRecord a;
      a.time = FromUnixMillis(rec.ms);
      a.connection_id = conn_;
      a.operation = rec.op;
      a.status = rec.status;
      if (auto s = tx.AppendAudit(a); !s) return s;
    }
    for (int64_t ms : {9 * kHour, 11 * kHour, 11 * kHour + 2}) {
      ChangeRecord change;
      change.time = FromUnixMillis(ms);
      change.directory = "users";
      change.type = "User";
      change.op = "upsert";
      change.id = "u" + std::to_string(ms);
      if (auto seq = tx.AppendChange(change); !seq) return seq.error();
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    ConsoleArea& console = tx.Console();
    auto all = console.ListAdminUsers();
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 2u);
    if (all->size() == 2) {
      EXPECT_EQ((*all)[0].name, "alice");
      EXPECT_EQ((*all)[1].role, "viewer");
      EXPECT_FALSE((*all)[1].must_change_password);
    }
    auto alice = console.GetAdminUserById(alice_id);
    if (!alice) return alice.error();
    EXPECT_EQ(alice->hash, "$argon2id$a2");
    EXPECT_FALSE(alice->must_change_password);
    EXPECT_EQ(ToUnixMillis(alice->password_changed), 300);
    EXPECT_EQ(ToUnixMillis(alice->created), 100);
    auto h1 = console.GetSession("h1");
    if (!h1) return h1.error();
    EXPECT_EQ(h1->user_id, alice_id);
    EXPECT_EQ(ToUnixMillis(h1->last_seen), 4000);
    for (const char* gone : {"h2", "h3", "h4"}) {
      auto s = console.GetSession(gone);
      EXPECT_EQ(s ? ErrorCode::kInternal : s.error().code, ErrorCode::kNotFound) << gone;
    }
    auto hours = console.ActivityByHour(conn_, "users", FromUnixMillis(10 * kHour));
    if (!hours) return hours.error();
    EXPECT_EQ(hours->size(), 2u);
    if (hours->size() == 2) {
      EXPECT_EQ((*hours)[0].hour, 10 * kHour);
      EXPECT_EQ((*hours)[0].requests, 3);
      EXPECT_EQ((*hours)[0].errors, 1);
      EXPECT_EQ((*hours)[0].changes, 0);
      EXPECT_EQ((*hours)[1].hour, 11 * kHour);
      EXPECT_EQ((*hours)[1].requests, 1);
      EXPECT_EQ((*hours)[1].changes, 2);
    }
    auto last = console.LastAuditTime(conn_);
    if (!last) return last.error();
    EXPECT_TRUE(last->has_value());
    if (last->has_value()) {
      EXPECT_EQ(ToUnixMillis(**last), 11 * kHour + 1);
    }
    auto none = console.LastAuditTime(conn_ + 100);
    if (!none) return none.error();
    EXPECT_FALSE(none->has_value());
    // Writes through a read transaction are refused.
    EXPECT_FALSE(console.DeleteSession("h1"));
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    // Removing a user ends its sessions.
    if (auto s = tx.Console().DeleteAdminUser("alice"); !s) return s;
    auto again = tx.Console().DeleteAdminUser("alice");
    EXPECT_EQ(again ? ErrorCode::kInternal : again.error().code, ErrorCode::kNotFound);
    auto h1 = tx.Console().GetSession("h1");
    EXPECT_EQ(h1 ? ErrorCode::kInternal : h1.error().code, ErrorCode::kNotFound);
    return Status::Ok();
  });
}

EffectiveGroupRow MakeEGroup(const std::string& id, const std::string& name) {
  EffectiveGroupRow g;
  g.directory = "users";
  g.id = id;
  g.name = name;
  g.name_key = name;
  g.created = FromUnixMillis(6000);
  g.last_modified = FromUnixMillis(6000);
  return g;
}

TEST_P(StoreAreas, LdapAccountsSettingsScansLookupsPosixNumbersAndUsns) {
  int64_t generation = 0;
  MustRead([&](Transaction& tx) -> Status {
    auto g = tx.ConfigGeneration();
    if (!g) return g.error();
    generation = *g;
    auto none = tx.Ldap().GetLdapSettings("users");
    if (!none) return none.error();
    EXPECT_EQ(*none, Json::object());
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    LdapArea& ldap = tx.Ldap();
    for (const char* name : {"wiki", "app"}) {
      LdapAccount a{0, name, "users", "$argon2id$v=19$x", FromUnixMillis(7000),
                    FromUnixMillis(7000)};
      auto made = ldap.CreateLdapAccount(a);
      if (!made) return made.error();
      EXPECT_GT(made->id, 0);
    }
    auto dup = ldap.CreateLdapAccount({0, "app", "users", "h", FromUnixMillis(1), {}});
    EXPECT_EQ(dup ? ErrorCode::kInternal : dup.error().code, ErrorCode::kUniqueness);
    if (auto s = ldap.SetLdapAccountHash("app", "$argon2id$new", FromUnixMillis(8000)); !s) {
      return s;
    }
    Status missing = ldap.SetLdapAccountHash("nobody", "h", FromUnixMillis(8000));
    EXPECT_EQ(missing ? ErrorCode::kInternal : missing.error().code, ErrorCode::kNotFound);
    if (auto s = ldap.PutLdapSettings("users", {{"profile", "ad"}}); !s) return s;
    if (auto s = ldap.PutLdapSettings("users", {{"profile", "openldap"}}); !s) return s;
    // Users (one with its name's spaces doubled), groups, memberships, and the feed.
    for (auto [id, name] : {std::pair{"e1", "alice"}, std::pair{"e2", "bob  smith"},
                            std::pair{"e3", "carol"}}) {
      if (auto u = tx.PutEffectiveUser(MakeEUser(id, name)); !u) return u.error();
    }
    auto old = MakeEUser("e4", "dave");
    old.mail_key = "";
    if (auto u = tx.PutEffectiveUser(old); !u) return u.error();
    for (auto [id, name] : {std::pair{"g1", "admins"}, std::pair{"g2", "  staff "}}) {
      if (auto g = tx.PutEffectiveGroup(MakeEGroup(id, name)); !g) return g.error();
    }
    for (auto [g, u] : {std::pair{"g1", "e3"}, std::pair{"g1", "e1"}, std::pair{"g2", "e2"}}) {
      if (auto added = tx.AddEffectiveMember("users", g, u); !added) return added.error();
    }
    for (auto [type, op, id, member] :
         {std::tuple{"User", "upsert", "e1", ""}, std::tuple{"Group", "upsert", "g1", ""},
          std::tuple{"Membership", "add", "g1", "e1"}, std::tuple{"User", "upsert", "e1", ""},
          std::tuple{"User", "delete", "e9", ""}}) {
      ChangeRecord c;
      c.time = FromUnixMillis(9000);
      c.directory = "users";
      c.type = type;
      c.op = op;
      c.id = id;
      c.member_id = member;
      if (std::string(op) == "upsert") c.resource = {{"id", id}, {"n", 1}};
      if (std::string(id) == "e9") c.resource = nullptr;
      if (auto a = tx.AppendChange(c); !a) return a.error();
    }
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    return tx.Ldap().DeleteLdapAccount("wiki");
  });
  MustRead([&](Transaction& tx) -> Status {
    LdapArea& ldap = tx.Ldap();
    auto g = tx.ConfigGeneration();
    if (!g) return g.error();
    EXPECT_GT(*g, generation);  // accounts and settings bump it, as API tokens do
    auto accounts = ldap.ListLdapAccounts();
    if (!accounts) return accounts.error();
    EXPECT_EQ(accounts->size(), 1u);
    auto app = ldap.GetLdapAccount("app");
    if (!app) return app.error();
    EXPECT_EQ(app->hash, "$argon2id$new");
    EXPECT_EQ(ToUnixMillis(app->created), 7000);
    EXPECT_EQ(ToUnixMillis(app->rotated), 8000);
    auto gone = ldap.GetLdapAccount("wiki");
    EXPECT_EQ(gone ? ErrorCode::kInternal : gone.error().code, ErrorCode::kNotFound);
    auto settings = ldap.GetLdapSettings("users");
    if (!settings) return settings.error();
    EXPECT_EQ(*settings, (Json{{"profile", "openldap"}}));

    // Keyset scans: from after the first, at most two, in pk order; a visitor may stop.
    auto first = ldap.UserPk("users", "e1");
    if (!first) return first.error();
    std::vector<std::string> ids;
    auto scan = ldap.UsersAfter("users", *first, 2, [&](int64_t pk, const EffectiveUserRow& u) {
      EXPECT_GT(pk, *first);
      ids.push_back(u.id);
      return true;
    });
    if (!scan) return scan;
    EXPECT_EQ(ids, (std::vector<std::string>{"e2", "e3"}));
    std::vector<std::string> groups;
    auto gscan = ldap.GroupsAfter("users", 0, 10, [&](int64_t, const EffectiveGroupRow& grp) {
      groups.push_back(grp.id);
      return false;
    });
    if (!gscan) return gscan;
    EXPECT_EQ(groups, (std::vector<std::string>{"g1"}));
    std::vector<std::string> members;
    auto mscan = ldap.MembersAfter("users", "g1", 0, 10, [&](int64_t, const EffectiveUserRow& u) {
      members.push_back(u.id);
      return true;
    });
    if (!mscan) return mscan;
    EXPECT_EQ(members, (std::vector<std::string>{"e1", "e3"}));  // user pk order
    std::vector<std::string> names;
    auto nscan = ldap.MemberNames("users", "g1", [&](const MemberName& m) {
      names.push_back(m.username + "/" + m.state);
      return true;
    });
    if (!nscan) return nscan;
    EXPECT_EQ(names, (std::vector<std::string>{"alice/active", "carol/active"}));
    Status no_group = ldap.MemberNames("users", "g9", [](const MemberName&) { return true; });
    EXPECT_EQ(no_group ? ErrorCode::kInternal : no_group.error().code, ErrorCode::kNotFound);
    EXPECT_FALSE(ldap.GroupPk("users", "g9"));

    // Lookups.
    auto by_mail = ldap.FindUsersByMail("users", "carol@example.com");
    if (!by_mail) return by_mail.error();
    EXPECT_EQ(by_mail->size(), 1u);
    if (by_mail->size() != 1u) return MakeError(ErrorCode::kInternal, "by_mail: wrong count");
    EXPECT_EQ(by_mail->front().id, "e3");
    auto by_name = ldap.FindUsersByLdapName("users", "bob smith");
    if (!by_name) return by_name.error();
    EXPECT_EQ(by_name->size(), 1u);
    if (by_name->size() != 1u) return MakeError(ErrorCode::kInternal, "by_name: wrong count");
    EXPECT_EQ(by_name->front().id, "e2");
    auto by_cn = ldap.FindGroupsByLdapName("users", "staff");
    if (!by_cn) return by_cn.error();
    EXPECT_EQ(by_cn->size(), 1u);
    if (by_cn->size() != 1u) return MakeError(ErrorCode::kInternal, "by_cn: wrong count");
    EXPECT_EQ(by_cn->front().id, "g2");

    // POSIX numbers: one per id, users and groups counted apart, in creation order.
    auto u1 = ldap.PosixNumber("users", "user", "e1");
    auto u2 = ldap.PosixNumber("users", "user", "e2");
    auto g1 = ldap.PosixNumber("users", "group", "g1");
    if (!u1 || !u2 || !g1) return MakeError(ErrorCode::kInternal, "no POSIX number");
    EXPECT_LT(*u1, *u2);
    EXPECT_EQ(*g1, 1);
    EXPECT_FALSE(ldap.PosixNumber("users", "user", "e9"));
    EXPECT_FALSE(ldap.PosixNumber("users", "thing", "e1"));

    // The feed as the AD profile reads it.
    auto usn = ldap.UsnOf("users", "e1");
    if (!usn) return usn.error();
    EXPECT_EQ(usn->created, 1);
    EXPECT_EQ(usn->changed, 4);
    auto group_usn = ldap.UsnOf("users", "g1");
    if (!group_usn) return group_usn.error();
    EXPECT_EQ(group_usn->changed, 3);  // a membership change changes the group
    auto never = ldap.UsnOf("users", "e3");
    if (!never) return never.error();
    EXPECT_EQ(never->created, 0);
    auto keys = ldap.ChangeKeysAfter("users", 2, 2);
    if (!keys) return keys.error();
    EXPECT_EQ(keys->size(), 2u);
    if (keys->size() != 2u) return MakeError(ErrorCode::kInternal, "keys: wrong count");
    EXPECT_EQ((*keys)[0].seq, 3);
    EXPECT_EQ((*keys)[0].type, "Membership");
    EXPECT_EQ((*keys)[0].member_id, "e1");
    EXPECT_EQ(ToUnixMillis((*keys)[0].time), 9000);
    auto last = ldap.LastResourceOf("users", "e1");
    if (!last) return last.error();
    EXPECT_EQ(*last, (Json{{"id", "e1"}, {"n", 1}}));
    EXPECT_FALSE(ldap.LastResourceOf("users", "e9"));
    return Status::Ok();
  });
  // A user deleted and re-created under its id keeps its number; a new one gets a new number.
  int64_t before = 0;
  MustRead([&](Transaction& tx) -> Status {
    auto n = tx.Ldap().PosixNumber("users", "user", "e2");
    if (!n) return n.error();
    before = *n;
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    if (auto s = tx.DeleteEffectiveUser("users", "e2"); !s) return s;
    if (auto u = tx.PutEffectiveUser(MakeEUser("e2", "bob")); !u) return u.error();
    return AsStatus(tx.PutEffectiveUser(MakeEUser("e5", "erin")));
  });
  MustRead([&](Transaction& tx) -> Status {
    auto n = tx.Ldap().PosixNumber("users", "user", "e2");
    auto e5 = tx.Ldap().PosixNumber("users", "user", "e5");
    if (!n || !e5) return MakeError(ErrorCode::kInternal, "no POSIX number");
    EXPECT_EQ(*n, before);
    EXPECT_GT(*e5, before);
    return Status::Ok();
  });
}

// The explorer's search: each driving index, residual criteria, pages and their cursors, byte
// order whatever the database's collation.
EffectiveUserSearch Search(std::string name, std::string mail = "", std::string group = "",
                           std::string state = "", std::string after = "", int64_t limit = 2) {
  EffectiveUserSearch search;
  search.username_prefix = std::move(name);
  search.mail_prefix = std::move(mail);
  search.group_id = std::move(group);
  search.state = std::move(state);
  search.after = std::move(after);
  search.limit = limit;
  return search;
}

TEST_P(StoreAreas, ExplorerSearchPagesThroughEachIndex) {
  MustWrite([&](Transaction& tx) -> Status {
    int i = 0;
    for (const char* name : {"ann", "anna", "Anne", "annie", "bert", "an_x", "zed"}) {
      auto u = MakeEUser("u" + std::to_string(++i), name);
      u.username_key = name;
      u.mail_key = std::string(i % 2 == 0 ? "shared" : name) + "@example.com";
      if (i == 4) u.state = "disabled";
      if (auto s = tx.PutEffectiveUser(u); !s) return s.error();
    }
    if (auto g = tx.PutEffectiveGroup(MakeEGroup("g1", "team")); !g) return g.error();
    for (const char* u : {"u7", "u2", "u4"}) {
      if (auto a = tx.AddEffectiveMember("users", "g1", u); !a) return a.error();
    }
    return Status::Ok();
  });
  auto all_pages = [&](EffectiveUserSearch search, UserSearchIndex want) {
    std::vector<std::string> names;
    search.limit = 2;
    for (int guard = 0; guard < 10; ++guard) {
      Result<EffectiveUserPage> page = MakeError(ErrorCode::kInternal, "unread");
      MustRead([&](Transaction& tx) -> Status {
        page = tx.SearchEffectiveUsers("users", search);
        return AsStatus(page);
      });
      if (!page) break;
      EXPECT_EQ(page->index, want);
      for (const auto& u : page->users) names.push_back(u.username);
      if (page->next.empty()) break;
      search.after = page->next;
    }
    return names;
  };
  using Names = std::vector<std::string>;
  // Byte order: "Anne" before "an_x" before "ann", "_" (0x5F) before "n"; "an_" is no pattern.
  EXPECT_EQ(all_pages(Search(""), UserSearchIndex::kUsername),
            (Names{"Anne", "an_x", "ann", "anna", "annie", "bert", "zed"}));
  EXPECT_EQ(all_pages(Search("ann"), UserSearchIndex::kUsername),
            (Names{"ann", "anna", "annie"}));
  EXPECT_EQ(all_pages(Search("an_"), UserSearchIndex::kUsername), (Names{"an_x"}));
  EXPECT_EQ(all_pages(Search("ann", "", "", "active"), UserSearchIndex::kUsername),
            (Names{"ann", "anna"}));
  EXPECT_EQ(all_pages(Search("", "shared@"), UserSearchIndex::kMail),
            (Names{"anna", "annie", "an_x"}));  // equal mails by creation
  EXPECT_EQ(all_pages(Search("", "shared@", "g1"), UserSearchIndex::kMail),
            (Names{"anna", "annie"}));
  EXPECT_EQ(all_pages(Search("", "", "g1"), UserSearchIndex::kGroup),
            (Names{"anna", "annie", "zed"}));  // member user pk order
  EXPECT_EQ(all_pages(Search("", "", "g9"), UserSearchIndex::kGroup), Names{});
  EXPECT_EQ(all_pages(Search("", "", "", "disabled"), UserSearchIndex::kState), (Names{"annie"}));
  MustRead([&](Transaction& tx) -> Status {
    auto first = tx.SearchEffectiveUsers("users", Search("a", "", "", "", "", 1));
    if (!first) return first.error();
    EXPECT_FALSE(first->next.empty());
    // A cursor of another index, or not a cursor at all, is refused.
    for (std::string after : {first->next, std::string("!!"), std::string("bm8")}) {
      auto bad = tx.SearchEffectiveUsers("users", Search("", "a", "", "", after));
      EXPECT_EQ(bad ? ErrorCode::kInternal : bad.error().code, ErrorCode::kInvalidValue);
    }
    return Status::Ok();
  });
}

// The Activity page's user filter: records naming the effective user and those naming the
// source resources linked to it, in their own connection, merged in seq order.
TEST_P(StoreAreas, AuditOfAUserIncludesItsLinkedSourceResources) {
  MustWrite([&](Transaction& tx) -> Status {
    if (auto u = tx.PutEffectiveUser(MakeEUser("e1", "alice")); !u) return u.error();
    if (auto s = tx.PutLink({conn_, "s1", "users", "e1", false, "alice"}); !s) return s;
    int n = 0;
    for (auto [connection, resource] :
         {std::pair{conn_, "s1"}, std::pair{conn_, "e1"}, std::pair{conn_ + 1, "s1"},
          std::pair{conn_, "s2"}, std::pair{conn_, "s1"}}) {
      AuditRecord a;
      a.time = FromUnixMillis(10000 + n);
      a.connection_id = connection;
      a.request_id = "r" + std::to_string(++n);
      a.operation = "patch";
      a.resource_id = resource;
      a.status = 200;
      if (auto s = tx.AppendAudit(a); !s) return s;
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    AuditQuery q;
    q.resource_id = "e1";
    auto records = tx.ListAudit(q);
    if (!records) return records.error();
    std::vector<std::string> ids;
    for (const auto& r : *records) ids.push_back(r.request_id);
    EXPECT_EQ(ids, (std::vector<std::string>{"r1", "r2", "r5"}));
    q.limit = 2;
    records = tx.ListAudit(q);
    if (!records) return records.error();
    EXPECT_EQ(records->size(), 2u);
    q.limit = 100;
    q.connection_id = conn_ + 1;  // the link is in conn_: only records naming e1 there (none)
    records = tx.ListAudit(q);
    if (!records) return records.error();
    EXPECT_TRUE(records->empty());
    return Status::Ok();
  });
}

TEST_P(StoreAreas, PolicyApplyRecords) {
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_TRUE(tx.KeepsPolicyApplies());
    auto none = tx.GetPolicyApply("users");
    EXPECT_EQ(none ? ErrorCode::kInternal : none.error().code, ErrorCode::kNotFound);
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    if (auto s = tx.PutPolicyApply("users", {{"version", 3}, {"after", 10}}); !s) return s;
    return tx.PutPolicyApply("users", {{"version", 3}, {"after", 20}});  // replaces
  });
  MustRead([&](Transaction& tx) -> Status {
    auto record = tx.GetPolicyApply("users");
    if (!record) return record.error();
    EXPECT_EQ(*record, (Json{{"version", 3}, {"after", 20}}));
    EXPECT_FALSE(tx.GetPolicyApply("customers"));
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) { return tx.DeletePolicyApply("users"); });
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_FALSE(tx.GetPolicyApply("users"));
    return Status::Ok();
  });
}

// FindConflicts reads the conflicts with a wanted key (each once, whichever keys found it) and
// those stored before conflicts had keys, never the directory's others nor another directory's.
TEST_P(StoreAreas, ConflictsAreFoundByTheirKeysOnly) {
  auto conflict = [&](const std::string& directory, const std::string& sid,
                      std::optional<ConflictKeys> keys) {
    ConflictRecord c;
    c.directory = directory;
    c.connection_id = conn_;
    c.source_user_id = sid;
    c.username = keys ? keys->username : sid;
    c.detail = {{"reason", "taken"}};
    c.time = FromUnixMillis(4000);
    c.keys = std::move(keys);
    return c;
  };
  MustWrite([&](Transaction& tx) -> Status {
    for (const ConflictRecord& c : {
             conflict("users", "s1", ConflictKeys{"alice", "key-a", "a\"l\\ice"}),
             conflict("users", "s2", ConflictKeys{"bob", "key-b", "bname"}),
             conflict("users", "s3", ConflictKeys{"carol", "key-c", "cname"}),  // two keys
             conflict("users", "s4", ConflictKeys{"dave", "", ""}),
             conflict("users", "s5", std::nullopt),  // stored before conflicts had keys
             conflict("others", "s6", ConflictKeys{"carol", "key-c", "bname"}),
             conflict("others", "s7", std::nullopt),
         }) {
      if (auto s = tx.PutConflict(c); !s) return s;
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    ConflictLookup wanted;
    wanted.usernames = {"carol", "nobody"};
    wanted.link_keys = {"key-c"};
    // s1's name, but of another connection: not s1's key.
    wanted.source_names = {{conn_, "bname"}, {conn_ + 1000, "a\"l\\ice"}};
    auto found = tx.FindConflicts("users", wanted);
    if (!found) return found.error();
    std::vector<std::string> ids;
    for (const auto& c : *found) ids.push_back(c.source_user_id);
    EXPECT_EQ(ids, (std::vector<std::string>{"s2", "s3", "s5"}));
    if (ids.size() == 3) {
      EXPECT_FALSE((*found)[2].keys);
      EXPECT_TRUE((*found)[1].keys);
      if ((*found)[1].keys) {
        EXPECT_EQ((*found)[1].keys->username, "carol");
        EXPECT_EQ((*found)[1].keys->link_key, "key-c");
        EXPECT_EQ((*found)[1].keys->source_name, "cname");
      }
    }
    // Each key alone.
    ConflictLookup by_name;
    by_name.usernames = {"dave"};
    ConflictLookup by_key;
    by_key.link_keys = {"key-a"};
    ConflictLookup by_source;
    by_source.source_names = {{conn_, "a\"l\\ice"}};
    for (const auto& [lookup, expected] :
         {std::make_pair(by_name, std::vector<std::string>{"s4", "s5"}),
          std::make_pair(by_key, std::vector<std::string>{"s1", "s5"}),
          std::make_pair(by_source, std::vector<std::string>{"s1", "s5"}),
          std::make_pair(ConflictLookup{}, std::vector<std::string>{"s5"})}) {
      auto one = tx.FindConflicts("users", lookup);
      if (!one) return one.error();
      std::vector<std::string> got;
      for (const auto& c : *one) got.push_back(c.source_user_id);
      EXPECT_EQ(got, expected);
    }
    // ListConflicts returns the keys as stored.
    auto all = tx.ListConflicts("users");
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 5u);
    if (!all->empty() && all->front().keys) {
      EXPECT_EQ(all->front().keys->source_name, "a\"l\\ice");
    } else {
      ADD_FAILURE() << "s1 lost its keys";
    }
    return Status::Ok();
  });
}

INSTANTIATE_TEST_SUITE_P(BothBackEnds, StoreAreas, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& param_info) { return param_info.param; });

// Two instances on one database, PostgreSQL only.
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
