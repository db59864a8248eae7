#include "policy/mapping.h"

#include <string>

#include <gtest/gtest.h>

#include "policy/test_support.h"

namespace idsync::policy {
namespace {

using test_support::J;
using test_support::Parse;

// Entra ID POST /Users body (IDP-QUIRKS E-11, learn.microsoft.com sample) in stored form: no
// meta, extension under its URN, plus the server-assigned id.
Json EntraUser() {
  return J(R"({
    "id": "6b4b1a2e-95c8-4d3c-9a1e-2f1f1c0d1e01",
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_ab6490ee@contoso.onmicrosoft.com",
    "active": true,
    "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
    "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
    "roles": [],
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
      "employeeNumber": "701984", "costCenter": "CC-4130", "department": "Finance"}
  })");
}

// Okta OIN create body (IDP-QUIRKS O-3) in stored form: password dropped, groups ignored.
Json OktaUser() {
  return J(R"({
    "id": "3f0d7c1a-0000-4000-8000-000000000002",
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
    "active": true
  })");
}

EffectiveUserValues Map(const Policy& p, const Json& user, const CustomAttributeDefs& c = {}) {
  auto v = MapUser(p, user, c);
  EXPECT_TRUE(v) << v.error().detail;
  return v ? *v : EffectiveUserValues{};
}

TEST(MapUser, EntraDefaults) {
  EffectiveUserValues v = Map(DefaultPolicy(), EntraUser());
  EXPECT_EQ(v.username(), "Test_User_ab6490ee@contoso.onmicrosoft.com");
  EXPECT_EQ(v.email(), "Test_User_fd0ea19b@testuser.com");
  EXPECT_EQ(v.Find("email")->rule, "attributes.email.sources[0]");
  EXPECT_EQ(v.Find("email")->source, "emails[primary eq true].value");
  // Entra sends no displayName: the template fallback builds it.
  ASSERT_NE(v.Find("displayName"), nullptr);
  EXPECT_EQ(v.Find("displayName")->value, "givenName familyName");
  EXPECT_EQ(v.Find("displayName")->rule, "attributes.displayName.sources[1]");
  EXPECT_EQ(v.Find("displayName")->source, "{name.givenName} {name.familyName}");
  EXPECT_EQ(v.Find("givenName")->value, "givenName");
  EXPECT_EQ(v.Find("familyName")->value, "familyName");
  EXPECT_EQ(v.Find("active")->value, true);
  EXPECT_EQ(v.Find("active")->rule, "attributes.active.sources[0]");
  EXPECT_TRUE(v.warnings.empty());
}

TEST(MapUser, OktaDefaults) {
  EffectiveUserValues v = Map(DefaultPolicy(), OktaUser());
  EXPECT_EQ(v.username(), "test.user@okta.local");
  EXPECT_EQ(v.email(), "test.user@okta.local");
  EXPECT_EQ(v.Find("displayName")->value, "Test User");
  EXPECT_EQ(v.Find("displayName")->rule, "attributes.displayName.sources[0]");
  EXPECT_TRUE(v.active());
}

TEST(MapUser, EmailFallbacks) {
  struct Case {
    const char* emails;
    const char* expected;  // "" for none
    const char* rule;
  };
  const Case cases[] = {
      {R"([{"value": "home@x.org", "type": "home"}, {"value": "p@x.org", "primary": true}])",
       "p@x.org", "attributes.email.sources[0]"},
      {R"([{"value": "home@x.org", "type": "home"}, {"value": "w@x.org", "type": "Work"}])",
       "w@x.org", "attributes.email.sources[1]"},  // type compares case-insensitively
      {R"([{"value": "first@x.org"}, {"value": "second@x.org"}])", "first@x.org",
       "attributes.email.sources[2]"},
      {R"([{"value": "", "primary": true}, {"value": "w@x.org", "type": "work"}])", "w@x.org",
       "attributes.email.sources[1]"},  // an empty value is no value
      {R"([])", "", ""},
  };
  for (const Case& c : cases) {
    Json user = {{"userName", "u"}, {"emails", J(c.emails)}};
    EffectiveUserValues v = Map(DefaultPolicy(), user);
    EXPECT_EQ(v.email(), c.expected) << c.emails;
    if (*c.rule) {
      EXPECT_EQ(v.Find("email")->rule, c.rule) << c.emails;
    }
  }
}

