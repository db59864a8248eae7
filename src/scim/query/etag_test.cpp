#include "scim/query/etag.h"

#include <gtest/gtest.h>

namespace idsync::scim::query {
namespace {

TEST(VersionETag, IsWeakAndQuoted) {
  EXPECT_EQ(VersionETag(7), "W/\"7\"");
}

TEST(ETagListMatches, StarMatchesAnything) {
  EXPECT_TRUE(ETagListMatches("*", "W/\"7\""));
  EXPECT_TRUE(ETagListMatches(" * ", "W/\"7\""));
}

TEST(ETagListMatches, WeakComparisonIgnoresThePrefix) {
  EXPECT_TRUE(ETagListMatches("W/\"7\"", "W/\"7\""));
  EXPECT_TRUE(ETagListMatches("\"7\"", "W/\"7\""));
  EXPECT_TRUE(ETagListMatches("w/\"7\"", "W/\"7\""));
  EXPECT_FALSE(ETagListMatches("W/\"8\"", "W/\"7\""));
}

TEST(ETagListMatches, ListMembersAreWholeTags) {
  EXPECT_TRUE(ETagListMatches("W/\"1\", W/\"7\"", "W/\"7\""));
  EXPECT_TRUE(ETagListMatches("\"1\",\"7\"", "W/\"7\""));
  EXPECT_TRUE(ETagListMatches("  ,W/\"1\" ,\t\"7\" , ", "W/\"7\""));
  // Not a substring search: "7" is not "17", "71" or "7," inside a tag.
  EXPECT_FALSE(ETagListMatches("W/\"17\"", "W/\"7\""));
  EXPECT_FALSE(ETagListMatches("W/\"71\", \"77\"", "W/\"7\""));
  EXPECT_FALSE(ETagListMatches("xx\"7\"xx", "W/\"7\""));
  EXPECT_FALSE(ETagListMatches("\"7,8\"", "W/\"7\""));  // a comma inside a tag is the tag's
  EXPECT_TRUE(ETagListMatches("\"7,8\", \"7\"", "W/\"7\""));
}

TEST(ETagListMatches, MalformedMembersMatchNothing) {
  EXPECT_FALSE(ETagListMatches("", "W/\"7\""));
  EXPECT_FALSE(ETagListMatches("\"7", "W/\"7\""));       // unterminated
  EXPECT_FALSE(ETagListMatches("\"7\"x", "W/\"7\""));    // trailing junk
  EXPECT_TRUE(ETagListMatches("\"7\"x, \"7\"", "W/\"7\""));
  EXPECT_FALSE(ETagListMatches("**", "W/\"7\""));
}

TEST(ETagListMatches, BareVersionsAreTolerated) {
  EXPECT_TRUE(ETagListMatches("7", "W/\"7\""));
  EXPECT_TRUE(ETagListMatches("W/7", "W/\"7\""));
  EXPECT_FALSE(ETagListMatches("17", "W/\"7\""));
}

}  // namespace
}  // namespace idsync::scim::query
