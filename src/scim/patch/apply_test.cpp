#include "scim/patch/apply.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "scim/resource/validate.h"

namespace idsync::scim::patch {
namespace {

const schema::Registry& Reg() {
  return schema::Registry::Default();
}

constexpr const char* kEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

Json SampleUser() {
  return Json::parse(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "bjensen",
    "meta": {"resourceType": "User", "created": "2024-01-23T04:56:22Z",
             "lastModified": "2024-05-13T04:42:34Z", "version": "W/\"a330bc54f0671c9\""},
    "userName": "bjensen@example.com",
    "name": {"familyName": "Jensen", "givenName": "Barbara"},
    "displayName": "Babs Jensen",
    "active": true,
    "emails": [
      {"value": "bjensen@example.com", "type": "work", "primary": true},
      {"value": "babs@jensen.org", "type": "home"}
    ]
  })");
}

Json SampleGroup() {
  return Json::parse(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
    "meta": {"resourceType": "Group", "created": "2024-01-23T04:56:22Z",
             "lastModified": "2024-05-13T04:42:34Z", "version": "W/\"3694e05e9dff592\""},
    "displayName": "Tour Guides",
    "members": [
      {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
      {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}
    ]
  })");
}

// A PatchOp body around the given operations (JSON array text).
Json Body(const std::string& operations) {
  return Json::parse(R"({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],)"
                     R"("Operations":)" +
                     operations + "}");
}

Json PatchUser(const std::string& operations, const Json& user = SampleUser()) {
  auto result = ApplyPatch(user, Body(operations), ResourceType::kUser, Reg());
  EXPECT_TRUE(result) << operations << ": " << result.error().detail;
  return result ? *result : Json();
}

Json PatchGroup(const std::string& operations, const PatchOptions& options = {},
                const Json& group = SampleGroup()) {
  auto result = ApplyPatch(group, Body(operations), ResourceType::kGroup, Reg(), options);
  EXPECT_TRUE(result) << operations << ": " << result.error().detail;
  return result ? *result : Json();
}

ErrorCode UserError(const std::string& operations, const Json& user = SampleUser()) {
  auto result = ApplyPatch(user, Body(operations), ResourceType::kUser, Reg());
  EXPECT_FALSE(result) << operations << " succeeded: " << (result ? result->dump() : "");
  return result ? ErrorCode::kInternal : result.error().code;
}

std::vector<std::string> MemberIds(const Json& group) {
  std::vector<std::string> ids;
  for (const Json& m : group.value("members", Json::array())) ids.push_back(m["value"]);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The in-memory stand-in for the store's member table: records what the engine asks of it.
class FakeMemberStore : public MemberStore {
 public:
  explicit FakeMemberStore(std::vector<Json> initial = {}) : members_(std::move(initial)) {}

  Status Add(const Json& member) override {
    calls.push_back("Add " + member.value("value", std::string()));
    if (!member.contains("value")) return Error{ErrorCode::kInvalidValue, "no value"};
    for (const Json& m : members_) {
      if (m["value"] == member["value"]) return {};
    }
    members_.push_back(member);
    return {};
  }
  Result<bool> Remove(const std::string& value) override {
    calls.push_back("Remove " + value);
    auto it = std::find_if(members_.begin(), members_.end(),
                           [&](const Json& m) { return m["value"] == value; });
    if (it == members_.end()) return false;
    members_.erase(it);
    return true;
  }
  Status Clear() override {
    calls.push_back("Clear");
    members_.clear();
    return {};
  }
  Result<std::vector<Json>> All() override {
    calls.push_back("All");
    return members_;
  }

  std::vector<std::string> Ids() const {
    std::vector<std::string> ids;
    for (const Json& m : members_) ids.push_back(m["value"]);
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  std::vector<std::string> calls;

 private:
  std::vector<Json> members_;
};

std::vector<Json> TwoMembers() {
  return {Json{{"value", "u1"}, {"display", "One"}}, Json{{"value", "u2"}, {"display", "Two"}}};
}

// ---- RFC 7644 §3.5.2.1 add

TEST(PatchAdd, MultiValuedAppendsWithoutDuplicates) {
  Json u = PatchUser(R"([{"op":"add","path":"emails","value":[
      {"value":"new@example.com","type":"other"},
      {"value":"BJENSEN@example.com","type":"work"}]}])");
  ASSERT_EQ(u["emails"].size(), 3u);
  EXPECT_EQ(u["emails"][2]["value"], "new@example.com");
}

