// Evaluates an RFC 4511 search filter on an entry, with three-valued logic (§4.5.1.7): an item
// on an unknown attribute type, an assertion that is not valid for the attribute's syntax, an
// ordering or substring item on a type without that rule, or an extensible match with a rule
// the server does not know is Undefined; NOT Undefined is Undefined, AND/OR as the RFC says;
// only TRUE returns the entry.
//
// Extensible match: the rules of schema.h by name or OID (caseIgnoreMatch, caseExactMatch,
// distinguishedNameMatch, integerMatch, ...) and Active Directory's bitwise rules
// 1.2.840.113556.1.4.803 (AND) and .804 (OR) on integer attributes, because Jira's documented
// filter for enabled AD accounts is (!(userAccountControl:1.2.840.113556.1.4.803:=2)).
// Approximate match is equality.
#pragma once

#include "ldap/protocol/filter.h"
#include "ldap/server/entry.h"
#include "ldap/server/schema.h"

namespace idsync::ldap {

enum class Truth { kFalse, kTrue, kUndefined };

Truth Evaluate(const Filter& filter, const Entry& entry, const Schema& schema);

inline bool Matches(const Filter& filter, const Entry& entry, const Schema& schema) {
  return Evaluate(filter, entry, schema) == Truth::kTrue;
}

// Whether `value` of an attribute of `type` equals `assertion` under the type's equality rule
// (compare operations). nullopt: the assertion is not valid for the type (Undefined).
std::optional<bool> ValueEquals(const AttributeType& type, const EntryAttribute* attribute,
                                std::string_view assertion);

}  // namespace idsync::ldap
