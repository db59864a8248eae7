// DirectoryService over a real SqliteStore: the scope cache follows every configuration change,
// including changes by another process and changes that were rolled back.
#include "directory/directory_service.h"

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include "base/strings.h"
#include "directory/prepared_user.h"
#include "directory/stored_user.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/sqlite_store.h"

namespace idsync::directory {
namespace {

using scim::ResourceType;

const char kUserId[] = "aaaaaaaa-0000-0000-0000-000000000001";

// A policy whose displayName is `prefix` followed by the source's userName.
Json PolicyNaming(const std::string& prefix) {
  return {
      {"attributes", {{"displayName", {{"sources", {{{"template", prefix + " {userName}"}}}}}}}}};
}

class DirectoryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/idsync-dir-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store_ = Open();
    ASSERT_TRUE(store_);
    directory_ = std::make_unique<DirectoryService>(*store_, SystemClock::Instance());
    Status st = store_->Write([&](store::Transaction& tx) -> Status {
      store::Connection c;
      c.uuid = "11111111-2222-3333-4444-555555555555";
      c.name = "idp";
      c.directory = "users";
      c.kind = "scim";
      c.created = SystemClock::Instance().Now();
      auto created = tx.CreateConnection(c);
      if (!created) return created.error();
      connection_ = *created;
      store::StoredResource r;
      r.id = kUserId;
      r.type = ResourceType::kUser;
      r.body = {{"schemas", {std::string(scim::kUserSchema)}}, {"userName", "alice"}};
      r.created = r.last_modified = SystemClock::Instance().Now();
      auto put =
          tx.PutResource(connection_.id, r, FoldCase("alice"), {{"userName", FoldCase("alice")}});
      return put ? Status::Ok() : Status(put.error());
    });
    ASSERT_TRUE(st) << st.error().detail;
  }

  void TearDown() override {
    directory_.reset();
    if (store_) store_->Close();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<store::sqlite::SqliteStore> Open() {
    auto store = store::sqlite::SqliteStore::Open(dir_, {});
    EXPECT_TRUE(store) << store.error().detail;
    return store ? std::move(*store) : nullptr;
  }

  // Re-derives alice as a SCIM write of her would, inside `tx`.
  Status Derive(store::Transaction& tx) {
    service::MirrorChange change;
    change.connection = &connection_;
    change.users = {kUserId};
    change.actor = "test";
    change.operation = "patch";
    return directory_->OnMirrorChanged(tx, change);
  }

  Status DeriveAlone() {
    return store_->Write([&](store::Transaction& tx) { return Derive(tx); });
  }

  static Status PutPolicy(store::Transaction& tx, int64_t connection_id, const Json& body) {
    store::PolicyVersion p;
    p.connection_id = connection_id;
    p.body = body;
    p.time = SystemClock::Instance().Now();
    p.actor = "test";
    auto put = tx.PutPolicy(p);
    return put ? Status::Ok() : Status(put.error());
  }

  // Creates SCIM user `name` (id `id`) as ScimService::Create does: the mirror row and its
  // derivation in one job, handed `prepared` (PrepareCreatedUser before the job, or nullptr).
  Status CreateUser(const std::string& id, const std::string& name,
                    std::shared_ptr<const service::MirrorPreparation> prepared) {
    return store_->Write([&](store::Transaction& tx) -> Status {
      auto put = tx.PutResource(connection_.id, NewUser(id, name), FoldCase(name), {});
      if (!put) return put.error();
      service::MirrorChange change;
      change.connection = &connection_;
      change.users = {id};
      change.request_id = "req-" + name;
      change.actor = "test";
      change.operation = "create";
      change.prepared = std::move(prepared);
      return directory_->OnMirrorChanged(tx, change);
    });
  }

  static store::StoredResource NewUser(const std::string& id, const std::string& name) {
    store::StoredResource r;
    r.id = id;
    r.type = ResourceType::kUser;
    r.body = {{"schemas", {std::string(scim::kUserSchema)}}, {"userName", name}};
    r.created = r.last_modified = SystemClock::Instance().Now();
    return r;
  }

  // The effective user linked to source user `id`, and the change-feed entries about it.
  store::EffectiveUserRow EffectiveOf(const std::string& id,
                                      std::vector<store::ChangeRecord>* changes = nullptr) {
    store::EffectiveUserRow out;
    Status st = store_->Read([&](store::Transaction& tx) -> Status {
      auto link = tx.GetLink(connection_.id, id);
      if (!link) return link.error();
      auto row = tx.GetEffectiveUser("users", link->effective_user_id);
      if (!row) return row.error();
      out = std::move(*row);
      if (changes) {
        auto all = tx.ListChangesOf("users", out.id, 0, 100);
        if (!all) return all.error();
        *changes = std::move(*all);
      }
      return Status::Ok();
    });
    EXPECT_TRUE(st) << st.error().detail;
    return out;
  }

  // alice's effective displayName as stored.
  std::string DisplayName() {
    std::string out;
    Status st = store_->Read([&](store::Transaction& tx) -> Status {
      auto row = tx.FindEffectiveUserByUsername("users", FoldCase("alice"));
      if (!row) return row.error();
      out = row->body["attributes"]["displayName"].value("value", "");
      return Status::Ok();
    });
    EXPECT_TRUE(st) << st.error().detail;
    return out;
  }

  std::string dir_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  std::unique_ptr<DirectoryService> directory_;
  store::Connection connection_;
};

TEST_F(DirectoryServiceTest, FollowsPolicyChangesOfThisProcess) {
  ASSERT_TRUE(store_->Write(
      [&](store::Transaction& tx) { return PutPolicy(tx, connection_.id, PolicyNaming("One")); }));
  ASSERT_TRUE(DeriveAlone());
  EXPECT_EQ(DisplayName(), "One alice");
  ASSERT_TRUE(DeriveAlone());  // from the cached scope
  EXPECT_EQ(DisplayName(), "One alice");
  ASSERT_TRUE(store_->Write(
      [&](store::Transaction& tx) { return PutPolicy(tx, connection_.id, PolicyNaming("Two")); }));
  ASSERT_TRUE(DeriveAlone());
  EXPECT_EQ(DisplayName(), "Two alice");
}

TEST_F(DirectoryServiceTest, FollowsPolicyChangesOfAnotherProcess) {
  ASSERT_TRUE(DeriveAlone());  // default policy, scope cached
  auto other = Open();         // as the CLI would
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->Write(
      [&](store::Transaction& tx) { return PutPolicy(tx, connection_.id, PolicyNaming("Cli")); }));
  other->Close();
  ASSERT_TRUE(DeriveAlone());
  EXPECT_EQ(DisplayName(), "Cli alice");
}