TEST(MapUser, TransformsInOrder) {
  struct Case {
    const char* transforms;
    const char* input;
    const char* expected;  // "" for "no value"
  };
  const Case cases[] = {
      {R"(["lower"])", "Alice.Smith@Example.COM", "alice.smith@example.com"},
      {R"(["lower"])", "ÄNNE.Müller", "änne.müller"},
      {R"(["lower"])", "STRASSE", "strasse"},
      {R"(["strip_domain"])", "alice@example.com", "alice"},
      {R"(["strip_domain"])", "no-domain", "no-domain"},
      {R"(["strip_domain"])", "a@b@example.com", "a@b"},
      {R"(["strip_domain"])", "@example.com", ""},
      {R"(["strip_domain", "lower"])", "Alice@Example.com", "alice"},
      {R"([{"regex_replace": {"pattern": "^(\\w+)\\.(\\w+)@.*$", "replacement": "\\2_\\1"}}])",
       "alice.smith@example.com", "smith_alice"},
      {R"([{"regex_replace": {"pattern": "-", "replacement": ""}}])", "a-b-c", "abc"},
      {R"([{"regex_replace": {"pattern": "^.*$", "replacement": ""}}])", "gone", ""},
      {R"([{"template": "ext.{value}"}, "lower"])", "Bob", "ext.bob"},
      {R"([{"template": "{value} [{name.familyName}]"}])", "bob", "bob [Jones]"},
      {R"([{"template": "{value} [{nickName}]"}])", "bob", ""},  // placeholder without value
      {R"(["lower", {"regex_replace": {"pattern": "(?i)^CORP\\\\", "replacement": ""}}])",
       "CORP\\Alice", "alice"},
  };
  for (const Case& c : cases) {
    std::string policy = std::string(R"({"attributes": {"username": {"sources": ["userName"]},
        "displayName": {"sources": ["displayName"], "transforms": )") +
                         c.transforms + "}}}";
    Policy p = Parse(policy.c_str());
    Json user = {{"userName", "u"}, {"displayName", c.input}, {"name", {{"familyName", "Jones"}}}};
    EffectiveUserValues v = Map(p, user);
    const MappedValue* dn = v.Find("displayName");
    if (*c.expected) {
      ASSERT_NE(dn, nullptr) << c.transforms << " " << c.input;
      EXPECT_EQ(dn->value, c.expected) << c.transforms << " " << c.input;
    } else {
      EXPECT_EQ(dn, nullptr) << c.transforms << " " << c.input;
      EXPECT_EQ(v.warnings.size(), 1u) << c.transforms;
    }
  }
}

TEST(MapUser, TransformedSourceFallsBackWhenEmptied) {
  Policy p = Parse(R"({"attributes": {"username": {"sources": ["externalId", "userName"],
      "transforms": [{"regex_replace": {"pattern": "^[0-9a-f-]{36}$", "replacement": ""}}]}}})");
  EffectiveUserValues v = Map(p, EntraUser());  // externalId is a GUID: dropped, userName next
  EXPECT_EQ(v.username(), "Test_User_ab6490ee@contoso.onmicrosoft.com");
  EXPECT_EQ(v.Find("username")->rule, "attributes.username.sources[1]");
  ASSERT_EQ(v.warnings.size(), 1u);
  EXPECT_EQ(v.warnings[0].rfind("attributes.username.sources[0]: ", 0), 0u) << v.warnings[0];
}

