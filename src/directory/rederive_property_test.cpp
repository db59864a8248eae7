// The live directory always equals a re-derivation (issue #11, item 4): long random sequences of
// SCIM writes (creates, updates that change usernames and linking keys, deletes, group changes)
// over three connections, policy changes and hand grants, through the real ScimService,
// DirectoryService and SqliteStore. After every step, `Rederive` must change nothing: the same
// users, rows, memberships, links and pending conflicts, no change-feed entry, zero counts.
//
// IDSYNC_PROPERTY_SEED=N reruns one sequence; a failure prints the seed and the steps so far.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include "base/strings.h"
#include "directory/directory_service.h"
#include "scim/types.h"
#include "service/scim_service.h"
#include "store/sqlite/sqlite_store.h"

namespace idsync::directory {
namespace {

using scim::ResourceType;

constexpr const char* kPatchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Source {
  store::Connection connection;
  std::vector<std::string> users;   // live SCIM ids
  std::vector<std::string> groups;  // live SCIM ids
};

class RederiveProperty {
 public:
  explicit RederiveProperty(uint64_t seed) : rng_(seed) {}

  ~RederiveProperty() {
    directory_.reset();
    scim_.reset();
    if (store_) store_->Close();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void SetUp() {
    std::string pattern =
        std::filesystem::temp_directory_path().string() + "/idsync-rederive-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = store::sqlite::SqliteStore::Open(dir_, {});
    ASSERT_TRUE(store) << store.error().detail;
    store_ = std::move(*store);
    directory_ = std::make_unique<DirectoryService>(*store_, SystemClock::Instance());
    // "users" exists in every store (migration 5).
    const char* names[] = {"okta", "entra", "ldapish"};
    for (int i = 0; i < 3; ++i) {
      Status st = store_->Write([&](store::Transaction& tx) -> Status {
        store::Connection c;
        c.uuid = "00000000-0000-0000-0000-00000000000" + std::to_string(i + 1);
        c.name = names[i];
        c.directory = "users";
        c.kind = "scim";
        c.created = SystemClock::Instance().Now();
        auto created = tx.CreateConnection(c);
        if (!created) return created.error();
        sources_.push_back({*created, {}, {}});
        return Status::Ok();
      });
      ASSERT_TRUE(st) << st.error().detail;
    }
    scim_ = std::make_unique<service::ScimService>(*store_, scim::schema::Registry::Default(),
                                                   SystemClock::Instance());
    scim_->SetObserver(directory_.get());
  }

  // Runs `steps` random steps, checking after each one.
  void Run(int steps) {
    for (int i = 0; i < steps && !::testing::Test::HasFailure(); ++i) {
      std::string step = Step();
      log_.push_back(step);
      SCOPED_TRACE("step " + std::to_string(i) + ": " + step);
      ExpectRederiveChangesNothing();
      ExpectConflictKeys();
    }
  }

  // Scripted scenarios (deterministic regressions): connection i is 0 okta, 1 entra, 2 ldapish.
  std::string Create(int i, ResourceType type, Json body) {
    body["schemas"] = {std::string(type == ResourceType::kUser ? scim::kUserSchema
                                                                : scim::kGroupSchema)};
    auto r = scim_->Create(Context(sources_[i]), type, body);
    EXPECT_TRUE(r) << body.dump();
    return r ? r->resource["id"].get<std::string>() : "";
  }
  void Policy(int i, const Json& policy) {
    auto r = directory_->ApplyPolicy(sources_[i].connection.name, policy, actor_);
    EXPECT_TRUE(r) << policy.dump();
  }
  void Check() {
    ExpectRederiveChangesNothing();
    ExpectConflictKeys();
  }
  bool Delete(int i, const std::string& id) {
    return static_cast<bool>(
        scim_->Delete(Context(sources_[i]), ResourceType::kUser, id, std::nullopt));
  }
  // Whether a SCIM PATCH replacing the user's `path` with `value` on connection i succeeds.
  bool PatchUser(int i, const std::string& id, const std::string& path, const Json& value) {
    Json body = {{"schemas", {kPatchSchema}},
                 {"Operations", {{{"op", "replace"}, {"path", path}, {"value", value}}}}};
    return static_cast<bool>(
        scim_->Patch(Context(sources_[i]), ResourceType::kUser, id, body, std::nullopt, false));
  }
  // The effective users' usernames, sorted.
  std::vector<std::string> Usernames() {
    std::vector<std::string> out;
    const Json state = State();
    for (const auto& [id, u] : state["users"].items()) out.push_back(u["username"]);
    std::sort(out.begin(), out.end());
    return out;
  }
  // The stored conflicts, as ConflictArea::ListConflicts returns them (keys included).
  std::vector<store::ConflictRecord> StoredConflicts() {
    std::vector<store::ConflictRecord> out;
    Status st = store_->Read([&](store::Transaction& tx) -> Status {
      auto list = tx.ListConflicts("users");
      if (!list) return list.error();
      out = std::move(*list);
      return Status::Ok();
    });
    EXPECT_TRUE(st) << st.error().detail;
    return out;
  }
  // Every conflict's stored keys are those of its username and detail (FindConflicts finds
  // pending source users by them).
  void ExpectConflictKeys() {
    for (const auto& c : StoredConflicts()) {
      SCOPED_TRACE("conflict of " + c.source_user_id + " " + c.detail.dump());
      ASSERT_TRUE(c.keys.has_value());
      EXPECT_EQ(c.keys->username, FoldCase(c.username));
      EXPECT_EQ(c.keys->link_key, c.detail.value("link_key", ""));
      EXPECT_EQ(c.keys->source_name, c.detail.value("source_name", ""));
    }
  }
  // Whether a SCIM PATCH of the user's displayName on connection i succeeds.
  bool PatchDisplayName(int i, const std::string& id, const std::string& name) {
    Json body = {{"schemas", {kPatchSchema}},
                 {"Operations", {{{"op", "replace"}, {"path", "displayName"}, {"value", name}}}}};
    return static_cast<bool>(
        scim_->Patch(Context(sources_[i]), ResourceType::kUser, id, body, std::nullopt, false));
  }
  // Runs one statement on the database file over a connection of its own, as another process
  // would: to damage a stored row.
  void RawSql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/idsync.db").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    char* message = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK)
        << (message ? message : "");
    sqlite3_free(message);
    sqlite3_close(db);
  }
  // The groups of the effective user named `username`.
  std::vector<std::string> GroupsOf(const std::string& username) {
    std::vector<std::string> out;
    Json state = State();
    for (const auto& m : state["members"]) {
      if (state["users"][m[0].get<std::string>()]["username"] == username) {
        out.push_back(m[1].get<std::string>());
      }
    }
    return out;
  }
  size_t Conflicts() { return State()["conflicts"].size(); }

