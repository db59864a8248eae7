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

}  // namespace idsync