TEST(MapUser, CustomAttributesFromEnterpriseExtension) {
  CustomAttributeDefs defs = {{"costCenter", AttributeType::kString, false},
                              {"employeeNo", AttributeType::kInteger, false},
                              {"allMail", AttributeType::kString, true},
                              {"remote", AttributeType::kBoolean, false},
                              {"hired", AttributeType::kDateTime, false}};
  PolicyContext ctx;
  ctx.custom = defs;
  Policy p = Parse(R"({"attributes": {
      "costCenter": {"sources": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"],
                     "transforms": [{"regex_replace": {"pattern": "^CC-", "replacement": ""}}]},
      "employeeNo": {"sources": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                                 "employeeNumber"]},
      "allMail": {"sources": ["emails.value"]},
      "remote": {"sources": ["title", {"template": "true"}]},
      "hired": {"sources": ["nickName"]}}})",
                   ctx);
  Json user = EntraUser();
  user["emails"].push_back({{"value", "alias@testuser.com"}, {"type", "other"}});
  user["emails"].push_back({{"value", "Test_User_fd0ea19b@testuser.com"}});  // duplicate
  user["title"] = "maybe";
  user["nickName"] = "2024-03-01T10:00:00+02:00";
  EffectiveUserValues v = Map(p, user, defs);
  EXPECT_EQ(v.Find("costCenter")->value, "4130");
  // department "Finance" is no integer: the employeeNumber fallback (no URN, lenient) is used.
  EXPECT_EQ(v.Find("employeeNo")->value, 701984);
  EXPECT_EQ(v.Find("employeeNo")->rule, "attributes.employeeNo.sources[1]");
  EXPECT_EQ(v.Find("allMail")->value,
            J(R"(["Test_User_fd0ea19b@testuser.com", "alias@testuser.com"])"));
  EXPECT_EQ(v.Find("remote")->value, true);  // "maybe" is no boolean; the constant template is
  EXPECT_EQ(v.Find("hired")->value, "2024-03-01T08:00:00.000Z");
  EXPECT_EQ(v.warnings.size(), 2u);
}

TEST(MapUser, UndefinedCustomAttributeIsSkippedWithWarning) {
  PolicyContext ctx;
  ctx.custom = {{"costCenter", AttributeType::kString, false}};
  Policy p = Parse(R"({"attributes": {"costCenter": {"sources": ["title"]}}})", ctx);
  EffectiveUserValues v = Map(p, J(R"({"userName": "u", "title": "x"})"), {});
  EXPECT_EQ(v.Find("costCenter"), nullptr);
  ASSERT_EQ(v.warnings.size(), 1u);
  EXPECT_NE(v.warnings[0].find("no custom attribute \"costCenter\""), std::string::npos);
}

TEST(MapUser, ActiveValues) {
  struct Case {
    Json active;
    bool expected;
    const char* rule;
  };
  const Case cases[] = {
      {true, true, "attributes.active.sources[0]"},
      {false, false, "attributes.active.sources[0]"},
      {"False", false, "attributes.active.sources[0]"},  // Entra flag-less (IDP-QUIRKS E-2)
      {"TRUE", true, "attributes.active.sources[0]"},
      {nullptr, true, "attributes.active"},  // absent: active by default
      {"yes", true, "attributes.active"},    // not a boolean: warning, default
  };
  for (const Case& c : cases) {
    Json user = {{"userName", "u"}};
    if (!c.active.is_null()) user["active"] = c.active;
    EffectiveUserValues v = Map(DefaultPolicy(), user);
    EXPECT_EQ(v.active(), c.expected) << c.active;
    EXPECT_EQ(v.Find("active")->rule, c.rule) << c.active;
  }
}

TEST(MapUser, NoUsernameIsAnError) {
  auto v = MapUser(DefaultPolicy(), J(R"({"displayName": "Nobody"})"), {});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, ErrorCode::kInvalidValue);
  EXPECT_EQ(v.error().detail, "no value for username (attributes.username tried: userName)");
}

TEST(MapUser, LdapEntry) {
  PolicyContext ctx;
  ctx.kind = SourceKind::kLdap;
  ctx.ldap_username_attribute = "sAMAccountName";
  Policy p = DefaultPolicy(ctx);
  // Attribute names from the server may be spelled in any case (RFC 4512 §2.5).
  Json entry = J(R"({"samaccountname": ["jdoe"], "mail": ["John.Doe@corp.example"],
                     "givenName": ["John"], "SN": ["Doe"], "cn": ["Doe, John"],
                     "memberOf": ["CN=Eng,OU=Groups,DC=corp"]})");
  EffectiveUserValues v = Map(p, entry);
  EXPECT_EQ(v.username(), "jdoe");
  EXPECT_EQ(v.email(), "John.Doe@corp.example");
  EXPECT_EQ(v.Find("displayName")->value, "John Doe");  // no displayName: "{givenName} {sn}"
  EXPECT_EQ(v.Find("familyName")->value, "Doe");
  EXPECT_EQ(v.Find("active")->rule, "attributes.active");

  entry.erase("givenName");
  EffectiveUserValues w = Map(p, entry);
  EXPECT_EQ(w.Find("displayName")->value, "Doe, John");  // then cn
  EXPECT_EQ(w.Find("displayName")->rule, "attributes.displayName.sources[2]");
}

