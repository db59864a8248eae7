#include "scim/query/projection.h"

#include <string>

#include <gtest/gtest.h>

namespace idsync::scim::query {
namespace {

const schema::Registry& R() {
  return schema::Registry::Default();
}

Json P(const char* text) {
  return Json::parse(text);
}

Projection Make(ResourceType type, std::string_view attributes, std::string_view excluded) {
  auto p = Projection::Parse(type, attributes, excluded, R());
  EXPECT_TRUE(p) << attributes << " / " << excluded << ": " << p.error().detail;
  return std::move(p).value();
}

const Json kUser = P(R"({
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id": "2819c223", "externalId": "701984", "userName": "bjensen", "password": "secret",
  "name": {"givenName": "Barbara", "familyName": "Jensen"},
  "displayName": "Babs",
  "emails": [{"value": "b@x", "type": "work", "primary": true}, {"value": "c@x", "type": "home"}],
  "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z",
           "lastModified": "2024-02-01T00:00:00Z", "version": "W/\"1\""},
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "department": "Tour Operations", "employeeNumber": "7",
    "manager": {"value": "m1", "displayName": "Boss"}}})");

const Json kGroup = P(R"({
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1",
  "displayName": "Ops", "members": [{"value": "u1", "display": "bjensen"}],
  "meta": {"resourceType": "Group"}})");

TEST(Projection, DefaultDropsOnlyNeverReturned) {
  Projection p = Make(ResourceType::kUser, "", "");
  Json expected = kUser;
  expected.erase("password");
  EXPECT_EQ(p.Apply(kUser), expected);
  EXPECT_FALSE(p.IncludesAttribute("password"));
  EXPECT_TRUE(p.IncludesAttribute("members") == false);  // not a User attribute
  EXPECT_TRUE(p.IncludesAttribute("emails.value"));
}

TEST(Projection, PasswordIsNeverReturnedEvenWhenAsked) {
  Projection p = Make(ResourceType::kUser, "password,userName", "");
  EXPECT_EQ(p.Apply(kUser), P(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
      "id": "2819c223", "userName": "bjensen"})"));
}

TEST(Projection, AttributesKeepsOnlyThoseAndAlwaysReturned) {
  Projection p = Make(ResourceType::kUser, "USERNAME, name.givenName,emails.value", "");
  EXPECT_EQ(p.Apply(kUser), P(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
      "id": "2819c223", "userName": "bjensen", "name": {"givenName": "Barbara"},
      "emails": [{"value": "b@x"}, {"value": "c@x"}]})"));
  EXPECT_TRUE(p.IncludesAttribute("id"));
  EXPECT_TRUE(p.IncludesAttribute("name"));
  EXPECT_FALSE(p.IncludesAttribute("name.familyName"));
  EXPECT_FALSE(p.IncludesAttribute("meta"));
  EXPECT_FALSE(p.IncludesAttribute("displayName"));
}

TEST(Projection, MetaSubAttributeAndUrnQualifiedNames) {
  Projection p = Make(ResourceType::kUser,
                      "meta.lastModified,urn:ietf:params:scim:schemas:extension:enterprise:2.0:"
                      "User:department,urn:ietf:params:scim:schemas:core:2.0:User:displayName",
                      "");
  EXPECT_EQ(p.Apply(kUser), P(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
      "id": "2819c223", "displayName": "Babs", "meta": {"lastModified": "2024-02-01T00:00:00Z"},
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        "department": "Tour Operations"}})"));
}

TEST(Projection, BareExtensionUrnMeansTheWholeExtension) {
  Projection p =
      Make(ResourceType::kUser, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user", "");
  Json out = p.Apply(kUser);
  EXPECT_EQ(out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            kUser["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]);
  EXPECT_FALSE(out.contains("userName"));
  EXPECT_TRUE(out.contains("id"));

  Projection q =
      Make(ResourceType::kUser, "", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
  EXPECT_FALSE(
      q.Apply(kUser).contains("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
  EXPECT_FALSE(q.IncludesAttribute("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
  EXPECT_FALSE(q.IncludesAttribute("department"));
  EXPECT_TRUE(q.IncludesAttribute("userName"));
}

TEST(Projection, ExcludedAttributesRemoveButNotAlwaysReturned) {
  Projection p = Make(ResourceType::kUser, "", "id,emails.type,name,meta,externalId");
  Json out = p.Apply(kUser);
  EXPECT_EQ(out["id"], "2819c223");  // returned=always cannot be excluded
  EXPECT_FALSE(out.contains("name"));
  EXPECT_FALSE(out.contains("meta"));
  EXPECT_FALSE(out.contains("externalId"));
  EXPECT_EQ(out["emails"], P(R"([{"value": "b@x", "primary": true}, {"value": "c@x"}])"));
  EXPECT_TRUE(out.contains("schemas"));
  EXPECT_TRUE(p.IncludesAttribute("id"));
  EXPECT_FALSE(p.IncludesAttribute("emails.type"));
  EXPECT_TRUE(p.IncludesAttribute("emails"));
}

// Entra E-6: GET /Groups?excludedAttributes=members must be able to skip loading members.
TEST(Projection, ExcludedMembersIsKnownBeforeLoading) {
  Projection p = Make(ResourceType::kGroup, "", "members");
  EXPECT_FALSE(p.IncludesAttribute("members"));
  EXPECT_FALSE(p.IncludesAttribute("MEMBERS.value"));
  EXPECT_TRUE(p.IncludesAttribute("displayName"));
  EXPECT_EQ(p.Apply(kGroup), P(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      "id": "g1", "displayName": "Ops", "meta": {"resourceType": "Group"}})"));

  Projection q = Make(ResourceType::kGroup, "displayName", "");
  EXPECT_FALSE(q.IncludesAttribute("members"));
  EXPECT_EQ(q.Apply(kGroup), P(R"({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      "id": "g1", "displayName": "Ops"})"));

  Projection all = Make(ResourceType::kGroup, "", "");
  EXPECT_TRUE(all.IncludesAttribute("members"));
  EXPECT_EQ(all.Apply(kGroup), kGroup);
}

TEST(Projection, RejectsUnknownNamesNamingThem) {
  struct Case {
    ResourceType type;
    const char* attributes;
    const char* excluded;
    const char* mention;
  } cases[] = {
      {ResourceType::kGroup, "", "memebers", "memebers"},
      {ResourceType::kUser, "name.first", "", "first"},
      {ResourceType::kUser, "userName,foo", "", "foo"},
      {ResourceType::kGroup, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "",
       "not used by resource type Group"},
      {ResourceType::kUser, "", "urn:example:custom:1.0:User:x", "urn:example:custom:1.0:User"},
  };
  for (const Case& c : cases) {
    auto p = Projection::Parse(c.type, c.attributes, c.excluded, R());
    ASSERT_FALSE(p) << c.attributes << c.excluded;
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidValue);
    EXPECT_NE(p.error().detail.find(c.mention), std::string::npos) << p.error().detail;
    EXPECT_NE(p.error().detail.find(*c.attributes ? "attributes" : "excludedAttributes"),
              std::string::npos);
  }
}

TEST(Projection, ToleratesEmptyItemsAndSchemas) {
  Projection p = Make(ResourceType::kUser, " userName ,, schemas,", "");
  EXPECT_EQ(p.Apply(kUser).size(), 3u);  // schemas, id, userName
}

}  // namespace
}  // namespace idsync::scim::query
