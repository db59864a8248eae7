// ScimService over a real SqliteStore in a temporary folder.
#include "service/scim_service.h"

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/strings.h"
#include "base/uuid.h"
#include "store/sqlite/sqlite_store.h"

namespace idsync::service {
namespace {

using scim::ResourceType;

class ScimServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/idsync-svc-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = store::sqlite::SqliteStore::Open(dir_, {});
    ASSERT_TRUE(store) << store.error().detail;
    store_ = std::move(*store);
    Status st = store_->Write([&](store::Transaction& tx) -> Status {
      store::Connection c;
      c.uuid = "11111111-2222-3333-4444-555555555555";
      c.name = "test";
      c.directory = "users";
      c.kind = "scim";
      c.created = SystemClock::Instance().Now();
      auto created = tx.CreateConnection(c);
      if (!created) return created.error();
      connection_ = *created;
      return Status::Ok();
    });
    ASSERT_TRUE(st) << st.error().detail;
    service_ = std::make_unique<ScimService>(*store_, scim::schema::Registry::Default(),
                                             SystemClock::Instance());
    ctx_.connection = &connection_;
    ctx_.base_url = "https://idsync.test/scim/v2";
    ctx_.request_id = "test";
  }

  void TearDown() override {
    service_.reset();
    if (store_) store_->Close();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string Create(ResourceType type, const Json& body) {
    auto created = service_->Create(ctx_, type, body);
    EXPECT_TRUE(created) << created.error().detail;
    return created ? created->resource["id"].get<std::string>() : "";
  }

  // Lists with the text shortcut allowed (as an identity projection does) and without it (as a
  // projection does), and expects the same page. Returns the page.
  ListResult ExpectSameList(ResourceType type, const std::string& filter, int64_t start_index = 1,
                            std::optional<int64_t> count = std::nullopt) {
    ListRequest request;
    request.filter = filter;
    request.start_index = start_index;
    request.count = count;
    auto general = service_->List(ctx_, type, request);
    EXPECT_TRUE(general) << filter << ": " << general.error().detail;
    request.as_text = true;
    auto text = service_->List(ctx_, type, request);
    EXPECT_TRUE(text) << filter << ": " << text.error().detail;
    if (!general || !text) return {};
    EXPECT_EQ(text->total_results, general->total_results) << filter;
    EXPECT_EQ(text->start_index, general->start_index) << filter;
    // An empty page comes back as `resources` (nothing to splice) from either path.
    const size_t n = text->texts.empty() ? text->resources.size() : text->texts.size();
    EXPECT_EQ(n, general->resources.size()) << filter;
    for (size_t i = 0; i < n && i < general->resources.size(); ++i) {
      Json got = text->texts.empty() ? text->resources[i] : Json::parse(text->texts[i]);
      EXPECT_EQ(got, general->resources[i]) << filter << " #" << i;
    }
    return *text;
  }

  // A group stored without the service's checks, as a database written before group names were
  // unique per connection holds it. Returns its id.
  std::string PutGroupDirectly(const std::string& display_name) {
    store::StoredResource r;
    r.id = NewUuid();
    r.type = ResourceType::kGroup;
    r.body = {{"schemas", {std::string(scim::kGroupSchema)}}, {"displayName", display_name}};
    r.created = r.last_modified = SystemClock::Instance().Now();
    Status st = store_->Write([&](store::Transaction& tx) -> Status {
      auto put = tx.PutResource(connection_.id, r, std::nullopt,
                                {{"displayName", FoldCase(display_name)}});
      return put ? Status::Ok() : Status(put.error());
    });
    EXPECT_TRUE(st) << st.error().detail;
    return r.id;
  }

  Json Group(const std::string& display_name) {
    return {{"schemas", {std::string(scim::kGroupSchema)}}, {"displayName", display_name}};
  }

  std::string dir_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  store::Connection connection_;
  std::unique_ptr<ScimService> service_;
  CallContext ctx_;
};

Json User(const std::string& user_name) {
  return {{"schemas", {std::string(scim::kUserSchema)}},
          {"userName", user_name},
          {"externalId", "ext-" + user_name},
          {"name", {{"givenName", "Given"}, {"familyName", "Family"}}},
          {"emails", {{{"value", user_name + "@example.com"}, {"type", "work"}}}},
          {"active", true}};
}

TEST_F(ScimServiceTest, UserNameEqualityShortcutMatchesTheGeneralPath) {
  std::string alice = Create(ResourceType::kUser, User("alice"));
  std::string anne = Create(ResourceType::kUser, User("änne"));
  Create(ResourceType::kUser, User("bob"));
  std::string group = Create(ResourceType::kGroup, {{"schemas", {std::string(scim::kGroupSchema)}},
                                                    {"displayName", "Ops"},
                                                    {"members", {{{"value", alice}}}}});
  ASSERT_FALSE(group.empty());

  // Case-differing: caseExact false, so the folded index is the answer.
  auto page = ExpectSameList(ResourceType::kUser, R"(userName eq "ALICE")");
  EXPECT_EQ(page.total_results, 1);
  ASSERT_EQ(page.texts.size(), 1u);  // served as text
  Json alice_json = Json::parse(page.texts[0]);
  EXPECT_EQ(alice_json["id"], alice);
  EXPECT_EQ(alice_json["groups"][0]["value"], group);  // User.groups spliced in

  // Unicode folding: "ÄNNE" and "änne" are the same userName.
  page = ExpectSameList(ResourceType::kUser, R"(userName eq "ÄNNE")");
  EXPECT_EQ(page.total_results, 1);
  ASSERT_EQ(page.texts.size(), 1u);
  EXPECT_EQ(Json::parse(page.texts[0])["id"], anne);
  // The core URN spelling of the attribute too.
  page = ExpectSameList(ResourceType::kUser,
                        R"(urn:ietf:params:scim:schemas:core:2.0:User:userName eq "Änne")");
  EXPECT_EQ(page.total_results, 1);

  page = ExpectSameList(ResourceType::kUser, R"(userName eq "carol")");
  EXPECT_EQ(page.total_results, 0);
  EXPECT_TRUE(page.texts.empty());

  // startIndex / count beyond the result: totalResults still counts the match.
  page = ExpectSameList(ResourceType::kUser, R"(userName eq "alice")", 2);
  EXPECT_EQ(page.total_results, 1);
  EXPECT_EQ(page.start_index, 2);
  EXPECT_TRUE(page.texts.empty());
  page = ExpectSameList(ResourceType::kUser, R"(userName eq "alice")", 1, 0);
  EXPECT_EQ(page.total_results, 1);
  EXPECT_TRUE(page.texts.empty());
  page = ExpectSameList(ResourceType::kUser, R"(userName eq "alice")", 0, -5);
  EXPECT_EQ(page.total_results, 1);
  EXPECT_EQ(page.start_index, 1);
}

TEST_F(ScimServiceTest, FiltersTheIndexDoesNotDecideKeepTheGeneralPath) {
  Create(ResourceType::kUser, User("alice"));
  // externalId is caseExact: the folded index finds "ext-alice" for "EXT-ALICE", the filter
  // must not.
  auto page = ExpectSameList(ResourceType::kUser, R"(externalId eq "EXT-ALICE")");
  EXPECT_EQ(page.total_results, 0);
  page = ExpectSameList(ResourceType::kUser, R"(externalId eq "ext-alice")");
  EXPECT_EQ(page.total_results, 1);
  // More than one comparison: the rest of the filter still has to be evaluated.
  page = ExpectSameList(ResourceType::kUser, R"(userName eq "alice" and active eq false)");
  EXPECT_EQ(page.total_results, 0);
  page = ExpectSameList(ResourceType::kUser, R"(userName eq "alice" or userName eq "x")");
  EXPECT_EQ(page.total_results, 1);
  page = ExpectSameList(ResourceType::kUser, R"(emails.value eq "ALICE@example.com")");
  EXPECT_EQ(page.total_results, 1);
}

TEST_F(ScimServiceTest, GroupDisplayNameShortcutMatchesTheGeneralPath) {
  std::string alice = Create(ResourceType::kUser, User("alice"));
  std::string bob = Create(ResourceType::kUser, User("bob"));
  Create(ResourceType::kGroup, {{"schemas", {std::string(scim::kGroupSchema)}},
                                {"displayName", "Öps"},
                                {"members", {{{"value", alice}}, {{"value", bob}}}}});
  // A duplicate written before group names were unique per connection: both groups match, in
  // creation order.
  PutGroupDirectly("öps");
  auto page = ExpectSameList(ResourceType::kGroup, R"(displayName eq "ÖPS")");
  EXPECT_EQ(page.total_results, 2);
  ASSERT_EQ(page.texts.size(), 2u);
  EXPECT_EQ(Json::parse(page.texts[0])["members"].size(), 2u);
  page = ExpectSameList(ResourceType::kGroup, R"(displayName eq "öps")", 2, 5);
  EXPECT_EQ(page.total_results, 2);
  ASSERT_EQ(page.texts.size(), 1u);
  EXPECT_FALSE(Json::parse(page.texts[0]).contains("members"));
}

TEST_F(ScimServiceTest, GroupDisplayNameIsUniquePerConnectionIgnoringCase) {
  std::string design = Create(ResourceType::kGroup, Group("Design"));
  auto again = service_->Create(ctx_, ResourceType::kGroup, Group("DESIGN"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kUniqueness);
  EXPECT_NE(again.error().detail.find(design), std::string::npos) << again.error().detail;

  // A rename onto the name, by PUT or by PATCH, is refused the same way and changes nothing.
  std::string ops = Create(ResourceType::kGroup, Group("Ops"));
  auto put =
      service_->Replace(ctx_, ResourceType::kGroup, ops, Group("design"), std::nullopt, false);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kUniqueness);
  Json rename = {
      {"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
      {"Operations", {{{"op", "replace"}, {"path", "displayName"}, {"value", "Design"}}}}};
  auto patched = service_->Patch(ctx_, ResourceType::kGroup, ops, rename, std::nullopt, false);
  ASSERT_FALSE(patched);
  EXPECT_EQ(patched.error().code, ErrorCode::kUniqueness);
  auto got = service_->Get(ctx_, ResourceType::kGroup, ops, false, false);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->resource["displayName"], "Ops");

  // A group may change the case of its own name.
  auto recased =
      service_->Replace(ctx_, ResourceType::kGroup, design, Group("DESIGN"), std::nullopt, false);
  ASSERT_TRUE(recased) << recased.error().detail;

  // Another connection has names of its own.
  store::Connection other = connection_;
  Status st = store_->Write([&](store::Transaction& tx) -> Status {
    other.uuid = "22222222-2222-3333-4444-555555555555";
    other.name = "other";
    auto created = tx.CreateConnection(other);
    if (!created) return created.error();
    other = *created;
    return Status::Ok();
  });
  ASSERT_TRUE(st) << st.error().detail;
  CallContext other_ctx = ctx_;
  other_ctx.connection = &other;
  EXPECT_TRUE(service_->Create(other_ctx, ResourceType::kGroup, Group("Design")));
}

TEST_F(ScimServiceTest, DuplicateGroupNamesWrittenBeforeTheRuleStayWritable) {
  std::string user = Create(ResourceType::kUser, User("carol"));
  std::string first = Create(ResourceType::kGroup, Group("Sales"));
  std::string second = PutGroupDirectly("sales");
  // Member changes and a PUT that keeps the name succeed on either copy.
  Json add = {
      {"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
      {"Operations", {{{"op", "add"}, {"path", "members"}, {"value", {{{"value", user}}}}}}}};
  for (const auto& id : {first, second}) {
    auto patched = service_->Patch(ctx_, ResourceType::kGroup, id, add, std::nullopt, false);
    EXPECT_TRUE(patched) << patched.error().detail;
  }
  Json keep = Group("sales");
  keep["members"] = Json::array();
  auto put = service_->Replace(ctx_, ResourceType::kGroup, second, keep, std::nullopt, false);
  EXPECT_TRUE(put) << put.error().detail;
  // Renaming one copy away resolves the duplicate; renaming it back is refused.
  auto away = service_->Replace(ctx_, ResourceType::kGroup, second, Group("Sales EMEA"),
                                std::nullopt, false);
  ASSERT_TRUE(away) << away.error().detail;
  auto back =
      service_->Replace(ctx_, ResourceType::kGroup, second, Group("SALES"), std::nullopt, false);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, ErrorCode::kUniqueness);
}

// A store that runs `between` once, right after the next read: another writer's change landing
// between the snapshot a user PATCH is prepared on and the write job that stores it.
class InterleavingStore final : public store::Store {
 public:
  explicit InterleavingStore(store::Store& inner) : inner_(inner) {}
  Status Read(const std::function<Status(store::Transaction&)>& job) override {
    Status st = inner_.Read(job);
    if (auto hook = std::exchange(between, nullptr)) hook();
    return st;
  }
  // With `rerun_next_write`, the next job runs twice, as the PostgreSQL store reruns one after
  // a serialization conflict: the first run's writes are rolled back, then it runs again.
  Status Write(const std::function<Status(store::Transaction&)>& job) override {
    if (std::exchange(rerun_next_write, false)) {
      (void)inner_.Write([&](store::Transaction& tx) -> Status {
        if (Status s = job(tx); !s) return s;
        return MakeError(ErrorCode::kConflict, "rolled back to be run again");
      });
    }
    return inner_.Write(job);
  }
  Result<int64_t> ConfigGeneration() override { return inner_.ConfigGeneration(); }
  store::EncodedBodyPtr EncodeBody(store::BodyKind kind, const Json& body) override {
    return inner_.EncodeBody(kind, body);
  }
  void Close() override {}

