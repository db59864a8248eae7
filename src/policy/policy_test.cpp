#include "policy/policy.h"

#include <string>

#include <gtest/gtest.h>

#include "policy/test_support.h"

namespace idsync::policy {
namespace {

using test_support::J;

PolicyContext WithCustom() {
  PolicyContext ctx;
  ctx.custom = {{"costCenter", AttributeType::kString, false},
                {"employeeNo", AttributeType::kInteger, false},
                {"allMail", AttributeType::kString, true}};
  return ctx;
}

// An example with every setting; also the example in the module's documentation.
const char* kFullPolicy = R"({
  "users": {"import_new": true, "update_existing": false, "follow_active": true,
            "on_deactivate": "disable", "on_delete": "delete"},
  "attributes": {
    "username": {"sources": ["userName"], "transforms": ["strip_domain", "lower"]},
    "email": {"sources": ["emails[type eq \"work\"].value", "emails.value"]},
    "displayName": {"sources": ["displayName", {"template": "{name.givenName} {name.familyName}"}]},
    "costCenter": {"sources": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"],
                   "transforms": [{"regex_replace": {"pattern": "^CC-(\\d+)$", "replacement": "\\1"}}]},
    "employeeNo": {"sources": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"]},
    "allMail": {"sources": ["emails.value"], "transforms": [{"template": "mailto:{value}"}]}
  },
  "groups": {"import": true, "mode": "manual", "include": ["^eng-.*"], "exclude": ["(?i).*-test$"],
             "name_transforms": ["lower", {"template": "idp-{value}"}],
             "manual": [{"source": "Engineering", "targets": ["developers", "staff"]},
                        {"source": "0f3a-77", "targets": ["admins"]}],
             "unmapped": "on_the_fly",
             "default_groups_new_users": ["newcomers"], "default_groups_all_users": ["staff"],
             "keep_existing_memberships": false},
  "entitlements": {"developers": ["project:DEMO:portal-access", "project:DEMO:commit"]},
  "linking": {"key": "email"},
  "priority": 10
})";

TEST(ParsePolicy, EmptyObjectIsTheDefault) {
  auto p = ParsePolicy(J("{}"));
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(*p, DefaultPolicy());
  EXPECT_TRUE(p->users.import_new);
  EXPECT_TRUE(p->users.update_existing);
  EXPECT_TRUE(p->users.follow_active);
  EXPECT_EQ(p->users.on_delete, OnDelete::kDisable);
  EXPECT_TRUE(p->groups.import);
  EXPECT_EQ(p->groups.mode, GroupMode::kOnTheFly);
  EXPECT_TRUE(p->groups.keep_existing_memberships);
  EXPECT_EQ(p->link_key, LinkKey::kUsername);
  EXPECT_EQ(p->priority, 0);
  Json j = PolicyToJson(*p);
  EXPECT_EQ(
      j["attributes"]["email"]["sources"],
      J(R"(["emails[primary eq true].value", "emails[type eq \"work\"].value", "emails.value"])"));
  EXPECT_EQ(j["attributes"]["displayName"]["sources"][1],
            J(R"({"template": "{name.givenName} {name.familyName}"})"));
  EXPECT_EQ(j["attributes"].size(), 6u);
}

TEST(ParsePolicy, FullPolicyRoundTrips) {
  auto p = ParsePolicy(J(kFullPolicy), WithCustom());
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_FALSE(p->users.update_existing);
  EXPECT_EQ(p->users.on_delete, OnDelete::kDelete);
  EXPECT_EQ(p->groups.mode, GroupMode::kManual);
  EXPECT_EQ(p->groups.unmapped, Unmapped::kOnTheFly);
  ASSERT_EQ(p->groups.manual.size(), 2u);
  EXPECT_EQ(p->groups.manual[0].targets, (std::vector<std::string>{"developers", "staff"}));
  EXPECT_EQ(p->link_key, LinkKey::kEmail);
  EXPECT_EQ(p->priority, 10);
  EXPECT_EQ(p->attributes.size(), 9u);  // six built-ins (defaults kept) and three custom

  Json written = PolicyToJson(*p);
  auto again = ParsePolicy(written, WithCustom());
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_EQ(*again, *p);
  EXPECT_EQ(PolicyToJson(*again), written);
}

TEST(ParsePolicy, DefaultRoundTripsForLdap) {
  PolicyContext ctx;
  ctx.kind = SourceKind::kLdap;
  ctx.ldap_username_attribute = "sAMAccountName";
  Policy d = DefaultPolicy(ctx);
  Json j = PolicyToJson(d);
  EXPECT_EQ(j["attributes"]["username"]["sources"], J(R"(["sAMAccountName"])"));
  // Active Directory's ACCOUNTDISABLE bit (issue #11); entries without the attribute are active.
  EXPECT_EQ(j["attributes"]["active"]["sources"], J(R"(["userAccountControl"])"));
  EXPECT_EQ(j["attributes"]["active"]["transforms"], J(R"(["account_enabled"])"));
  auto p = ParsePolicy(j, ctx);
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(*p, d);
}

TEST(ParsePolicy, AttributeNamesAreCaseInsensitive) {
  auto p = ParsePolicy(J(R"({"attributes": {"DisplayName": {"sources": ["nickName"]},
                                           "COSTCENTER": {"sources": ["title"]}}})"),
                       WithCustom());
  ASSERT_TRUE(p) << p.error().detail;
  ASSERT_EQ(p->attributes["displayName"].sources.size(), 1u);
  EXPECT_EQ(std::get<SourcePath>(p->attributes["displayName"].sources[0]).text(), "nickName");
  EXPECT_TRUE(p->attributes.contains("costCenter"));
}

