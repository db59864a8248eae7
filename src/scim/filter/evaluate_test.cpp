#include "scim/filter/evaluate.h"

#include <string>

#include <gtest/gtest.h>

#include "scim/filter/parser.h"

namespace idsync::scim::filter {
namespace {

const schema::Registry& Reg() {
  return schema::Registry::Default();
}

Json Alice() {
  return Json::parse(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "jyoung",
    "userName": "ÄNNE.Müller@Example.com",
    "name": {"familyName": "O'Malley", "givenName": "Änne"},
    "displayName": "Straße Team",
    "title": "",
    "nickName": null,
    "userType": "Employee",
    "active": true,
    "emails": [
      {"value": "anne@example.com", "type": "work", "primary": true},
      {"value": "anne@home.example.org", "type": "home"}
    ],
    "phoneNumbers": [],
    "ims": [{"value": "anne@foo.com", "type": "xmpp"}],
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
      "employeeNumber": "701984",
      "manager": {"value": "00bb", "displayName": "Boss"}
    },
    "meta": {"resourceType": "User", "created": "2011-08-01T18:29:49.793Z",
             "lastModified": "2011-08-01T20:31:02.315Z", "version": "W/\"3694e05e9dff591\""}
  })");
}

struct EvalCase {
  const char* filter;
  bool expected;
};

void Check(const EvalCase* cases, size_t n, const Json& resource, ResourceType type) {
  for (size_t i = 0; i < n; ++i) {
    const EvalCase& c = cases[i];
    auto ast = Parse(c.filter);
    ASSERT_TRUE(ast) << c.filter << ": " << ast.error().detail;
    // Unvalidated (resolved per call) and validated (compiled once) must agree.
    EXPECT_EQ(Matches(**ast, resource, type, Reg()), c.expected) << "unvalidated: " << c.filter;
    Status s = Validate(**ast, type, Reg());
    ASSERT_TRUE(s) << c.filter << ": " << s.error().detail;
    EXPECT_EQ(Matches(**ast, resource, type, Reg()), c.expected) << c.filter;
  }
}

