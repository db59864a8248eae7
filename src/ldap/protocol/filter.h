// LDAP search filters (RFC 4511 §4.5.1) as a tree, and their RFC 4515 text form. The BER form is
// decoded with the rest of a SearchRequest (message.h); the text form is for tests, logs and
// admin tools.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace idsync::ldap {

// One filter node. Which members mean something depends on `kind`; the others stay empty.
struct Filter {
  enum class Kind {
    kAnd,
    kOr,
    kNot,
    kEquality,
    kSubstrings,
    kGreaterOrEqual,
    kLessOrEqual,
    kPresent,
    kApprox,
    kExtensible
  };
  Kind kind = Kind::kPresent;
  // and/or: any number, including 0 (RFC 4526 absolute true "(&)" / false "(|)"); not: exactly 1.
  std::vector<Filter> children;
  // Attribute description as sent (may carry options, e.g. "cn;lang-en"); may be empty only for
  // extensible.
  std::string attribute;
  // Assertion value, raw bytes (equality, >=, <=, approx, extensible).
  std::string value;
  // Substrings: at most one initial, any number of any, at most one final; at least one in all.
  std::optional<std::string> initial;
  std::vector<std::string> any;
  std::optional<std::string> final_value;
  std::string matching_rule;   // extensible; may be empty (then `attribute` is not)
  bool dn_attributes = false;  // extensible
};

// RFC 4515 text of `filter`, every node parenthesised. Values are escaped: '*' '(' ')' '\' NUL
// as \2a \28 \29 \5c \00, and every byte outside printable ASCII as \XX, so the text is ASCII
// and ParseFilter gives back the same tree. Never fails; thread-safe.
std::string FilterToString(const Filter& filter);

// Parses RFC 4515 text: the full grammar, including "(&)"/"(|)", extensible
// "(cn:dn:caseExactMatch:=x)" / "(:dn:2.5.13.5:=x)" and \XX escapes (any byte value). The whole
// text must be one filter; surrounding spaces are not accepted, but a single item may come
// without its parentheses ("uid=alice"), as ldapsearch accepts. Attribute descriptions and rule
// ids must pass IsValidAttributeDescription / IsValidMatchingRule. Empty substring parts are
// dropped ("(cn=a**b)" is "(cn=a*b)"). kInvalidFilter, with the offset, on any syntax error or
// when and/or/not nest deeper than `max_depth` ("(&(&(cn=x)))" has depth 2). Thread-safe.
Result<Filter> ParseFilter(std::string_view text, size_t max_depth = 32);

}  // namespace idsync::ldap