TEST(MapUser, LdapAccountDisableBitMakesTheUserInactive) {
  PolicyContext ctx;
  ctx.kind = SourceKind::kLdap;
  ctx.ldap_username_attribute = "sAMAccountName";
  Policy p = DefaultPolicy(ctx);
  auto active = [&](const char* uac) {
    Json entry = J(R"({"sAMAccountName": ["jdoe"]})");
    if (uac) entry["userAccountControl"] = Json::array({uac});
    return Map(p, entry).active();
  };
  EXPECT_TRUE(active(nullptr));   // no attribute (OpenLDAP): active
  EXPECT_TRUE(active("512"));     // NORMAL_ACCOUNT
  EXPECT_FALSE(active("514"));    // NORMAL_ACCOUNT | ACCOUNTDISABLE
  EXPECT_FALSE(active("66050"));  // ... | DONT_EXPIRE_PASSWORD
  EXPECT_TRUE(active("66048"));
  EXPECT_TRUE(active("disabled"));  // not a number: no value (a warning), so the default
  Json entry = J(R"({"sAMAccountName": ["jdoe"], "userAccountControl": ["514"]})");
  EXPECT_EQ(Map(p, entry).Find("active")->rule, "attributes.active.sources[0]");
  // Turned off by the policy: no source for active.
  Policy off = p;
  off.attributes["active"].sources.clear();
  EXPECT_TRUE(Map(off, entry).active());
}

std::vector<std::string> Names(const MappedGroups& g) {
  std::vector<std::string> out;
  for (const auto& [key, group] : g.groups) out.push_back(group.name);
  return out;
}

const std::vector<SourceGroup> kEntraGroups = {
    {"a1", "Engineering"}, {"a2", "eng-backend"}, {"a3", "eng-backend-test"},
    {"a4", "Sales"},       {"0f3a-77", "Admins"}, {"a6", ""},
};

TEST(MapGroups, OnTheFlyTakesEveryNamedGroup) {
  MappedGroups g = MapGroups(DefaultPolicy(), kEntraGroups, false);
  EXPECT_EQ(Names(g), (std::vector<std::string>{"Admins", "eng-backend", "eng-backend-test",
                                                "Engineering", "Sales"}));
  const LocalGroup& eng = g.groups.at("engineering");
  ASSERT_EQ(eng.grants.size(), 1u);
  EXPECT_EQ(eng.grants[0],
            (GroupGrant{MembershipRule::kOnTheFly, "Engineering", "groups.mode"}));
  ASSERT_EQ(g.ignored.size(), 1u);
  EXPECT_EQ(g.ignored[0], "\"a6\": has no name to create a local group with");
}

TEST(MapGroups, IncludeExcludeAndNameTransforms) {
  struct Case {
    const char* groups;
    std::vector<std::string> expected;
  };
  const Case cases[] = {
      {R"({"include": ["eng-.*"]})", {"eng-backend", "eng-backend-test"}},
      {R"({"include": ["eng"]})", {}},  // whole-name match
      {R"({"include": ["(?i)eng.*"]})", {"eng-backend", "eng-backend-test", "Engineering"}},
      {R"({"exclude": [".*-test", "Sales"]})", {"Admins", "eng-backend", "Engineering"}},
      {R"({"include": ["eng-.*"], "exclude": [".*-test"]})", {"eng-backend"}},
      {R"({"include": ["eng-.*", "Sales"], "name_transforms": ["lower", {"template": "idp-{value}"}]})",
       {"idp-eng-backend", "idp-eng-backend-test", "idp-sales"}},
      {R"({"include": ["eng-.*"], "name_transforms": [{"regex_replace": {"pattern": "^eng-", "replacement": ""}}]})",
       {"backend", "backend-test"}},
      // import off maps as usual (the grants are existing_only, see below).
      {R"({"import": false, "default_groups_all_users": ["staff"]})",
       {"Admins", "eng-backend", "eng-backend-test", "Engineering", "Sales", "staff"}},
  };
  for (const Case& c : cases) {
    Policy p = Parse((std::string(R"({"groups": )") + c.groups + "}").c_str());
    EXPECT_EQ(Names(MapGroups(p, kEntraGroups, false)), c.expected) << c.groups;
  }
}

