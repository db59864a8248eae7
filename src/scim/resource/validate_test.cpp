#include "scim/resource/validate.h"

#include <string>

#include <gtest/gtest.h>

namespace idsync::scim::resource {
namespace {

const schema::Registry& R() {
  return schema::Registry::Default();
}

constexpr const char* kEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

Json P(const char* text) {
  return Json::parse(text);
}

Result<Json> User(const Json& body, const ValidateOptions& options = {}) {
  return Normalize(body, ResourceType::kUser, WriteMode::kCreate, R(), nullptr, options);
}
Result<Json> Group(const Json& body) {
  return Normalize(body, ResourceType::kGroup, WriteMode::kCreate, R());
}

// Entra ID's documented legacy create body (E-11): typo schema URN, nulls, meta, and
// enterprise attributes at the top level without their URN.
TEST(Normalize, AcceptsEntraLegacyCreateBody) {
  auto out = User(P(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
    "externalId": "jyoung", "userName": "jyoung", "active": true, "addresses": null,
    "displayName": "Joy Young",
    "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
    "meta": {"resourceType": "User"},
    "name": {"familyName": "Young", "givenName": "Joy"},
    "phoneNumbers": null, "preferredLanguage": null, "title": null,
    "department": null, "manager": null})"));
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(*out, P(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "externalId": "jyoung", "userName": "jyoung", "active": true, "displayName": "Joy Young",
    "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
    "name": {"familyName": "Young", "givenName": "Joy"}})"));
}

// Entra ID's current create body (E-11): both schemas, roles: [], meta, enterprise object.
TEST(Normalize, AcceptsEntraCreateBodyWithEnterpriseExtension) {
  auto out = User(P(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_ab6490ee@testuser.com", "active": true,
    "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "givenName familyName", "familyName": "familyName",
             "givenName": "givenName"},
    "roles": [],
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
      "employeeNumber": "701984", "Department": "Tour Operations",
      "manager": [{"$ref": "http://h/Users/00aa", "value": "00aa"}]}})"));
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_FALSE(out->contains("roles"));
  EXPECT_FALSE(out->contains("meta"));
  EXPECT_EQ((*out)["schemas"],
            Json::array({"urn:ietf:params:scim:schemas:core:2.0:User", kEnterprise}));
  EXPECT_EQ((*out)[kEnterprise], P(R"({"employeeNumber": "701984", "department": "Tour Operations",
                                      "manager": {"$ref": "http://h/Users/00aa", "value": "00aa"}})"));
}

// Okta create body (O-3): "groups": [] (readOnly), plaintext password, locale, id.
TEST(Normalize, AcceptsOktaCreateBody) {
  auto out = User(P(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [], "password": "1mz050nq", "active": true,
    "id": "ignored", "meta": {"created": "not even a date"}})"));
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_FALSE(out->contains("groups"));
  EXPECT_FALSE(out->contains("id"));
  EXPECT_FALSE(out->contains("meta"));
  EXPECT_EQ((*out)["password"], "1mz050nq");  // writeOnly: kept, the service hashes or drops it
  EXPECT_EQ((*out)["locale"], "en-US");
}

TEST(Normalize, DropsReadOnlyGroupsEvenWhenFilled) {
  auto out = User(P(R"({"userName": "a", "groups": [{"value": "g1", "display": "Ops"}]})"));
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->contains("groups"));
}

// OneLogin template: "active": "{$user.active}" renders as "True"; manager non-RFC sub-attr;
// a v1 schema URN; "id": null.
TEST(Normalize, AcceptsOneLoginTemplateBody) {
  auto out = User(P(R"({
    "schemas": ["urn:scim:schemas:core:1.0"], "id": null, "userName": "jdoe",
    "active": "True",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
      "manager": {"managerId": "m1", "value": "m1", "displayName": "Boss"}}})"));
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ((*out)["active"], true);
  EXPECT_EQ((*out)[kEnterprise]["manager"], P(R"({"value": "m1"})"));  // displayName is readOnly
  EXPECT_EQ((*out)["schemas"],
            Json::array({"urn:ietf:params:scim:schemas:core:2.0:User", kEnterprise}));
}

TEST(Normalize, CoercesBooleanStringsInAnyCase) {
  for (const char* s : {"true", "True", "TRUE", "false", "False", "fAlSe"}) {
    auto out = User(Json{{"userName", "a"}, {"active", s}});
    ASSERT_TRUE(out) << s;
    EXPECT_EQ((*out)["active"], s[0] == 't' || s[0] == 'T') << s;
  }
  auto bad = User(P(R"({"userName": "a", "active": "yes"})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidValue);
  EXPECT_NE(bad.error().detail.find("active"), std::string::npos);
}

TEST(Normalize, AcceptsManagerAsStringObjectOrSingletonArray) {
  const char* bodies[] = {
      R"({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
          {"manager": "00aa"}})",
      R"({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
          {"manager": {"value": "00aa"}}})",
      R"({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
          {"manager": ["00aa"]}})",
      R"({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":
          "00aa"})",
  };
  for (const char* body : bodies) {
    auto out = User(P(body));
    ASSERT_TRUE(out) << body << ": " << out.error().detail;
    EXPECT_EQ((*out)[kEnterprise]["manager"], P(R"({"value": "00aa"})")) << body;
  }
}

