// Matching rules and filter evaluation: normal forms, three-valued logic, extensible match.
#include "ldap/server/evaluate.h"

#include <gtest/gtest.h>

#include "ldap/protocol/filter.h"
#include "ldap/server/matching.h"

namespace idsync::ldap {
namespace {

class EvaluateTest : public ::testing::Test {
 protected:
  EvaluateTest() : schema_({"costCenter"}) {
    auto add = [&](const char* type, std::vector<std::string> values) {
      entry_.Add(schema_.Find(type), std::move(values));
    };
    entry_.dn = "uid=alice,ou=people,ou=users,dc=idsync";
    add("objectClass", {"top", "person", "organizationalPerson", "inetOrgPerson"});
    add("uid", {"alice"});
    add("cn", {"Alice  Liddell "});
    add("mail", {"Alice@Example.COM"});
    add("entryUUID", {"b1d3f80b-c8c6-453f-86e4-06d51e9129c7"});
    add("createTimestamp", {"20260101120000Z"});
    add("userAccountControl", {"514"});
    add("memberOf", {"cn=Staff,ou=groups,ou=users,dc=idsync"});
    add("costCenter", {"42"});
    add("objectCategory", {"CN=Person,CN=Schema,CN=Configuration,dc=idsync"});
  }

  Truth Eval(const std::string& text) {
    auto f = ParseFilter(text);
    EXPECT_TRUE(f) << text << ": " << (f ? "" : f.error().detail);
    if (!f) return Truth::kUndefined;
    return Evaluate(*f, entry_, schema_);
  }

