#include "ldap/protocol/dn.h"

#include <string>

#include <gtest/gtest.h>

namespace idsync::ldap {
namespace {

TEST(ParseDn, ReadsMultiValuedRdnsAndEscapedSeparators) {
  auto dn = ParseDn("cn=a\\,b+uid=c,ou=x");
  ASSERT_TRUE(dn) << dn.error().detail;
  ASSERT_EQ(dn->rdns.size(), 2u);
  ASSERT_EQ(dn->rdns[0].size(), 2u);
  EXPECT_EQ(dn->rdns[0][0].type, "cn");
  EXPECT_EQ(dn->rdns[0][0].value, "a,b");
  EXPECT_EQ(dn->rdns[0][1].type, "uid");
  EXPECT_EQ(dn->rdns[0][1].value, "c");
  EXPECT_EQ(dn->rdns[1][0].type, "ou");
  EXPECT_EQ(dn->rdns[1][0].value, "x");
  EXPECT_EQ(FormatDn(*dn), "cn=a\\,b+uid=c,ou=x");
}

TEST(ParseDn, ReadsHexEscapesAndKeepsEscapedSpaces) {
  auto hash = ParseDn("cn=\\23lead,ou=x");
  ASSERT_TRUE(hash);
  EXPECT_EQ(hash->rdns[0][0].value, "#lead");
  EXPECT_EQ(FormatDn(*hash), "cn=\\#lead,ou=x");

  auto spaces = ParseDn("cn=\\20sp\\20,ou=x");
  ASSERT_TRUE(spaces);
  EXPECT_EQ(spaces->rdns[0][0].value, " sp ");
  EXPECT_EQ(FormatDn(*spaces), "cn=\\ sp\\ ,ou=x");
}

TEST(ParseDn, KeepsHexStringValuesAsTheirBytes) {
  auto dn = ParseDn("cn=#04024869,ou=x");
  ASSERT_TRUE(dn) << dn.error().detail;
  EXPECT_EQ(dn->rdns[0][0].value, std::string("\x04\x02"
                                              "Hi"));
  EXPECT_EQ(dn->rdns[1][0].value, "x");
}

TEST(ParseDn, KeepsUtf8) {
  auto dn = ParseDn("cn=Ren\xc3\xa9\\C3\\A9,o=\xe6\x97\xa5\xe6\x9c\xac");
  ASSERT_TRUE(dn);
  EXPECT_EQ(dn->rdns[0][0].value, "Ren\xc3\xa9\xc3\xa9");
  EXPECT_EQ(dn->rdns[1][0].value, "\xe6\x97\xa5\xe6\x9c\xac");
}

TEST(ParseDn, ToleratesSpacesAroundSeparatorsAsSlapdDoes) {
  auto dn = ParseDn("  cn = John Smith ,  ou = People + l = x ,dc=example ");
  ASSERT_TRUE(dn) << dn.error().detail;
  EXPECT_EQ(FormatDn(*dn), "cn=John Smith,ou=People+l=x,dc=example");
}

TEST(ParseDn, EmptyIsTheRootDse) {
  auto dn = ParseDn("");
  ASSERT_TRUE(dn);
  EXPECT_TRUE(dn->rdns.empty());
  EXPECT_EQ(FormatDn(*dn), "");
}

TEST(ParseDn, AcceptsNumericOidTypesAndEmptyValues) {
  auto dn = ParseDn("2.5.4.3=x,ou=");
  ASSERT_TRUE(dn) << dn.error().detail;
  EXPECT_EQ(dn->rdns[0][0].type, "2.5.4.3");
  EXPECT_EQ(dn->rdns[1][0].value, "");
}

TEST(ParseDn, RejectsInvalidDns) {
  const char* cases[] = {"cn",      "=x",   "cn=a\\", "cn=a\\zz", "cn=a,",    ",cn=a", "cn=a,,ou=b",
                         "cn=a+",   "cn=#", "cn=#0",  "cn=#zz",   "cn=#00 x", "c n=x", "cn=a;b",
                         "cn=a\"b", "cn=<", "2.5.=x", "2=x",      "-cn=x",    "cn=\\2"};
  for (const char* text : cases) {
    auto dn = ParseDn(text);
    EXPECT_FALSE(dn) << text;
    if (!dn) {
      EXPECT_EQ(dn.error().code, ErrorCode::kInvalidValue) << text;
    }
  }
}

TEST(EscapeDnValue, EscapesSpecialsLeadingAndTrailingCharacters) {
  EXPECT_EQ(EscapeDnValue(",+\"\\<>;="), "\\,\\+\\\"\\\\\\<\\>\\;\\=");
  EXPECT_EQ(EscapeDnValue("#a#"), "\\#a#");
  EXPECT_EQ(EscapeDnValue(" a b "), "\\ a b\\ ");
  EXPECT_EQ(EscapeDnValue(" "), "\\ ");
  EXPECT_EQ(EscapeDnValue(std::string("a\0b", 3)), "a\\00b");
  EXPECT_EQ(EscapeDnValue("Ren\xc3\xa9"), "Ren\xc3\xa9");
  EXPECT_EQ(EscapeDnValue(""), "");
}

TEST(EscapeDnValue, ParsesBackToTheValue) {
  const std::string values[] = {",+\"\\<>;=", "#a",       " x ", std::string("a\0b", 3),
                                "  ",         "\xc3\xa9", "a=b", "#"};
  for (const std::string& value : values) {
    auto dn = ParseDn("cn=" + EscapeDnValue(value));
    ASSERT_TRUE(dn) << value;
    EXPECT_EQ(dn->rdns[0][0].value, value);
  }
}

TEST(NormalizeDn, EqualAcrossCaseSpacingAndAvaOrder) {
  auto a = ParseDn("CN=Alice Smith,OU=People,DC=Example,DC=COM");
  auto b = ParseDn("cn=alice smith , ou=people,dc=example, dc=com");
  auto c = ParseDn("cn=ALICE\\20SMITH,ou=PEOPLE,dc=EXAMPLE,dc=com");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(NormalizeDn(*a), "cn=alice smith,ou=people,dc=example,dc=com");
  EXPECT_EQ(NormalizeDn(*a), NormalizeDn(*b));
  EXPECT_EQ(NormalizeDn(*a), NormalizeDn(*c));

  auto multi1 = ParseDn("cn=a+uid=B,o=x");
  auto multi2 = ParseDn("UID=b+CN=A,o=x");
  ASSERT_TRUE(multi1 && multi2);
  EXPECT_EQ(NormalizeDn(*multi1), NormalizeDn(*multi2));

  auto unicode1 = ParseDn("cn=\xc3\x89MILE,o=x");  // ÉMILE
  auto unicode2 = ParseDn("cn=\xc3\xa9mile,o=x");  // émile
  ASSERT_TRUE(unicode1 && unicode2);
  EXPECT_EQ(NormalizeDn(*unicode1), NormalizeDn(*unicode2));
}

TEST(NormalizeDn, DifferentEntriesStayDifferent) {
  auto a = ParseDn("cn=a\\,b,o=x");
  auto b = ParseDn("cn=a,b=,o=x");
  auto c = ParseDn("cn=a+b=,o=x");
  ASSERT_TRUE(a && b && c);
  EXPECT_NE(NormalizeDn(*a), NormalizeDn(*b));
  EXPECT_NE(NormalizeDn(*a), NormalizeDn(*c));
  EXPECT_NE(NormalizeDn(*b), NormalizeDn(*c));
}

TEST(IsSuffixOf, ComparesNormalisedRdnsFromTheRight) {
  auto base = ParseDn("dc=Example,dc=com");
  auto entry = ParseDn("uid=alice,ou=people,DC=example,DC=COM");
  auto other = ParseDn("uid=alice,dc=example,dc=org");
  auto root = ParseDn("");
  ASSERT_TRUE(base && entry && other && root);
  EXPECT_TRUE(IsSuffixOf(*base, *entry));
  EXPECT_TRUE(IsSuffixOf(*base, *base));
  EXPECT_FALSE(IsSuffixOf(*entry, *base));
  EXPECT_FALSE(IsSuffixOf(*base, *other));
  EXPECT_TRUE(IsSuffixOf(*root, *entry));
  EXPECT_FALSE(IsSuffixOf(*base, *root));
}

}  // namespace
}  // namespace idsync::ldap