TEST(Normalize, MovesUrnQualifiedTopLevelKeysIntoTheExtension) {
  auto out = User(P(R"({"userName": "a",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
    "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"department": "R&D"},
    "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "Alice"})"));
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ((*out)[kEnterprise], P(R"({"employeeNumber": "Aklq", "department": "R&D"})"));
  EXPECT_EQ((*out)["displayName"], "Alice");
}

TEST(Normalize, CanonicalisesNamesAndDropsUnknownOnes) {
  auto out = User(P(R"({"USERNAME": "a", "Name": {"GivenName": "A", "nickname2": "x"},
                        "EMAILS": [{"VALUE": "a@x", "Type": "Work"}], "favouriteColour": "red",
                        "http://schemas.microsoft.com/x": {"y": 1}})"));
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(*out, P(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": "a", "name": {"givenName": "A"},
                        "emails": [{"value": "a@x", "type": "Work"}]})"));
}

TEST(Normalize, StrictModeRejectsUnknownAttributes) {
  auto out = User(P(R"({"userName": "a", "favouriteColour": "red"})"), {true});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, ErrorCode::kInvalidValue);
  EXPECT_NE(out.error().detail.find("favouriteColour"), std::string::npos);
}

TEST(Normalize, KeepsNonCanonicalTypeLabels) {
  auto out = User(P(R"({"userName": "a", "phoneNumbers": [{"value": "+1", "type": "mobile2"}]})"));
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)["phoneNumbers"][0]["type"], "mobile2");
}

TEST(Normalize, WrapsALoneValueOfAMultiValuedAttribute) {
  auto out = User(P(R"({"userName": "a", "emails": {"value": "a@x", "primary": "true"}})"));
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ((*out)["emails"], P(R"([{"value": "a@x", "primary": true}])"));
}

TEST(Normalize, RejectsPrimaryTwice) {
  auto out = User(P(R"({"userName": "a", "emails": [
      {"value": "a@x", "primary": true}, {"value": "b@x", "primary": false},
      {"value": "c@x", "primary": "True"}]})"));
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, ErrorCode::kInvalidValue);
  EXPECT_NE(out.error().detail.find("emails"), std::string::npos) << out.error().detail;
  EXPECT_NE(out.error().detail.find("0 and 2"), std::string::npos) << out.error().detail;
}

TEST(Normalize, RejectsWrongTypesNamingTheAttribute) {
  struct Case {
    const char* body;
    const char* detail;
  } cases[] = {
      {R"({"userName": 5})", "userName: expected a string, got a number"},
      {R"({"userName": "a", "emails": [{"value": "a@x"}, {"value": "b@x", "primary": 1}]})",
       "emails[1].primary: expected a boolean, got a number"},
      {R"({"userName": "a", "name": "Alice"})", "name: expected an object, got a string"},
      {R"({"userName": "a", "displayName": ["x", "y"]})",
       "displayName: expected a single value, got an array of 2"},
      {R"({"userName": "a", "x509Certificates": [{"value": "not base64!"}]})",
       "x509Certificates[0].value: not valid base64"},
      {R"({"userName": "a", "active": {"v": true}})", "active: expected a boolean, got an object"},
      {R"({"userName": "a", "emails": ["a@x"]})", "emails[0]: expected an object, got a string"},
      {R"({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "x"})",
       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User: expected an object"},
      {R"({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
          {"manager": {"value": 7}}})",
       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value: expected a "
       "string, got a number"},
  };
  for (const Case& c : cases) {
    auto out = User(P(c.body));
    ASSERT_FALSE(out) << c.body;
    EXPECT_EQ(out.error().code, ErrorCode::kInvalidValue) << c.body;
    EXPECT_NE(out.error().detail.find(c.detail), std::string::npos)
        << c.body << " -> " << out.error().detail;
  }
}

TEST(Normalize, RequiresUserName) {
  for (const char* body :
       {R"({})", R"({"userName": null})", R"({"userName": ""})", R"({"displayName": "x"})"}) {
    auto out = User(P(body));
    ASSERT_FALSE(out) << body;
    EXPECT_EQ(out.error().code, ErrorCode::kInvalidValue);
    EXPECT_NE(out.error().detail.find("userName"), std::string::npos) << out.error().detail;
  }
}

