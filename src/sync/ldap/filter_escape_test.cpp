#include "sync/ldap/filter_escape.h"

#include <string>

#include <gtest/gtest.h>

namespace idsync::sync::ldap {
namespace {

TEST(EscapeFilterValue, EscapesRfc4515Metacharacters) {
  struct Case {
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"alice", "alice"},
      {"*", "\\2a"},
      {"a*b", "a\\2ab"},
      {"(", "\\28"},
      {")", "\\29"},
      {"\\", "\\5c"},
      {std::string("a\0b", 3), "a\\00b"},
      {"x)(uid=*", "x\\29\\28uid=\\2a"},
      {"*)(|(objectClass=*", "\\2a\\29\\28|\\28objectClass=\\2a"},
      {"\\2a", "\\5c2a"},  // an already-escaped-looking value stays literal
      {"", ""},
      {"first.last@example.com", "first.last@example.com"},
      {"tab\there", "tab\\09here"},
      {"\x7f", "\\7f"},
      {"J\xc3\xbcrgen", "J\\c3\\bcrgen"},  // UTF-8 bytes, escaped octet by octet
      {"\xff", "\\ff"},                    // invalid UTF-8 never reaches the server raw
  };
  for (const auto& c : cases) {
    EXPECT_EQ(EscapeFilterValue(c.in), c.out) << c.in;
  }
}

TEST(EscapeFilterValue, OutputNeverContainsUnescapedMetacharacters) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::string escaped = EscapeFilterValue(all);
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    EXPECT_NE(c, '*');
    EXPECT_NE(c, '(');
    EXPECT_NE(c, ')');
    EXPECT_NE(c, '\0');
    if (c == '\\') {
      // Every backslash starts a two-hex-digit escape.
      ASSERT_LT(i + 2, escaped.size() + 1);
      EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(escaped[i + 1])));
      EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(escaped[i + 2])));
      i += 2;
    }
  }
}

}  // namespace
}  // namespace idsync::sync::ldap
