#include "sync/ldap/entry.h"

#include <string>

#include <gtest/gtest.h>

namespace idsync::sync::ldap {
namespace {

LdapEntry With(const std::string& attribute, std::vector<std::string> values) {
  LdapEntry entry;
  entry.dn = "uid=a,dc=example,dc=com";
  entry.attributes[attribute] = std::move(values);
  return entry;
}

TEST(LdapEntry, AttributeNamesAreCaseInsensitive) {
  const LdapEntry entry = With("entryUUID", {"x"});
  ASSERT_NE(entry.Find("entryuuid"), nullptr);
  EXPECT_EQ(entry.First("ENTRYUUID"), "x");
  EXPECT_EQ(entry.Find("uid"), nullptr);
  EXPECT_EQ(entry.First("uid"), std::nullopt);
}

TEST(StableId, RendersObjectGuidInMicrosoftByteOrder) {
  // The GUID {3F2504E0-4F89-11D3-9A0C-0305E82C3301} as Active Directory stores it.
  const std::string bytes("\xe0\x04\x25\x3f\x89\x4f\xd3\x11\x9a\x0c\x03\x05\xe8\x2c\x33\x01", 16);
  auto id = StableId(With("objectGUID", {bytes}), "objectguid");
  ASSERT_TRUE(id) << id.error().detail;
  EXPECT_EQ(*id, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
}

TEST(StableId, ObjectGuidWithNulBytesIsBinarySafe) {
  const std::string bytes(16, '\0');
  auto id = StableId(With("objectGUID", {bytes}), "objectGUID");
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "00000000-0000-0000-0000-000000000000");
}

TEST(StableId, NormalisesTextUuids) {
  const char* cases[][2] = {
      {"3bc22e06-7b4d-1041-9dfc-81254c02d0e8", "3bc22e06-7b4d-1041-9dfc-81254c02d0e8"},
      {"3BC22E06-7B4D-1041-9DFC-81254C02D0E8", "3bc22e06-7b4d-1041-9dfc-81254c02d0e8"},
      {"{3BC22E06-7B4D-1041-9DFC-81254C02D0E8}", "3bc22e06-7b4d-1041-9dfc-81254c02d0e8"},
  };
  for (const auto& c : cases) {
    auto id = StableId(With("entryUUID", {c[0]}), "entryUUID");
    ASSERT_TRUE(id) << c[0];
    EXPECT_EQ(*id, c[1]);
  }
}

TEST(StableId, KeepsOpaqueTextIds) {
  auto id = StableId(With("employeeNumber", {"E-1234"}), "employeeNumber");
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "E-1234");
}

TEST(StableId, RejectsMissingMultiValuedAndMalformedIds) {
  EXPECT_FALSE(StableId(With("cn", {"x"}), "entryUUID"));
  EXPECT_FALSE(StableId(With("entryUUID", {"a", "b"}), "entryUUID"));
  EXPECT_FALSE(StableId(With("entryUUID", {""}), "entryUUID"));
  EXPECT_FALSE(StableId(With("entryUUID", {std::string("\x01\x02", 2)}), "entryUUID"));
  auto short_guid = StableId(With("objectGUID", {"0123456789"}), "objectGUID");
  ASSERT_FALSE(short_guid);
  EXPECT_EQ(short_guid.error().code, ErrorCode::kInvalidValue);
  EXPECT_NE(short_guid.error().detail.find("uid=a,dc=example,dc=com"), std::string::npos);
}

}  // namespace
}  // namespace idsync::sync::ldap
