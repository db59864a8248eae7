#include "sync/secrets/secret_box.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace idsync::sync {
namespace {

std::string TempDirPath() {
  std::string pattern = std::filesystem::temp_directory_path().string() + "/idsync-box-XXXXXX";
  EXPECT_NE(mkdtemp(pattern.data()), nullptr);
  return pattern;
}

TEST(SecretBox, SealsAndOpensOnlyUnderTheSameKeyAndContext) {
  auto box = SecretBox::FromKey(std::string(32, 'k'));
  ASSERT_TRUE(box);
  auto sealed = box->Seal("service-secret", "conn-1:bind_password");
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->find("service-secret"), std::string::npos);
  EXPECT_EQ(sealed->rfind("v1.", 0), 0u);
  auto opened = box->Unseal(*sealed, "conn-1:bind_password");
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, "service-secret");
  // Two seals of one secret differ (random nonce).
  EXPECT_NE(*box->Seal("service-secret", "c"), *box->Seal("service-secret", "c"));
  // Another connection's context, another key, or one altered character: refused.
  EXPECT_FALSE(box->Unseal(*sealed, "conn-2:bind_password"));
  auto other = SecretBox::FromKey(std::string(32, 'x'));
  EXPECT_FALSE(other->Unseal(*sealed, "conn-1:bind_password"));
  std::string altered = *sealed;
  altered[10] = altered[10] == 'A' ? 'B' : 'A';
  auto bad = box->Unseal(altered, "conn-1:bind_password");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().detail.find("service-secret"), std::string::npos);
  EXPECT_FALSE(box->Unseal("garbage", "conn-1:bind_password"));
}

TEST(SecretBox, CreatesTheKeyFileOwnerOnlyAndRefusesAReadableOne) {
  const std::string dir = TempDirPath();
  auto first = SecretBox::Open(dir);
  ASSERT_TRUE(first) << first.error().detail;
  struct stat st {};
  ASSERT_EQ(stat((dir + "/secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto sealed = first->Seal("pw", "ctx");
  auto second = SecretBox::Open(dir);  // same file, same key
  ASSERT_TRUE(second);
  EXPECT_EQ(*second->Unseal(*sealed, "ctx"), "pw");
  chmod((dir + "/secret.key").c_str(), 0644);
  auto refused = SecretBox::Open(dir);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().detail.find("chmod 600"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace idsync::sync
