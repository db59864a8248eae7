#include "scim/query/plan.h"

#include <gtest/gtest.h>

#include "scim/filter/parser.h"

namespace idsync::scim::query {
namespace {

std::optional<IndexPlan> Plan(std::string_view text, ResourceType type,
                              unsigned indexes = kMirrorIndexes) {
  auto ast = filter::Parse(text);
  EXPECT_TRUE(ast) << text;
  return PlanIndex(**ast, type, indexes);
}

TEST(PlanIndex, EqualityOnIndexedAttributes) {
  auto p = Plan("userName eq \"BJensen\"", ResourceType::kUser);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->attr, "userName");
  EXPECT_EQ(p->value, "bjensen");  // folded, as the index stores it
  p = Plan("id eq \"AbC\"", ResourceType::kGroup);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->attr, "id");
  EXPECT_EQ(p->value, "AbC");  // ids are not folded
  p = Plan("urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq \"Ops\"",
           ResourceType::kGroup);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->attr, "displayName");
  p = Plan("emails[type eq \"work\" and value eq \"A@x\"]", ResourceType::kUser);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->attr, "emails.value");
  EXPECT_EQ(p->value, "a@x");
}

TEST(PlanIndex, OnlyTheTopLevelAndChainAndOnlyEq) {
  EXPECT_FALSE(Plan("userName eq \"a\" or title eq \"b\"", ResourceType::kUser));
  EXPECT_FALSE(Plan("userName sw \"a\"", ResourceType::kUser));
  EXPECT_FALSE(Plan("not (userName eq \"a\")", ResourceType::kUser));
  EXPECT_FALSE(Plan("displayName eq \"a\"", ResourceType::kUser));  // not a user index
  auto p = Plan("title eq \"x\" and externalId eq \"E1\"", ResourceType::kUser);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->attr, "externalId");
}

TEST(PlanIndex, UsesOnlyTheIndexesTheStoreHas) {
  // The effective directory indexes id and name only: it must skip externalId and find the
  // name further along the chain.
  auto p = Plan("externalId eq \"E1\" and userName eq \"u\"", ResourceType::kUser,
                kEffectiveIndexes);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->attr, "userName");
  EXPECT_FALSE(Plan("emails eq \"a@x\"", ResourceType::kUser, kEffectiveIndexes));
  p = Plan("externalId eq \"E1\" and userName eq \"u\"", ResourceType::kUser);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->attr, "externalId");  // the mirror takes the first one
}

TEST(Mentions, FindsAnAttributeAnywhere) {
  auto ast = filter::Parse("userName eq \"a\" and (title pr or groups.value eq \"g\")");
  ASSERT_TRUE(ast);
  EXPECT_TRUE(Mentions(**ast, "groups"));
  EXPECT_TRUE(Mentions(**ast, "Title"));
  EXPECT_FALSE(Mentions(**ast, "members"));
}

TEST(PageSize, ClampsToTheMaximum) {
  EXPECT_EQ(PageSize(std::nullopt, 1000), 1000);
  EXPECT_EQ(PageSize(10, 1000), 10);
  EXPECT_EQ(PageSize(0, 1000), 0);
  EXPECT_EQ(PageSize(-5, 1000), 0);
  EXPECT_EQ(PageSize(5000, 1000), 1000);
}

}  // namespace
}  // namespace idsync::scim::query
