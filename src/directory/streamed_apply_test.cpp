// The streamed preview and the batched apply (issue #13 items 1-2) over a real SqliteStore: the
// preview's counts are what the apply writes, a batched apply reaches what the whole plan
// reaches (a re-derivation after it changes nothing), and an apply stopped half-way (as a killed
// process leaves it: the policy stored, the record at its last batch) is finished by
// ResumeApplies to the same end state as an uninterrupted apply of an identical directory.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/strings.h"
#include "directory/directory_service.h"
#include "directory/stored_user.h"
#include "policy/diff.h"
#include "store/sqlite/sqlite_store.h"

namespace idsync::directory {
namespace {

using scim::ResourceType;

constexpr int kUsers = 230;  // with batch 20: 12 batches per pass, the last one short

std::string SourceId(int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "aaaaaaaa-0000-4000-8000-%012d", n);
  return buf;
}

// A policy that changes every user: displayName from userName, everyone in "everyone", users
// of source group "old" dropped from it; the username from the e-mail (every third user has
// one: renames, two of which collide), else the nickName (users without either, every 17th
// but not third, are no longer mappable: deleted, and on_delete removes them).
Json BigPolicy() {
  return {{"attributes",
           {{"displayName", {{"sources", {"userName"}}}},
            {"username", {{"sources", {"emails.value", "nickName"}}}}}},
          {"users", {{"on_delete", "delete"}}},
          {"groups", {{"exclude", {"^old$"}}, {"default_groups_all_users", {"everyone"}}}}};
}

class StreamedApplyTest : public ::testing::Test {
 protected:
  struct Folder {
    std::string path;
    std::unique_ptr<store::sqlite::SqliteStore> store;
    std::unique_ptr<DirectoryService> directory;
    store::Connection connection;
  };

  void TearDown() override {
    for (auto* f : {&a_, &b_, &c_}) {
      f->directory.reset();
      if (f->store) f->store->Close();
      f->store.reset();
      if (!f->path.empty()) std::filesystem::remove_all(f->path);
    }
  }

  // kUsers users, derived as SCIM creates derive them; group "old" holds every fifth.
  void Fill(Folder& f) {
    std::string pattern =
        std::filesystem::temp_directory_path().string() + "/idsync-streamed-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    f.path = pattern;
    auto store = store::sqlite::SqliteStore::Open(f.path, {});
    ASSERT_TRUE(store) << store.error().detail;
    f.store = std::move(*store);
    f.directory = std::make_unique<DirectoryService>(*f.store, SystemClock::Instance());
    Status st = f.store->Write([&](store::Transaction& tx) -> Status {
      store::Connection c;
      c.uuid = "11111111-2222-3333-4444-555555555555";
      c.name = "idp";
      c.directory = "users";
      c.kind = "scim";
      c.created = SystemClock::Instance().Now();
      auto created = tx.CreateConnection(c);
      if (!created) return created.error();
      f.connection = *created;
      service::MirrorChange change;
      change.connection = &f.connection;
      change.actor = "test";
      change.operation = "create";
      for (int n = 0; n < kUsers; ++n) {
        store::StoredResource r;
        r.id = SourceId(n);
        r.type = ResourceType::kUser;
        std::string name = "user" + std::to_string(n);
        // Users 3 and 6 both map to "shared@example.com" under the new policy.
        std::string mail = (n == 3 || n == 6) ? "shared@example.com"
                           : n % 3 == 0       ? name + "@example.com"
                                              : "";
        r.body = {{"schemas", {std::string(scim::kUserSchema)}}, {"userName", name}};
        if (n % 17 != 0) r.body["nickName"] = name;
        if (!mail.empty()) r.body["emails"] = {{{"value", mail}, {"primary", true}}};
        r.created = r.last_modified = SystemClock::Instance().Now();
        auto put = tx.PutResource(f.connection.id, r, name, {{"userName", name}});
        if (!put) return put.error();
        change.users.insert(r.id);
      }
      store::StoredResource g;
      g.id = "bbbbbbbb-0000-4000-8000-000000000001";
      g.type = ResourceType::kGroup;
      g.body = {{"schemas", {std::string(scim::kGroupSchema)}}, {"displayName", "old"}};
      g.created = g.last_modified = SystemClock::Instance().Now();
      auto put = tx.PutResource(f.connection.id, g, "old", {{"displayName", "old"}});
      if (!put) return put.error();
      for (int n = 0; n < kUsers; n += 5) {
        auto added = tx.AddMember(f.connection.id, g.id, {SourceId(n), "User", ""});
        if (!added) return added.error();
      }
      return f.directory->OnMirrorChanged(tx, change);
    });
    ASSERT_TRUE(st) << st.error().detail;
  }

