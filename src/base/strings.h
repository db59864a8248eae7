// Text helpers shared by every module. Case-insensitive comparison is Unicode-aware
// (ICU full case folding), because SCIM says caseExact=false compares "case-insensitively"
// and user names are not ASCII-only.
#pragma once

#include <string>
#include <string_view>

namespace idsync {

// Unicode full case folding of UTF-8 text (ICU u_strFoldCase). Invalid UTF-8 sequences are
// kept byte-for-byte so that folding never loses or merges distinct inputs silently.
std::string FoldCase(std::string_view utf8);

// ASCII-only lower case; for protocol keywords (operators, attribute names, URNs).
std::string AsciiLower(std::string_view text);
bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreAsciiCase(std::string_view text, std::string_view prefix);

// Unicode-aware case-insensitive equality (compares FoldCase of both).
bool EqualsFolded(std::string_view a, std::string_view b);

// The value of one hexadecimal digit (either case), or -1 if `c` is not one; for the %XX and
// \XX escapes of URLs, LDAP DNs and LDAP filters.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `text` between double quotes, as error messages name a value; nothing is escaped.
inline std::string DoubleQuoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

}  // namespace idsync
