#include "sync/ldap/settings.h"

#include <gtest/gtest.h>

namespace idsync::sync::ldap {
namespace {

LdapSettings Good() {
  LdapSettings s;
  s.url = "ldap://ldap.example.com";
  s.bind_dn = "cn=idsync,dc=example,dc=com";
  s.bind_password = "hunter2-secret";
  s.base_dns = {"dc=example,dc=com"};
  return s;
}

TEST(LdapSettings, AcceptsATypicalConfiguration) {
  EXPECT_TRUE(Validate(Good()));
  LdapSettings ad = Good();
  ad.url = "ldaps://dc1.corp.example.com:636";
  ad.id_attribute = "objectGUID";
  ad.username_attribute = "sAMAccountName";
  ad.attributes = {"mail", "givenName", "userCertificate;binary", "2.5.4.3"};
  EXPECT_TRUE(Validate(ad));
  LdapSettings anonymous = Good();
  anonymous.bind_dn.clear();
  anonymous.bind_password.clear();
  EXPECT_TRUE(Validate(anonymous));
}

TEST(LdapSettings, RejectsWhatCannotWork) {
  auto rejected = [](void (*change)(LdapSettings&)) {
    LdapSettings s = Good();
    change(s);
    auto status = Validate(s);
    if (status) return false;
    EXPECT_EQ(status.error().code, ErrorCode::kInvalidValue);
    return true;
  };
  EXPECT_TRUE(rejected([](LdapSettings& s) { s.url = "http://x"; }));
  EXPECT_TRUE(rejected([](LdapSettings& s) { s.url = "ldap://a ldap://b"; }));
  EXPECT_TRUE(rejected([](LdapSettings& s) {
    s.url = "ldaps://x";
    s.start_tls = true;
  }));
  EXPECT_TRUE(rejected([](LdapSettings& s) { s.bind_password.clear(); }));
  EXPECT_TRUE(rejected([](LdapSettings& s) { s.bind_dn.clear(); }));
  EXPECT_TRUE(rejected([](LdapSettings& s) { s.base_dns.clear(); }));
  EXPECT_TRUE(rejected([](LdapSettings& s) { s.username_attribute = "uid)(cn=*"; }));
  EXPECT_TRUE(rejected([](LdapSettings& s) { s.id_attribute = ""; }));
  EXPECT_TRUE(rejected([](LdapSettings& s) { s.attributes = {"mail;"}; }));
  EXPECT_TRUE(rejected([](LdapSettings& s) { s.page_size = 0; }));
  EXPECT_TRUE(rejected([](LdapSettings& s) { s.operation_timeout = {}; }));
}

TEST(LdapSettings, NeverShowsThePassword) {
  const LdapSettings s = Good();
  const std::string line = DescribeForLog(s);
  EXPECT_EQ(line.find(s.bind_password), std::string::npos) << line;
  EXPECT_NE(line.find("bind_password=(set)"), std::string::npos) << line;
  LdapSettings bad = Good();
  bad.url = "ftp://x";
  auto status = Validate(bad);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().detail.find(s.bind_password), std::string::npos);
}

}  // namespace
}  // namespace idsync::sync::ldap
