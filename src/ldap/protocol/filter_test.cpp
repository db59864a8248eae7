#include "ldap/protocol/filter.h"

#include <string>

#include <gtest/gtest.h>

namespace idsync::ldap {
namespace {

TEST(ParseFilter, EveryKindPrintsBackAsWritten) {
  const char* cases[] = {
      "(cn=alice)",
      "(cn=*)",
      "(cn=a*)",
      "(cn=*z)",
      "(cn=a*b*c*z)",
      "(cn=*b*)",
      "(uidNumber>=1000)",
      "(uidNumber<=2000)",
      "(sn~=smith)",
      "(cn:caseExactMatch:=Alice)",
      "(cn:dn:2.5.13.5:=Alice)",
      "(:dn:2.5.13.5:=x)",
      "(:caseIgnoreMatch:=x)",
      "(o:dn:=Acme)",
      "(&(objectClass=person)(|(uid=a)(uid=b))(!(cn=c)))",
      "(&)",
      "(|)",
      "(cn;lang-en=x)",
      "(1.2.840.113556.1.4.8=1)",
      "(cn=a\\2ab\\28\\29\\5c\\00)",
      "(cn=\\c3\\a9)",
  };
  for (const char* text : cases) {
    auto filter = ParseFilter(text);
    ASSERT_TRUE(filter) << text << ": " << filter.error().detail;
    EXPECT_EQ(FilterToString(*filter), text);
  }
}

TEST(ParseFilter, BuildsTheTree) {
  auto filter = ParseFilter("(&(cn=a*b*c)(!(mail=*))(cn:dn:caseExactMatch:=X))");
  ASSERT_TRUE(filter);
  ASSERT_EQ(filter->kind, Filter::Kind::kAnd);
  ASSERT_EQ(filter->children.size(), 3u);
  const Filter& sub = filter->children[0];
  EXPECT_EQ(sub.kind, Filter::Kind::kSubstrings);
  EXPECT_EQ(sub.attribute, "cn");
  EXPECT_EQ(sub.initial, "a");
  EXPECT_EQ(sub.any, std::vector<std::string>{"b"});
  EXPECT_EQ(sub.final_value, "c");
  const Filter& no = filter->children[1];
  EXPECT_EQ(no.kind, Filter::Kind::kNot);
  ASSERT_EQ(no.children.size(), 1u);
  EXPECT_EQ(no.children[0].kind, Filter::Kind::kPresent);
  EXPECT_EQ(no.children[0].attribute, "mail");
  const Filter& ext = filter->children[2];
  EXPECT_EQ(ext.kind, Filter::Kind::kExtensible);
  EXPECT_EQ(ext.attribute, "cn");
  EXPECT_TRUE(ext.dn_attributes);
  EXPECT_EQ(ext.matching_rule, "caseExactMatch");
  EXPECT_EQ(ext.value, "X");
}

TEST(ParseFilter, UnescapesAnyByte) {
  auto filter = ParseFilter("(cn=a\\2A\\00\\ffb)");
  ASSERT_TRUE(filter);
  EXPECT_EQ(filter->kind, Filter::Kind::kEquality);
  EXPECT_EQ(filter->value, std::string("a*\0\xff"
                                       "b",
                                       5));
  EXPECT_EQ(FilterToString(*filter), "(cn=a\\2a\\00\\ffb)");
}

TEST(ParseFilter, AcceptsOneItemWithoutParentheses) {
  auto filter = ParseFilter("uid=alice");
  ASSERT_TRUE(filter);
  EXPECT_EQ(FilterToString(*filter), "(uid=alice)");
}

TEST(ParseFilter, DropsEmptySubstringParts) {
  auto filter = ParseFilter("(cn=a**b)");
  ASSERT_TRUE(filter);
  EXPECT_TRUE(filter->any.empty());
  EXPECT_EQ(FilterToString(*filter), "(cn=a*b)");
}

TEST(ParseFilter, RejectsMalformedText) {
  const char* cases[] = {
      "",
      "(",
      "()",
      "(cn)",
      "(cn=x",
      "(cn=x))",
      "cn=x)",
      "(=x)",
      "(cn=a(b)",
      "(cn=\\2)",
      "(cn=\\zz)",
      "(cn>=a*)",
      "(cn~=*)",
      "(!)",
      "(!(a=b)(c=d))",
      "(& (a=b))",
      " (a=b)",
      "(a=b) ",
      "(c n=x)",
      "(cn:=x*)",
      "(:=x)",
      "(cn:dn:dn:=x)",
      "(cn:r1:r2:=x)",
      "(cn=**)",
      "(cn:dn)",
      "(cn=x\\)",
      "(a=b)(c=d)",
      "(cn=a\0b)",
  };
  for (const char* text : cases) {
    EXPECT_FALSE(ParseFilter(text)) << text;
  }
  EXPECT_FALSE(ParseFilter(std::string_view("(cn=a\0b)", 8)));
}

std::string Nested(size_t depth) {
  std::string text;
  for (size_t i = 0; i < depth; ++i) text += "(&";
  text += "(cn=x)";
  for (size_t i = 0; i < depth; ++i) text += ")";
  return text;
}

TEST(ParseFilter, LimitsNestingDepth) {
  EXPECT_TRUE(ParseFilter(Nested(32)));
  auto deep = ParseFilter(Nested(33));
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().code, ErrorCode::kInvalidFilter);
  EXPECT_FALSE(ParseFilter(Nested(100000)));  // refused without exhausting the stack
  EXPECT_TRUE(ParseFilter(Nested(3), 3));
  EXPECT_FALSE(ParseFilter(Nested(4), 3));
}

TEST(FilterToString, EscapesValuesAndNonPrintableBytes) {
  Filter filter;
  filter.kind = Filter::Kind::kEquality;
  filter.attribute = "cn";
  filter.value = std::string("*()\\\0\x01\x7f\xc3\xa9 ok", 12);
  EXPECT_EQ(FilterToString(filter), "(cn=\\2a\\28\\29\\5c\\00\\01\\7f\\c3\\a9 ok)");
  auto back = ParseFilter(FilterToString(filter));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->value, filter.value);
}

TEST(FilterToString, LeavesOutEmptySubstringParts) {
  Filter filter;
  filter.kind = Filter::Kind::kSubstrings;
  filter.attribute = "cn";
  filter.initial = "";
  filter.any = {"", "m"};
  filter.final_value = "z";
  EXPECT_EQ(FilterToString(filter), "(cn=*m*z)");
}

}  // namespace
}  // namespace idsync::ldap
