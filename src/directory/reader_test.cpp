#include "directory/reader.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/strings.h"
#include "base/time.h"
#include "directory/render.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/test_support.h"

namespace idsync::directory {
namespace {

using store::sqlite::test_support::TempDir;

const std::string kBase = "https://idsync.test/directory/v2/users";
const std::string kExt(kUserExtensionUrn);

Json Attr(Json value) {
  return {{"value", std::move(value)}, {"rule", "test"}};
}

class DirectoryReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::sqlite::SqliteStore::Open(dir_.path(), {});
    ASSERT_TRUE(opened) << opened.error().detail;
    store_ = std::move(*opened);
    // costCenter (string) and level (integer) are this directory's custom attributes.
    SetCustom(Json::array({{{"name", "costCenter"}, {"type", "string"}, {"multi_valued", false}},
                           {{"name", "level"}, {"type", "integer"}, {"multi_valued", false}}}));
    //            username        email                  active  costCenter level
    AddUser("u1", "alice", "alice@example.com", true, "42", 3);
    AddUser("u2", "Bob", "bob@corp.example", false, "7", 1);
    AddUser("u3", "carol", "carol@example.com", true, "42", 2);
    AddUser("u4", "dave", "dave@corp.example", true, nullptr, 5);
    AddUser("u5", "Änne", "aenne@example.com", true, "9", 4);
    AddGroup("g1", "Staff", {"u1", "u2", "u3"}, {"portal"});
    AddGroup("g2", "Admins", {"u1"}, {});
  }

  void SetCustom(Json defs) {
    ASSERT_TRUE(store_->Write([&](store::Transaction& tx) -> Status {
      auto d = tx.GetDirectory("users");
      if (!d) return d.error();
      d->custom_attributes = defs;
      auto put = tx.PutDirectory(*d);
      return put ? Status::Ok() : Status(put.error());
    }));
  }

  void AddUser(const std::string& id, const std::string& username, const std::string& email,
               bool active, Json cost_center, int level) {
    store::EffectiveUserRow row;
    row.directory = "users";
    row.id = id;
    row.username = username;
    row.username_key = FoldCase(username);
    row.state = active ? "active" : "disabled";
    Json attrs = {{"username", Attr(username)},
                  {"email", Attr(email)},
                  {"displayName", Attr("Name of " + username)},
                  {"level", Attr(level)}};
    if (!cost_center.is_null()) attrs["costCenter"] = Attr(cost_center);
    row.body = {{"attributes", attrs}};
    row.created = row.last_modified = FromUnixMillis(1000 * (++clock_));
    ASSERT_TRUE(store_->Write([&](store::Transaction& tx) -> Status {
      auto put = tx.PutEffectiveUser(row);
      return put ? Status::Ok() : Status(put.error());
    }));
  }

  void AddGroup(const std::string& id, const std::string& name,
                const std::vector<std::string>& members, const std::vector<std::string>& ents) {
    store::EffectiveGroupRow row;
    row.directory = "users";
    row.id = id;
    row.name = name;
    row.name_key = FoldCase(name);
    row.body = {{"entitlements", ents}};
    row.created = row.last_modified = FromUnixMillis(1000 * (++clock_));
    ASSERT_TRUE(store_->Write([&](store::Transaction& tx) -> Status {
      auto put = tx.PutEffectiveGroup(row);
      if (!put) return put.error();
      for (const auto& m : members) {
        auto added = tx.AddEffectiveMember("users", id, m);
        if (!added) return added.error();
      }
      return Status::Ok();
    }));
  }