TEST(PatchAdd, ComplexMergesSubAttributes) {
  Json u = PatchUser(R"([{"op":"add","path":"name","value":{"middleName":"Jane"}}])");
  EXPECT_EQ(u["name"],
            Json::parse(R"({"familyName":"Jensen","givenName":"Barbara","middleName":"Jane"})"));
}

TEST(PatchAdd, WithoutPathMergesValueObject) {
  Json u = PatchUser(R"([{"op":"add","value":{"nickName":"Babs","name":{"givenName":"B."},
      "emails":[{"value":"b@work.example","type":"other"}]}}])");
  EXPECT_EQ(u["nickName"], "Babs");
  EXPECT_EQ(u["name"]["givenName"], "B.");
  EXPECT_EQ(u["name"]["familyName"], "Jensen");
  EXPECT_EQ(u["emails"].size(), 3u);
}

TEST(PatchAdd, SingleValuedReplacesExisting) {
  Json u = PatchUser(R"([{"op":"add","path":"displayName","value":"Barbara"}])");
  EXPECT_EQ(u["displayName"], "Barbara");
}

TEST(PatchAdd, SameValueChangesNothing) {
  Json before = SampleUser();
  Json u = PatchUser(R"([{"op":"add","path":"emails","value":[
      {"value":"babs@jensen.org","type":"home"}]}])");
  EXPECT_EQ(u, before);
}

TEST(PatchAdd, AttributeNamesAreCaseInsensitive) {
  Json u = PatchUser(R"([{"op":"add","path":"NAME.GIVENNAME","value":"Bee"}])");
  EXPECT_EQ(u["name"]["givenName"], "Bee");
}

// ---- RFC 7644 §3.5.2.3 replace

TEST(PatchReplace, MultiValuedWithoutFilterReplacesAll) {
  Json u = PatchUser(R"([{"op":"replace","path":"emails","value":[
      {"value":"only@example.com","type":"work","primary":true}]}])");
  ASSERT_EQ(u["emails"].size(), 1u);
  EXPECT_EQ(u["emails"][0]["value"], "only@example.com");
}

TEST(PatchReplace, ComplexLeavesUnspecifiedSubAttributes) {
  Json u = PatchUser(R"([{"op":"replace","path":"name","value":{"givenName":"Barb"}}])");
  EXPECT_EQ(u["name"]["givenName"], "Barb");
  EXPECT_EQ(u["name"]["familyName"], "Jensen");
}

TEST(PatchReplace, ValueFilterReplacesMatchingElements) {
  Json u = PatchUser(R"([{"op":"replace","path":"emails[type eq \"home\"]",
      "value":{"value":"b@home.example","type":"home"}}])");
  EXPECT_EQ(u["emails"][1], Json::parse(R"({"value":"b@home.example","type":"home"})"));
  EXPECT_EQ(u["emails"][0]["value"], "bjensen@example.com");
}

TEST(PatchReplace, ValueFilterWithSubAttributeReplacesOnlyIt) {
  Json u = PatchUser(
      R"([{"op":"replace","path":"emails[type eq \"work\"].value","value":"b@work.example"}])");
  EXPECT_EQ(u["emails"][0],
            Json::parse(R"({"value":"b@work.example","type":"work","primary":true})"));
}

TEST(PatchReplace, ValueFilterMatchingNothingIsNoTarget) {
  EXPECT_EQ(
      UserError(R"([{"op":"replace","path":"emails[type eq \"other\"].value","value":"x@y.z"}])"),
      ErrorCode::kNoTarget);
}

TEST(PatchReplace, MissingAttributeIsAdded) {
  Json u = PatchUser(R"([{"op":"replace","path":"title","value":"Tour Guide"}])");
  EXPECT_EQ(u["title"], "Tour Guide");
}

TEST(PatchReplace, NullUnassigns) {
  Json u = PatchUser(R"([{"op":"replace","path":"displayName","value":null}])");
  EXPECT_FALSE(u.contains("displayName"));
}

// ---- RFC 7644 §3.5.2.2 remove