  std::function<void()> between;
  bool rerun_next_write = false;

 private:
  store::Store& inner_;
};

Json ReplaceOp(const std::string& path, const Json& value) {
  return {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
          {"Operations", {{{"op", "replace"}, {"path", path}, {"value", value}}}}};
}

// A user PATCH is prepared on a read snapshot and stored only if the user's version is still
// the snapshot's; otherwise it is applied again to the current row. Each case lands another
// write between the two.
TEST_F(ScimServiceTest, UserPatchPreparedOnAStaleSnapshotIsAppliedToTheCurrentRow) {
  InterleavingStore interleaving(*store_);
  ScimService service(interleaving, scim::schema::Registry::Default(), SystemClock::Instance());
  const std::string id = Create(ResourceType::kUser, {{"userName", "ada"}});

  // Lost update: the other write's title must survive this PATCH of displayName.
  interleaving.between = [&] {
    auto other = service_->Patch(ctx_, ResourceType::kUser, id, ReplaceOp("title", "Engineer"),
                                 std::nullopt, false);
    ASSERT_TRUE(other) << other.error().detail;
  };
  auto patched = service.Patch(ctx_, ResourceType::kUser, id, ReplaceOp("displayName", "Ada L"),
                               std::nullopt, false);
  ASSERT_TRUE(patched) << patched.error().detail;
  EXPECT_EQ(patched->resource["displayName"], "Ada L");
  EXPECT_EQ(patched->resource["title"], "Engineer");
  EXPECT_EQ(patched->etag, "W/\"3\"");
  auto read = service_->Get(ctx_, ResourceType::kUser, id, false);
  ASSERT_TRUE(read) << read.error().detail;
  EXPECT_EQ(read->resource["title"], "Engineer");
  EXPECT_EQ(read->resource["displayName"], "Ada L");

  // If-Match names the snapshot's version, which the other write has since replaced: refused.
  interleaving.between = [&] {
    ASSERT_TRUE(service_->Patch(ctx_, ResourceType::kUser, id, ReplaceOp("title", "Lead"),
                                std::nullopt, false));
  };
  auto stale = service.Patch(ctx_, ResourceType::kUser, id, ReplaceOp("displayName", "X"),
                             std::string("W/\"3\""), false);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kVersionMismatch);