  // Ids of the users a filter (and options) returns, in order.
  std::vector<std::string> Ids(const std::string& filter, service::ListRequest request = {},
                               service::ScimLimits limits = {}) {
    if (!filter.empty()) request.filter = filter;
    DirectoryReader reader(*store_, limits);
    auto list = reader.ListUsers("users", request, kBase);
    EXPECT_TRUE(list) << filter << ": " << list.error().detail;
    std::vector<std::string> out;
    if (list) {
      for (const auto& r : list->resources) out.push_back(r["id"].get<std::string>());
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  int clock_ = 0;
};

using IdList = std::vector<std::string>;

TEST_F(DirectoryReaderTest, UnfilteredPagesInCreationOrder) {
  DirectoryReader reader(*store_);
  service::ListRequest req;
  req.start_index = 2;
  req.count = 2;
  auto list = reader.ListUsers("users", req, kBase);
  ASSERT_TRUE(list) << list.error().detail;
  EXPECT_EQ(list->total_results, 5);
  EXPECT_EQ(list->start_index, 2);
  ASSERT_EQ(list->resources.size(), 2u);
  EXPECT_EQ(list->resources[0]["id"], "u2");
  EXPECT_EQ(list->resources[1]["id"], "u3");
  service::ListRequest none;
  none.count = 0;
  EXPECT_EQ(Ids("", none), IdList{});
}

TEST_F(DirectoryReaderTest, RepresentationHasGroupsAndMeta) {
  DirectoryReader reader(*store_);
  auto got = reader.GetUser("users", "u1", kBase);
  ASSERT_TRUE(got) << got.error().detail;
  const Json& u = got->resource;
  EXPECT_EQ(u["userName"], "alice");
  EXPECT_EQ(u["emails"][0]["value"], "alice@example.com");
  EXPECT_EQ(u["active"], true);
  EXPECT_EQ(u[kExt]["costCenter"], "42");
  EXPECT_EQ(u[kExt]["level"], 3);
  ASSERT_EQ(u["groups"].size(), 2u);
  for (const auto& g : u["groups"]) {
    EXPECT_EQ(g["$ref"], kBase + "/Groups/" + g["value"].get<std::string>());
  }
  EXPECT_EQ(u["meta"]["location"], kBase + "/Users/u1");
  EXPECT_EQ(u["meta"]["resourceType"], "User");
  EXPECT_EQ(got->etag, u["meta"]["version"]);

  auto group = reader.GetGroup("users", "g1", kBase);
  ASSERT_TRUE(group) << group.error().detail;
  EXPECT_EQ(group->resource["displayName"], "Staff");
  ASSERT_EQ(group->resource["members"].size(), 3u);
  EXPECT_EQ(group->resource["members"][0]["$ref"], kBase + "/Users/u1");
  EXPECT_EQ(group->resource["members"][0]["type"], "User");
  EXPECT_EQ(group->resource[std::string(kGroupExtensionUrn)]["entitlements"][0], "portal");
}

TEST_F(DirectoryReaderTest, FiltersOnCoreAndCustomAttributes) {
  EXPECT_EQ(Ids(R"(userName eq "BOB")"), IdList{"u2"});   // index, case-insensitive
  EXPECT_EQ(Ids(R"(userName eq "änne")"), IdList{"u5"});  // Unicode folding
  EXPECT_EQ(Ids(R"(userName eq "nobody")"), IdList{});
  EXPECT_EQ(Ids(R"(userName eq "alice" and active eq false)"), IdList{});
  EXPECT_EQ(Ids(R"(emails.value co "corp")"), (IdList{"u2", "u4"}));
  EXPECT_EQ(Ids(R"(emails[value ew "example.com"])"), (IdList{"u1", "u3", "u5"}));
  EXPECT_EQ(Ids("active eq false"), IdList{"u2"});
  EXPECT_EQ(Ids(kExt + R"(:costCenter eq "42")"), (IdList{"u1", "u3"}));
  EXPECT_EQ(Ids(R"(costCenter eq "42")"), (IdList{"u1", "u3"}));  // bare extension name
  EXPECT_EQ(Ids(kExt + ":level gt 3"), (IdList{"u4", "u5"}));
  EXPECT_EQ(Ids("not (costCenter pr)"), IdList{"u4"});
  EXPECT_EQ(Ids(R"(groups.display eq "admins")"), IdList{"u1"});
  EXPECT_EQ(Ids(R"(groups eq "g1")"), (IdList{"u1", "u2", "u3"}));
  EXPECT_EQ(Ids(R"(id eq "u3")"), IdList{"u3"});
  EXPECT_EQ(Ids(R"(displayName sw "name of c")"), IdList{"u3"});
}

TEST_F(DirectoryReaderTest, RejectsUnknownAttributes) {
  DirectoryReader reader(*store_);
  service::ListRequest req;
  req.filter = R"(department eq "x")";  // EnterpriseUser is not part of the read API
  auto list = reader.ListUsers("users", req, kBase);
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code, ErrorCode::kInvalidFilter);
  req.filter = "userName eq";
  EXPECT_EQ(reader.ListUsers("users", req, kBase).error().code, ErrorCode::kInvalidFilter);
  req.filter.reset();
  req.sort_by = "nosuch";
  EXPECT_EQ(reader.ListUsers("users", req, kBase).error().code, ErrorCode::kInvalidValue);
  EXPECT_EQ(reader.ListUsers("users", {}, kBase, {"nosuch", ""}).error().code,
            ErrorCode::kInvalidValue);
  EXPECT_EQ(reader.ListUsers("nosuchdir", {}, kBase).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(reader.GetUser("users", "nosuch", kBase).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(reader.GetUser("customers", "u1", kBase).error().code, ErrorCode::kNotFound);
}

TEST_F(DirectoryReaderTest, SortsAndPagesFilteredResults) {
  service::ListRequest req;
  req.sort_by = "userName";
  EXPECT_EQ(Ids("", req), (IdList{"u1", "u2", "u3", "u4", "u5"}));  // folded: Bob after alice
  req.descending = true;
  EXPECT_EQ(Ids("", req), (IdList{"u5", "u4", "u3", "u2", "u1"}));
  req.sort_by = kExt + ":costCenter";
  req.descending = false;
  // Strings: "42" < "7" < "9"; without a value (u4) last; ties in creation order.
  EXPECT_EQ(Ids("", req), (IdList{"u1", "u3", "u2", "u5", "u4"}));
  req.sort_by = "level";
  req.start_index = 2;
  req.count = 2;
  EXPECT_EQ(Ids("active eq true", req), (IdList{"u1", "u5"}));  // levels 2,3,4,5 -> page 3,4
}

TEST_F(DirectoryReaderTest, ProjectsAttributes) {
  DirectoryReader reader(*store_);
  auto list = reader.ListUsers("users", {}, kBase, {"userName," + kExt + ":costCenter", ""});
  ASSERT_TRUE(list) << list.error().detail;
  const Json& u = list->resources[0];
  EXPECT_EQ(u["userName"], "alice");
  EXPECT_EQ(u[kExt]["costCenter"], "42");
  EXPECT_FALSE(u.contains("emails"));
  EXPECT_FALSE(u.contains("groups"));
  EXPECT_FALSE(u[kExt].contains("level"));
  EXPECT_TRUE(u.contains("id"));

  auto group = reader.GetGroup("users", "g1", kBase, {"", "members"});
  ASSERT_TRUE(group) << group.error().detail;
  EXPECT_FALSE(group->resource.contains("members"));
  EXPECT_EQ(group->resource["displayName"], "Staff");

  service::ListRequest req;
  req.filter = R"(displayName eq "staff")";
  auto groups = reader.ListGroups("users", req, kBase);
  ASSERT_TRUE(groups) << groups.error().detail;
  ASSERT_EQ(groups->resources.size(), 1u);
  EXPECT_EQ(groups->resources[0]["members"].size(), 3u);
}

TEST_F(DirectoryReaderTest, RegistryFollowsCustomAttributeChanges) {
  DirectoryReader reader(*store_);
  service::ListRequest req;
  req.filter = R"(site eq "x")";
  EXPECT_EQ(reader.ListUsers("users", req, kBase).error().code, ErrorCode::kInvalidFilter);
  SetCustom(Json::array({{{"name", "site"}, {"type", "string"}}}));
  auto list = reader.ListUsers("users", req, kBase);
  ASSERT_TRUE(list) << list.error().detail;
  EXPECT_EQ(list->total_results, 0);
  req.filter = R"(costCenter eq "42")";  // no longer defined
  EXPECT_EQ(reader.ListUsers("users", req, kBase).error().code, ErrorCode::kInvalidFilter);
}

TEST_F(DirectoryReaderTest, ScanIsCapped) {
  service::ScimLimits limits;
  limits.max_scan_resources = 3;
  DirectoryReader reader(*store_, limits);
  service::ListRequest req;
  req.filter = "active eq true";
  auto list = reader.ListUsers("users", req, kBase);
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code, ErrorCode::kTooMany);
  req.filter = R"(userName eq "dave")";  // the index serves it whatever the cap
  EXPECT_EQ(Ids(*req.filter, {}, limits), IdList{"u4"});
}

TEST(RegistryWithExtensions, RejectsMalformedSchemas) {
  using scim::schema::Registry;
  Json bad_type = {{"id", "urn:x:1"},
                   {"name", "x"},
                   {"attributes", Json::array({{{"name", "a"}, {"type", "float"}}})}};
  EXPECT_FALSE(Registry::WithExtensions({bad_type}, {}));
  Json dup = {{"id", "urn:x:1"},
              {"name", "x"},
              {"attributes", Json::array({{{"name", "a"}}, {{"name", "A"}}})}};
  EXPECT_FALSE(Registry::WithExtensions({dup}, {}));
  Json ok = {{"id", "urn:x:1"}, {"name", "x"}, {"attributes", Json::array({{{"name", "a"}}})}};
  EXPECT_FALSE(Registry::WithExtensions({ok, ok}, {}));
  auto r = Registry::WithExtensions({ok}, {});
  ASSERT_TRUE(r);
  EXPECT_TRUE((*r)->ResolveDotted(scim::ResourceType::kUser, "urn:x:1:a"));
  EXPECT_FALSE((*r)->ResolveDotted(scim::ResourceType::kUser, "employeeNumber"));
  EXPECT_FALSE((*r)->ResolveDotted(scim::ResourceType::kGroup, "a"));
}

}  // namespace
}  // namespace idsync::directory