TEST(FilterEvaluate, UserSemantics) {
  const EvalCase cases[] = {
      // Strings, caseExact=false: Unicode case folding.
      {R"(userName eq "änne.müller@example.com")", true},
      {R"(USERNAME EQ "ÄNNE.MÜLLER@EXAMPLE.COM")", true},
      {R"(userName eq "anne.muller@example.com")", false},
      {R"(name.givenName eq "ÄNNE")", true},
      {R"(displayName eq "STRASSE team")", true},  // full folding: ß -> ss
      {R"(displayName co "asse")", true},
      {R"(userName sw "änne.")", true},
      {R"(userName ew "@EXAMPLE.COM")", true},
      {R"(userName co "müller@")", true},
      {R"(name.familyName co "o'mal")", true},
      {R"(name.familyName gt "N")", true},
      {R"(name.familyName gt "p")", false},
      {R"(name.familyName lt "omalley")", true},  // "'" sorts before "m"
      // id and externalId are caseExact.
      {R"(id eq "2819c223-7f76-453a-919d-413861904646")", true},
      {R"(id eq "2819C223-7F76-453A-919D-413861904646")", false},
      {R"(externalId eq jyoung)", true},
      {R"(externalId eq JYOUNG)", false},
      // dateTime: chronological, whatever the notation.
      {R"(meta.lastModified gt "2011-05-13T04:42:34Z")", true},
      {R"(meta.lastModified lt "2011-05-13T04:42:34Z")", false},
      {R"(meta.created eq "2011-08-01T18:29:49.793Z")", true},
      {R"(meta.created eq "2011-08-01T20:29:49.793+02:00")", true},
      {R"(meta.created ge "2011-08-01T18:29:49.793Z")", true},
      {R"(meta.created gt "2011-08-01T18:29:49.793Z")", false},
      {R"(meta.created le "2011-08-01T18:29:49.794Z")", true},
      {R"(meta.created sw "2011-08")", true},
      {R"(meta.resourceType eq "User")", true},
      {R"(meta.version eq "W/\"3694e05e9dff591\"")", true},
      // Booleans.
      {R"(active eq true)", true},
      {R"(active eq false)", false},
      {R"(active ne false)", true},
      {R"(active eq "True")", true},  // Entra string booleans
      // pr: absent, null, "", [] are not present.
      {R"(title pr)", false},
      {R"(nickName pr)", false},
      {R"(phoneNumbers pr)", false},
      {R"(locale pr)", false},
      {R"(userName pr)", true},
      {R"(name pr)", true},
      {R"(emails pr)", true},
      {R"(emails.type pr)", true},
      {R"(addresses pr)", false},
      // eq/ne null mirror pr.
      {R"(title eq null)", true},
      {R"(userName eq null)", false},
      {R"(userName ne null)", true},
      // ne: absent is "not identical"; multi-valued: any value differs.
      {R"(locale ne "en")", true},
      {R"(userType ne "Employee")", false},
      {R"(userType ne "Intern")", true},
      {R"(emails.type ne "work")", true},
      {R"(ims.type ne "xmpp")", false},
      // Multi-valued: any value matches; complex without sub-attribute compares "value".
      {R"(emails co "example.com")", true},
      {R"(emails eq "ANNE@HOME.EXAMPLE.ORG")", true},
      {R"(emails.value co "example.org")", true},
      {R"(emails.type eq "home")", true},
      {R"(emails.type eq "other")", false},
      // Value paths: one element must satisfy the whole inner filter.
      {R"(emails[type eq "work" and value co "@example.com"])", true},
      {R"(emails[type eq "work" and value co "@home"])", false},
      {R"(emails[type eq "home" and not (primary eq true)])", true},
      {R"(emails[type eq "work"].value eq "Anne@Example.com")", true},
      {R"(emails[type eq "home"].value eq "anne@example.com")", false},
      {R"(emails[primary pr])", true},
      {R"(addresses[type eq "work"])", false},
      {R"(ims[type eq "xmpp" and value co "@foo.com"])", true},
      // Extension attributes, with and without URN.
      {R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984")",
       true},
      {R"(employeeNumber eq "701984")", true},
      {R"(employeeNumber eq 701984)", true},  // bare number read as text for a string attribute
      {R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "00bb")",
       true},
      {R"(manager eq "00bb")", true},
      {R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr)", false},
      // schemas
      {R"(schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")", true},
      {R"(schemas eq "urn:ietf:params:scim:schemas:core:2.0:Group")", false},
      // Logic, precedence.
      {R"(title pr and userType eq "Employee")", false},
      {R"(title pr or userType eq "Employee")", true},
      {R"(userType eq "Employee" and (emails co "example.com" or emails.value co "example.org"))",
       true},
      {R"(userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org"))",
       false},
      {R"(userName pr or title pr and locale pr)", true},
      {R"((userName pr or title pr) and locale pr)", false},
      {R"(not (not (userName pr)))", true},
      {R"(id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "00bb")", true},
  };
  Check(cases, std::size(cases), Alice(), ResourceType::kUser);
}