// groups.import off: source groups grant only into groups that exist (existing_only); default
// groups are granted as usual.
TEST(MapGroups, ImportOffGrantsOnlyIntoExistingGroups) {
  Policy p = Parse(R"({"groups": {"import": false, "default_groups_all_users": ["staff"]}})");
  MappedGroups g = MapGroups(p, kEntraGroups, false);
  EXPECT_TRUE(g.groups.at("engineering").grants[0].existing_only);
  EXPECT_FALSE(g.groups.at("staff").grants[0].existing_only);
}

TEST(MapGroups, ExcludedGroupsSayWhy) {
  Policy p = Parse(R"({"groups": {"include": ["(?i)eng.*"], "exclude": ["x", ".*-test"]}})");
  MappedGroups g = MapGroups(p, {{"1", "eng-backend-test"}, {"2", "Sales"}}, false);
  EXPECT_TRUE(g.groups.empty());
  EXPECT_EQ(g.ignored,
            (std::vector<std::string>{"\"eng-backend-test\": matched by groups.exclude[1]",
                                      "\"Sales\": not matched by groups.include"}));
}

TEST(MapGroups, ManualTableWithUnmappedIgnoreOrOnTheFly) {
  const char* manual = R"("mode": "manual", "manual": [
      {"source": "engineering", "targets": ["developers", "staff"]},
      {"source": "0f3a-77", "targets": ["admins"]},
      {"source": "Engineering", "targets": ["Staff"]}],
      "exclude": [".*-test"])";
  Policy ignore = Parse((std::string(R"({"groups": {)") + manual + "}}").c_str());
  MappedGroups g = MapGroups(ignore, kEntraGroups, false);
  EXPECT_EQ(Names(g), (std::vector<std::string>{"admins", "developers", "staff"}));
  // "staff" is granted by two rules (name matches case-insensitively); both are kept.
  const LocalGroup& staff = g.groups.at("staff");
  ASSERT_EQ(staff.grants.size(), 2u);
  EXPECT_EQ(staff.grants[0].detail, "groups.manual[0]");
  EXPECT_EQ(staff.grants[1].detail, "groups.manual[2]");
  EXPECT_EQ(g.groups.at("admins").grants[0],
            (GroupGrant{MembershipRule::kManual, "Admins", "groups.manual[1]"}));  // by id
  EXPECT_EQ(g.ignored.size(), 4u);

  Policy fly =
      Parse((std::string(R"({"groups": {)") + manual + R"(, "unmapped": "on_the_fly"}})").c_str());
  MappedGroups h = MapGroups(fly, kEntraGroups, false);
  // Unmapped groups come on the fly, through the filters; manual ones are not filtered.
  EXPECT_EQ(Names(h),
            (std::vector<std::string>{"admins", "developers", "eng-backend", "Sales", "staff"}));
  EXPECT_EQ(h.groups.at("sales").grants[0].detail, "groups.unmapped");
}

TEST(MapGroups, DefaultGroups) {
  Policy p = Parse(R"({"groups": {"default_groups_new_users": ["newcomers", "staff"],
                                  "default_groups_all_users": ["staff", "everyone"]}})");
  MappedGroups existing = MapGroups(p, {{"g1", "Staff"}}, false);
  EXPECT_EQ(Names(existing), (std::vector<std::string>{"everyone", "Staff"}));
  EXPECT_EQ(existing.groups.at("staff").grants.size(), 2u);  // on the fly and default_all

  MappedGroups created = MapGroups(p, {}, true);
  EXPECT_EQ(Names(created), (std::vector<std::string>{"everyone", "newcomers", "staff"}));
  EXPECT_EQ(created.groups.at("newcomers").grants[0],
            (GroupGrant{MembershipRule::kDefaultNew, "", "groups.default_groups_new_users[0]"}));
}

TEST(DeriveEntitlements, FromGroupsWithTheGrantingGroup) {
  std::map<std::string, std::vector<std::string>> table = {
      {"developers", {"project:DEMO:portal-access", "project:DEMO:commit"}},
      {"Support", {"project:DEMO:portal-access"}},
      {"unused", {"x"}}};
  auto e = DeriveEntitlements(table, {"Developers", "support", "staff"});
  EXPECT_EQ(e, (std::vector<Entitlement>{{"project:DEMO:commit", "Developers"},
                                         {"project:DEMO:portal-access", "Developers"},
                                         {"project:DEMO:portal-access", "support"}}));
}

}  // namespace
}  // namespace idsync::policy
