#include "base/password_hash.h"

#include <string>

#include <gtest/gtest.h>

namespace idsync {
namespace {

TEST(PasswordHash, HashIsArgon2idWithOwaspParametersAndVerifies) {
  const std::string hash = HashPassword("correct horse");
  EXPECT_EQ(hash.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << hash;
  EXPECT_TRUE(VerifyPassword(hash, "correct horse"));
  EXPECT_FALSE(VerifyPassword(hash, "correct horsE"));
  EXPECT_FALSE(VerifyPassword(hash, ""));
  EXPECT_EQ(hash.find("correct"), std::string::npos);
}

TEST(PasswordHash, SaltMakesEveryHashDifferent) {
  const std::string a = HashPassword("same");
  const std::string b = HashPassword("same");
  EXPECT_NE(a, b);
  EXPECT_TRUE(VerifyPassword(a, "same"));
  EXPECT_TRUE(VerifyPassword(b, "same"));
}

TEST(PasswordHash, PasswordsWithAnyBytesWork) {
  const std::string odd("pa\0ss\xff\xfe", 7);
  const std::string hash = HashPassword(odd);
  EXPECT_TRUE(VerifyPassword(hash, odd));
  EXPECT_FALSE(VerifyPassword(hash, "pa"));  // not cut at the NUL
  EXPECT_TRUE(VerifyPassword(HashPassword(""), ""));
}

TEST(PasswordHash, MalformedEncodingsAreFalseNeverACrash) {
  const std::string good = HashPassword("pw");
  const std::string tail = good.substr(good.find("$", 30));  // "$<salt>$<hash>"
  const std::string cases[] = {
      "",
      "$",
      "plain text",
      "$argon2id$",
      "$argon2i$v=19$m=19456,t=2,p=1" + tail,        // another variant
      "$argon2id$v=16$m=19456,t=2,p=1" + tail,       // another version
      "$argon2id$v=19$m=4294967295,t=2,p=1" + tail,  // would allocate 4 TiB
      "$argon2id$v=19$m=99999999999999,t=2,p=1" + tail,
      "$argon2id$v=19$m=19456,t=100000,p=1" + tail,
      "$argon2id$v=19$m=19456,t=2,p=255" + tail,
      "$argon2id$v=19$m=19456,t=0,p=1" + tail,
      "$argon2id$v=19$m=,t=2,p=1" + tail,
      "$argon2id$v=19$t=2,m=19456,p=1" + tail,
      "$argon2id$v=19$m=19456,t=2,p=1$$",
      "$argon2id$v=19$m=19456,t=2,p=1$!!!!$????",
      "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$",
      good.substr(0, good.size() - 5),
      good + "AAAA",
      std::string(good).insert(20, 1, '\0'),
  };
  for (const auto& encoded : cases) {
    EXPECT_FALSE(VerifyPassword(encoded, "pw")) << encoded;
  }
  EXPECT_TRUE(VerifyPassword(good, "pw"));
}

}  // namespace
}  // namespace idsync