  // The effective directory by username: state, attributes, groups (no ids, no provenance);
  // and the change feed's entries by (type, op), and its length.
  static std::map<std::string, Json> State(Folder& f) {
    std::map<std::string, Json> out;
    Status st = f.store->Read([&](store::Transaction& tx) -> Status {
      std::map<std::string, std::string> names;  // id -> username
      Status s = tx.ScanEffectiveUsers("users", [&](const store::EffectiveUserRow& row) {
        policy::UserSnapshot snap = policy::Snapshot(UserOf(row));
        Json attrs = Json::object();
        for (const auto& [k, v] : snap.attributes) attrs[k] = v;
        out["user " + row.username] = {{"state", row.state},
                                       {"attributes", attrs},
                                       {"groups", snap.groups}};
        names[row.id] = row.username;
        return true;
      });
      if (!s) return s;
      auto changes = tx.ListChanges("users", 0, 1000000);
      if (!changes) return changes.error();
      std::map<std::string, int> kinds;
      for (const auto& c : *changes) ++kinds[c.type + " " + c.op];
      for (const auto& [k, n] : kinds) out["feed " + k] = n;
      auto conflicts = tx.ListConflicts("users");
      if (!conflicts) return conflicts.error();
      out["conflicts"] = static_cast<int64_t>(conflicts->size());
      return Status::Ok();
    });
    EXPECT_TRUE(st) << st.error().detail;
    return out;
  }

  static size_t ChangeCount(Folder& f) {
    size_t n = 0;
    Status st = f.store->Read([&](store::Transaction& tx) -> Status {
      auto changes = tx.ListChanges("users", 0, 1000000);
      if (!changes) return changes.error();
      n = changes->size();
      return Status::Ok();
    });
    EXPECT_TRUE(st);
    return n;
  }

  static bool Recorded(Folder& f) {
    bool recorded = false;
    Status st = f.store->Read([&](store::Transaction& tx) -> Status {
      auto r = tx.GetPolicyApply("users");
      recorded = static_cast<bool>(r);
      return Status::Ok();
    });
    EXPECT_TRUE(st);
    return recorded;
  }

  // A second connection of the directory, its sources added with AddSource.
  static store::Connection AddConnection(Folder& f, const std::string& name,
                                         const std::string& uuid) {
    store::Connection out;
    Status st = f.store->Write([&](store::Transaction& tx) -> Status {
      store::Connection c;
      c.uuid = uuid;
      c.name = name;
      c.directory = "users";
      c.kind = "scim";
      c.created = SystemClock::Instance().Now();
      auto created = tx.CreateConnection(c);
      if (!created) return created.error();
      out = *created;
      return Status::Ok();
    });
    EXPECT_TRUE(st) << st.error().detail;
    return out;
  }

  // A source user created (or, `body` null, deleted) in the mirror, derived as a SCIM write.
  static void Source(Folder& f, const store::Connection& conn, const std::string& id,
                     const Json& body) {
    Status st = f.store->Write([&](store::Transaction& tx) -> Status {
      service::MirrorChange change;
      change.connection = &conn;
      change.actor = "test";
      change.users.insert(id);
      if (body.is_null()) {
        change.operation = "delete";
        if (Status s = tx.DeleteResource(conn.id, ResourceType::kUser, id); !s) return s;
      } else {
        change.operation = "create";
        store::StoredResource r;
        r.id = id;
        r.type = ResourceType::kUser;
        r.body = body;
        r.created = r.last_modified = SystemClock::Instance().Now();
        std::string name = body.value("userName", "");
        auto put = tx.PutResource(conn.id, r, FoldCase(name), {{"userName", FoldCase(name)}});
        if (!put) return put.error();
      }
      return f.directory->OnMirrorChanged(tx, change);
    });
    ASSERT_TRUE(st) << st.error().detail;
  }