  std::string Log() const {
    std::ostringstream out;
    size_t from = log_.size() > 40 ? log_.size() - 40 : 0;
    for (size_t i = from; i < log_.size(); ++i) out << "  " << i << ": " << log_[i] << "\n";
    return out.str();
  }

 private:
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool Chance(int percent) { return Pick(100) < percent; }
  template <typename T>
  const T& PickOf(const std::vector<T>& v) { return v[Pick(static_cast<int>(v.size()))]; }

  service::CallContext Context(Source& s) {
    service::CallContext ctx;
    ctx.connection = &s.connection;
    ctx.base_url = "https://idsync.test/scim/v2";
    ctx.request_id = "step-" + std::to_string(log_.size());
    return ctx;
  }

  // Small pools, so that names, keys and groups collide often.
  std::string UserName() {
    static const std::vector<std::string> locals = {"alice", "bob", "carol", "dave", "Alice"};
    static const std::vector<std::string> domains = {"", "@a.example", "@b.example"};
    return PickOf(locals) + PickOf(domains);
  }
  Json Emails() {
    static const std::vector<std::string> mails = {"x@corp.example", "y@corp.example",
                                                   "z@corp.example", "X@corp.example"};
    if (Chance(20)) return Json::array();
    return Json::array({{{"value", PickOf(mails)}, {"type", "work"}, {"primary", true}}});
  }
  std::string GroupName() {
    static const std::vector<std::string> names = {"Eng", "Design", "Ops", "eng"};
    return PickOf(names);
  }

