#include "ldap/protocol/attribute_description.h"

#include "base/strings.h"

namespace idsync::ldap {

bool IsValidAttributeDescription(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == ';' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool IsValidMatchingRule(std::string_view text) {
  return IsValidAttributeDescription(text) && !EqualsIgnoreAsciiCase(text, "dn");
}

}  // namespace idsync::ldap