  // Whether every source user of the directory is linked (the steady state).
  static bool Steady(Folder& f) {
    bool unlinked = false;
    Status st = f.store->Read([&](store::Transaction& tx) -> Status {
      auto conns = tx.ListConnections();
      if (!conns) return conns.error();
      for (const auto& c : *conns) {
        Status s = tx.ScanResources(c.id, ResourceType::kUser, [&](const store::StoredResource& r) {
          if (!tx.GetLink(c.id, r.id)) unlinked = true;
          return true;
        });
        if (!s) return s;
      }
      return Status::Ok();
    });
    EXPECT_TRUE(st);
    return !unlinked;
  }

  // `policy` applied to `connection` on a_ streamed (batches of 7: phase 0, then each pass in
  // several batches) and on b_ by the whole plan (the policy stored, its apply record dropped,
  // then `rederive --whole`): the same end state (users by username, the change feed's entries
  // by kind, the conflicts), the preview's counts equal to what the streamed apply wrote and to
  // the whole plan's counts. Then on c_, stopped after `stop` batches (as a killed process
  // leaves it) and resumed by a new process: the same end state again.
  void ExpectStreamedIsWhole(const std::string& connection, const Json& policy, int64_t stop) {
    auto preview = a_.directory->PreviewPolicy(connection, policy);
    ASSERT_TRUE(preview) << preview.error().detail;
    const Json& counts = (*preview)["counts"];
    ApplyOptions options;
    options.batch = 7;
    options.batch_ms = 0;
    auto applied = a_.directory->ApplyPolicy(connection, policy, {}, options);
    ASSERT_TRUE(applied) << applied.error().detail;
    EXPECT_EQ((*applied)["counts"], counts) << (*applied)["counts"].dump() << " vs preview "
                                            << counts.dump();
    EXPECT_EQ((*applied)["conflicts"], (*preview)["conflicts"]);
    for (const char* k : {"created", "updated", "disabled", "enabled", "removed",
                          "memberships_added", "memberships_removed"}) {
      EXPECT_EQ((*applied)["applied"][k], counts[k]) << k;
    }
    EXPECT_FALSE(Recorded(a_));

    ApplyOptions none;
    none.stop_after_batches = 0;
    ASSERT_FALSE(b_.directory->ApplyPolicy(connection, policy, {}, none));
    Status st = b_.store->Write(
        [&](store::Transaction& tx) -> Status { return tx.DeletePolicyApply("users"); });
    ASSERT_TRUE(st) << st.error().detail;
    auto whole = b_.directory->Rederive("users", {}, /*whole=*/true);
    ASSERT_TRUE(whole) << whole.error().detail;
    EXPECT_EQ((*whole)["counts"], counts) << (*whole)["counts"].dump();
    EXPECT_EQ(State(a_), State(b_));

    ApplyOptions stopped = options;
    stopped.stop_after_batches = stop;
    ASSERT_FALSE(c_.directory->ApplyPolicy(connection, policy, {}, stopped));
    ASSERT_TRUE(Recorded(c_));
    c_.directory = std::make_unique<DirectoryService>(*c_.store, SystemClock::Instance());
    auto resumed = c_.directory->ResumeApplies();
    ASSERT_TRUE(resumed) << resumed.error().detail;
    ASSERT_EQ(resumed->size(), 1u);
    EXPECT_EQ((*resumed)[0]["result"]["counts"], counts);
    EXPECT_FALSE(Recorded(c_));
    EXPECT_EQ(State(a_), State(c_)) << "stopped after " << stop << " batches";
  }

  // The same steps on every folder in use.
  template <typename F>
  void Each(F&& step) {
    for (auto* f : {&a_, &b_, &c_}) {
      if (f->store) step(*f);
    }
  }