TEST(ParsePolicy, ErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* error;  // expected at the start of the detail
  };
  const Case cases[] = {
      {R"([])", "a policy must be a JSON object"},
      {R"({"grups": {}})", "grups: unknown setting (expected one of: users, attributes"},
      {R"({"users": {"import_new": "yes"}})", "users.import_new: expected true or false"},
      {R"({"users": {"on_delete": "purge"}})",
       "users.on_delete: expected one of: disable, delete, keep"},
      {R"({"users": {"on_deactivate": "delete"}})", "users.on_deactivate: expected \"disable\""},
      {R"({"users": {"import": true}})", "users.import: unknown setting"},
      {R"({"attributes": {"email": {"sources": ["emails[primary eq true].value", "emial"]}}})",
       "attributes.email.sources[1]: unknown attribute \"emial\""},
      {R"({"attributes": {"givenName": {"sources": ["name.givenNme"]}}})",
       "attributes.givenName.sources[0]: unknown attribute \"name.givenNme\""},
      {R"({"attributes": {"givenName": {"sources": ["name"]}}})",
       "attributes.givenName.sources[0]: \"name\" is complex: name a sub-attribute"},
      {R"({"attributes": {"email": {"sources": ["emails[typ eq \"work\"].value"]}}})",
       "attributes.email.sources[0]: invalid filter in"},
      {R"({"attributes": {"email": {"sources": ["emails[type eq \"work\"].vale"]}}})",
       "attributes.email.sources[0]: unknown sub-attribute \"vale\" of \"emails\""},
      {R"({"attributes": {"email": {"sources": ["emails[type eq \"work\""]}}})",
       "attributes.email.sources[0]: invalid source path"},
      {R"({"attributes": {"familyName": {"sources": ["name[givenName eq \"x\"].familyName"]}}})",
       "attributes.familyName.sources[0]: a value filter [...] needs a multi-valued complex"},
      {R"({"attributes": {"username": {"sources": ["password"]}}})",
       "attributes.username.sources[0]: attribute \"password\" is never stored"},
      {R"({"attributes": {"username": {"sources": [42]}}})",
       "attributes.username.sources[0]: expected a source path (string) or {\"template\": ...}"},
      {R"({"attributes": {"username": {"sources": []}}})",
       "attributes.username.sources: username needs at least one source"},
      {R"({"attributes": {"username": {"source": ["userName"]}}})",
       "attributes.username.source: unknown setting (expected one of: sources, transforms)"},
      {R"({"attributes": {"costCentre": {"sources": ["title"]}}})",
       "attributes.costCentre: unknown attribute (built-in: username"},
      {R"({"attributes": {"displayName": {"sources": [{"template": "{name.givenName} {name.famlyName}"}]}}})",
       "attributes.displayName.sources[0].template: placeholder {name.famlyName}: unknown "
       "attribute "
       "\"name.famlyName\""},
      {R"({"attributes": {"displayName": {"sources": [{"template": "{name.givenName"}]}}})",
       "attributes.displayName.sources[0].template: unterminated placeholder at position 1"},
      {R"({"attributes": {"displayName": {"sources": [{"template": "a } b"}]}}})",
       "attributes.displayName.sources[0].template: unmatched \"}\" at position 3"},
      {R"({"attributes": {"displayName": {"sources": [{"template": "x{}"}]}}})",
       "attributes.displayName.sources[0].template: empty placeholder {} at position 2"},
      {R"({"attributes": {"displayName": {"sources": [{"template": "{value}"}]}}})",
       "attributes.displayName.sources[0].template: placeholder {value} is only available in a "
       "transform"},
      {R"({"attributes": {"displayName": {"sources": [{"tmpl": "x"}]}}})",
       "attributes.displayName.sources[0].tmpl: unknown setting"},
      {R"({"attributes": {"username": {"transforms": ["lowercase"]}}})",
       "attributes.username.transforms[0]: unknown transform \"lowercase\""},
      {R"({"attributes": {"username": {"transforms": [{"lower": true}]}}})",
       "attributes.username.transforms[0]: write \"lower\" as a plain string"},
      {R"({"attributes": {"username": {"transforms": [{"regex_replace": {"pattern": "(a"}}]}}})",
       "attributes.username.transforms[0].regex_replace.replacement: missing"},
      {R"({"attributes": {"username": {"transforms": [{"regex_replace": {"pattern": "(a", "replacement": ""}}]}}})",
       "attributes.username.transforms[0].regex_replace.pattern: invalid regular expression: "
       "missing )"},
      {R"({"attributes": {"username": {"transforms": [{"regex_replace": {"pattern": "(a)b", "replacement": "\\2"}}]
}
}
})",
       "attributes.username.transforms[0].regex_replace.replacement: "},
      {R"({"attributes": {"username": {"transforms": [{"template": "{value}@{emial}"}]}}})",
       "attributes.username.transforms[0].template: placeholder {emial}: unknown attribute"},
      {R"({"groups": {"mdoe": "manual"}})", "groups.mdoe: unknown setting"},
      {R"({"groups": {"mode": "auto"}})", "groups.mode: expected one of: on_the_fly, manual"},
      {R"({"groups": {"include": ["(abc"]}})",
       "groups.include[0]: invalid regular expression: missing )"},
      {R"({"groups": {"exclude": ["ok", "a**"]}})",
       "groups.exclude[1]: invalid regular expression: bad repetition operator"},
      {R"({"groups": {"include": "eng"}})", "groups.include: expected an array"},
      {R"({"groups": {"name_transforms": [{"template": "{displayName}"}]}})",
       "groups.name_transforms[0].template: a group name template can only use {value}"},
      {R"({"groups": {"manual": [{"targets": ["x"]}]}})", "groups.manual[0].source: missing"},
      {R"({"groups": {"manual": [{"source": "Eng", "targets": []}]}})",
       "groups.manual[0].targets: needs at least one local group"},
      {R"({"groups": {"manual": [{"source": "Eng", "targets": ["ok", ""]}]}})",
       "groups.manual[0].targets[1]: must not be empty"},
      {R"({"groups": {"unmapped": "create"}})",
       "groups.unmapped: expected one of: ignore, on_the_fly"},
      {R"({"groups": {"default_groups_new_users": "staff"}})",
       "groups.default_groups_new_users: expected an array of names"},
      {R"({"groups": {"default_groups_all_users": ["a\u0001"]}})",
       "groups.default_groups_all_users[0]: contains a control character"},
      {R"({"groups": {"keep_existing_memberships": 1}})",
       "groups.keep_existing_memberships: expected true or false"},
      {R"({"entitlements": {"admins": "all"}})", "entitlements.admins: expected an array"},
      {R"({"entitlements": {"admins": ["ok", 3]}})", "entitlements.admins[1]: expected a string"},
      {R"({"linking": {"key": "externalId"}})",
       "linking.key: expected one of: username, email, none"},
      {R"({"priority": "high"})", "priority: expected an integer"},
      {R"({"priority": 1.5})", "priority: expected an integer"},
  };
  for (const Case& c : cases) {
    auto p = ParsePolicy(J(c.json), WithCustom());
    ASSERT_FALSE(p) << c.json;
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidValue) << c.json;
    EXPECT_EQ(p.error().detail.rfind(c.error, 0), 0u)
        << c.json << "\n  got:      " << p.error().detail << "\n  expected: " << c.error;
  }
}

