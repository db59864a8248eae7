#include "scim/schema/registry.h"

#include <string>

#include <gtest/gtest.h>

namespace idsync::scim::schema {
namespace {

const Registry& R() {
  return Registry::Default();
}

TEST(Registry, FindsSchemasCaseInsensitively) {
  ASSERT_NE(R().FindSchema("urn:ietf:params:scim:schemas:core:2.0:User"), nullptr);
  EXPECT_EQ(R().FindSchema("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"),
            R().FindSchema(kUserSchema));
  EXPECT_EQ(R().FindSchema(kGroupSchema)->name, "Group");
  EXPECT_EQ(R().FindSchema(kEnterpriseUserSchema)->name, "EnterpriseUser");
  EXPECT_EQ(R().FindSchema("urn:ietf:params:scim:schemas:extension:enterprise:2.0User"), nullptr);
  EXPECT_EQ(R().AllSchemas().size(), 3u);
}

TEST(Registry, ResourceTypesAndExtensions) {
  EXPECT_EQ(R().Type(ResourceType::kUser).endpoint, "/Users");
  EXPECT_EQ(R().Type(ResourceType::kGroup).endpoint, "/Groups");
  EXPECT_EQ(R().CoreSchema(ResourceType::kUser).id, kUserSchema);
  EXPECT_EQ(R().CoreSchema(ResourceType::kGroup).id, kGroupSchema);
  auto user_ext = R().Extensions(ResourceType::kUser);
  ASSERT_EQ(user_ext.size(), 1u);
  EXPECT_EQ(user_ext[0]->id, kEnterpriseUserSchema);
  EXPECT_TRUE(R().Extensions(ResourceType::kGroup).empty());
}

TEST(Registry, CharacteristicsFollowRfc7643) {
  const Schema& user = R().CoreSchema(ResourceType::kUser);
  const Attribute* user_name = user.Find("USERNAME");
  ASSERT_NE(user_name, nullptr);
  EXPECT_EQ(user_name->name, "userName");
  EXPECT_TRUE(user_name->required);
  EXPECT_EQ(user_name->uniqueness, Uniqueness::kServer);
  EXPECT_FALSE(user_name->case_exact);

  const Attribute* password = user.Find("password");
  ASSERT_NE(password, nullptr);
  EXPECT_EQ(password->mutability, Mutability::kWriteOnly);
  EXPECT_EQ(password->returned, Returned::kNever);

  const Attribute* groups = user.Find("groups");
  ASSERT_NE(groups, nullptr);
  EXPECT_EQ(groups->mutability, Mutability::kReadOnly);
  EXPECT_TRUE(groups->multi_valued);

  const Attribute* emails = user.Find("emails");
  ASSERT_NE(emails, nullptr);
  ASSERT_NE(emails->FindSub("Primary"), nullptr);
  EXPECT_EQ(emails->FindSub("primary")->type, Type::kBoolean);
  EXPECT_EQ(emails->FindSub("type")->canonical_values,
            (std::vector<std::string>{"work", "home", "other"}));
  // Erratum: §8.7.1 omits addresses.primary, §4.1.2 has it.
  EXPECT_NE(user.Find("addresses")->FindSub("primary"), nullptr);
  EXPECT_EQ(user.Find("x509Certificates")->FindSub("value")->type, Type::kBinary);
  EXPECT_EQ(user.Find("active")->type, Type::kBoolean);
  EXPECT_EQ(user.Find("profileUrl")->type, Type::kReference);
}

TEST(Registry, GroupMembersAndErrata) {
  const Schema& group = R().CoreSchema(ResourceType::kGroup);
  EXPECT_TRUE(group.Find("displayName")->required);  // erratum: §4.2 says REQUIRED
  const Attribute* members = group.Find("members");
  ASSERT_NE(members, nullptr);
  EXPECT_TRUE(members->multi_valued);
  EXPECT_EQ(members->FindSub("value")->mutability, Mutability::kImmutable);
  EXPECT_EQ(members->FindSub("$ref")->type, Type::kReference);
  ASSERT_NE(members->FindSub("display"), nullptr);  // erratum: missing from §8.7.1
  EXPECT_EQ(members->FindSub("type")->canonical_values,
            (std::vector<std::string>{"User", "Group"}));
}

TEST(Registry, CommonAttributesResolveForEveryType) {
  for (ResourceType t : {ResourceType::kUser, ResourceType::kGroup}) {
    auto id = R().ResolveDotted(t, "ID");
    ASSERT_TRUE(id) << id.error().detail;
    EXPECT_EQ(id->target().name, "id");
    EXPECT_EQ(id->target().returned, Returned::kAlways);
    EXPECT_EQ(id->target().mutability, Mutability::kReadOnly);
    EXPECT_TRUE(id->target().case_exact);
    EXPECT_EQ(id->target().uniqueness, Uniqueness::kServer);

    auto ext = R().ResolveDotted(t, "externalId");
    ASSERT_TRUE(ext);
    EXPECT_TRUE(ext->target().case_exact);
    EXPECT_EQ(ext->target().mutability, Mutability::kReadWrite);

    auto last = R().ResolveDotted(t, "meta.lastModified");
    ASSERT_TRUE(last) << last.error().detail;
    EXPECT_EQ(last->attr->name, "meta");
    EXPECT_EQ(last->target().name, "lastModified");
    EXPECT_EQ(last->target().type, Type::kDateTime);
    EXPECT_EQ(last->target().mutability, Mutability::kReadOnly);
    for (const char* sub : {"resourceType", "created", "location", "version"}) {
      EXPECT_TRUE(R().Resolve(t, "", "meta", sub)) << sub;
    }
  }
}

TEST(Registry, ResolvesDottedAndUrnQualifiedNames) {
  auto given = R().ResolveDotted(ResourceType::kUser, "name.GIVENNAME");
  ASSERT_TRUE(given);
  EXPECT_EQ(given->attr->name, "name");
  EXPECT_EQ(given->sub->name, "givenName");
  EXPECT_FALSE(given->in_extension);

  auto core_q =
      R().ResolveDotted(ResourceType::kUser, "urn:ietf:params:scim:schemas:core:2.0:User:userName");
  ASSERT_TRUE(core_q);
  EXPECT_EQ(core_q->target().name, "userName");

  auto mgr =
      R().ResolveDotted(ResourceType::kUser,
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value");
  ASSERT_TRUE(mgr) << mgr.error().detail;
  EXPECT_TRUE(mgr->in_extension);
  EXPECT_EQ(mgr->schema->id, kEnterpriseUserSchema);
  EXPECT_EQ(mgr->target().name, "value");

  auto dept = R().ResolveDotted(ResourceType::kUser, "department");  // lenient: no URN
  ASSERT_TRUE(dept);
  EXPECT_TRUE(dept->in_extension);

  auto members = R().Resolve(ResourceType::kGroup, kGroupSchema, "members", "value");
  ASSERT_TRUE(members);
  EXPECT_EQ(members->target().mutability, Mutability::kImmutable);
}

TEST(Registry, RejectsUnknownNamesNamingThePart) {
  struct Case {
    ResourceType type;
    const char* text;
    const char* mention;
  } cases[] = {
      {ResourceType::kUser, "nickname.first", "first"},
      {ResourceType::kUser, "userNam", "userNam"},
      {ResourceType::kUser, "name.givenName.x", "name.givenName.x"},
      {ResourceType::kUser, "urn:example:foo:bar", "urn:example:foo"},
      {ResourceType::kGroup,
       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "enterprise"},
      {ResourceType::kGroup, "userName", "userName"},
      {ResourceType::kUser, "emails.foo", "foo"},
      {ResourceType::kUser, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "schema"},
      {ResourceType::kUser, ".value", "empty"},
  };
  for (const Case& c : cases) {
    auto r = R().ResolveDotted(c.type, c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidValue) << c.text;
    EXPECT_NE(r.error().detail.find(c.mention), std::string::npos) << r.error().detail;
  }
}

TEST(Registry, SchemaJsonHasRfc7643Section7Form) {
  Json j = R().SchemaJson(R().CoreSchema(ResourceType::kUser), "https://h/scim/v2/");
  EXPECT_EQ(j["schemas"], Json::array({"urn:ietf:params:scim:schemas:core:2.0:Schema"}));
  EXPECT_EQ(j["id"], kUserSchema);
  EXPECT_EQ(j["meta"]["resourceType"], "Schema");
  EXPECT_EQ(j["meta"]["location"],
            "https://h/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User");
  bool saw_user_name = false;
  for (const Json& a : j["attributes"]) {
    EXPECT_NE(a["name"], "id");  // §3.1 common attributes are in no schema representation
    EXPECT_NE(a["name"], "meta");
    EXPECT_FALSE(a.dump().find("null") != std::string::npos) << a.dump();  // Entra E-18
    if (a["name"] == "userName") {
      saw_user_name = true;
      EXPECT_EQ(a["type"], "string");
      EXPECT_EQ(a["mutability"], "readWrite");
      EXPECT_EQ(a["returned"], "default");
      EXPECT_EQ(a["uniqueness"], "server");
      EXPECT_EQ(a["required"], true);
      EXPECT_EQ(a["caseExact"], false);
      EXPECT_EQ(a["multiValued"], false);
    }
    if (a["name"] == "emails") {
      EXPECT_EQ(a["subAttributes"].size(), 4u);
    }
  }
  EXPECT_TRUE(saw_user_name);
  Json ent = R().SchemaJson(*R().FindSchema(kEnterpriseUserSchema), "https://h/scim/v2");
  EXPECT_EQ(ent["attributes"].size(), 6u);
}

TEST(Registry, ResourceTypeJsonHasRfc7643Section6Form) {
  Json u = R().ResourceTypeJson(ResourceType::kUser, "https://h/scim/v2");
  EXPECT_EQ(u["schemas"], Json::array({"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}));
  EXPECT_EQ(u["id"], "User");
  EXPECT_EQ(u["name"], "User");
  EXPECT_EQ(u["endpoint"], "/Users");
  EXPECT_EQ(u["schema"], kUserSchema);
  EXPECT_EQ(u["schemaExtensions"],
            Json::parse(R"([{"schema":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                             "required":false}])"));
  EXPECT_EQ(u["meta"]["location"], "https://h/scim/v2/ResourceTypes/User");
  EXPECT_EQ(u["meta"]["resourceType"], "ResourceType");
  Json g = R().ResourceTypeJson(ResourceType::kGroup, "https://h/scim/v2");
  EXPECT_EQ(g["endpoint"], "/Groups");
  EXPECT_FALSE(g.contains("schemaExtensions"));
}

TEST(AttributeNames, SpellTheRfcKeywords) {
  EXPECT_EQ(TypeName(Type::kDateTime), "dateTime");
  EXPECT_EQ(MutabilityName(Mutability::kWriteOnly), "writeOnly");
  EXPECT_EQ(ReturnedName(Returned::kRequest), "request");
  EXPECT_EQ(UniquenessName(Uniqueness::kGlobal), "global");
}

}  // namespace
}  // namespace idsync::scim::schema
