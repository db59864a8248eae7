#include "policy/diff.h"

#include <string>

#include <gtest/gtest.h>

#include "policy/test_support.h"

namespace idsync::policy {
namespace {

using test_support::J;

UserSnapshot User(const char* username, std::set<std::string> groups = {},
                  UserState state = UserState::kActive) {
  UserSnapshot u;
  u.state = state;
  u.attributes["username"] = username;
  u.attributes["active"] = state == UserState::kActive;
  u.groups = std::move(groups);
  return u;
}

TEST(Diff, IdenticalSnapshotsAreEmpty) {
  DirectorySnapshot s = {{"u1", User("alice", {"Eng"})}, {"u2", User("bob")}};
  DirectoryDiff d = Diff(s, s);
  EXPECT_TRUE(d.empty());
  EXPECT_TRUE(Diff({}, {}).empty());
}

TEST(Diff, EveryKindOfChange) {
  DirectorySnapshot before = {
      {"u1", User("alice", {"Eng", "staff"})},
      {"u2", User("bob", {"staff"})},
      {"u3", User("carol", {"Sales"})},
      {"u4", User("dave", {}, UserState::kDisabled)},
      {"u5", User("erin", {}, UserState::kNotImported)},
  };
  DirectorySnapshot after = before;
  after["u1"].attributes["displayName"] = "Alice Smith";       // added value
  after["u1"].attributes["username"] = "alice.smith";          // changed value
  after["u1"].groups = {"eng", "staff", "developers"};         // "eng": same group, other case
  after["u2"] = User("bob", {"staff"}, UserState::kDisabled);  // disabled
  after.erase("u3");                                           // removed
  after["u4"] = User("dave", {"staff"});                       // enabled, gains a membership
  after["u5"] = User("erin", {"developers"});                  // not imported -> created
  after["u6"] = User("frank", {}, UserState::kDisabled);       // created disabled

  DirectoryDiff d = Diff(before, after);
  EXPECT_EQ(d.created, (std::vector<std::string>{"u5", "u6"}));
  EXPECT_EQ(d.removed, std::vector<std::string>{"u3"});
  EXPECT_EQ(d.disabled, std::vector<std::string>{"u2"});
  EXPECT_EQ(d.enabled, std::vector<std::string>{"u4"});
  ASSERT_EQ(d.updated.size(), 1u);  // "active" changes count as disabled/enabled, not updated
  EXPECT_EQ(d.updated[0].user, "u1");
  ASSERT_EQ(d.updated[0].changes.size(), 2u);
  EXPECT_EQ(d.updated[0].changes[0].name, "displayName");
  EXPECT_TRUE(d.updated[0].changes[0].before.is_null());
  EXPECT_EQ(d.updated[0].changes[0].after, "Alice Smith");
  EXPECT_EQ(d.updated[0].changes[1].name, "username");
  EXPECT_EQ(d.updated[0].changes[1].before, "alice");
  EXPECT_EQ(d.memberships_added, (std::vector<MembershipChange>{
                                     {"u1", "developers"}, {"u4", "staff"}, {"u5", "developers"}}));
  EXPECT_EQ(d.memberships_removed, (std::vector<MembershipChange>{{"u3", "Sales"}}));
  EXPECT_EQ(d.groups_created, std::vector<std::string>{"developers"});
  EXPECT_EQ(d.groups_emptied, std::vector<std::string>{"Sales"});
  EXPECT_EQ(d.counts, (DiffCounts{2, 1, 1, 1, 1, 3, 1, 1, 1}));
}

TEST(Diff, JsonIsTruncatedButCountsAreComplete) {
  DirectorySnapshot after;
  for (int i = 0; i < 5; ++i) after["u" + std::to_string(i)] = User("x", {"g"});
  Json j = DiffToJson(Diff({}, after), 2);
  EXPECT_EQ(j["counts"]["created"], 5);
  EXPECT_EQ(j["counts"]["memberships_added"], 5);
  EXPECT_EQ(j["created"], J(R"(["u0", "u1"])"));
  EXPECT_EQ(j["created_truncated"], true);
  EXPECT_EQ(j["memberships_added"].size(), 2u);
  EXPECT_EQ(j["memberships_added_truncated"], true);
  EXPECT_FALSE(j.contains("removed_truncated"));
  EXPECT_EQ(j["removed"], Json::array());
}

// Preview of a policy change over merged users: the diff of re-deriving with the new policy.
TEST(Diff, PreviewOfAPolicyChange) {
  Policy old_policy = DefaultPolicy();
  auto parsed = ParsePolicy(J(R"({
      "attributes": {"username": {"sources": ["userName"], "transforms": ["strip_domain", "lower"]}},
      "groups": {"exclude": [".*-test"], "default_groups_all_users": ["staff"]},
      "users": {"follow_active": false}})"));
  ASSERT_TRUE(parsed) << parsed.error().detail;
  const Policy& new_policy = *parsed;
  const Json users[] = {
      J(R"({"id": "1", "userName": "Alice@corp.example", "active": true})"),
      J(R"({"id": "2", "userName": "bob@corp.example", "active": false})"),
  };
  const std::vector<SourceGroup> groups[] = {{{"g1", "eng"}, {"g2", "eng-test"}}, {}};
  auto derive = [&](const Policy& p) {
    DirectorySnapshot s;
    for (int i = 0; i < 2; ++i) {
      LinkedSource src;
      src.connection_id = "entra";
      src.source_user_id = users[i]["id"].get<std::string>();
      src.policy = &p;
      src.values = *MapUser(p, users[i], {});
      src.groups = groups[i];
      s["eff-" + std::to_string(i)] = Snapshot(MergeUser({src}, nullptr));
    }
    return s;
  };
  DirectoryDiff d = Diff(derive(old_policy), derive(new_policy));
  EXPECT_EQ(d.counts.updated, 2u);              // usernames stripped and lowered
  EXPECT_EQ(d.counts.enabled, 1u);              // bob: follow_active off
  EXPECT_EQ(d.counts.memberships_added, 2u);    // staff for both
  EXPECT_EQ(d.counts.memberships_removed, 1u);  // eng-test excluded
  EXPECT_EQ(d.groups_created, std::vector<std::string>{"staff"});
  EXPECT_EQ(d.groups_emptied, std::vector<std::string>{"eng-test"});
  EXPECT_EQ(d.updated[0].changes[0].after, "alice");
}

}  // namespace
}  // namespace idsync::policy