TEST(Normalize, RejectsNonObjects) {
  for (const char* body : {"[]", "\"x\"", "null", "3"}) {
    auto out = User(P(body));
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, ErrorCode::kInvalidSyntax);
  }
}

// Entra E-12 group create: unknown schema, empty members.
TEST(Normalize, AcceptsEntraGroupCreate) {
  auto out = Group(P(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Group1",
    "meta": {"resourceType": "Group"}, "members": []})"));
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(*out, P(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Group1"})"));
}

TEST(Normalize, NormalisesGroupMembers) {
  auto out = Group(P(R"({"displayName": "Ops", "members": [
      {"value": "u1", "display": "test.user@okta.local"},
      {"$ref": null, "value": "u2", "type": "user"},
      {"value": "g1", "$ref": "https://h/Groups/g1", "type": "Group", "junk": 1}]})"));
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ((*out)["members"], P(R"([
      {"value": "u1", "display": "test.user@okta.local"},
      {"value": "u2", "type": "User"},
      {"value": "g1", "$ref": "https://h/Groups/g1", "type": "Group"}])"));
}

TEST(Normalize, RejectsBadGroupMembers) {
  struct Case {
    const char* body;
    const char* detail;
  } cases[] = {
      {R"({"displayName": "Ops", "members": [{"value": "u1", "type": "Device"}]})",
       "members[0].type: \"Device\" is not one of \"User\", \"Group\""},
      {R"({"displayName": "Ops", "members": [{"value": "u1"}, {"display": "x"}]})",
       "members[1].value: required"},
      {R"({"displayName": "Ops", "members": [{"value": 12}]})",
       "members[0].value: expected a string, got a number"},
      {R"({"members": []})", "displayName: required"},
  };
  for (const Case& c : cases) {
    auto out = Group(P(c.body));
    ASSERT_FALSE(out) << c.body;
    EXPECT_EQ(out.error().code, ErrorCode::kInvalidValue);
    EXPECT_NE(out.error().detail.find(c.detail), std::string::npos)
        << c.body << " -> " << out.error().detail;
  }
}

TEST(Normalize, RejectsTwoSpellingsOfOneAttribute) {
  auto out = User(P(R"({"userName": "a", "USERNAME": "b"})"));
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().detail.find("twice"), std::string::npos);
}

TEST(Normalize, ChecksDateTimeAndNumbersByType) {
  // No core attribute is a writable dateTime, integer or decimal; the checks are exercised via
  // CheckComplete on meta, which a stored resource carries.
  Json stored = P(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1",
      "userName": "a", "meta": {"resourceType": "User", "created": "2024-05-01T12:00:00Z",
      "lastModified": "2024-05-01T12:00:00.123+02:00"}})");
  EXPECT_TRUE(CheckComplete(stored, ResourceType::kUser, R()));
  stored["meta"]["created"] = "yesterday";
  auto st = CheckComplete(stored, ResourceType::kUser, R());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidValue);
  EXPECT_NE(st.error().detail.find("meta.created"), std::string::npos) << st.error().detail;
}

TEST(Normalize, ImmutableValuesCannotChangeOnReplace) {
  Json existing = P(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g",
                        "displayName": "Ops", "members": [{"value": "u1"}]})");
  // members.value is immutable per element: replacing the member list is still allowed.
  auto ok = Normalize(P(R"({"displayName": "Ops2", "members": [{"value": "u2"}]})"),
                      ResourceType::kGroup, WriteMode::kReplace, R(), &existing);
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_EQ((*ok)["members"], P(R"([{"value": "u2"}])"));
}

TEST(CheckComplete, AcceptsAStoredResourceAndRejectsBrokenOnes) {
  Json stored = P(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                                  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
      "id": "1", "userName": "a", "emails": [{"value": "a@x", "primary": true}],
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "X"}})");
  EXPECT_TRUE(CheckComplete(stored, ResourceType::kUser, R()));

  Json no_name = stored;
  no_name.erase("userName");
  EXPECT_FALSE(CheckComplete(no_name, ResourceType::kUser, R()));

  Json two_primaries = stored;
  two_primaries["emails"].push_back(P(R"({"value": "b@x", "primary": true})"));
  auto st = CheckComplete(two_primaries, ResourceType::kUser, R());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidValue);

  Json bad_type = stored;
  bad_type["active"] = 1;
  EXPECT_FALSE(CheckComplete(bad_type, ResourceType::kUser, R()));

  Json group = P(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g",
                     "displayName": "Ops", "members": [{"value": "u1", "type": "User"}]})");
  EXPECT_TRUE(CheckComplete(group, ResourceType::kGroup, R()));
  group.erase("displayName");
  EXPECT_FALSE(CheckComplete(group, ResourceType::kGroup, R()));
}

}  // namespace
}  // namespace idsync::scim::resource
