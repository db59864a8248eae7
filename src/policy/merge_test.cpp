#include "policy/merge.h"

#include <string>

#include <gtest/gtest.h>

#include "policy/test_support.h"

namespace idsync::policy {
namespace {

using test_support::J;
using test_support::Parse;

// A linked source built the way the service will: map the stored source user, list its groups.
LinkedSource Source(const std::string& connection, const Policy& policy, const Json& user,
                    std::vector<SourceGroup> groups = {}) {
  LinkedSource s;
  s.connection_id = connection;
  s.source_user_id = user.value("id", connection + "-user");
  s.policy = &policy;
  auto v = MapUser(policy, user, {});
  EXPECT_TRUE(v) << v.error().detail;
  if (v) s.values = *v;
  s.groups = std::move(groups);
  return s;
}

LinkedSource Deleted(const std::string& connection, const Policy& policy) {
  LinkedSource s;
  s.connection_id = connection;
  s.source_user_id = connection + "-user";
  s.policy = &policy;
  s.deleted = true;
  return s;
}

// The same person as Entra (staff IdP) and Okta (a second IdP) send them.
Json EntraAlice() {
  return J(R"({"id": "e-1", "userName": "Alice@contoso.com", "active": true,
               "emails": [{"primary": true, "type": "work", "value": "alice@contoso.com"}],
               "name": {"givenName": "Alice", "familyName": "Smith"},
               "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}})");
}
Json OktaAlice() {
  return J(R"({"id": "o-1", "userName": "alice@contoso.com", "displayName": "Alice S. [Okta]",
               "name": {"givenName": "Alicia", "familyName": "Smith"}, "title": "Engineer",
               "emails": [{"primary": true, "type": "work", "value": "alice@contoso.com"}],
               "active": true})");
}

TEST(MergeUser, HighestPriorityWithAValueWins) {
  Policy entra = Parse(R"({"priority": 10})");
  Policy okta = Parse(R"({"priority": 5})");
  EffectiveUser u =
      MergeUser({Source("okta", okta, OktaAlice()), Source("entra", entra, EntraAlice())}, nullptr);
  EXPECT_EQ(u.state, UserState::kActive);
  EXPECT_EQ(u.attributes.at("username").value, "Alice@contoso.com");
  EXPECT_EQ(u.attributes.at("username").connection_id, "entra");
  EXPECT_EQ(u.attributes.at("givenName").value, "Alice");
  // Entra has no displayName but its template fallback gives one: Entra still wins.
  EXPECT_EQ(u.attributes.at("displayName").value, "Alice Smith");
  EXPECT_EQ(u.attributes.at("displayName").rule, "attributes.displayName.sources[1]");
  EXPECT_EQ(u.attributes.at("active").value, true);
  EXPECT_EQ(u.attributes.at("active").connection_id, "entra");

  // An attribute only the lower-priority source maps comes from it.
  Policy entra_no_dn = Parse(R"({"priority": 10, "attributes": {"displayName": {"sources": []}}})");
  EffectiveUser w = MergeUser(
      {Source("entra", entra_no_dn, EntraAlice()), Source("okta", okta, OktaAlice())}, nullptr);
  EXPECT_EQ(w.attributes.at("displayName").value, "Alice S. [Okta]");
  EXPECT_EQ(w.attributes.at("displayName").connection_id, "okta");
  EXPECT_EQ(w.attributes.at("displayName").source_user_id, "o-1");
  EXPECT_EQ(w.attributes.at("displayName").source, "displayName");
}

TEST(MergeUser, EqualPrioritiesBreakTiesByConnectionId) {
  Policy p = DefaultPolicy();
  EffectiveUser u =
      MergeUser({Source("okta", p, OktaAlice()), Source("entra", p, EntraAlice())}, nullptr);
  EXPECT_EQ(u.attributes.at("givenName").connection_id, "entra");
}

TEST(MergeUser, MembershipsAreTheUnionAndGrantEntitlements) {
  Policy entra = Parse(R"({"priority": 10, "entitlements": {"developers": ["project:DEMO:commit"]},
      "groups": {"mode": "manual", "manual": [{"source": "Engineering", "targets": ["developers"]}]}})");
  Policy okta = Parse(R"({"entitlements": {"portal": ["project:DEMO:portal-access"]},
                          "groups": {"default_groups_all_users": ["portal"]}})");
  EffectiveUser u = MergeUser({Source("entra", entra, EntraAlice(), {{"g1", "Engineering"}}),
                               Source("okta", okta, OktaAlice(), {{"og", "Developers"}})},
                              nullptr);
  EXPECT_EQ(u.GroupNames(), (std::vector<std::string>{"developers", "portal"}));
  const EffectiveMembership& dev = u.memberships.at("developers");
  ASSERT_EQ(dev.grants.size(), 2u);  // both sources grant it, each recorded
  EXPECT_EQ(dev.grants[0], (MembershipGrant{MembershipRule::kManual, "entra", "Engineering",
                                            "groups.manual[0]"}));
  EXPECT_EQ(dev.grants[1],
            (MembershipGrant{MembershipRule::kOnTheFly, "okta", "Developers", "groups.mode"}));
  EXPECT_EQ(u.entitlements, (std::vector<Entitlement>{{"project:DEMO:commit", "developers"},
                                                      {"project:DEMO:portal-access", "portal"}}));
}

