#include "scim/filter/parser.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>

#include <gtest/gtest.h>

namespace idsync::scim::filter {
namespace {

// Parses `text`, checks the printer's round trip, and returns the canonical text.
std::string Canonical(std::string_view text) {
  auto ast = Parse(text);
  if (!ast) return "ERROR: " + ast.error().detail;
  std::string printed = Print(**ast);
  auto reparsed = Parse(printed);
  if (!reparsed) return "UNPARSABLE PRINT: " + printed + " (" + reparsed.error().detail + ")";
  std::string again = Print(**reparsed);
  if (again != printed) return "UNSTABLE PRINT: " + printed + " -> " + again;
  return printed;
}

TEST(FilterParser, AcceptsEveryRfc7644Example) {
  // RFC 7644 §3.4.2.2, the example filters, with their canonical print.
  struct Case {
    const char* text;
    const char* canonical;
  } cases[] = {
      {R"(userName eq "bjensen")", R"(userName eq "bjensen")"},
      {R"(name.familyName co "O'Malley")", R"(name.familyName co "O'Malley")"},
      {R"(userName sw "J")", R"(userName sw "J")"},
      {R"(urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J")",
       R"(urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J")"},
      {R"(title pr)", R"(title pr)"},
      {R"(meta.lastModified gt "2011-05-13T04:42:34Z")",
       R"(meta.lastModified gt "2011-05-13T04:42:34Z")"},
      {R"(meta.lastModified ge "2011-05-13T04:42:34Z")",
       R"(meta.lastModified ge "2011-05-13T04:42:34Z")"},
      {R"(meta.lastModified lt "2011-05-13T04:42:34Z")",
       R"(meta.lastModified lt "2011-05-13T04:42:34Z")"},
      {R"(meta.lastModified le "2011-05-13T04:42:34Z")",
       R"(meta.lastModified le "2011-05-13T04:42:34Z")"},
      {R"(title pr and userType eq "Employee")", R"(title pr and userType eq "Employee")"},
      {R"(title pr or userType eq "Intern")", R"(title pr or userType eq "Intern")"},
      {R"(schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")",
       R"(schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")"},
      {R"(userType eq "Employee" and (emails co "example.com" or emails.value co "example.org"))",
       R"(userType eq "Employee" and (emails co "example.com" or emails.value co "example.org"))"},
      {R"(userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org"))",
       R"(userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org"))"},
      {R"(userType eq "Employee" and (emails.type eq "work"))",
       R"(userType eq "Employee" and emails.type eq "work")"},
      {R"(userType eq "Employee" and emails[type eq "work" and value co "@example.com"])",
       R"(userType eq "Employee" and emails[type eq "work" and value co "@example.com"])"},
      {R"(emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"])",
       R"(emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"])"},
  };
  for (const auto& c : cases) EXPECT_EQ(Canonical(c.text), c.canonical) << c.text;
}

TEST(FilterParser, AcceptsWhatIdpsSend) {
  struct Case {
    const char* text;
    const char* canonical;
  } cases[] = {
      // Okta existence check (IDP-QUIRKS O-1).
      {R"(userName eq "test.user@okta.local")", R"(userName eq "test.user@okta.local")"},
      // Entra ID (E-7): unquoted values, value-path filter with trailing sub-attribute.
      {R"(externalId eq jyoung)", R"(externalId eq "jyoung")"},
      {R"(externalId eq 7f4b-aa01)", R"(externalId eq "7f4b-aa01")"},
      {R"(emails[type eq "work"].value eq "a@example.com")",
       R"(emails[type eq "work" and value eq "a@example.com"])"},
      {R"(displayName eq "displayName")", R"(displayName eq "displayName")"},
      {R"(id eq "00aa" and manager eq "00bb")", R"(id eq "00aa" and manager eq "00bb")"},
      {R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "00bb")",
       R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "00bb")"},
      {R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984")",
       R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984")"},
      // Upper-case keywords (wso2/product-is #11807).
      {R"(userName EQ "a" AND displayName Eq "b")", R"(userName eq "a" and displayName eq "b")"},
      {R"(title PR OR NOT (active EQ TRUE))", R"(title pr or not (active eq true))"},
      {R"(members[value eq "89bb"])", R"(members[value eq "89bb"])"},
      {R"(members[$ref eq "https://x/Users/1"])", R"(members[$ref eq "https://x/Users/1"])"},
      {R"(externalId eq "7f4b" and displayName eq "Ops")",
       R"(externalId eq "7f4b" and displayName eq "Ops")"},
  };
  for (const auto& c : cases) EXPECT_EQ(Canonical(c.text), c.canonical) << c.text;
}