TEST(PatchRemove, WithoutPathIsNoTarget) {
  EXPECT_EQ(UserError(R"([{"op":"remove"}])"), ErrorCode::kNoTarget);
}

TEST(PatchRemove, ValueFilterRemovesMatchingElements) {
  Json u = PatchUser(R"([{"op":"remove","path":"emails[type eq \"home\"]"}])");
  ASSERT_EQ(u["emails"].size(), 1u);
  EXPECT_EQ(u["emails"][0]["type"], "work");
}

TEST(PatchRemove, LastValueMakesAttributeUnassigned) {
  Json u = PatchUser(R"([{"op":"remove","path":"emails[type eq \"home\" or type eq \"work\"]"}])");
  EXPECT_FALSE(u.contains("emails"));
}

TEST(PatchRemove, MultiValuedWithoutFilterRemovesAll) {
  Json u = PatchUser(R"([{"op":"remove","path":"emails"}])");
  EXPECT_FALSE(u.contains("emails"));
}

TEST(PatchRemove, SubAttribute) {
  Json u = PatchUser(R"([{"op":"remove","path":"name.givenName"}])");
  EXPECT_EQ(u["name"], Json::parse(R"({"familyName":"Jensen"})"));
  u = PatchUser(R"([{"op":"remove","path":"name.givenName"},
                    {"op":"remove","path":"name.familyName"}])");
  EXPECT_FALSE(u.contains("name"));
}

TEST(PatchRemove, FilteredSubAttribute) {
  Json u = PatchUser(R"([{"op":"remove","path":"emails[type eq \"work\"].primary"}])");
  EXPECT_FALSE(u["emails"][0].contains("primary"));
  EXPECT_EQ(UserError(R"([{"op":"remove","path":"emails[type eq \"other\"].primary"}])"),
            ErrorCode::kNoTarget);
}

TEST(PatchRemove, FilterMatchingNoValueIsIdempotent) {
  Json u = PatchUser(R"([{"op":"remove","path":"emails[value eq \"gone@example.com\"]"}])");
  EXPECT_EQ(u, SampleUser());
}

TEST(PatchRemove, RequiredAttributeIsMutability) {
  // RFC 7644 §3.5.2.2: a required attribute that is removed or becomes unassigned -> mutability.
  EXPECT_EQ(UserError(R"([{"op":"remove","path":"userName"}])"), ErrorCode::kMutability);
  EXPECT_EQ(UserError(R"([{"op":"replace","path":"userName","value":null}])"),
            ErrorCode::kMutability);
  auto result = ApplyPatch(SampleGroup(), Body(R"([{"op":"remove","path":"displayName"}])"),
                           ResourceType::kGroup, Reg());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kMutability);
}

// ---- RFC 7644 §3.5.2 "primary"

TEST(PatchPrimary, SettingPrimaryClearsItOnOthers) {
  Json u = PatchUser(R"([{"op":"add","path":"emails","value":[
      {"value":"new@example.com","type":"other","primary":true}]}])");
  EXPECT_EQ(u["emails"][0]["primary"], false);
  EXPECT_EQ(u["emails"][2]["primary"], true);

  u = PatchUser(R"([{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}])");
  EXPECT_EQ(u["emails"][0]["primary"], false);
  EXPECT_EQ(u["emails"][1]["primary"], true);
}

// ---- Errors where RFC 7644 puts them

TEST(PatchErrors, BodyShape) {
  struct Case {
    const char* body;
    ErrorCode code;
  } cases[] = {
      {R"([])", ErrorCode::kInvalidSyntax},
      {R"({"Operations":[{"op":"add","path":"title","value":"x"}]})", ErrorCode::kInvalidSyntax},
      {R"({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]})",
       ErrorCode::kInvalidSyntax},
      {R"({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":{}})",
       ErrorCode::kInvalidSyntax},
      {R"({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations":[{"op":"move","path":"title","value":"x"}]})",
       ErrorCode::kInvalidSyntax},
      {R"({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[42]})",
       ErrorCode::kInvalidSyntax},
  };
  for (const Case& c : cases) {
    auto result = ApplyPatch(SampleUser(), Json::parse(c.body), ResourceType::kUser, Reg());
    ASSERT_FALSE(result) << c.body;
    EXPECT_EQ(result.error().code, c.code) << c.body << ": " << result.error().detail;
  }
}