  // Deleted in between: not found, and nothing written.
  interleaving.between = [&] {
    ASSERT_TRUE(service_->Delete(ctx_, ResourceType::kUser, id, std::nullopt));
  };
  auto gone = service.Patch(ctx_, ResourceType::kUser, id, ReplaceOp("displayName", "Y"),
                            std::nullopt, false);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(service_->Get(ctx_, ResourceType::kUser, id, false));
}

// The job moves the prepared body into the store; a job run again (PostgreSQL after a
// serialization conflict) finds it taken and patches the current row itself.
TEST_F(ScimServiceTest, UserPatchPreparedAndRunAgainStoresThePatchOnce) {
  InterleavingStore interleaving(*store_);
  ScimService service(interleaving, scim::schema::Registry::Default(), SystemClock::Instance());
  const std::string id = Create(ResourceType::kUser, {{"userName", "ada"}, {"title", "Countess"}});
  interleaving.rerun_next_write = true;
  auto patched = service.Patch(ctx_, ResourceType::kUser, id, ReplaceOp("displayName", "Ada L"),
                               std::nullopt, false);
  ASSERT_TRUE(patched) << patched.error().detail;
  EXPECT_EQ(patched->resource["displayName"], "Ada L");
  EXPECT_EQ(patched->etag, "W/\"2\"");
  auto read = service_->Get(ctx_, ResourceType::kUser, id, false);
  ASSERT_TRUE(read) << read.error().detail;
  EXPECT_EQ(read->resource["displayName"], "Ada L");
  EXPECT_EQ(read->resource["userName"], "ada");
  EXPECT_EQ(read->resource["title"], "Countess");
}