  std::string Step() {
    Source& s = sources_[Pick(3)];
    auto ctx = Context(s);
    int op = Pick(100);
    if (op < 22 || s.users.empty()) {
      Json body = {{"schemas", {std::string(scim::kUserSchema)}},
                   {"userName", UserName()},
                   {"emails", Emails()},
                   {"active", !Chance(15)},
                   {"displayName", "Person " + std::to_string(Pick(5))}};
      auto r = scim_->Create(ctx, ResourceType::kUser, body);
      if (r) s.users.push_back(r->resource["id"].get<std::string>());
      return s.connection.name + " create user " + body.dump() + (r ? " ok" : " refused");
    }
    if (op < 45) {
      const std::string id = PickOf(s.users);
      Json ops = Json::array();
      int what = Pick(4);
      if (what == 0) ops.push_back({{"op", "replace"}, {"path", "userName"}, {"value", UserName()}});
      if (what == 1) ops.push_back({{"op", "replace"}, {"path", "emails"}, {"value", Emails()}});
      if (what == 2) ops.push_back({{"op", "replace"}, {"path", "active"}, {"value", Chance(60)}});
      if (what == 3) {
        ops.push_back({{"op", "replace"},
                       {"path", "displayName"},
                       {"value", "Person " + std::to_string(Pick(5))}});
      }
      Json body = {{"schemas", {kPatchSchema}}, {"Operations", ops}};
      auto r = scim_->Patch(ctx, ResourceType::kUser, id, body, std::nullopt, false);
      return s.connection.name + " patch user " + id + " " + ops.dump() + (r ? " ok" : " refused");
    }
    if (op < 55) {
      size_t i = Pick(static_cast<int>(s.users.size()));
      std::string id = s.users[i];
      Status st = scim_->Delete(ctx, ResourceType::kUser, id, std::nullopt);
      if (st) s.users.erase(s.users.begin() + static_cast<long>(i));
      return s.connection.name + " delete user " + id + (st ? " ok" : " refused");
    }
    if (op < 62 || s.groups.empty()) {
      Json members = Json::array();
      for (const auto& u : s.users) {
        if (Chance(40)) members.push_back({{"value", u}});
      }
      Json body = {{"schemas", {std::string(scim::kGroupSchema)}},
                   {"displayName", GroupName()},
                   {"members", members}};
      auto r = scim_->Create(ctx, ResourceType::kGroup, body);
      if (r) s.groups.push_back(r->resource["id"].get<std::string>());
      return s.connection.name + " create group " + body.dump() + (r ? " ok" : " refused");
    }
    if (op < 75) {
      const std::string gid = PickOf(s.groups);
      const std::string uid = PickOf(s.users);
      Json ops = Json::array();
      if (Chance(60)) {
        ops.push_back({{"op", "add"}, {"path", "members"}, {"value", {{{"value", uid}}}}});
      } else {
        ops.push_back({{"op", "remove"}, {"path", "members[value eq \"" + uid + "\"]"}});
      }
      if (Chance(10)) ops.push_back({{"op", "replace"}, {"path", "displayName"}, {"value", GroupName()}});
      Json body = {{"schemas", {kPatchSchema}}, {"Operations", ops}};
      auto r = scim_->Patch(ctx, ResourceType::kGroup, gid, body, std::nullopt, false);
      return s.connection.name + " patch group " + gid + " " + ops.dump() + (r ? " ok" : " refused");
    }
    if (op < 79) {
      size_t i = Pick(static_cast<int>(s.groups.size()));
      std::string id = s.groups[i];
      Status st = scim_->Delete(ctx, ResourceType::kGroup, id, std::nullopt);
      if (st) s.groups.erase(s.groups.begin() + static_cast<long>(i));
      return s.connection.name + " delete group " + id + (st ? " ok" : " refused");
    }
    if (op < 93) {
      Json policy = RandomPolicy();
      // The preview counts what the apply writes, in the steady state or not (a pending source,
      // one the policy makes mappable, link keys it changes): batches of 1 to 5 users.
      auto preview = directory_->PreviewPolicy(s.connection.name, policy);
      EXPECT_TRUE(preview) << policy.dump() << ": " << preview.error().detail;
      ApplyOptions options;
      options.batch = 1 + Pick(5);
      options.batch_ms = 0;
      auto r = directory_->ApplyPolicy(s.connection.name, policy, actor_, options);
      EXPECT_TRUE(r) << policy.dump() << ": " << r.error().detail;
      if (r && preview) {
        EXPECT_EQ((*r)["counts"], (*preview)["counts"])
            << policy.dump() << "\npreview " << preview->dump() << "\napply " << r->dump();
        EXPECT_EQ((*r)["conflicts"], (*preview)["conflicts"]) << policy.dump();
      }
      return s.connection.name + " policy " + policy.dump();
    }
    // Hand grants and revokes, by username.
    static const std::vector<std::string> names = {"alice", "bob", "carol", "dave"};
    const std::string user = PickOf(names);
    const std::string group = Chance(50) ? GroupName() : "handmade";
    if (Chance(60)) {
      auto r = directory_->GrantMembership("users", user, group, actor_);
      return "grant " + user + " " + group + (r ? " ok" : " refused");
    }
    auto r = directory_->RevokeMembership("users", user, group, actor_);
    return "revoke " + user + " " + group + (r ? " ok" : " refused");
  }