TEST(PatchErrors, Operations) {
  struct Case {
    const char* ops;
    ErrorCode code;
  } cases[] = {
      {R"([{"op":"add","path":"emails[type eq","value":"x"}])", ErrorCode::kInvalidPath},
      {R"([{"op":"add","path":"noSuchAttribute","value":"x"}])", ErrorCode::kInvalidPath},
      {R"([{"op":"add","path":"name.noSuchSub","value":"x"}])", ErrorCode::kInvalidPath},
      {R"([{"op":"replace","path":"emails[nope eq \"x\"].value","value":"x"}])",
       ErrorCode::kInvalidPath},
      {R"([{"op":"replace","path":"userName[value eq \"x\"]","value":"x"}])",
       ErrorCode::kInvalidPath},
      {R"([{"op":"add","path":"title"}])", ErrorCode::kInvalidValue},
      {R"([{"op":"replace","path":"active","value":"maybe"}])", ErrorCode::kInvalidValue},
      {R"([{"op":"replace","path":"userName","value":42}])", ErrorCode::kInvalidValue},
      {R"([{"op":"replace","path":"name","value":"Barbara"}])", ErrorCode::kInvalidValue},
      {R"([{"op":"add","path":"emails","value":[{"value":7}]}])", ErrorCode::kInvalidValue},
      {R"([{"op":"replace","value":"not an object"}])", ErrorCode::kInvalidValue},
      {R"([{"op":"replace","path":"id","value":"other"}])", ErrorCode::kMutability},
      {R"([{"op":"remove","path":"id"}])", ErrorCode::kMutability},
      {R"([{"op":"replace","path":"meta.version","value":"W/\"1\""}])", ErrorCode::kMutability},
      {R"([{"op":"add","path":"groups","value":[{"value":"g1"}]}])", ErrorCode::kMutability},
      {R"([{"op":"replace","value":{"meta":{"version":"x"}}}])", ErrorCode::kMutability},
      {R"([{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"x"}])",
       ErrorCode::kMutability},
  };
  for (const Case& c : cases) {
    auto result = ApplyPatch(SampleUser(), Body(c.ops), ResourceType::kUser, Reg());
    ASSERT_FALSE(result) << c.ops;
    EXPECT_EQ(result.error().code, c.code) << c.ops << ": " << result.error().detail;
  }
}

TEST(PatchErrors, ImmutableSubAttributeCannotChange) {
  auto result = ApplyPatch(
      SampleGroup(), Body(R"([{"op":"replace","path":"members[display eq \"Babs Jensen\"].value",
                           "value":"someone-else"}])"),
      ResourceType::kGroup, Reg());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kMutability);
}

TEST(PatchErrors, ImmutableSubAttributesSurviveFilteredWrites) {
  const char* cases[] = {
      R"([{"op":"add","path":"members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]",
          "value":{"value":"other"}}])",
      R"([{"op":"replace","path":"members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]",
          "value":{"value":"902c246b-6245-4190-8e05-00816be7344a"}}])",
  };
  for (const char* ops : cases) {
    auto result = ApplyPatch(SampleGroup(), Body(ops), ResourceType::kGroup, Reg());
    ASSERT_FALSE(result) << ops;
    EXPECT_EQ(result.error().code, ErrorCode::kMutability) << ops;
  }
}

TEST(PatchReplace, FilteredElementWrappedInArray) {
  Json u = PatchUser(R"([{"op":"replace","path":"emails[type eq \"home\"]",
      "value":[{"value":"b@home.example","type":"home"}]}])");
  EXPECT_EQ(u["emails"][1], Json::parse(R"({"value":"b@home.example","type":"home"})"));
}

TEST(PatchErrors, TooManyOperationsIsPayloadTooLarge) {
  PatchOptions options;
  options.max_operations = 2;
  auto result = ApplyPatch(SampleUser(), Body(R"([{"op":"add","path":"title","value":"a"},
                                    {"op":"add","path":"title","value":"b"},
                                    {"op":"add","path":"title","value":"c"}])"),
                           ResourceType::kUser, Reg(), options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kPayloadTooLarge);
  EXPECT_FALSE(result.error().detail.empty());
}

