// The attribute description and matching rule names this library accepts in filters.
#pragma once

#include <string_view>

namespace idsync::ldap {

// RFC 4512 §2.5 attributedescription (descr or numericoid, then ";option"s), read leniently: one
// or more of ALPHA DIGIT '-' '.' ';' '_' (some directories put '_' in names). Everything the RFC
// allows passes, and nothing that passes can change the meaning of RFC 4515 filter text.
// Thread-safe.
bool IsValidAttributeDescription(std::string_view text);

// A matching rule id in an extensible filter: same characters as an attribute description, but
// not "dn" in any case, which RFC 4515 text could not tell from the ":dn" flag.
bool IsValidMatchingRule(std::string_view text);

}  // namespace idsync::ldap