// With nothing in between, the prepared PATCH is what is stored, and a PATCH the server refuses
// on the snapshot gets the same error from the writer.
TEST_F(ScimServiceTest, UserPatchPreparedOnACurrentSnapshotIsStored) {
  const std::string id = Create(ResourceType::kUser, {{"userName", "grace"}});
  auto patched = service_->Patch(ctx_, ResourceType::kUser, id, ReplaceOp("title", "Admiral"),
                                 std::string("W/\"1\""), false);
  ASSERT_TRUE(patched) << patched.error().detail;
  EXPECT_EQ(patched->resource["title"], "Admiral");
  EXPECT_EQ(patched->etag, "W/\"2\"");
  auto same = service_->Patch(ctx_, ResourceType::kUser, id, ReplaceOp("title", "Admiral"),
                              std::nullopt, false);
  ASSERT_TRUE(same) << same.error().detail;
  EXPECT_EQ(same->etag, "W/\"2\"");  // unchanged: not written again
  auto bad = service_->Patch(ctx_, ResourceType::kUser, id, ReplaceOp("userName", Json(7)),
                             std::nullopt, false);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidValue);
  auto stale = service_->Patch(ctx_, ResourceType::kUser, id, ReplaceOp("title", "Rear Admiral"),
                               std::string("W/\"1\""), false);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kVersionMismatch);
}