TEST(PatchErrors, OneFailingOperationFailsTheWholePatch) {
  auto result = ApplyPatch(SampleUser(), Body(R"([{"op":"add","path":"title","value":"a"},
                                    {"op":"remove","path":"userName"}])"),
                           ResourceType::kUser, Reg());
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().detail.find("Operations[1]"), std::string::npos);
}

// ---- Extensions and "schemas"

TEST(PatchSchemas, ExtensionObjectAndSchemasFollowTheAttributes) {
  Json u = PatchUser(R"([{"op":"add",
      "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
      "value":"Tour Operations"}])");
  EXPECT_EQ(u[kEnterprise]["department"], "Tour Operations");
  EXPECT_NE(std::find(u["schemas"].begin(), u["schemas"].end(), Json(kEnterprise)),
            u["schemas"].end());

  u = PatchUser(R"([{"op":"remove",
      "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}])",
                u);
  EXPECT_FALSE(u.contains(kEnterprise));
  EXPECT_EQ(u["schemas"], Json::array({"urn:ietf:params:scim:schemas:core:2.0:User"}));
}

TEST(PatchSchemas, PathNamingTheExtensionAddressesItsAttributes) {
  Json u = PatchUser(R"([{"op":"replace",
      "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
      "value":{"employeeNumber":"701984","costCenter":"4130"}}])");
  EXPECT_EQ(u[kEnterprise], Json::parse(R"({"employeeNumber":"701984","costCenter":"4130"})"));
}

TEST(PatchSchemas, PathlessValueWithExtensionObject) {
  Json u = PatchUser(R"([{"op":"add","value":{
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"division":"Theme Park"}}}])");
  EXPECT_EQ(u[kEnterprise]["division"], "Theme Park");
}

// ---- Identity-provider leniencies (docs: /work/shared/IDP-QUIRKS.md)

TEST(PatchEntra, CapitalisedOps) {
  Json u = PatchUser(R"([{"op":"Add","path":"title","value":"Guide"},
                         {"op":"Replace","path":"displayName","value":"B"},
                         {"op":"Remove","path":"nickName"}])");
  EXPECT_EQ(u["title"], "Guide");
  EXPECT_EQ(u["displayName"], "B");
}

TEST(PatchEntra, BooleanStrings) {
  // E-2: {"op":"Replace","path":"active","value":"False"} from the flag-less job.
  Json u = PatchUser(R"([{"op":"Replace","path":"active","value":"False"}])");
  EXPECT_EQ(u["active"], false);
  u = PatchUser(R"([{"op":"Replace","path":"active","value":"TRUE"}])", u);
  EXPECT_EQ(u["active"], true);
  u = PatchUser(R"([{"op":"Replace","path":"emails[type eq \"home\"].primary","value":"True"}])");
  EXPECT_EQ(u["emails"][1]["primary"], true);
  EXPECT_EQ(u["emails"][0]["primary"], false);
}

TEST(PatchEntra, PathlessDottedAndUrnKeys) {
  // E-4, verbatim from the Entra compatibility page.
  Json u = PatchUser(R"([{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom",
      "name.familyName":"Unua",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}])");
  EXPECT_EQ(u["displayName"], "Bjfe");
  EXPECT_EQ(u["name"], Json::parse(R"({"givenName":"Kkom","familyName":"Unua"})"));
  EXPECT_EQ(u[kEnterprise]["employeeNumber"], "Aklq");
  EXPECT_FALSE(u.contains("name.givenName"));
  EXPECT_NE(std::find(u["schemas"].begin(), u["schemas"].end(), Json(kEnterprise)),
            u["schemas"].end());
  // pond/scimitar #123: the same shape with "add".
  u = PatchUser(R"([{"op":"add","value":{"name.middleName":"J",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value":"m1"}}])");
  EXPECT_EQ(u["name"]["middleName"], "J");
  EXPECT_EQ(u[kEnterprise]["manager"]["value"], "m1");
}

TEST(PatchEntra, RemoveMembersWithValueList) {
  // E-5 flag-less shape: only the listed member leaves; the group is never cleared.
  Json g = PatchGroup(R"([{"op":"Remove","path":"members",
      "value":[{"value":"902c246b-6245-4190-8e05-00816be7344a"}]}])");
  EXPECT_EQ(MemberIds(g), std::vector<std::string>{"2819c223-7f76-453a-919d-413861904646"});

  FakeMemberStore store(TwoMembers());
  PatchOptions options;
  options.members = &store;
  g = PatchGroup(R"([{"op":"Remove","path":"members","value":[{"value":"u2"}]}])", options);
  EXPECT_EQ(store.Ids(), std::vector<std::string>{"u1"});
  EXPECT_EQ(store.calls, std::vector<std::string>{"Remove u2"});
  EXPECT_FALSE(g.contains("members"));
}