TEST_F(DirectoryServiceTest, SeesItsOwnUncommittedPolicyChange) {
  ASSERT_TRUE(DeriveAlone());
  ASSERT_TRUE(store_->Write([&](store::Transaction& tx) -> Status {
    if (Status s = PutPolicy(tx, connection_.id, PolicyNaming("Same tx")); !s) return s;
    return Derive(tx);
  }));
  EXPECT_EQ(DisplayName(), "Same tx alice");
}

TEST_F(DirectoryServiceTest, RolledBackPolicyChangeIsNotCached) {
  ASSERT_TRUE(DeriveAlone());
  // Derives under a policy that is then rolled back: its configuration generation is never
  // committed, and the next change commits the same number with another policy.
  Status failed = store_->Write([&](store::Transaction& tx) -> Status {
    if (Status s = PutPolicy(tx, connection_.id, PolicyNaming("Rolled back")); !s) return s;
    if (Status s = Derive(tx); !s) return s;
    return MakeError(ErrorCode::kInvalidValue, "the job fails after deriving");
  });
  ASSERT_FALSE(failed);
  auto before = store_->ConfigGeneration();
  ASSERT_TRUE(before);
  ASSERT_TRUE(store_->Write([&](store::Transaction& tx) {
    return PutPolicy(tx, connection_.id, PolicyNaming("Committed"));
  }));
  auto after = store_->ConfigGeneration();
  ASSERT_TRUE(after);
  ASSERT_EQ(*after, *before + 1);  // the number the rolled-back job had seen
  ASSERT_TRUE(DeriveAlone());
  EXPECT_EQ(DisplayName(), "Committed alice");
}

