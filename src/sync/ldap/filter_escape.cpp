#include "sync/ldap/filter_escape.h"

namespace idsync::sync::ldap {

std::string EscapeFilterValue(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    const bool special = c == '*' || c == '(' || c == ')' || c == '\\';
    if (special || byte < 0x20 || byte >= 0x7f) {
      out += '\\';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace idsync::sync::ldap