// Records the source users each write asks the observer to re-derive.
struct RecordingObserver final : MirrorObserver {
  Status OnMirrorChanged(store::Transaction&, const MirrorChange& change) override {
    for (const auto& id : change.users) derived.push_back(change.operation + " " + id);
    return Status::Ok();
  }
  std::vector<std::string> derived;
};

// A user written again as it is (a PUT of the same attributes, a PATCH setting what is set)
// changes no input of the derivation: the observer is not asked to re-derive it. A write that
// changes the user is.
TEST_F(ScimServiceTest, AUserWriteThatChangesNothingIsNotDerivedAgain) {
  RecordingObserver observer;
  service_->SetObserver(&observer);
  const std::string id = Create(ResourceType::kUser, {{"userName", "ada"}, {"title", "Eng"}});
  ASSERT_EQ(observer.derived, std::vector<std::string>{"create " + id});
  observer.derived.clear();

  ASSERT_TRUE(service_->Patch(ctx_, ResourceType::kUser, id, ReplaceOp("title", "Eng"),
                              std::nullopt, false));
  Json same = {
      {"schemas", {std::string(scim::kUserSchema)}}, {"userName", "ada"}, {"title", "Eng"}};
  auto replaced = service_->Replace(ctx_, ResourceType::kUser, id, same, std::nullopt, false);
  ASSERT_TRUE(replaced) << replaced.error().detail;
  EXPECT_EQ(replaced->etag, "W/\"1\"");  // not written either
  EXPECT_TRUE(observer.derived.empty());

  ASSERT_TRUE(service_->Patch(ctx_, ResourceType::kUser, id, ReplaceOp("title", "Lead"),
                              std::nullopt, false));
  same["title"] = "Staff";
  ASSERT_TRUE(service_->Replace(ctx_, ResourceType::kUser, id, same, std::nullopt, false));
  EXPECT_EQ(observer.derived, (std::vector<std::string>{"patch " + id, "replace " + id}));
  service_->SetObserver(nullptr);
}

