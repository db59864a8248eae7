#include "ldap/config/settings.h"

#include <string>

#include <gtest/gtest.h>

namespace idsync::ldap {
namespace {

Json Parse(const char* text) {
  return Json::parse(text);
}

TEST(DirectorySettings, EmptyObjectIsTheDefaults) {
  auto s = ParseDirectorySettings(Json::object());
  ASSERT_TRUE(s) << s.error().detail;
  EXPECT_EQ(*s, DirectorySettings{});
  EXPECT_EQ(s->profile, Profile::kStandard);
  EXPECT_FALSE(s->show_disabled);
  EXPECT_FALSE(s->posix);
  EXPECT_EQ(s->uid_base, 10000);
  EXPECT_EQ(s->home_template, "/home/{uid}");
  EXPECT_EQ(s->tombstone_days, 180);
}

TEST(DirectorySettings, FullFormRoundTrips) {
  auto s = ParseDirectorySettings(Parse(R"({
    "profile": "active_directory", "disabled_users": "show", "posix": true,
    "uid_base": 20000, "gid_base": 30000, "home_template": "/srv/home/{uid}",
    "login_shell": "/bin/zsh", "attribute_names": {"badge": "badgeNumber", "costCenter": "cc-1"},
    "tombstone_days": 30})"));
  ASSERT_TRUE(s) << s.error().detail;
  EXPECT_EQ(s->profile, Profile::kActiveDirectory);
  EXPECT_TRUE(s->show_disabled);
  EXPECT_TRUE(s->posix);
  EXPECT_EQ(s->gid_base, 30000);
  EXPECT_EQ(s->attribute_names.at("costCenter"), "cc-1");
  Json json = DirectorySettingsToJson(*s);
  EXPECT_EQ(json["profile"], "active_directory");
  EXPECT_EQ(json["disabled_users"], "show");
  auto again = ParseDirectorySettings(json);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *s);
  // Defaults are written out in full.
  Json defaults = DirectorySettingsToJson({});
  EXPECT_EQ(defaults.size(), 9u);
  EXPECT_EQ(defaults["attribute_names"], Json::object());
  EXPECT_EQ(defaults["disabled_users"], "hide");
}

TEST(DirectorySettings, BadValuesNameTheField) {
  struct Case {
    const char* json;
    const char* field;
  } cases[] = {
      {R"({"profil": "standard"})", "profil: unknown setting"},
      {R"({"profile": "ad"})", "profile: expected \"standard\" or \"active_directory\""},
      {R"({"profile": 1})", "profile:"},
      {R"({"disabled_users": true})", "disabled_users:"},
      {R"({"disabled_users": "visible"})", "disabled_users:"},
      {R"({"posix": "on"})", "posix: expected true or false"},
      {R"({"uid_base": 0})", "uid_base: expected an integer from 1000"},
      {R"({"uid_base": 999})", "uid_base:"},
      {R"({"uid_base": 10000.5})", "uid_base:"},
      {R"({"uid_base": "10000"})", "uid_base:"},
      {R"({"gid_base": 18446744073709551615})", "gid_base:"},
      {R"({"gid_base": 2000000001})", "gid_base:"},
      {R"({"home_template": "home/{uid}"})", "home_template: expected an absolute path"},
      {R"({"home_template": "/home/{user}"})", "home_template: the only placeholder is {uid}"},
      {R"({"home_template": "/home/uid}"})", "home_template:"},
      {R"({"home_template": "/home/\n"})", "home_template: contains a control character"},
      {R"({"login_shell": "bash"})", "login_shell:"},
      {R"({"login_shell": "/bin/{uid}"})", "login_shell: placeholders are not allowed"},
      {R"({"login_shell": ""})", "login_shell:"},
      {R"({"attribute_names": []})", "attribute_names: expected an object"},
      {R"({"attribute_names": {"badge": 1}})", "attribute_names.badge: expected"},
      {R"({"attribute_names": {"badge": "1badge"}})", "attribute_names.badge: \"1badge\" is not"},
      {R"({"attribute_names": {"badge": "badge_no"}})", "attribute_names.badge:"},
      {R"({"attribute_names": {"badge": ""}})", "attribute_names.badge:"},
      {R"({"attribute_names": {"badge": "MAIL"}})",
       "attribute_names.badge: \"MAIL\" is an attribute idsync serves"},
      {R"({"attribute_names": {"a": "uidNumber"}})", "attribute_names.a:"},
      {R"({"attribute_names": {"a": "x-badge", "b": "X-Badge"}})",
       "attribute_names.b: \"X-Badge\" is already the name of custom attribute a"},
      {R"({"attribute_names": {"": "badge"}})",
       "attribute_names: a custom attribute name is empty"},
      {R"({"tombstone_days": -1})", "tombstone_days: expected an integer from 0 to 3650"},
      {R"({"tombstone_days": 3651})", "tombstone_days:"},
  };
  for (const auto& c : cases) {
    auto s = ParseDirectorySettings(Parse(c.json));
    ASSERT_FALSE(s) << c.json;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidValue) << c.json;
    EXPECT_EQ(s.error().detail.rfind(c.field, 0), 0u) << c.json << " -> " << s.error().detail;
  }
  EXPECT_FALSE(ParseDirectorySettings(Json::array()));
  EXPECT_FALSE(ParseDirectorySettings(Json("standard")));
}

TEST(DirectorySettings, ServedAttributesAreCaseInsensitive) {
  for (const char* name : {"uid", "UID", "memberof", "objectGUID", "sAMAccountName", "cn"}) {
    EXPECT_TRUE(IsServedAttribute(name)) << name;
  }
  for (const char* name : {"badge", "employeeType", "uidx"}) {
    EXPECT_FALSE(IsServedAttribute(name)) << name;
  }
}

TEST(DirectorySettings, BoundaryValuesAreAccepted) {
  auto s = ParseDirectorySettings(Parse(
      R"({"uid_base": 1000, "gid_base": 2000000000, "tombstone_days": 0, "home_template": "/"})"));
  ASSERT_TRUE(s) << s.error().detail;
  EXPECT_EQ(s->uid_base, 1000);
  EXPECT_EQ(s->gid_base, 2000000000);
  EXPECT_EQ(s->tombstone_days, 0);
}

}  // namespace
}  // namespace idsync::ldap