  Json RandomPolicy() {
    static const std::vector<std::string> keys = {"username", "email", "none"};
    static const std::vector<std::string> deletes = {"disable", "delete", "keep"};
    Json username = {{"sources", {"userName"}}};
    if (Chance(40)) username["transforms"] = {"strip_domain", "lower"};
    Json p = {{"users",
               {{"import_new", !Chance(15)},
                {"follow_active", !Chance(20)},
                {"on_delete", PickOf(deletes)}}},
              {"attributes", {{"username", username}}},
              {"groups",
               {{"import", !Chance(30)},
                {"default_groups_all_users", Chance(20) ? Json::array({"everyone"}) : Json::array()},
                {"default_groups_new_users", Chance(20) ? Json::array({"welcome"}) : Json::array()},
                {"keep_existing_memberships", !Chance(20)}}},
              {"linking", {{"key", PickOf(keys)}}},
              {"priority", Pick(3)}};
    return p;
  }

  // Everything a re-derivation could change, in a comparable form.
  Json State() {
    Json out = {{"users", Json::object()}, {"members", Json::array()}, {"links", Json::array()},
                {"conflicts", Json::array()}, {"changes", 0}};
    Status st = store_->Read([&](store::Transaction& tx) -> Status {
      Status scan = tx.ScanEffectiveUsers("users", [&](const store::EffectiveUserRow& row) {
        out["users"][row.id] = {{"username", row.username}, {"link_key", row.link_key},
                                {"state", row.state},       {"body", row.body},
                                {"mail_key", row.mail_key}};
        auto groups = tx.EffectiveGroupsOf("users", row.id);
        if (groups) {
          for (const auto& [gid, name] : *groups) out["members"].push_back({row.id, name});
        }
        return true;
      });
      if (!scan) return scan;
      for (const auto& s : sources_) {
        auto links = tx.LinksOfConnection(s.connection.id);
        if (!links) return links.error();
        for (const auto& l : *links) {
          out["links"].push_back(
              {l.connection_id, l.source_user_id, l.effective_user_id, l.deleted, l.source_name});
        }
      }
      auto conflicts = tx.ListConflicts("users");
      if (!conflicts) return conflicts.error();
      for (const auto& c : *conflicts) {
        Json d = c.detail;
        d.erase("held_by_username");  // as recorded; Conflicts() shows the holder's current name
        out["conflicts"].push_back({c.connection_id, c.source_user_id, c.username, d});
      }
      // The change feed's last number: a re-derivation that writes an entry moves it. Read on
      // from the last number seen, not from 0: reading the whole feed at every step made the
      // test quadratic (most of its time at 2,000 steps).
      auto changes = tx.ListChanges("users", last_seq_, 1000000);
      if (!changes) return changes.error();
      if (!changes->empty()) last_seq_ = changes->back().seq;
      out["changes"] = last_seq_;
      return Status::Ok();
    });
    EXPECT_TRUE(st) << st.error().detail;
    std::sort(out["members"].begin(), out["members"].end());
    std::sort(out["conflicts"].begin(), out["conflicts"].end());
    return out;
  }