TEST(ParsePolicy, CustomAttributeMustBeDefined) {
  auto p = ParsePolicy(J(R"({"attributes": {"costCenter": {"sources": ["title"]}}})"));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().detail.find("custom attributes of this directory: none"), std::string::npos)
      << p.error().detail;
}

TEST(ParsePolicy, LdapPathsAreAttributeNames) {
  PolicyContext ctx;
  ctx.kind = SourceKind::kLdap;
  auto ok = ParsePolicy(J(R"({"attributes": {"email": {"sources": ["mail", "userPrincipalName",
                          "cn;lang-de", "0.9.2342.19200300.100.1.3"]},
                          "displayName": {"sources": [{"template": "{givenName} {sn}"}]}}})"),
                        ctx);
  ASSERT_TRUE(ok) << ok.error().detail;
  for (const char* bad :
       {"mail address", "emails[type eq \"work\"].value", "1.2..3", "-x", "cn;"}) {
    Json j = {{"attributes", {{"email", {{"sources", {bad}}}}}}};
    auto p = ParsePolicy(j, ctx);
    ASSERT_FALSE(p) << bad;
    EXPECT_EQ(
        p.error().detail,
        std::string("attributes.email.sources[0]: invalid LDAP attribute name \"") + bad + "\"");
  }
}