TEST(PatchEntra, AddMembersWithNullRef) {
  // E-5: {"op":"Add","path":"members","value":[{"$ref":null,"value":"f648..."}]}
  Json g = PatchGroup(R"([{"op":"Add","path":"members","value":[{"$ref":null,"value":"f648"}]}])");
  ASSERT_EQ(g["members"].size(), 3u);
  EXPECT_EQ(g["members"][2], Json::parse(R"({"value":"f648"})"));
}

TEST(PatchEntra, FilteredPathOnAbsentEmailCreatesElement) {
  // E-9: the user has no emails (or no addresses) at all.
  Json user = SampleUser();
  user.erase("emails");
  Json u = PatchUser(R"([{"op":"Replace","path":"emails[type eq \"work\"].value",
                          "value":"x@y.example"},
                         {"op":"Replace","path":"addresses[type eq \"work\"].formatted",
                          "value":"1 Main St"}])",
                     user);
  EXPECT_EQ(u["emails"], Json::parse(R"([{"type":"work","value":"x@y.example"}])"));
  EXPECT_EQ(u["addresses"], Json::parse(R"([{"type":"work","formatted":"1 Main St"}])"));
  // Add creates the element described by the filter even when others exist.
  u = PatchUser(R"([{"op":"Add","path":"emails[type eq \"other\"].value","value":"o@y.example"}])");
  ASSERT_EQ(u["emails"].size(), 3u);
  EXPECT_EQ(u["emails"][2], Json::parse(R"({"type":"other","value":"o@y.example"})"));
}

TEST(PatchEntra, ManagerAsArrayWithRef) {
  // E-10: manager as a one-element array with $ref.
  Json u = PatchUser(R"([{"op":"Add",
      "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
      "value":[{"$ref":"https://idp.example/Users/00aa","value":"00aa"}]}])");
  EXPECT_EQ(u[kEnterprise]["manager"],
            Json::parse(R"({"$ref":"https://idp.example/Users/00aa","value":"00aa"})"));
  // A new manager replaces the reference whole: no stale $ref survives.
  u = PatchUser(R"([{"op":"Replace",
      "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
      "value":"00bb"}])",
                u);
  EXPECT_EQ(u[kEnterprise]["manager"], Json::parse(R"({"value":"00bb"})"));
  u = PatchUser(R"([{"op":"Replace",
      "path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
      "value":{"value":"00cc","displayName":"ignored, readOnly"}}])",
                u);
  EXPECT_EQ(u[kEnterprise]["manager"], Json::parse(R"({"value":"00cc"})"));
  // [E1] also writes the path without the extension URN.
  u = PatchUser(R"([{"op":"Add","path":"manager","value":[{"$ref":null,"value":"00dd"}]}])");
  EXPECT_EQ(u[kEnterprise]["manager"], Json::parse(R"({"value":"00dd"})"));
  EXPECT_NE(std::find(u["schemas"].begin(), u["schemas"].end(), Json(kEnterprise)),
            u["schemas"].end());
}

TEST(PatchOkta, PathlessActiveFalse) {
  // O-6 deactivation, verbatim.
  auto result = ApplyPatch(
      SampleUser(), Json::parse(R"({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                               "Operations":[{"op":"replace","value":{"active":false}}]})"),
      ResourceType::kUser, Reg());
  ASSERT_TRUE(result) << result.error().detail;
  EXPECT_EQ((*result)["active"], false);
}

TEST(PatchOkta, RenameWithReadOnlyIdInValue) {
  // O-9: the rename carries the group's own id, which is ignored.
  Json g = PatchGroup(R"([{"op":"replace","value":{"id":"e9e30dba-f08f-4109-8486-d5c6a331660a",
                                                   "displayName":"Test SCIMv2"}}])");
  EXPECT_EQ(g["displayName"], "Test SCIMv2");
  EXPECT_EQ(g["id"], "e9e30dba-f08f-4109-8486-d5c6a331660a");
  // A different id is still a write to a readOnly attribute.
  auto result =
      ApplyPatch(SampleGroup(), Body(R"([{"op":"replace","value":{"id":"x","displayName":"T"}}])"),
                 ResourceType::kGroup, Reg());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kMutability);
}