  // Both forms: the batched one (in the steady state: every present source linked; otherwise
  // it falls back to the whole plan) and the whole plan, which re-decides every link.
  void ExpectRederiveChangesNothing() {
    for (bool whole : {false, true}) {
      Json before = State();
      auto counts = directory_->Rederive("users", actor_, whole);
      ASSERT_TRUE(counts) << counts.error().detail;
      Json after = State();
      const Json& applied = (*counts)["applied"];
      for (const auto& [k, v] : applied.items()) {
        // "conflicts" counts the source users left pending, changed or not; the table is
        // compared.
        if (k == "conflicts") continue;
        EXPECT_EQ(v, 0) << (whole ? "whole " : "batched ") << "rederive " << k << ": "
                        << applied.dump() << "\n" << Diff(before, after);
      }
      EXPECT_TRUE(before == after) << (whole ? "whole: " : "batched: ") << Diff(before, after)
                                   << Holders(before, after);
    }
  }

  // The users that conflicts name as holders, before and after.
  static std::string Holders(const Json& a, const Json& b) {
    std::ostringstream out;
    for (const auto& c : a["conflicts"]) {
      std::string id = c[3].value("held_by", "");
      if (id.empty()) continue;
      out << "holder " << id << " before: " << a["users"].value(id, Json()).value("username", Json()).dump()
          << " after: " << b["users"].value(id, Json()).value("username", Json()).dump() << "\n";
    }
    return out.str();
  }

  static std::string Diff(const Json& a, const Json& b) {
    std::ostringstream out;
    for (const auto& [k, v] : a.items()) {
      const Json w = b.value(k, Json());
      if (w == v) continue;
      if (v.is_object() && w.is_object()) {
        for (const auto& [id, x] : v.items()) {
          if (w.value(id, Json()) != x) {
            out << "-- " << k << " " << id << " before: " << x.dump() << "\n   after:  "
                << w.value(id, Json()).dump() << "\n";
          }
        }
        for (const auto& [id, y] : w.items()) {
          if (!v.contains(id)) out << "-- " << k << " " << id << " new: " << y.dump() << "\n";
        }
      } else if (v.is_array() && w.is_array()) {
        for (const auto& x : v) {
          if (std::find(w.begin(), w.end(), x) == w.end()) out << "-- " << k << " lost: " << x.dump() << "\n";
        }
        for (const auto& y : w) {
          if (std::find(v.begin(), v.end(), y) == v.end()) out << "-- " << k << " new: " << y.dump() << "\n";
        }
      } else {
        out << "-- " << k << " before: " << v.dump() << " after: " << w.dump() << "\n";
      }
    }
    return out.str();
  }