TEST(FilterParser, ReadsCompValues) {
  struct Case {
    const char* text;
    Json value;
  } cases[] = {
      {R"(a eq "x")", "x"},
      {R"(a eq true)", true},
      {R"(a eq FALSE)", false},
      {R"(a eq Null)", nullptr},
      {R"(a eq 42)", 42},
      {R"(a eq -7)", -7},
      {R"(a eq 1.5)", 1.5},
      {R"(a eq 2e3)", 2000.0},
      {R"(a eq 007)", "007"},                                            // not JSON: bare word
      {R"(a eq 123456789012345678901234)", "123456789012345678901234"},  // too big: kept as text
      {R"(a eq "\"q\" \\ \/ \b\f\n\r\t")", "\"q\" \\ / \b\f\n\r\t"},
      {R"(a eq "\u00c4\u00df")", "\xC3\x84\xC3\x9F"},
      {R"(a eq "\ud83d\ude00")", "\xF0\x9F\x98\x80"},
      {"a eq \"\xC3\x84NNE\"", "\xC3\x84NNE"},
      {"a eq J\xC3\xBCrgen", "J\xC3\xBCrgen"},
  };
  for (const auto& c : cases) {
    auto ast = Parse(c.text);
    ASSERT_TRUE(ast) << c.text << ": " << ast.error().detail;
    EXPECT_EQ((*ast)->kind, Node::Kind::kCompare) << c.text;
    EXPECT_EQ((*ast)->value, c.value) << c.text;
    EXPECT_EQ((*ast)->value.type(), c.value.type()) << c.text;
    EXPECT_EQ(Canonical(c.text).rfind("a eq ", 0), 0u) << Canonical(c.text);
  }
}

TEST(FilterParser, BuildsTheExpectedTree) {
  auto ast = Parse(R"(a pr or b pr and c pr)");
  ASSERT_TRUE(ast);
  const Node& n = **ast;
  ASSERT_EQ(n.kind, Node::Kind::kOr);
  EXPECT_EQ(n.left->kind, Node::Kind::kPresent);
  EXPECT_EQ(n.left->path.attr, "a");
  ASSERT_EQ(n.right->kind, Node::Kind::kAnd);  // and binds tighter than or
  EXPECT_EQ(n.right->left->path.attr, "b");
  EXPECT_EQ(n.right->right->path.attr, "c");

  auto urn =
      Parse(R"(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr)");
  ASSERT_TRUE(urn);
  EXPECT_EQ((*urn)->path.urn, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
  EXPECT_EQ((*urn)->path.attr, "manager");
  EXPECT_EQ((*urn)->path.sub, "value");

  auto vp = Parse(R"(emails[type eq "work"].value eq "x")");
  ASSERT_TRUE(vp);
  ASSERT_EQ((*vp)->kind, Node::Kind::kValuePath);
  EXPECT_EQ((*vp)->path.attr, "emails");
  EXPECT_TRUE((*vp)->path.sub.empty());
  ASSERT_EQ((*vp)->left->kind, Node::Kind::kAnd);
  EXPECT_EQ((*vp)->left->right->path.attr, "value");
  EXPECT_EQ((*vp)->left->right->value, "x");

  auto neg = Parse(R"(not(a pr))");
  ASSERT_TRUE(neg);
  EXPECT_EQ((*neg)->kind, Node::Kind::kNot);
  EXPECT_EQ((*neg)->left->kind, Node::Kind::kPresent);
}

TEST(FilterParser, PrintsCanonically) {
  struct Case {
    const char* text;
    const char* canonical;
  } cases[] = {
      {"  userName   eq\t\"a\"  ", R"(userName eq "a")"},
      {R"((((a pr))))", R"(a pr)"},
      {R"((a pr or b pr) and c pr)", R"((a pr or b pr) and c pr)"},
      {R"(a pr or (b pr or c pr))", R"(a pr or b pr or c pr)"},
      {R"(a pr and (b pr and c pr))", R"(a pr and b pr and c pr)"},
      {R"(not (a pr or b pr) and c pr)", R"(not (a pr or b pr) and c pr)"},
      {R"(emails[type eq "work" or primary eq true].value eq "x")",
       R"(emails[(type eq "work" or primary eq true) and value eq "x"])"},
      {"a eq \"tab\\u0009 nul\\u0000 del\x7F\"", "a eq \"tab\\t nul\\u0000 del\x7F\""},
      {R"(a eq 1.50)", R"(a eq 1.5)"},
      {R"(a eq 1E2)", R"(a eq 100.0)"},
      {R"(a eq -0)", R"(a eq 0)"},
  };
  for (const auto& c : cases) EXPECT_EQ(Canonical(c.text), c.canonical) << c.text;
}

TEST(FilterParser, RejectsMalformedFilters) {
  const std::string cases[] = {
      "",
      "   ",
      R"(userName)",
      R"(userName eq)",      // missing operand
      R"(userName eq "a)",   // unterminated string
      R"(userName eq a")",   // stray quote
      R"(userName xx "a")",  // unknown operator
      R"(userName equals "a")",
      R"(userName eq "a" extra)",  // trailing garbage
      R"(userName eq "a" and)",    // missing right operand
      R"(and userName eq "a")",
      R"(userName eq "a" or or b pr)",
      R"(userName eq and)",
      R"((userName eq "a")",  // unbalanced parentheses
      R"(userName eq "a"))",
      R"(emails[type eq "work")",  // unbalanced bracket
      R"(emails type eq "work"])",
      R"(emails[type[value eq "x"] eq "y"])",  // nested brackets
      R"(emails[type eq "w"][value eq "x"])",
      R"(name.familyName[value eq "x"])",
      R"(emails[type eq "work"].value)",  // sub-attribute without operation
      R"(emails[type eq "work"]. value eq "x")",
      R"(not userName eq "a")",  // not without parentheses
      R"(not)",
      R"(not ())",
      R"(())",
      R"(a.b.c eq "x")",  // two sub-attributes
      R"(1abc eq "x")",
      R"(:userName eq "x")",
      R"(urn:: eq "x")",
      R"(a eq "\x")",  // invalid escapes
      R"(a eq "\u12")",
      R"(a eq "\u12G4")",
      R"(a eq "\ud800")",  // lone surrogates
      R"(a eq "\udc00")",
      R"(a eq "\ud800\u0041")",
      "a eq \"line\nbreak\"",  // raw control character in string
      "a eq \"\x01\"",
      "a eq x\x01y",
      "a\x01 eq \"x\"",
      "a eq \"\xFF\"",          // invalid UTF-8
      "a eq \"\xC0\xAF\"",      // overlong
      "a eq \"\xED\xA0\x80\"",  // encoded surrogate
      "a eq \xFF",
      std::string("a eq \"x\0y\"", 10),  // NUL byte
      R"(a eq "x" ])",
      R"([a eq "x"])",
      R"(a eq [)",
      R"(a pr pr)",
      R"(a eq "x" "y")",
  };
  for (const auto& text : cases) {
    auto ast = Parse(text);
    ASSERT_FALSE(ast) << text << " parsed as " << Print(**ast);
    EXPECT_EQ(ast.error().code, ErrorCode::kInvalidFilter) << text;
    EXPECT_NE(ast.error().detail.find("position"), std::string::npos)
        << text << ": " << ast.error().detail;
  }
}

