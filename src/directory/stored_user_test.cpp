// The stored form of an effective user: provenance shared through "origins" and "stamps", and
// bodies written before it (provenance inline in every entry) read alike.
#include "directory/stored_user.h"

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "base/json.h"
#include "directory/render.h"
#include "directory/writer.h"

namespace idsync::directory {
namespace {

const std::string kEntra = "11111111-1111-4111-8111-111111111111";
const std::string kOkta = "22222222-2222-4222-8222-222222222222";
// Source users and requests are named by UUIDs, as the server names them.
const std::string kEntraUser = "01a250bf-9dd2-754d-aa18-a770744cb401";
const std::string kOktaUser = "01a250bf-9dd2-7973-9980-c4b195e2e383";
const std::string kRequest1 = "3750e0c3-487b-4ae9-ade2-2e5bab382f4f";
const std::string kRequest2 = "5f0a8e21-0c4d-4b3e-9a57-1d2c3b4a5f60";
const ConnectionNames kNames = {{kEntra, "entra"}, {kOkta, "okta"}};
const TimePoint kT1 = TimePoint(std::chrono::milliseconds(1'796'600'000'000));
const TimePoint kT2 = kT1 + std::chrono::seconds(90);

policy::EffectiveValue Value(Json v, const std::string& connection, const std::string& source) {
  return {std::move(v), connection, connection == kEntra ? kEntraUser : kOktaUser, source,
          "attributes." + source + ".sources[0]"};
}

// Ten attributes from two sources and one default (no connection), two groups.
policy::EffectiveUser Alice() {
  policy::EffectiveUser u;
  u.attributes["username"] = Value("alice@example.com", kEntra, "userName");
  u.attributes["displayName"] = Value("Alice Liddell", kEntra, "displayName");
  u.attributes["givenName"] = Value("Alice", kEntra, "name.givenName");
  u.attributes["familyName"] = Value("Liddell", kEntra, "name.familyName");
  u.attributes["email"] = Value("alice@example.com", kEntra, "emails[primary eq true].value");
  u.attributes["title"] = Value("Engineer", kOkta, "title");
  u.attributes["department"] = Value("R&D", kOkta, "department");
  u.attributes["costCenter"] = Value("42", kOkta, "costCenter");
  u.attributes["active"] = Value(true, kEntra, "active");
  u.attributes["locale"] = {"en-GB", "", "", "en-GB", "attributes.locale.default"};
  u.memberships["staff"] = {"Staff",
                            {{policy::MembershipRule::kOnTheFly, kEntra, "Staff", "", false}}};
  u.memberships["vpn"] = {"VPN", {{policy::MembershipRule::kManual, "", "", "admin", false}}};
  u.entitlements.push_back({"portal", "Staff"});
  u.warnings.push_back("title from okta");
  return u;
}

const std::map<std::string, std::string> kGroupIds = {{"staff", "g-staff"}, {"vpn", "g-vpn"}};

Json Stored(const policy::EffectiveUser& u, const Json* previous, const std::string& request,
            TimePoint now) {
  Json body = BodyOf(u, kNames, kGroupIds);
  StampRequests(body, previous, request, now);
  return body;
}

store::EffectiveUserRow Row(Json body) {
  store::EffectiveUserRow row;
  row.state = "active";
  row.body = std::move(body);
  return row;
}

void ExpectSameUser(const policy::EffectiveUser& got, const policy::EffectiveUser& want) {
  EXPECT_EQ(got.attributes, want.attributes);
  EXPECT_EQ(got.memberships, want.memberships);
  EXPECT_EQ(got.entitlements.size(), want.entitlements.size());
  EXPECT_EQ(got.warnings, want.warnings);
}

TEST(StoredUser, SharedProvenanceNamesEachSourceAndRequestOnceAndReadsBackAsTheUser) {
  const Json body = Stored(Alice(), nullptr, kRequest1, kT1);
  // Two sources and the default's empty origin; one request.
  ASSERT_EQ(body["origins"].size(), 3u) << body.dump();
  ASSERT_EQ(body["stamps"].size(), 1u);
  EXPECT_EQ(body["stamps"][0], Json({{"request_id", kRequest1}, {"time", FormatRfc3339(kT1)}}));
  const Json& title = body["attributes"]["title"];
  EXPECT_FALSE(title.contains("connection")) << "provenance is not repeated in each attribute";
  const EntryProvenance p = ProvenanceOf(body, title);
  ASSERT_TRUE(p.connection && p.connection_name && p.source_user && p.request_id && p.time);
  EXPECT_EQ(*p.connection, kOkta);
  EXPECT_EQ(*p.connection_name, "okta");
  EXPECT_EQ(*p.source_user, kOktaUser);
  EXPECT_EQ(*p.request_id, kRequest1);
  ExpectSameUser(UserOf(Row(body)), Alice());
  // The same user makes the same body, so an unchanged user is not written again.
  EXPECT_EQ(Stored(Alice(), &body, kRequest2, kT2), body);
  // And it is much smaller than every entry carrying its provenance (2,052 bytes against 3,652).
  EXPECT_LT(DumpJson(body).size() * 5, DumpJson(WithInlineProvenance(body)).size() * 3);
}

TEST(StoredUser, TheInlineFormShowsEveryEntryWithItsOwnProvenance) {
  const Json body = Stored(Alice(), nullptr, kRequest1, kT1);
  const Json inline_body = WithInlineProvenance(body);
  EXPECT_FALSE(inline_body.contains("origins"));
  EXPECT_FALSE(inline_body.contains("stamps"));
  EXPECT_EQ(inline_body["attributes"]["department"],
            Json({{"value", "R&D"},
                  {"connection", kOkta},
                  {"connection_name", "okta"},
                  {"source_user", kOktaUser},
                  {"source", "department"},
                  {"rule", "attributes.department.sources[0]"},
                  {"request_id", kRequest1},
                  {"time", FormatRfc3339(kT1)}}));
  EXPECT_EQ(inline_body["memberships"][1]["request_id"], kRequest1);
  EXPECT_FALSE(inline_body["memberships"][1].contains("stamp"));
  // A body stored inline (before the shared form) reads as the same user, and is shown as is.
  ExpectSameUser(UserOf(Row(inline_body)), Alice());
  EXPECT_EQ(WithInlineProvenance(inline_body), inline_body);
}

TEST(StoredUser, AnUnchangedEntryKeepsItsStampWhicheverFormThePreviousBodyWasStoredIn) {
  const Json first = Stored(Alice(), nullptr, kRequest1, kT1);
  policy::EffectiveUser changed = Alice();
  changed.attributes["title"].value = "Manager";          // new value
  changed.attributes["givenName"].connection_id = kOkta;  // same value, other source
  changed.attributes["givenName"].source_user_id = kOktaUser;
  changed.memberships["vpn"].grants[0].detail = "admin (renewed)";  // other grant
  for (const Json& previous : {first, WithInlineProvenance(first)}) {
    const Json second = Stored(changed, &previous, kRequest2, kT2);
    ASSERT_EQ(second["stamps"].size(), 2u) << second.dump();
    auto request_of = [&](const Json& entry) {
      const EntryProvenance p = ProvenanceOf(second, entry);
      return p.request_id ? p.request_id->get<std::string>() : "";
    };
    EXPECT_EQ(request_of(second["attributes"]["displayName"]), kRequest1);
    EXPECT_EQ(request_of(second["attributes"]["locale"]), kRequest1);
    EXPECT_EQ(request_of(second["attributes"]["title"]), kRequest2);
    EXPECT_EQ(request_of(second["attributes"]["givenName"]), kRequest2);
    EXPECT_EQ(request_of(second["memberships"][0]), kRequest1);
    EXPECT_EQ(request_of(second["memberships"][1]), kRequest2);
    EXPECT_EQ(*ProvenanceOf(second, second["attributes"]["displayName"]).time, FormatRfc3339(kT1));
    ExpectSameUser(UserOf(Row(second)), changed);
    // Either form of the previous body gives the same stored body.
    EXPECT_EQ(second, Stored(changed, &first, kRequest2, kT2));
  }
}

TEST(StoredUser, AnEntryNamingARowItsTableDoesNotHaveHasNoProvenance) {
  Json body = Stored(Alice(), nullptr, kRequest1, kT1);
  body["attributes"]["title"]["origin"] = 9;
  body["attributes"]["title"]["stamp"] = -1;
  const EntryProvenance p = ProvenanceOf(body, body["attributes"]["title"]);
  EXPECT_EQ(p.connection, nullptr);
  EXPECT_EQ(p.request_id, nullptr);
  const policy::EffectiveUser u = UserOf(Row(body));
  EXPECT_EQ(u.attributes.at("title").value, "Engineer");
  EXPECT_EQ(u.attributes.at("title").connection_id, "");
}

// SameUserCore answers exactly what comparing the two renders answers, for changes that show
// (values, names, state, entitlements) and changes that do not (provenance, stamps, the
// username and active attributes, whose rendered values come from the row).
TEST(StoredUser, SameUserCoreIsComparingTheRenders) {
  store::EffectiveUserRow base = Row(Stored(Alice(), nullptr, kRequest1, kT1));
  base.id = kEntraUser;
  base.username = "alice@example.com";
  base.body["entitlements"] = Json::array({{{"value", "jira"}, {"group", "engineering"}}});
  std::vector<std::pair<std::string, std::function<void(store::EffectiveUserRow&)>>> changes = {
      {"nothing", [](auto&) {}},
      {"a stamp", [](auto& r) { r.body["attributes"]["title"]["stamp"] = 7; }},
      {"a rule", [](auto& r) { r.body["attributes"]["title"]["rule"] = "other"; }},
      {"an origin", [](auto& r) { r.body["origins"] = Json::array(); }},
      {"the username attribute", [](auto& r) { r.body["attributes"]["username"]["value"] = "x"; }},
      {"the active attribute",
       [](auto& r) {
         r.body["attributes"]["active"] = {{"value", false}};
       }},
      {"displayName", [](auto& r) { r.body["attributes"]["displayName"]["value"] = "Al"; }},
      {"givenName gone", [](auto& r) { r.body["attributes"].erase("givenName"); }},
      {"familyName null", [](auto& r) { r.body["attributes"]["familyName"]["value"] = nullptr; }},
      {"email not an object", [](auto& r) { r.body["attributes"]["email"] = "a@b.c"; }},
      {"a custom value", [](auto& r) { r.body["attributes"]["title"]["value"] = "Boss"; }},
      {"a custom number", [](auto& r) { r.body["attributes"]["title"]["value"] = 1; }},
      {"a new custom",
       [](auto& r) {
         r.body["attributes"]["office"] = {{"value", "B2"}};
       }},
      {"a new null custom",
       [](auto& r) {
         r.body["attributes"]["office"] = {{"value", nullptr}};
       }},
      {"a custom gone", [](auto& r) { r.body["attributes"].erase("title"); }},
      {"no attributes", [](auto& r) { r.body.erase("attributes"); }},
      {"username", [](auto& r) { r.username = "alice2@example.com"; }},
      {"disabled", [](auto& r) { r.state = "disabled"; }},
      {"another inactive state", [](auto& r) { r.state = "staged"; }},
      {"the id", [](auto& r) { r.id = kOktaUser; }},
      {"an entitlement", [](auto& r) { r.body["entitlements"][0]["value"] = "wiki"; }},
      {"its group", [](auto& r) { r.body["entitlements"][0]["group"] = "ops"; }},
      {"its other members", [](auto& r) { r.body["entitlements"][0]["since"] = 3; }},
      {"no entitlements", [](auto& r) { r.body["entitlements"] = Json::array(); }},
      {"entitlements gone", [](auto& r) { r.body.erase("entitlements"); }},
      {"one more",
       [](auto& r) {
         r.body["entitlements"].push_back({{"value", "x"}});
       }},
  };
  int differing = 0;
  for (const auto& [a_name, a_change] : changes) {
    for (const auto& [b_name, b_change] : changes) {
      store::EffectiveUserRow a = base;
      store::EffectiveUserRow b = base;
      a_change(a);
      b_change(b);
      const bool same = RenderUserCore(a) == RenderUserCore(b);
      differing += same ? 0 : 1;
      EXPECT_EQ(SameUserCore(a, b), same) << a_name << " / " << b_name;
    }
  }
  // Most pairs differ, and the first six changes show nothing: both answers are exercised.
  EXPECT_GT(differing, 400);
  EXPECT_TRUE(SameUserCore(base, base));
}

}  // namespace
}  // namespace idsync::directory