TEST(PatchOkta, RemoveMemberByFilterThenAdd) {
  // O-10, one request removing one member and adding another.
  const char* ops = R"([{"op":"remove","path":"members[value eq \"u1\"]"},
      {"op":"add","path":"members","value":[{"value":"u3","display":"test.user@okta.local"}]}])";
  FakeMemberStore store(TwoMembers());
  PatchOptions options;
  options.members = &store;
  Json g = PatchGroup(ops, options);
  EXPECT_EQ(store.Ids(), (std::vector<std::string>{"u2", "u3"}));
  EXPECT_EQ(store.calls, (std::vector<std::string>{"Remove u1", "Add u3"}));
  EXPECT_FALSE(g.contains("members"));

  Json in_json = SampleGroup();
  in_json["members"] = Json::array({TwoMembers()[0], TwoMembers()[1]});
  g = PatchGroup(ops, {}, in_json);
  EXPECT_EQ(MemberIds(g), (std::vector<std::string>{"u2", "u3"}));
}

TEST(PatchOkta, ReplaceAllMembers) {
  const char* ops =
      R"([{"op":"replace","path":"members","value":[{"value":"u3"},{"value":"u4"}]}])";
  FakeMemberStore store(TwoMembers());
  PatchOptions options;
  options.members = &store;
  Json g = PatchGroup(ops, options);
  EXPECT_EQ(store.Ids(), (std::vector<std::string>{"u3", "u4"}));
  EXPECT_EQ(store.calls, (std::vector<std::string>{"Clear", "Add u3", "Add u4"}));
  EXPECT_FALSE(g.contains("members"));

  g = PatchGroup(ops);
  EXPECT_EQ(MemberIds(g), (std::vector<std::string>{"u3", "u4"}));
}

TEST(PatchJumpCloud, RemoveMembersLegacyShape) {
  // uni-moni KB: {"op":"remove","path":"members","value":[{"value":"<uid>"}]}
  FakeMemberStore store(TwoMembers());
  PatchOptions options;
  options.members = &store;
  Json g = PatchGroup(R"([{"op":"remove","path":"members","value":[{"value":"u1"}]}])", options);
  EXPECT_EQ(store.Ids(), std::vector<std::string>{"u2"});
  EXPECT_EQ(std::count(store.calls.begin(), store.calls.end(), "Clear"), 0);
}

TEST(PatchOneLogin, LowercaseAdd) {
  FakeMemberStore store;
  PatchOptions options;
  options.members = &store;
  Json g = PatchGroup(R"([{"op":"add","path":"members","value":[{"value":"ol-1"}]}])", options);
  EXPECT_EQ(store.Ids(), std::vector<std::string>{"ol-1"});
}

TEST(PatchOneLogin, ManagerIdAndStringBooleans) {
  // OneLogin templates: manager as {"managerId": ...}, "active" as a string, "id": null.
  Json u = PatchUser(R"([{"op":"replace","value":{"id":null,"active":"false",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{
        "manager":{"managerId":"m-9","displayName":"Boss"}}}}])");
  EXPECT_EQ(u["active"], false);
  EXPECT_EQ(u[kEnterprise]["manager"], Json::parse(R"({"value":"m-9"})"));
}

// ---- MemberStore routing (apply.h)

TEST(PatchMembers, RemoveWithoutValueClears) {
  FakeMemberStore store(TwoMembers());
  PatchOptions options;
  options.members = &store;
  PatchGroup(R"([{"op":"remove","path":"members"}])", options);
  EXPECT_TRUE(store.Ids().empty());
  EXPECT_EQ(store.calls, std::vector<std::string>{"Clear"});
}

TEST(PatchMembers, PathlessAddRoutes) {
  FakeMemberStore store(TwoMembers());
  PatchOptions options;
  options.members = &store;
  Json g = PatchGroup(R"([{"op":"add","value":{"members":[{"value":"u5"}]}}])", options);
  EXPECT_EQ(store.Ids(), (std::vector<std::string>{"u1", "u2", "u5"}));
  EXPECT_FALSE(g.contains("members"));
}