TEST(FilterParser, ErrorDetailNamesPositionAndExpectation) {
  auto ast = Parse(R"(userName xx "a")");
  ASSERT_FALSE(ast);
  EXPECT_NE(ast.error().detail.find("position 10"), std::string::npos) << ast.error().detail;
  EXPECT_NE(ast.error().detail.find("unknown operator 'xx'"), std::string::npos)
      << ast.error().detail;

  ast = Parse(R"(not userName eq "a")");
  ASSERT_FALSE(ast);
  EXPECT_NE(ast.error().detail.find("expected '(' after 'not'"), std::string::npos)
      << ast.error().detail;

  ast = Parse(R"(userName eq "a" extra)");
  ASSERT_FALSE(ast);
  EXPECT_NE(ast.error().detail.find("position 17"), std::string::npos) << ast.error().detail;
  EXPECT_NE(ast.error().detail.find("'extra'"), std::string::npos) << ast.error().detail;
}

TEST(FilterParser, EnforcesLimits) {
  ParseLimits limits;
  std::string nested(limits.max_depth, '(');
  nested += "a pr";
  nested += std::string(limits.max_depth, ')');
  EXPECT_TRUE(Parse(nested)) << "exactly max_depth levels are allowed";

  std::string too_deep = "(" + nested + ")";
  auto ast = Parse(too_deep);
  ASSERT_FALSE(ast);
  EXPECT_EQ(ast.error().code, ErrorCode::kInvalidFilter);
  EXPECT_NE(ast.error().detail.find("max_depth"), std::string::npos) << ast.error().detail;

  std::string nots;
  for (int i = 0; i < 40; ++i) nots += "not (";
  ast = Parse(nots + "a pr" + std::string(40, ')'));
  ASSERT_FALSE(ast);
  EXPECT_NE(ast.error().detail.find("max_depth"), std::string::npos) << ast.error().detail;

  std::string long_text = R"(userName eq ")" + std::string(5000, 'x') + "\"";
  ast = Parse(long_text);
  ASSERT_FALSE(ast);
  EXPECT_EQ(ast.error().code, ErrorCode::kInvalidFilter);
  EXPECT_NE(ast.error().detail.find("max_length"), std::string::npos) << ast.error().detail;
  EXPECT_TRUE(Parse(long_text, ParseLimits{.max_length = 6000, .max_depth = 32}));
}