TEST(FilterEvaluate, GroupSemantics) {
  Json group = Json::parse(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    "id": "e9e30dba", "displayName": "Tour Guides",
    "members": [{"value": "2819c223", "$ref": "https://x/Users/2819c223", "display": "Babs"},
                {"value": "902c246b", "display": "Mandy"}],
    "meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22Z"}
  })");
  const EvalCase cases[] = {
      {R"(displayName eq "tour guides")", true},
      {R"(members[value eq "902c246b"])", true},
      {R"(members[value eq "902C246B"])", true},  // members.value is caseExact=false in RFC 7643
      {R"(members eq "2819c223")", true},
      {R"(members[$ref eq "https://x/Users/2819c223"])", true},
      {R"(members[$ref eq "HTTPS://X/Users/2819c223"])", false},  // references are case-exact
      {R"(members.display sw "man")", true},
      {R"(meta.created lt "2010-01-23T04:56:23Z")", true},
  };
  Check(cases, std::size(cases), group, ResourceType::kGroup);
}

TEST(FilterEvaluate, NumbersCompareNumerically) {
  // No integer/decimal attribute in the RFC schemas; exercise numbers through MatchesElement
  // on a hand-made attribute.
  schema::Attribute attr;
  attr.name = "scores";
  attr.type = schema::Type::kComplex;
  attr.multi_valued = true;
  schema::Attribute n;
  n.name = "n";
  n.type = schema::Type::kInteger;
  schema::Attribute d;
  d.name = "d";
  d.type = schema::Type::kDecimal;
  attr.sub_attributes = {n, d};
  Json element = {{"n", 10}, {"d", 2.5}};
  const EvalCase cases[] = {
      {"n eq 10", true},   {"n gt 9", true},    {"n gt 10", false}, {"n ge 10", true},
      {"n lt 10.5", true}, {"n eq 10.0", true}, {"d gt 2", true},   {"d le 2.5", true},
      {"d lt 2.5", false}, {"N EQ 10", true},   {"n ne 10", false}, {"n eq \"10\"", false},
  };
  for (const EvalCase& c : cases) {
    auto ast = Parse(c.filter);
    ASSERT_TRUE(ast) << c.filter;
    EXPECT_EQ(MatchesElement(**ast, element, attr), c.expected) << c.filter;
  }
}

TEST(FilterEvaluate, MatchesElementForPatch) {
  const schema::Attribute* emails = Reg().CoreSchema(ResourceType::kUser).Find("emails");
  ASSERT_NE(emails, nullptr);
  auto path = ParsePatchPath(R"(emails[type eq "WORK" and primary eq true].value)");
  ASSERT_TRUE(path);
  Json alice = Alice();
  EXPECT_TRUE(MatchesElement(*path->filter, alice["emails"][0], *emails));
  EXPECT_FALSE(MatchesElement(*path->filter, alice["emails"][1], *emails));
  EXPECT_FALSE(MatchesElement(*path->filter, Json("x"), *emails));
  auto unknown = Parse(R"(nosuch eq "x")");
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(MatchesElement(**unknown, alice["emails"][0], *emails));
}

TEST(FilterEvaluate, ValidateRejectsWhatCannotBeEvaluated) {
  const char* cases[] = {
      R"(nosuch eq "x")",
      R"(name.nosuch eq "x")",
      R"(userName.sub eq "x")",
      R"(urn:example:nosuch:2.0:User:userName eq "x")",
      R"(urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x")",
      R"(active gt true)",  // ordering a boolean
      R"(active co "t")",
      R"(active eq "yes")",
      R"(name eq "x")",  // complex without "value"
      R"(name gt "x")",
      R"(meta.created gt "yesterday")",
      R"(meta.created gt 5)",
      R"(userName gt null)",
      R"(password eq "secret")",  // never returned: no probing
      R"(password pr)",
      R"(emails[nosuch eq "x"])",
      R"(emails[value.sub eq "x"])",
      R"(userName[value eq "x"])",  // value filter on a simple attribute
      R"(emails[type eq "work"] and nosuch pr)",
  };
  for (const char* text : cases) {
    auto ast = Parse(text);
    ASSERT_TRUE(ast) << text << ": " << ast.error().detail;
    Status s = Validate(**ast, ResourceType::kUser, Reg());
    ASSERT_FALSE(s) << text;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidFilter) << text;
    EXPECT_FALSE(s.error().detail.empty()) << text;
  }
  auto group = Parse(R"(userName eq "x")");
  ASSERT_TRUE(group);
  EXPECT_FALSE(Validate(**group, ResourceType::kGroup, Reg()));
}

TEST(FilterEvaluate, ValidatedNodeServesOtherTypesCorrectly) {
  auto ast = Parse(R"(displayName eq "tour guides")");
  ASSERT_TRUE(ast);
  ASSERT_TRUE(Validate(**ast, ResourceType::kUser, Reg()));
  Json group = {{"displayName", "Tour Guides"}};
  EXPECT_TRUE(Matches(**ast, group, ResourceType::kGroup, Reg()));
  EXPECT_FALSE(Matches(**ast, Json::array(), ResourceType::kUser, Reg()));
  EXPECT_FALSE(Matches(**ast, Json(), ResourceType::kUser, Reg()));
}

}  // namespace
}  // namespace idsync::scim::filter
