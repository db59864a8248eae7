// Distinguished names (RFC 4514 string form): parsing, escaping, formatting, and the
// normalised key the server compares DNs by.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace idsync::ldap {

// One attribute value assertion of an RDN: `type` as written (a descriptor or a dotted OID),
// `value` unescaped (raw bytes).
struct Ava {
  std::string type;
  std::string value;
};
// One RDN; several AVAs for a multi-valued RDN ("cn=a+uid=b").
using Rdn = std::vector<Ava>;
// Leftmost (most specific) RDN first. No RDN is the root DSE ("").
struct Dn {
  std::vector<Rdn> rdns;
};

// Parses an RFC 4514 string. Values may use \XX hex pairs, \<special> and the #hexstring form
// (kept as the decoded bytes, e.g. "#04024869" -> "\x04\x02Hi"). Spaces around ',' '=' '+' are
// tolerated as slapd does; an unescaped trailing space of a value is dropped. "" is the root
// DSE. kInvalidValue, saying where, on anything else (missing '=', empty type, a dangling or
// invalid escape, an odd hex string, an empty RDN). Thread-safe.
Result<Dn> ParseDn(std::string_view text);

// Escapes one attribute value for the string form: , + " \ < > ; = are written \<char>, a
// leading '#' or space and a trailing space are escaped, NUL is \00. Other bytes (UTF-8
// included) are kept. ParseDn of the result gives `value` back. Never fails; thread-safe.
std::string EscapeDnValue(std::string_view value);

// "type=EscapeDnValue(value)" per AVA, joined with "+" inside an RDN and "," between RDNs, no
// spaces. Types are written as given. Never fails; thread-safe.
std::string FormatDn(const Dn& dn);

// Canonical key for comparing DNs: types ASCII lower-cased, values with leading, trailing and
// repeated spaces squeezed and Unicode case-folded (base FoldCase) then escaped (the
// caseIgnoreMatch of the naming attributes), AVAs of a multi-valued RDN sorted, no spaces. Two DNs name the
// same entry iff their NormalizeDn are equal. Thread-safe.
std::string NormalizeDn(const Dn& dn);

// True if `dn` is `suffix` or lies below it, comparing normalised RDNs from the right. The
// root DSE (no RDN) is a suffix of every DN. Thread-safe.
bool IsSuffixOf(const Dn& suffix, const Dn& dn);

}  // namespace idsync::ldap