TEST(FilterParser, RejectsHugeNestingQuicklyWithoutRecursing) {
  auto start = std::chrono::steady_clock::now();
  std::string opens(10000, '(');
  auto ast = Parse(opens, ParseLimits{.max_length = 1 << 20, .max_depth = 32});
  ASSERT_FALSE(ast);
  EXPECT_NE(ast.error().detail.find("max_depth"), std::string::npos);
  std::string brackets = "a[";
  for (int i = 0; i < 10000; ++i) brackets += "not (";
  ast = Parse(brackets, ParseLimits{.max_length = 1 << 20, .max_depth = 32});
  ASSERT_FALSE(ast);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(FilterParser, LongChainsStayShallow) {
  // 400 or-terms: Entra and PingFederate batch lookups look like this.
  std::string text = R"(id eq "0")";
  for (int i = 1; i < 400; ++i) text += " or id eq \"" + std::to_string(i) + "\"";
  auto ast = Parse(text, ParseLimits{.max_length = 1 << 16, .max_depth = 32});
  ASSERT_TRUE(ast) << ast.error().detail;
  std::function<int(const Node*)> height = [&](const Node* n) -> int {
    return n ? 1 + std::max(height(n->left.get()), height(n->right.get())) : 0;
  };
  EXPECT_LE(height(ast->get()), 10);
  EXPECT_EQ(Print(**ast), text);
}

TEST(PatchPathParser, AcceptsRfcAndIdpPaths) {
  struct Case {
    const char* text;
    const char* canonical;
  } cases[] = {
      {"members", "members"},
      {"name.familyName", "name.familyName"},
      {"NAME.FAMILYNAME", "NAME.FAMILYNAME"},
      {R"(members[value eq "2819c223-7f76-453a-919d-413861904646"])",
       R"(members[value eq "2819c223-7f76-453a-919d-413861904646"])"},
      {R"(emails[type eq "work"].value)", R"(emails[type eq "work"].value)"},
      {R"(addresses[type eq "work"].formatted)", R"(addresses[type eq "work"].formatted)"},
      {R"(members[value EQ "89bb" or value eq "23a3"])",
       R"(members[value eq "89bb" or value eq "23a3"])"},
      {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},
      {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"},
  };
  for (const auto& c : cases) {
    auto path = ParsePatchPath(c.text);
    ASSERT_TRUE(path) << c.text << ": " << path.error().detail;
    EXPECT_EQ(Print(*path), c.canonical);
    auto again = ParsePatchPath(Print(*path));
    ASSERT_TRUE(again) << Print(*path);
    EXPECT_EQ(Print(*again), Print(*path));
  }
  auto path = ParsePatchPath(R"(emails[type eq "work"].value)");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->attr.attr, "emails");
  ASSERT_TRUE(path->filter);
  EXPECT_EQ(path->filter->path.attr, "type");
  EXPECT_EQ(path->sub_after_filter, "value");

  path =
      ParsePatchPath("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->attr.urn, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
  EXPECT_EQ(path->attr.attr, "employeeNumber");
  EXPECT_FALSE(path->filter);
}

TEST(PatchPathParser, RejectsMalformedPaths) {
  const char* cases[] = {
      "",
      "members[",
      R"(members[value eq "x")",
      R"(members[value eq "x"]])",
      R"(members[value eq "x"].)",
      R"(members[value eq "x"].value.display)",
      R"(members[value eq "x"] extra)",
      R"(members[value[a eq "b"] eq "x"])",
      R"(name.familyName[value eq "x"])",
      "a.b.c",
      "members eq \"x\"",
      "1members",
      "members value",
  };
  for (const char* text : cases) {
    auto path = ParsePatchPath(text);
    ASSERT_FALSE(path) << text << " parsed as " << Print(*path);
    EXPECT_EQ(path.error().code, ErrorCode::kInvalidPath) << text;
    EXPECT_NE(path.error().detail.find("position"), std::string::npos) << path.error().detail;
  }
  auto deep = ParsePatchPath("a[" + std::string(10000, '('));
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().code, ErrorCode::kInvalidPath);
}

}  // namespace
}  // namespace idsync::scim::filter