TEST(PatchMembers, RemoveWithOtherFilterEvaluatesAll) {
  FakeMemberStore store(TwoMembers());
  PatchOptions options;
  options.members = &store;
  PatchGroup(R"([{"op":"remove","path":"members[display eq \"Two\"]"}])", options);
  EXPECT_EQ(store.Ids(), std::vector<std::string>{"u1"});
  EXPECT_EQ(store.calls, (std::vector<std::string>{"All", "Remove u2"}));
}

TEST(PatchMembers, StoreErrorsPropagate) {
  FakeMemberStore store;
  PatchOptions options;
  options.members = &store;
  auto result = ApplyPatch(SampleGroup(),
                           Body(R"([{"op":"add","path":"members","value":[{"display":"x"}]}])"),
                           ResourceType::kGroup, Reg(), options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidValue);
}

TEST(PatchMembers, StoredJsonNeverHoldsMembers) {
  FakeMemberStore store;
  PatchOptions options;
  options.members = &store;
  Json g = PatchGroup(R"([{"op":"replace","value":{"displayName":"X","members":[{"value":"a"}]}}])",
                      options);
  EXPECT_FALSE(g.contains("members"));
  EXPECT_EQ(g["displayName"], "X");
  EXPECT_EQ(store.Ids(), std::vector<std::string>{"a"});
}

// A value of a simple attribute is accepted or refused alike by PATCH and by POST/PUT
// (resource::Normalize), and stored in the same form: the two once diverged (PATCH refused 3.0
// for an integer that POST stored as 3, and checked base64 only after the whole patch).
TEST(PatchValues, SameRulesAsACreate) {
  Json ext = Json::parse(R"({"id": "urn:example:params:scim:schemas:extension:hr:2.0:User",
    "name": "hr", "attributes": [
      {"name": "level", "type": "integer"}, {"name": "ratio", "type": "decimal"},
      {"name": "badge", "type": "binary"}, {"name": "since", "type": "dateTime"},
      {"name": "remote", "type": "boolean"}]})");
  auto reg = schema::Registry::WithExtensions({ext}, {});
  ASSERT_TRUE(reg) << reg.error().detail;
  const std::string urn = "urn:example:params:scim:schemas:extension:hr:2.0:User";
  struct Case {
    const char* attr;
    Json value;
    bool accepted;
    Json stored;
  };
  const std::vector<Case> cases = {
      {"level", 3, true, 3},
      {"level", 3.0, true, 3},
      {"level", 3.5, false, nullptr},
      {"level", "3", false, nullptr},
      {"ratio", 0.25, true, 0.25},
      {"ratio", "0.25", false, nullptr},
      {"badge", "aGVsbG8=", true, "aGVsbG8="},
      {"badge", "not base64!", false, nullptr},
      {"since", "2024-05-01T12:00:00Z", true, "2024-05-01T12:00:00Z"},
      {"since", "yesterday", false, nullptr},
      {"remote", "True", true, true},
      {"remote", "yes", false, nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.attr) + " = " + c.value.dump());
    Json body = {{"schemas", Json::array({"urn:ietf:params:scim:schemas:core:2.0:User", urn})},
                 {"userName", "u"},
                 {urn, {{c.attr, c.value}}}};
    auto created = resource::Normalize(body, ResourceType::kUser, resource::WriteMode::kCreate,
                                       **reg);
    Json op = Json::array({{{"op", "replace"}, {"path", urn + ":" + c.attr}, {"value", c.value}}});
    auto patched = ApplyPatch(SampleUser(), Body(op.dump()), ResourceType::kUser, **reg);
    EXPECT_EQ(bool(created), c.accepted);
    ASSERT_EQ(bool(patched), c.accepted);
    if (!c.accepted) {
      EXPECT_EQ(patched.error().code, ErrorCode::kInvalidValue);
      EXPECT_NE(patched.error().detail.find(c.attr), std::string::npos) << patched.error().detail;
      continue;
    }
    EXPECT_EQ((*created)[urn][c.attr], c.stored);
    EXPECT_EQ((*patched)[urn][c.attr], c.stored);
  }
}

}  // namespace
}  // namespace idsync::scim::patch
