#include "base/strings.h"

#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <algorithm>

namespace idsync {

std::string FoldCase(std::string_view utf8) {
  // Fast path: pure ASCII folds to ASCII lower case.
  bool ascii = std::all_of(utf8.begin(), utf8.end(),
                           [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) return AsciiLower(utf8);

  std::string out;
  out.reserve(utf8.size());
  const auto* s = reinterpret_cast<const uint8_t*>(utf8.data());
  int32_t length = static_cast<int32_t>(utf8.size());
  int32_t i = 0;
  while (i < length) {
    int32_t start = i;
    UChar32 c;
    U8_NEXT(s, i, length, c);
    if (c < 0) {  // invalid sequence: keep its bytes as they are
      out.append(utf8.substr(start, i - start));
      continue;
    }
    // Full folding (e.g. "ß" -> "ss") via the string API, one code point at a time.
    UChar in[2];
    int32_t in_len = 0;
    U16_APPEND_UNSAFE(in, in_len, c);
    UChar folded[8];
    UErrorCode status = U_ZERO_ERROR;
    int32_t n = u_strFoldCase(folded, 8, in, in_len, U_FOLD_CASE_DEFAULT, &status);
    if (U_FAILURE(status)) {
      out.append(utf8.substr(start, i - start));
      continue;
    }
    for (int32_t k = 0; k < n;) {
      UChar32 f;
      U16_NEXT(folded, k, n, f);
      char buf[4];
      int32_t blen = 0;
      U8_APPEND_UNSAFE(reinterpret_cast<uint8_t*>(buf), blen, f);
      out.append(buf, blen);
    }
  }
  return out;
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool StartsWithIgnoreAsciiCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && EqualsIgnoreAsciiCase(text.substr(0, prefix.size()), prefix);
}

bool EqualsFolded(std::string_view a, std::string_view b) {
  if (a == b) return true;
  return FoldCase(a) == FoldCase(b);
}

}  // namespace idsync