  Folder a_, b_, c_;
};

TEST_F(StreamedApplyTest, PreviewCountsAreWhatTheBatchedApplyWrites) {
  Fill(a_);
  auto preview = a_.directory->PreviewPolicy("idp", BigPolicy());
  ASSERT_TRUE(preview) << preview.error().detail;
  const Json& counts = (*preview)["counts"];
  EXPECT_GT(counts["updated"].get<int>(), kUsers / 2);
  EXPECT_GT(counts["removed"].get<int>(), 0);
  EXPECT_GT(counts["memberships_removed"].get<int>(), 0);
  EXPECT_EQ(counts["groups_created"], 1);  // everyone
  EXPECT_EQ(counts["groups_emptied"], 1);  // old
  EXPECT_EQ((*preview)["conflicts"], 1);   // user3 and user6 want shared@example.com
  ApplyOptions options;
  options.batch = 20;
  auto applied = a_.directory->ApplyPolicy("idp", BigPolicy(), {}, options);
  ASSERT_TRUE(applied) << applied.error().detail;
  EXPECT_EQ((*applied)["counts"], counts);
  EXPECT_EQ((*applied)["conflicts"], (*preview)["conflicts"]);
  for (const char* k : {"created", "updated", "disabled", "enabled", "removed",
                        "memberships_added", "memberships_removed"}) {
    EXPECT_EQ((*applied)["applied"][k], counts[k]) << k;
  }
  EXPECT_FALSE(Recorded(a_));
  // What the whole plan makes of the same mirrors: nothing left to change.
  auto again = a_.directory->Rederive("users", {}, /*whole=*/true);
  ASSERT_TRUE(again) << again.error().detail;
  for (const auto& [k, v] : (*again)["counts"].items()) EXPECT_EQ(v, 0) << k;
  auto second = a_.directory->PreviewPolicy("idp", BigPolicy());
  ASSERT_TRUE(second);
  for (const auto& [k, v] : (*second)["counts"].items()) EXPECT_EQ(v, 0) << k;
}

// Batches sized by time (ApplyOptions::batch_ms; 1 ms makes them shrink and grow from one batch
// to the next) write what fixed batches write: the counts and the end state are the same.
TEST_F(StreamedApplyTest, TimeBoundedBatchesReachTheFixedBatchEndState) {
  Fill(a_);
  Fill(b_);
  ApplyOptions fixed;
  fixed.batch = 20;
  fixed.batch_ms = 0;
  auto by_count = a_.directory->ApplyPolicy("idp", BigPolicy(), {}, fixed);
  ASSERT_TRUE(by_count) << by_count.error().detail;
  ApplyOptions timed;
  timed.batch = 50;
  timed.batch_ms = 1;
  auto by_time = b_.directory->ApplyPolicy("idp", BigPolicy(), {}, timed);
  ASSERT_TRUE(by_time) << by_time.error().detail;
  EXPECT_EQ((*by_time)["counts"], (*by_count)["counts"]);
  EXPECT_EQ((*by_time)["applied"], (*by_count)["applied"]);
  EXPECT_FALSE(Recorded(b_));
  EXPECT_EQ(State(a_), State(b_));
}

// A re-derivation in the steady state runs as a batched apply of the policies in force: it
// finishes an apply a killed process left (reaching the uninterrupted end state), reports no
// change when there is none, and leaves no record.
TEST_F(StreamedApplyTest, RederiveStreamsAndFinishesAStoppedApply) {
  Fill(a_);
  Fill(b_);
  ApplyOptions fixed;
  fixed.batch = 20;
  fixed.batch_ms = 0;
  ASSERT_TRUE(a_.directory->ApplyPolicy("idp", BigPolicy(), {}, fixed));
  ApplyOptions stopped = fixed;
  stopped.stop_after_batches = 3;
  ASSERT_FALSE(b_.directory->ApplyPolicy("idp", BigPolicy(), {}, stopped));
  ASSERT_TRUE(Recorded(b_));
  auto rederived = b_.directory->Rederive("users", {});
  ASSERT_TRUE(rederived) << rederived.error().detail;
  EXPECT_FALSE(Recorded(b_));
  EXPECT_EQ(State(a_), State(b_));
  for (const auto& [k, v] : (*rederived)["counts"].items()) EXPECT_EQ(v, 0) << k;
  EXPECT_FALSE(rederived->contains("version"));
  // A re-derived user whose stored row was altered behind the plan's back is put right, and
  // counted: the streamed re-derivation writes and reports it as the whole plan does.
  auto users = [](const std::map<std::string, Json>& state) {
    std::map<std::string, Json> out;
    for (const auto& [k, v] : state) {
      if (k.rfind("user ", 0) == 0) out[k] = v;
    }
    return out;
  };
  const size_t feed_before = ChangeCount(b_);
  Status st = b_.store->Write([&](store::Transaction& tx) -> Status {
    auto page = tx.EffectiveUsersAfter("users", 0, 1);
    if (!page) return page.error();
    store::EffectiveUserRow row = page->front().second;
    row.state = row.state == "active" ? "disabled" : "active";
    auto put = tx.PutEffectiveUser(row);
    if (!put) return put.error();
    return Status::Ok();
  });
  ASSERT_TRUE(st) << st.error().detail;
  ASSERT_NE(users(State(a_)), users(State(b_)));
  auto repaired = b_.directory->Rederive("users", {});
  ASSERT_TRUE(repaired) << repaired.error().detail;
  int64_t changed = 0;
  for (const auto& [k, v] : (*repaired)["counts"].items()) changed += v.get<int64_t>();
  EXPECT_GE(changed, 1);
  for (const char* k : {"created", "updated", "disabled", "enabled", "removed"}) {
    EXPECT_EQ((*repaired)["applied"][k], (*repaired)["counts"][k]) << k;
  }
  EXPECT_GT(ChangeCount(b_), feed_before);  // the repair is in the change feed
  EXPECT_EQ(users(State(a_)), users(State(b_)));
}

// A custom-attribute change in the steady state re-derives in batches too (recorded with the
// change, so a kill leaves it resumable): it finishes an apply a killed process left, and the
// directory ends as an uninterrupted apply plus the same change leave it; no record is left.
TEST_F(StreamedApplyTest, CustomAttributeChangeStreamsAndFinishesAStoppedApply) {
  Fill(a_);
  Fill(b_);
  ApplyOptions fixed;
  fixed.batch = 20;
  fixed.batch_ms = 0;
  const Json defs = Json::array({{{"name", "costCenter"}, {"type", "string"}}});
  ASSERT_TRUE(a_.directory->ApplyPolicy("idp", BigPolicy(), {}, fixed));
  ASSERT_TRUE(a_.directory->SetCustomAttributes("users", defs, {}));
  ApplyOptions stopped = fixed;
  stopped.stop_after_batches = 14;  // in pass 2
  ASSERT_FALSE(b_.directory->ApplyPolicy("idp", BigPolicy(), {}, stopped));
  ASSERT_TRUE(Recorded(b_));
  auto changed = b_.directory->SetCustomAttributes("users", defs, {});
  ASSERT_TRUE(changed) << changed.error().detail;
  EXPECT_EQ(changed->custom_attributes.size(), 1u);
  EXPECT_FALSE(Recorded(b_));
  EXPECT_EQ(State(a_), State(b_));
  auto again = b_.directory->Rederive("users", {}, /*whole=*/true);
  ASSERT_TRUE(again) << again.error().detail;
  for (const auto& [k, v] : (*again)["counts"].items()) EXPECT_EQ(v, 0) << k;
}

TEST_F(StreamedApplyTest, StoppedApplyIsResumedToTheUninterruptedEndState) {
  Fill(a_);
  Fill(b_);
  ASSERT_EQ(State(a_), State(b_));
  ApplyOptions whole;
  whole.batch = 20;
  whole.batch_ms = 0;  // fixed batches, so that the stops below fall in pass 1 and pass 2
  auto uninterrupted = a_.directory->ApplyPolicy("idp", BigPolicy(), {}, whole);
  ASSERT_TRUE(uninterrupted) << uninterrupted.error().detail;

  for (int64_t stop_after : {3, 14}) {  // in pass 1, then in pass 2 (12 batches a pass)
    ApplyOptions stopped = whole;
    stopped.stop_after_batches = stop_after;
    auto half = b_.directory->ApplyPolicy("idp", BigPolicy(), {}, stopped);
    ASSERT_FALSE(half);
    EXPECT_EQ(half.error().code, ErrorCode::kUnavailable);
    ASSERT_TRUE(Recorded(b_));
    // What a new process sees: the new policy is the stored one, and the record resumes it.
    b_.directory = std::make_unique<DirectoryService>(*b_.store, SystemClock::Instance());
    auto policy = b_.directory->GetPolicy("idp");
    ASSERT_TRUE(policy);
    EXPECT_EQ((*policy)["version"], stop_after == 3 ? 1 : 2);
    auto resumed = b_.directory->ResumeApplies();
    ASSERT_TRUE(resumed) << resumed.error().detail;
    ASSERT_EQ(resumed->size(), 1u);
    EXPECT_FALSE(Recorded(b_));
    if (stop_after == 3) {
      // The resumed apply reports the whole apply's counts, batches before the stop included.
      EXPECT_EQ((*resumed)[0]["result"]["counts"], (*uninterrupted)["counts"]);
      EXPECT_EQ(State(a_), State(b_));
    }
  }
  // The second stopped apply (same policy again) changed nothing more.
  EXPECT_EQ(State(a_), State(b_));
}

TEST_F(StreamedApplyTest, ScimWriteDuringTheApplyDerivesWithTheNewPolicy) {
  Fill(a_);
  ApplyOptions stopped;
  stopped.batch = 20;
  stopped.batch_ms = 0;
  stopped.stop_after_batches = 1;
  ASSERT_FALSE(a_.directory->ApplyPolicy("idp", BigPolicy(), {}, stopped));
  // user200 is far past the first batch: a write of it now derives it with the new policy.
  Status st = a_.store->Write([&](store::Transaction& tx) -> Status {
    service::MirrorChange change;
    change.connection = &a_.connection;
    change.users = {SourceId(200)};
    change.actor = "test";
    change.operation = "patch";
    return a_.directory->OnMirrorChanged(tx, change);
  });
  ASSERT_TRUE(st) << st.error().detail;
  auto state = State(a_);
  EXPECT_EQ(state["user user200"]["attributes"]["displayName"], "user200");
  EXPECT_EQ(state["user user200"]["groups"], Json({"everyone"}));
  EXPECT_EQ(state["user user199"]["attributes"].count("displayName"), 0u);  // not yet
  auto resumed = a_.directory->ResumeApplies();
  ASSERT_TRUE(resumed) << resumed.error().detail;
  state = State(a_);
  EXPECT_EQ(state["user user199"]["attributes"]["displayName"], "user199");
  auto again = a_.directory->Rederive("users", {}, /*whole=*/true);
  ASSERT_TRUE(again) << again.error().detail;
  for (const auto& [k, v] : (*again)["counts"].items()) EXPECT_EQ(v, 0) << k;
}

// Outside the steady state (issue #13 items 1-2): sources that no stored user links are decided
// first (the linking decision, phase 0), the stored users merged in batches, the new users
// written last; the end state is the whole plan's.

// A source pending (its name held) whose conflict the new policy resolves, and sources the new
// policy makes mappable again (removed under the previous one): new users.
TEST_F(StreamedApplyTest, PendingAndNewlyMappableSourcesReachTheWholePlan) {
  Fill(a_);
  Fill(b_);
  Fill(c_);
  const Json by_nick = {{"attributes", {{"username", {{"sources", {"nickName"}}}}}},
                        {"users", {{"on_delete", "delete"}}}};
  Each([&](Folder& f) {
    ASSERT_TRUE(f.directory->ApplyPolicy("idp", by_nick, {}));
    // "user1" is held: pending.
    Source(f, f.connection, SourceId(900),
           {{"schemas", {std::string(scim::kUserSchema)}}, {"userName", "dup"},
            {"nickName", "user1"}});
  });
  ASSERT_FALSE(Steady(a_));
  const Json by_name = {{"users", {{"on_delete", "delete"}}}};
  ExpectStreamedIsWhole("idp", by_name, 64);  // in phase 3 (1 + 31 + 31 before it)
  auto state = State(a_);
  EXPECT_EQ(state.count("user dup"), 1u);
  EXPECT_EQ(state.count("user user17"), 1u);  // mappable again (no nickName)
  EXPECT_EQ(state["conflicts"], 0);
}

// A policy that changes every stored user's link key while sources of a second connection are
// pending, then a policy that lets those in: they join the holders of their new keys (two of
// them the two holders of one key, in store order), the others become new users.
TEST_F(StreamedApplyTest, LinkKeysChangedByThePolicyReachTheWholePlan) {
  Fill(a_);
  Fill(b_);
  Fill(c_);
  Each([&](Folder& f) {
    store::Connection hr = AddConnection(f, "hr", "22222222-2222-3333-4444-555555555555");
    ASSERT_TRUE(f.directory->ApplyPolicy("hr", {{"users", {{"import_new", false}}}}, {}));
    for (int n = 0; n < 40; ++n) {
      std::string mail = (n == 3 || n == 6 || n == 7)
                             ? "shared@example.com"
                             : "user" + std::to_string(n) + "@example.com";
      Source(f, hr, "dddddddd-0000-4000-8000-" + std::to_string(100000000000 + n),
             {{"schemas", {std::string(scim::kUserSchema)}},
              {"userName", "hr" + std::to_string(n)},
              {"emails", {{{"value", mail}, {"primary", true}}}}});
    }
  });
  ASSERT_FALSE(Steady(a_));
  const Json by_mail = {{"linking", {{"key", "email"}}}};
  ExpectStreamedIsWhole("idp", by_mail, 1);  // after phase 0
  ExpectStreamedIsWhole("hr", {{"linking", {{"key", "email"}}}}, 36);  // in phase 2
  auto state = State(a_);
  // hr9 joined user9 (idp decides the username: the lower connection id at equal priority);
  // hr3 and hr6 the two holders of shared@example.com, in store order; hr7 found no holder
  // without an hr source: a new user, as hr1 (no holder).
  for (const char* joined : {"user hr9", "user hr3", "user hr6", "user hr0"}) {
    EXPECT_EQ(state.count(joined), 0u) << joined;
  }
  for (const char* fresh : {"user hr7", "user hr1", "user user3", "user user6"}) {
    EXPECT_EQ(state.count(fresh), 1u) << fresh;
  }
  EXPECT_EQ(state["conflicts"], 0);
  EXPECT_TRUE(Steady(a_));
}

// A source created again under the name of a deleted one (a re-hire) while unmappable, then
// made mappable: it re-provisions the deleted source's user (its tombstone), and users whose
// sources were unmappable (tombstones in the mirror) come back.
TEST_F(StreamedApplyTest, TombstoneReprovisioningReachesTheWholePlan) {
  Fill(a_);
  Fill(b_);
  Fill(c_);
  const Json by_nick = {{"attributes", {{"username", {{"sources", {"nickName"}}}}}},
                        {"users", {{"on_delete", "disable"}}}};
  Each([&](Folder& f) {
    ASSERT_TRUE(f.directory->ApplyPolicy("idp", by_nick, {}));
    Source(f, f.connection, SourceId(10), Json());  // deleted: user10 disabled, a tombstone
    Source(f, f.connection, SourceId(901),
           {{"schemas", {std::string(scim::kUserSchema)}}, {"userName", "user10"}});
  });
  ASSERT_FALSE(Steady(a_));
  const Json by_name = {{"users", {{"on_delete", "disable"}}}};
  ExpectStreamedIsWhole("idp", by_name, 2);  // in phase 1
  auto state = State(a_);
  EXPECT_EQ(state["user user10"]["state"], "active");
  EXPECT_EQ(state["user user17"]["state"], "active");
  Status st = a_.store->Read([&](store::Transaction& tx) -> Status {
    auto link = tx.GetLink(a_.connection.id, SourceId(901));
    if (!link) return link.error();
    auto user = tx.GetEffectiveUser("users", link->effective_user_id);
    if (!user) return user.error();
    EXPECT_EQ(user->username, "user10");
    EXPECT_TRUE(tx.GetLink(a_.connection.id, SourceId(10)).error().code == ErrorCode::kNotFound);
    return Status::Ok();
  });
  EXPECT_TRUE(st) << st.error().detail;
}

}  // namespace
}  // namespace idsync::directory