  std::mt19937_64 rng_;
  std::string dir_;
  int64_t last_seq_ = 0;  // State(): the change feed's last number seen
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  std::unique_ptr<DirectoryService> directory_;
  std::unique_ptr<service::ScimService> scim_;
  std::vector<Source> sources_;
  std::vector<std::string> log_;
  Actor actor_{"test", "property"};
};

void RunSeed(uint64_t seed, int steps) {
  RederiveProperty p(seed);
  p.SetUp();
  if (::testing::Test::HasFatalFailure()) return;
  p.Run(steps);
  if (::testing::Test::HasFailure()) {
    ADD_FAILURE() << "seed " << seed << " (rerun: IDSYNC_PROPERTY_SEED=" << seed
                  << "); the last steps:\n"
                  << p.Log();
  }
}

// IDSYNC_PROPERTY_STEPS shortens the runs (the sanitizer build of tools/test.sh).
int Steps(int normal) {
  const char* env = getenv("IDSYNC_PROPERTY_STEPS");
  return env ? std::min(normal, std::atoi(env)) : normal;
}

// Seed 1998310174: a pending source user (its username held) is a member of a source group of
// an importing connection; that group is not created, live or in a re-derivation, so a
// groups.import-off connection's member of a source group of that name gets no membership.
// The plan's first pass counted the pending user's grants as creating the group.
TEST(RederiveProperty, PendingUserCreatesNoGroupForImportOff) {
  RederiveProperty p(0);
  p.SetUp();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  p.Policy(2, {{"groups", {{"import", false}}}});  // ldapish: existing_only grants
  p.Policy(0, {{"linking", {{"key", "none"}}}});   // okta: its carol is another person
  p.Create(1, ResourceType::kUser, {{"userName", "carol"}});
  const std::string pending = p.Create(0, ResourceType::kUser, {{"userName", "carol"}});
  ASSERT_EQ(p.Conflicts(), 1u);
  const std::string bob = p.Create(2, ResourceType::kUser, {{"userName", "bob"}});
  p.Create(2, ResourceType::kGroup, {{"displayName", "Design"}, {"members", {{{"value", bob}}}}});
  p.Check();
  p.Create(0, ResourceType::kGroup,
           {{"displayName", "Design"}, {"members", {{{"value", pending}}}}});
  EXPECT_TRUE(p.GroupsOf("bob").empty());
  p.Check();  // the re-derivation must not create Design either
  EXPECT_TRUE(p.GroupsOf("bob").empty());
}

// A local group whose stored row cannot be read (here: a body that is not JSON) is not "no such
// group": for a groups.import-off connection that would drop the user's membership in it, and
// commit the drop. The write fails instead, and the membership stays.
TEST(RederiveProperty, AGroupThatDoesNotReadBackFailsTheWriteInsteadOfDroppingTheMembership) {
  RederiveProperty p(0);
  p.SetUp();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  p.Policy(2, {{"groups", {{"import", false}}}});  // ldapish: existing_only grants
  const std::string amy = p.Create(0, ResourceType::kUser, {{"userName", "amy"}});
  p.Create(0, ResourceType::kGroup, {{"displayName", "Design"}, {"members", {{{"value", amy}}}}});
  const std::string bob = p.Create(2, ResourceType::kUser, {{"userName", "bob"}});
  p.Create(2, ResourceType::kGroup, {{"displayName", "Design"}, {"members", {{{"value", bob}}}}});
  ASSERT_EQ(p.GroupsOf("bob"), std::vector<std::string>{"Design"});
  ASSERT_TRUE(p.PatchDisplayName(2, bob, "Bob One"));
  p.RawSql("UPDATE effective_groups SET body = 'not json' WHERE name_key = 'design'");
  EXPECT_FALSE(p.PatchDisplayName(2, bob, "Bob Two"));
  EXPECT_EQ(p.GroupsOf("bob"), std::vector<std::string>{"Design"});
}

// A conflict stored before conflicts had keys (SQLite migration 17) is still found: the write
// that frees its username lets it in, and stores the directory's other keyless conflicts again
// with their keys.
TEST(RederiveProperty, AConflictStoredBeforeItsKeysIsStillLetIn) {
  RederiveProperty p(0);
  p.SetUp();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  p.Policy(0, {{"linking", {{"key", "none"}}}});  // okta: its carol and dave are other people
  const std::string carol = p.Create(1, ResourceType::kUser, {{"userName", "carol"}});
  p.Create(1, ResourceType::kUser, {{"userName", "dave"}});
  p.Create(0, ResourceType::kUser, {{"userName", "carol"}});
  p.Create(0, ResourceType::kUser, {{"userName", "dave"}});
  ASSERT_EQ(p.Conflicts(), 2u);
  p.RawSql("UPDATE conflicts SET username_key = NULL, link_key = NULL, source_name = NULL");
  for (const auto& c : p.StoredConflicts()) EXPECT_FALSE(c.keys) << c.source_user_id;
  ASSERT_TRUE(p.PatchUser(1, carol, "userName", "caroline"));  // frees "carol"
  EXPECT_EQ(p.Usernames(), (std::vector<std::string>{"carol", "caroline", "dave"}));
  const auto left = p.StoredConflicts();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].username, "dave");
  ASSERT_TRUE(left[0].keys);  // stored again by the write that looked
  EXPECT_EQ(left[0].keys->username, "dave");
  p.Check();
}