TEST(MergeUser, ActiveWhileSomeSourceHoldsTheUser) {
  Policy follow = DefaultPolicy();
  Policy ignore_active = Parse(R"({"users": {"follow_active": false}})");
  Json inactive = OktaAlice();
  inactive["active"] = false;
  struct Case {
    const char* name;
    std::vector<LinkedSource> sources;
    UserState expected;
  };
  const Case cases[] = {
      {"one active",
       {Source("entra", follow, EntraAlice()), Source("okta", follow, inactive)},
       UserState::kActive},
      {"all inactive", {Source("okta", follow, inactive)}, UserState::kDisabled},
      {"follow_active off", {Source("okta", ignore_active, inactive)}, UserState::kActive},
  };
  for (const Case& c : cases) {
    EffectiveUser u = MergeUser(c.sources, nullptr);
    EXPECT_EQ(u.state, c.expected) << c.name;
    EXPECT_EQ(u.attributes.at("active").value, c.expected == UserState::kActive) << c.name;
  }
  EffectiveUser d = MergeUser({Source("okta", follow, inactive, {{"g", "Eng"}})}, nullptr);
  EXPECT_EQ(d.attributes.at("active").rule, "users.on_deactivate");
  EXPECT_EQ(d.GroupNames(), std::vector<std::string>{"Eng"});  // kept for re-activation
  EXPECT_EQ(d.attributes.at("username").value, "alice@contoso.com");
}

TEST(MergeUser, LastSourceLeavesPerOnDelete) {
  Policy disable = Parse(R"({"users": {"on_delete": "disable"}})");
  Policy remove = Parse(R"({"users": {"on_delete": "delete"}})");
  Policy keep = Parse(R"({"users": {"on_delete": "keep"}})");
  EffectiveUser before =
      MergeUser({Source("entra", disable, EntraAlice(), {{"g", "Eng"}})}, nullptr);
  ASSERT_EQ(before.state, UserState::kActive);

  EffectiveUser d = MergeUser({Deleted("entra", disable)}, &before);
  EXPECT_EQ(d.state, UserState::kDisabled);
  EXPECT_EQ(d.attributes.at("active").value, false);
  EXPECT_EQ(d.attributes.at("username").value, "Alice@contoso.com");
  EXPECT_EQ(d.GroupNames(), std::vector<std::string>{"Eng"});
  EXPECT_NE(d.state_reason.find("users.on_delete is disable"), std::string::npos);

  EffectiveUser r = MergeUser({Deleted("entra", remove)}, &before);
  EXPECT_EQ(r.state, UserState::kRemoved);
  EXPECT_TRUE(r.attributes.empty());
  EXPECT_TRUE(r.memberships.empty());

  EffectiveUser k = MergeUser({Deleted("entra", keep)}, &before);
  EXPECT_EQ(k.state, UserState::kActive);
  EXPECT_EQ(k.attributes, before.attributes);
  EXPECT_EQ(k.memberships, before.memberships);
  EXPECT_NE(k.state_reason.find("users.on_delete is keep"), std::string::npos);

  // Two sources: one deleted, one still there -> the user stays, from the remaining source.
  Policy okta = Parse(R"({"users": {"on_delete": "delete"}})");
  EffectiveUser both = MergeUser(
      {Source("entra", disable, EntraAlice()), Source("okta", okta, OktaAlice())}, nullptr);
  EffectiveUser one =
      MergeUser({Deleted("entra", disable), Source("okta", okta, OktaAlice())}, &both);
  EXPECT_EQ(one.state, UserState::kActive);
  EXPECT_EQ(one.attributes.at("givenName").value, "Alicia");
  EXPECT_EQ(one.attributes.at("givenName").connection_id, "okta");

  // Both gone: the highest-priority deleted source decides.
  Policy okta_high = Parse(R"({"priority": 1, "users": {"on_delete": "delete"}})");
  EXPECT_EQ(MergeUser({Deleted("entra", disable), Deleted("okta", okta_high)}, &one).state,
            UserState::kRemoved);
  EXPECT_EQ(MergeUser({Deleted("entra", disable), Deleted("okta", okta)}, &one).state,
            UserState::kDisabled);  // equal priority: "entra" sorts first

  // No link left at all (tombstones purged after "keep"): the user stays as it was.
  EffectiveUser orphan = MergeUser({}, &k);
  EXPECT_EQ(orphan.state, UserState::kActive);
  EXPECT_EQ(orphan.attributes, before.attributes);

  // A deleted source that never made a user makes none.
  EXPECT_EQ(MergeUser({Deleted("entra", disable)}, nullptr).state, UserState::kNotImported);
}