TEST_F(DirectoryServiceTest, PreviewOverridesDoNotLeakIntoWrites) {
  ASSERT_TRUE(store_->Write([&](store::Transaction& tx) {
    return PutPolicy(tx, connection_.id, PolicyNaming("Stored"));
  }));
  ASSERT_TRUE(DeriveAlone());
  auto preview = directory_->PreviewPolicy("idp", PolicyNaming("Previewed"));
  ASSERT_TRUE(preview) << preview.error().detail;
  ASSERT_TRUE(DeriveAlone());
  EXPECT_EQ(DisplayName(), "Stored alice");
}

}  // namespace
}  // namespace idsync::directory

namespace idsync::directory {
namespace {

// The LDAP server finds users by (mail=...) through EffectiveUserRow::mail_key: the folded
// effective e-mail, written on every derivation, and filled in for a row stored before the
// column existed (NULL) even when nothing else about the user changed.
TEST_F(DirectoryServiceTest, StoresTheFoldedMailKeyAndFillsInAnUnknownOne) {
  auto mail_key = [&] {
    std::string out = "?";
    Status st = store_->Read([&](store::Transaction& tx) -> Status {
      auto row = tx.FindEffectiveUserByUsername("users", FoldCase("alice"));
      if (!row) return row.error();
      out = row->mail_key;
      return Status::Ok();
    });
    EXPECT_TRUE(st) << st.error().detail;
    return out;
  };
  ASSERT_TRUE(DeriveAlone());
  EXPECT_EQ(mail_key(), "");  // no e-mail yet
  Status st = store_->Write([&](store::Transaction& tx) -> Status {
    store::StoredResource r;
    r.id = kUserId;
    r.type = ResourceType::kUser;
    r.body = {{"schemas", {std::string(scim::kUserSchema)}},
              {"userName", "alice"},
              {"emails", {{{"value", "Alice@Example.COM"}, {"primary", true}}}}};
    r.created = r.last_modified = SystemClock::Instance().Now();
    auto put =
        tx.PutResource(connection_.id, r, FoldCase("alice"), {{"userName", FoldCase("alice")}});
    if (!put) return put.error();
    return Derive(tx);
  });
  ASSERT_TRUE(st) << st.error().detail;
  EXPECT_EQ(mail_key(), "alice@example.com");

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(store_->path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "UPDATE effective_users SET mail_key = NULL", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(mail_key(), "");  // NULL reads as ""
  ASSERT_TRUE(DeriveAlone());
  EXPECT_EQ(mail_key(), "alice@example.com");
}

// A derivation stores only the links that changed: an update of a linked user that leaves its
// link as it is (a new title) sends no statement for it, one that changes it (a new userName,
// the link's source_name) does.
TEST_F(DirectoryServiceTest, ALinkIsStoredAgainOnlyWhenItChanges) {
  ASSERT_TRUE(DeriveAlone());
  auto update = [&](const std::string& username, const std::string& title) {
    return store_->Write([&](store::Transaction& tx) -> Status {
      store::StoredResource r = NewUser(kUserId, username);
      r.body["title"] = title;
      auto put =
          tx.PutResource(connection_.id, r, FoldCase(username), {{"userName", FoldCase(username)}});
      if (!put) return put.error();
      return Derive(tx);
    });
  };
  const int before = store_->WriterRuns(store::sqlite::sql::kPutLink);
  ASSERT_GE(before, 1);  // the link of the first derivation
  ASSERT_TRUE(update("alice", "Engineer"));
  EXPECT_EQ(store_->WriterRuns(store::sqlite::sql::kPutLink), before);
  ASSERT_TRUE(update("alice.liddell", "Engineer"));
  EXPECT_EQ(store_->WriterRuns(store::sqlite::sql::kPutLink), before + 1);
  EXPECT_EQ(EffectiveOf(kUserId).username, "alice.liddell");
}

// A create prepared before its job (prepared_user.h) is written as prepared: the effective user
// under the prepared id, its row stamped at the request's time, its change-feed entry the
// prepared representation; and it equals what the job derives by itself for the same user.
TEST_F(DirectoryServiceTest, ACreatePreparedBeforeItsJobIsWrittenAsPrepared) {
  ASSERT_TRUE(store_->Write(
      [&](store::Transaction& tx) { return PutPolicy(tx, connection_.id, PolicyNaming("Hi")); }));
  ASSERT_TRUE(DeriveAlone());  // the scope is cached at the committed generation
  const std::string bob = "aaaaaaaa-0000-0000-0000-000000000002";
  auto prepared = directory_->PrepareCreatedUser(connection_, NewUser(bob, "bob"), "req-bob", 0);
  ASSERT_TRUE(prepared);
  const auto& p = dynamic_cast<const PreparedUser&>(*prepared);
  ASSERT_TRUE(CreateUser(bob, "bob", prepared));
  std::vector<store::ChangeRecord> changes;
  const store::EffectiveUserRow row = EffectiveOf(bob, &changes);
  EXPECT_EQ(row.id, p.plan.id);
  EXPECT_EQ(row.body, p.row.body);
  EXPECT_EQ(row.created, FromUnixMillis(ToUnixMillis(p.now)));
  EXPECT_EQ(row.body["attributes"]["displayName"].value("value", ""), "Hi bob");
  const EntryProvenance provenance = ProvenanceOf(row.body, row.body["attributes"]["displayName"]);
  ASSERT_NE(provenance.request_id, nullptr);
  EXPECT_EQ(*provenance.request_id, "req-bob");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].resource, p.core);