// FixedSeed step 635: user U has an older tombstone of okta ("alice") and a present okta source
// ("bob", linked by email); okta's new "alice" stays pending (U holds the present source, and
// the name). Deleting "bob" lets "alice" re-provision U by the older tombstone: the delete must
// retry the pending sources named as any of U's okta tombstones, not only the one it made.
TEST(RederiveProperty, LosingASourceLetsInAPendingSourceNamedAsAnOlderTombstone) {
  RederiveProperty p(0);
  p.SetUp();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const Json mail =
      Json::array({{{"value", "x@corp.example"}, {"type", "work"}, {"primary", true}}});
  p.Policy(0, {{"linking", {{"key", "email"}}}, {"users", {{"on_delete", "keep"}}}});
  p.Policy(1, {{"linking", {{"key", "email"}}}, {"priority", 2}});  // entra decides
  p.Create(1, ResourceType::kUser, {{"userName", "alice"}, {"emails", mail}});
  const std::string first =
      p.Create(0, ResourceType::kUser, {{"userName", "alice"}, {"emails", mail}});
  ASSERT_TRUE(p.Delete(0, first));  // U's okta tombstone "alice"
  const std::string bob = p.Create(0, ResourceType::kUser, {{"userName", "bob"}, {"emails", mail}});
  p.Check();
  p.Create(0, ResourceType::kUser, {{"userName", "alice"}});  // no key: pending, name held
  ASSERT_EQ(p.Conflicts(), 1u);
  p.Check();
  ASSERT_TRUE(p.Delete(0, bob));
  EXPECT_EQ(p.Conflicts(), 0u);
  EXPECT_EQ(p.Usernames(), (std::vector<std::string>{"alice"}));
  p.Check();
}

TEST(RederiveProperty, FixedSeed) { RunSeed(20261204, Steps(2000)); }

TEST(RederiveProperty, RandomSeed) {
  uint64_t seed = std::random_device{}();
  if (const char* env = getenv("IDSYNC_PROPERTY_SEED")) seed = std::stoull(env);
  std::printf("rederive property seed %llu\n", static_cast<unsigned long long>(seed));
  RunSeed(seed, Steps(500));
}

}  // namespace
}  // namespace idsync::directory