TEST(MergeUser, ReappearingSourceReactivates) {
  Policy p = DefaultPolicy();
  EffectiveUser before = MergeUser({Source("entra", p, EntraAlice())}, nullptr);
  EffectiveUser gone = MergeUser({Deleted("entra", p)}, &before);
  ASSERT_EQ(gone.state, UserState::kDisabled);
  EffectiveUser back = MergeUser({Source("entra", p, EntraAlice())}, &gone);
  EXPECT_EQ(back.state, UserState::kActive);
}

TEST(MergeUser, ImportNewOff) {
  Policy no_import = Parse(R"({"users": {"import_new": false}})");
  Policy p = DefaultPolicy();
  EffectiveUser u = MergeUser({Source("okta", no_import, OktaAlice())}, nullptr);
  EXPECT_EQ(u.state, UserState::kNotImported);
  EXPECT_EQ(u.state_reason, "users.import_new is off for every linked connection");
  // Another linked source may create it; then the first contributes like any other.
  EffectiveUser v = MergeUser(
      {Source("okta", no_import, OktaAlice()), Source("entra", p, EntraAlice())}, nullptr);
  EXPECT_EQ(v.state, UserState::kActive);
  // And an existing user is updated by it.
  EffectiveUser w = MergeUser({Source("okta", no_import, OktaAlice())}, &v);
  EXPECT_EQ(w.state, UserState::kActive);
  EXPECT_EQ(w.attributes.at("givenName").value, "Alicia");
}

TEST(MergeUser, UpdateExistingOffKeepsWhatTheSourceSetBefore) {
  Policy frozen = Parse(R"({"users": {"update_existing": false}})");
  EffectiveUser created = MergeUser({Source("okta", frozen, OktaAlice())}, nullptr);
  EXPECT_EQ(created.attributes.at("givenName").value, "Alicia");  // a new user takes its values
  Json renamed = OktaAlice();
  renamed["name"]["givenName"] = "Ally";
  renamed["nickName"] = "al";
  EffectiveUser later = MergeUser({Source("okta", frozen, renamed)}, &created);
  EXPECT_EQ(later.attributes.at("givenName").value, "Alicia");
  EXPECT_EQ(later.attributes.at("givenName"), created.attributes.at("givenName"));
}