// A user's PATCH and PUT answers are rendered after the commit: they carry the user as stored
// (version, meta) and the groups it is a member of, read in the write's transaction.
TEST_F(ScimServiceTest, AUserWriteAnswersWithItsGroupsAsCommitted) {
  const std::string id = Create(ResourceType::kUser, {{"userName", "ada"}});
  const std::string group =
      Create(ResourceType::kGroup, {{"displayName", "Staff"}, {"members", {{{"value", id}}}}});
  auto patched = service_->Patch(ctx_, ResourceType::kUser, id, ReplaceOp("title", "Eng"),
                                 std::nullopt, false);
  ASSERT_TRUE(patched) << patched.error().detail;
  EXPECT_EQ(patched->resource["title"], "Eng");
  EXPECT_EQ(patched->resource["meta"]["version"], "W/\"2\"");
  EXPECT_EQ(patched->etag, "W/\"2\"");
  ASSERT_TRUE(patched->resource["groups"].is_array());
  ASSERT_EQ(patched->resource["groups"].size(), 1u);
  EXPECT_EQ(patched->resource["groups"][0]["value"], group);
  EXPECT_EQ(patched->resource["groups"][0]["display"], "Staff");
  auto read = service_->Get(ctx_, ResourceType::kUser, id, false);
  ASSERT_TRUE(read) << read.error().detail;
  EXPECT_EQ(patched->resource, read->resource);

  Json body = {
      {"schemas", {std::string(scim::kUserSchema)}}, {"userName", "ada"}, {"title", "Lead"}};
  auto replaced = service_->Replace(ctx_, ResourceType::kUser, id, body, std::nullopt, false);
  ASSERT_TRUE(replaced) << replaced.error().detail;
  EXPECT_EQ(replaced->resource["title"], "Lead");
  EXPECT_EQ(replaced->resource["meta"]["version"], "W/\"3\"");
  ASSERT_EQ(replaced->resource["groups"].size(), 1u);
  EXPECT_EQ(replaced->resource["groups"][0]["value"], group);
  read = service_->Get(ctx_, ResourceType::kUser, id, false);
  ASSERT_TRUE(read) << read.error().detail;
  EXPECT_EQ(replaced->resource, read->resource);
}

}  // namespace
}  // namespace idsync::service