TEST(CustomAttributeDefs, ParseAndValidate) {
  auto defs = ParseCustomAttributeDefs(J(R"([
      {"name": "costCenter"},
      {"name": "badgeNumber", "type": "integer"},
      {"name": "hired", "type": "dateTime", "multi_valued": false},
      {"name": "projects", "type": "string", "multi_valued": true},
      {"name": "remote", "type": "boolean"}])"));
  ASSERT_TRUE(defs) << defs.error().detail;
  ASSERT_EQ(defs->size(), 5u);
  EXPECT_EQ((*defs)[0].type, AttributeType::kString);
  EXPECT_TRUE((*defs)[3].multi_valued);
  EXPECT_EQ(FindCustom(*defs, "BADGENUMBER"), &(*defs)[1]);
  auto again = ParseCustomAttributeDefs(CustomAttributeDefsToJson(*defs));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *defs);

  struct Case {
    const char* json;
    const char* error;
  };
  const Case cases[] = {
      {R"({})", "custom attributes: expected an array"},
      {R"([{"name": "x", "kind": "string"}])", "[0].kind: unknown setting"},
      {R"([{"type": "string"}])", "[0].name: expected a name"},
      {R"([{"name": "cost center"}])", "[0].name: \"cost center\" is not a valid name"},
      {R"([{"name": "Email"}])", "[0].name: \"Email\" is a built-in attribute"},
      {R"([{"name": "a"}, {"name": "A"}])", "[1].name: \"A\" is defined twice"},
      {R"([{"name": "a", "type": "decimal"}])",
       "[0].type: expected one of: string, boolean, integer, dateTime"},
      {R"([{"name": "a", "multi_valued": "no"}])", "[0].multi_valued: expected true or false"},
  };
  for (const Case& c : cases) {
    auto r = ParseCustomAttributeDefs(J(c.json));
    ASSERT_FALSE(r) << c.json;
    EXPECT_EQ(r.error().detail.rfind(c.error, 0), 0u) << c.json << ": " << r.error().detail;
  }
}

}  // namespace
}  // namespace idsync::policy