TEST(MergeUser, DefaultNewGroupsAreGrantedOnceAndStay) {
  Policy p = Parse(R"({"groups": {"default_groups_new_users": ["newcomers"],
                                  "default_groups_all_users": ["staff"]}})");
  EffectiveUser created = MergeUser({Source("entra", p, EntraAlice(), {{"g", "Eng"}})}, nullptr);
  EXPECT_EQ(created.GroupNames(), (std::vector<std::string>{"Eng", "newcomers", "staff"}));
  // Later: Eng is no longer reported by the source; newcomers stays, staff is re-granted.
  EffectiveUser later = MergeUser({Source("entra", p, EntraAlice())}, &created);
  EXPECT_EQ(later.GroupNames(), (std::vector<std::string>{"newcomers", "staff"}));
  EXPECT_EQ(later.memberships.at("newcomers").grants[0].rule, MembershipRule::kDefaultNew);
}

TEST(MergeUser, KeepExistingMemberships) {
  EffectiveUser previous;
  previous.attributes["username"] = EffectiveValue{"Alice@contoso.com", "entra", "e-1", "userName",
                                                   "attributes.username.sources[0]"};
  previous.memberships["vpn-users"] = {"vpn-users",
                                       {{MembershipRule::kExisting, "", "", "added by an admin"}}};
  Policy keep = DefaultPolicy();
  Policy drop = Parse(R"({"groups": {"keep_existing_memberships": false}})");
  EXPECT_EQ(MergeUser({Source("entra", keep, EntraAlice())}, &previous).GroupNames(),
            std::vector<std::string>{"vpn-users"});
  EXPECT_TRUE(MergeUser({Source("entra", drop, EntraAlice())}, &previous).memberships.empty());
  // Any linked source that keeps them keeps them.
  EXPECT_EQ(
      MergeUser({Source("entra", drop, EntraAlice()), Source("okta", keep, OktaAlice())}, &previous)
          .GroupNames(),
      std::vector<std::string>{"vpn-users"});
}

TEST(ComputeLinkKey, UsernameEmailOrNone) {
  Policy by_username = DefaultPolicy();
  Policy by_email = Parse(R"({"linking": {"key": "email"}})");
  Policy none = Parse(R"({"linking": {"key": "none"}})");
  auto entra = MapUser(by_username, EntraAlice(), {});
  auto okta = MapUser(by_username, OktaAlice(), {});
  ASSERT_TRUE(entra && okta);
  EXPECT_EQ(ComputeLinkKey(by_username, *entra), "username:alice@contoso.com");
  EXPECT_EQ(ComputeLinkKey(by_username, *entra), ComputeLinkKey(by_username, *okta));
  EXPECT_EQ(ComputeLinkKey(by_email, *entra), "email:alice@contoso.com");
  EXPECT_EQ(ComputeLinkKey(none, *entra), std::nullopt);
  auto no_mail = MapUser(by_email, J(R"({"userName": "x"})"), {});
  ASSERT_TRUE(no_mail);
  EXPECT_EQ(ComputeLinkKey(by_email, *no_mail), std::nullopt);
  auto unicode = MapUser(by_username, J(R"({"userName": "ÄNNE"})"), {});
  ASSERT_TRUE(unicode);
  EXPECT_EQ(ComputeLinkKey(by_username, *unicode), "username:änne");
}

TEST(FindUsernameConflict, LinkingOff) {
  std::map<std::string, UsernameOwner> owners = {{"alice@contoso.com", {"eff-1", "entra", "e-1"}}};
  // The second connection claims the same username, case-insensitively: conflict.
  auto c = FindUsernameConflict("ALICE@contoso.com", "okta", "o-1", nullptr, owners);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->existing.connection_id, "entra");
  EXPECT_EQ(c->connection_id, "okta");
  EXPECT_EQ(c->reason,
            "username \"ALICE@contoso.com\" is already held by connection entra (source user e-1); "
            "the source user of connection okta is not imported");
  // The owner itself re-derived: no conflict.
  EXPECT_FALSE(FindUsernameConflict("alice@contoso.com", "entra", "e-1", nullptr, owners));
  // Linked into the owner (linking on): no conflict; linked into someone else: conflict.
  std::string eff1 = "eff-1", eff2 = "eff-2";
  EXPECT_FALSE(FindUsernameConflict("alice@contoso.com", "okta", "o-1", &eff1, owners));
  EXPECT_TRUE(FindUsernameConflict("alice@contoso.com", "okta", "o-1", &eff2, owners));
  EXPECT_FALSE(FindUsernameConflict("bob@contoso.com", "okta", "o-2", nullptr, owners));
}

}  // namespace
}  // namespace idsync::policy