  // The same user created without a preparation: the same row but for its id and times.
  const std::string carol = "aaaaaaaa-0000-0000-0000-000000000003";
  auto other = directory_->PrepareCreatedUser(connection_, NewUser(carol, "carol"), "req-carol", 0);
  ASSERT_TRUE(other);
  ASSERT_TRUE(CreateUser(carol, "carol", nullptr));
  store::EffectiveUserRow derived = EffectiveOf(carol);
  const auto& q = dynamic_cast<const PreparedUser&>(*other);
  EXPECT_NE(derived.id, q.plan.id);
  Json expected = q.row.body;
  for (auto* body : {&expected, &derived.body}) {
    for (auto& stamp : (*body)["stamps"]) stamp.erase("time");
  }
  EXPECT_EQ(derived.body, expected);
  EXPECT_EQ(derived.username, q.row.username);
  EXPECT_EQ(derived.state, q.row.state);
}

// A create prepared before a policy change that commits ahead of its job: the preparation was
// made on a scope the job no longer uses, so the job derives the user with the new policy.
TEST_F(DirectoryServiceTest, ACreatePreparedBeforeAPolicyChangeIsDerivedWithTheNewPolicy) {
  ASSERT_TRUE(store_->Write(
      [&](store::Transaction& tx) { return PutPolicy(tx, connection_.id, PolicyNaming("Old")); }));
  ASSERT_TRUE(DeriveAlone());
  const std::string bob = "aaaaaaaa-0000-0000-0000-000000000002";
  auto prepared = directory_->PrepareCreatedUser(connection_, NewUser(bob, "bob"), "req-bob", 0);
  ASSERT_TRUE(prepared);
  const auto& p = dynamic_cast<const PreparedUser&>(*prepared);
  EXPECT_EQ(p.row.body["attributes"]["displayName"].value("value", ""), "Old bob");
  ASSERT_TRUE(store_->Write(
      [&](store::Transaction& tx) { return PutPolicy(tx, connection_.id, PolicyNaming("New")); }));
  ASSERT_TRUE(CreateUser(bob, "bob", prepared));
  const store::EffectiveUserRow row = EffectiveOf(bob);
  EXPECT_EQ(row.body["attributes"]["displayName"].value("value", ""), "New bob");
  EXPECT_NE(row.id, p.plan.id);
}

// Nothing is prepared while the directory's scope is not cached for the committed generation
// (the job loads it), nor for a user the job would not create as a plain new user.
TEST_F(DirectoryServiceTest, NothingIsPreparedWithoutACachedScopeOrForAUserThatIsNotMapped) {
  const std::string bob = "aaaaaaaa-0000-0000-0000-000000000002";
  EXPECT_FALSE(directory_->PrepareCreatedUser(connection_, NewUser(bob, "bob"), "r", 0));
  ASSERT_TRUE(DeriveAlone());
  EXPECT_TRUE(directory_->PrepareCreatedUser(connection_, NewUser(bob, "bob"), "r", 0));
  store::StoredResource nameless = NewUser(bob, "bob");
  nameless.body.erase("userName");
  EXPECT_FALSE(directory_->PrepareCreatedUser(connection_, nameless, "r", 0));
}

}  // namespace
}  // namespace idsync::directory