  Schema schema_;
  Entry entry_;
};

TEST(Matching, CaseIgnoringValuesFoldCaseAndInsignificantSpaces) {
  EXPECT_EQ(NormalizeValue(Matching::kCaseIgnore, "  Änne   Müller "), "änne müller");
  EXPECT_EQ(NormalizeValue(Matching::kCaseExactIa5, " /Home/x "), "/Home/x");
  EXPECT_FALSE(NormalizeValue(Matching::kUuid, "not-a-uuid"));
  EXPECT_FALSE(NormalizeValue(Matching::kInteger, "012"));
  EXPECT_FALSE(NormalizeValue(Matching::kBoolean, "true"));
  EXPECT_EQ(NormalizeValue(Matching::kDn, "UID=Alice , OU=People"),
            NormalizeValue(Matching::kDn, "uid=alice,ou=people"));
}

TEST(Matching, OrderingOfNormalFormsIsNumericAndChronological) {
  auto n = [](Matching m, const char* v) { return *NormalizeValue(m, v); };
  EXPECT_LT(n(Matching::kInteger, "-5"), n(Matching::kInteger, "3"));
  EXPECT_LT(n(Matching::kInteger, "9"), n(Matching::kInteger, "10"));
  EXPECT_LT(n(Matching::kTime, "20251231235959Z"), n(Matching::kTime, "20260101000000Z"));
  // Offsets and fractions are honoured: 13:00+0100 is 12:00Z.
  EXPECT_EQ(n(Matching::kTime, "202601011300+0100"), n(Matching::kTime, "20260101120000Z"));
  EXPECT_LT(n(Matching::kTime, "20260101120000Z"), n(Matching::kTime, "20260101120000.5Z"));
}

TEST(Matching, GeneralizedTimeRoundTripsAndRejectsGarbage) {
  auto t = ParseGeneralizedTime("20261204074523Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatGeneralizedTime(*t), "20261204074523Z");
  EXPECT_EQ(FormatAdTime(*t), "20261204074523.0Z");
  for (const char* bad :
       {"2026", "20261304074523Z", "20261204074523", "20261204074523Zx", "20261204074523+01x"}) {
    EXPECT_FALSE(ParseGeneralizedTime(bad)) << bad;
  }
}

TEST_F(EvaluateTest, EqualityFollowsEachAttributesMatchingRule) {
  EXPECT_EQ(Eval("(uid=ALICE)"), Truth::kTrue);
  EXPECT_EQ(Eval("(cn=alice liddell)"), Truth::kTrue);  // spaces are insignificant
  EXPECT_EQ(Eval("(mail=alice@example.com)"), Truth::kTrue);
  EXPECT_EQ(Eval("(entryUUID=B1D3F80B-C8C6-453F-86E4-06D51E9129C7)"), Truth::kTrue);
  EXPECT_EQ(Eval("(memberOf=CN=staff, OU=Groups,ou=users,dc=idsync)"), Truth::kTrue);
  EXPECT_EQ(Eval("(objectClass=INETORGPERSON)"), Truth::kTrue);
  EXPECT_EQ(Eval("(costCenter=42)"), Truth::kTrue);
  EXPECT_EQ(Eval("(uid=bob)"), Truth::kFalse);
  EXPECT_EQ(Eval("(uid~=Alice)"), Truth::kTrue);  // approximate match is equality
}

TEST_F(EvaluateTest, UndefinedForUnknownTypesAndInvalidAssertions) {
  EXPECT_EQ(Eval("(noSuchType=x)"), Truth::kUndefined);
  EXPECT_EQ(Eval("(noSuchType=*)"), Truth::kUndefined);
  EXPECT_EQ(Eval("(entryUUID=nope)"), Truth::kUndefined);
  EXPECT_EQ(Eval("(createTimestamp>=yesterday)"), Truth::kUndefined);
  EXPECT_EQ(Eval("(mail>=a)"), Truth::kUndefined);  // IA5 mail has no ordering
  EXPECT_EQ(Eval("(uid>=a)"), Truth::kUndefined);   // nor RFC 4519's names (slapd)
  EXPECT_EQ(Eval("(cn<=zzz)"), Truth::kUndefined);
  EXPECT_EQ(Eval("(entryUUID=b1d3*)"), Truth::kUndefined);  // nor substrings
  // NOT of Undefined is Undefined (RFC 4511 §4.5.1.7), so neither it nor its negation returns.
  EXPECT_EQ(Eval("(!(noSuchType=x))"), Truth::kUndefined);
  // AND: FALSE wins over Undefined; OR: TRUE wins over Undefined.
  EXPECT_EQ(Eval("(&(uid=bob)(noSuchType=x))"), Truth::kFalse);
  EXPECT_EQ(Eval("(|(uid=alice)(noSuchType=x))"), Truth::kTrue);
  EXPECT_EQ(Eval("(|(uid=bob)(noSuchType=x))"), Truth::kUndefined);
}

TEST_F(EvaluateTest, AbsoluteTrueAndFalse) {
  Filter t;
  t.kind = Filter::Kind::kAnd;
  Filter f;
  f.kind = Filter::Kind::kOr;
  EXPECT_EQ(Evaluate(t, entry_, schema_), Truth::kTrue);
  EXPECT_EQ(Evaluate(f, entry_, schema_), Truth::kFalse);
}

TEST_F(EvaluateTest, SubstringsPresenceAndOrdering) {
  EXPECT_EQ(Eval("(cn=ali*lid*)"), Truth::kTrue);
  EXPECT_EQ(Eval("(cn=*LIDDELL)"), Truth::kTrue);
  EXPECT_EQ(Eval("(cn=*liddell*alice)"), Truth::kFalse);  // pieces must come in order
  EXPECT_EQ(Eval("(mail=*@example.com)"), Truth::kTrue);
  EXPECT_EQ(Eval("(mail=*)"), Truth::kTrue);
  EXPECT_EQ(Eval("(givenName=*)"), Truth::kFalse);
  EXPECT_EQ(Eval("(createTimestamp>=20260101000000Z)"), Truth::kTrue);
  EXPECT_EQ(Eval("(createTimestamp<=20251231000000Z)"), Truth::kFalse);
  EXPECT_EQ(Eval("(|(createTimestamp>=20270101000000Z)(modifyTimestamp>=20270101000000Z))"),
            Truth::kFalse);
  // Years a TimePoint cannot hold still order (found by fuzzing: year 4052 overflowed).
  EXPECT_EQ(Eval("(createTimestamp>=40520202000000Z)"), Truth::kFalse);
  EXPECT_EQ(Eval("(createTimestamp>=00010101000000Z)"), Truth::kTrue);
  EXPECT_EQ(Eval("(userAccountControl>=514)"), Truth::kTrue);
  EXPECT_EQ(Eval("(userAccountControl<=99)"), Truth::kFalse);  // numeric, not text order
}

TEST_F(EvaluateTest, ExtensibleMatchWithKnownAndUnknownRules) {
  // Jira's documented filter for enabled Active Directory accounts: bit 2 is ACCOUNTDISABLE.
  EXPECT_EQ(Eval("(userAccountControl:1.2.840.113556.1.4.803:=2)"), Truth::kTrue);
  EXPECT_EQ(Eval("(!(userAccountControl:1.2.840.113556.1.4.803:=2))"), Truth::kFalse);
  EXPECT_EQ(Eval("(userAccountControl:1.2.840.113556.1.4.803:=514)"), Truth::kTrue);
  EXPECT_EQ(Eval("(userAccountControl:1.2.840.113556.1.4.803:=3)"), Truth::kFalse);
  EXPECT_EQ(Eval("(userAccountControl:1.2.840.113556.1.4.804:=3)"), Truth::kTrue);
  EXPECT_EQ(Eval("(uid:caseExactMatch:=alice)"), Truth::kTrue);
  EXPECT_EQ(Eval("(uid:caseExactMatch:=Alice)"), Truth::kFalse);
  EXPECT_EQ(Eval("(uid:2.5.13.2:=ALICE)"), Truth::kTrue);
  EXPECT_EQ(Eval("(uid:1.2.3.4.5:=alice)"), Truth::kUndefined);  // unknown rule
  // dnAttributes: the DN's own values count.
  EXPECT_EQ(Eval("(ou:dn:=people)"), Truth::kTrue);
  EXPECT_EQ(Eval("(ou=people)"), Truth::kFalse);
}

TEST_F(EvaluateTest, ObjectCategoryMatchesTheShortClassNameAsActiveDirectoryDoes) {
  EXPECT_EQ(Eval("(objectCategory=Person)"), Truth::kTrue);
  EXPECT_EQ(Eval("(objectCategory=person)"), Truth::kTrue);
  EXPECT_EQ(Eval("(objectCategory=Group)"), Truth::kFalse);
  EXPECT_EQ(Eval("(objectCategory=CN=Person,CN=Schema,CN=Configuration,dc=idsync)"), Truth::kTrue);
  EXPECT_EQ(Eval("(&(objectCategory=Person)(sAMAccountName=*))"),
            Truth::kFalse);  // no sAMAccountName here
}

}  // namespace
}  // namespace idsync::ldap
