// Matching rules: how an attribute's values and a filter's assertion values compare. Every
// value is brought to a normal form per matching kind (schema.h Matching) so that equality is
// byte equality and ordering is byte order of the normal forms:
//   case-ignoring strings: Unicode case folding, leading/trailing spaces dropped, runs of spaces
//     collapsed (RFC 4518 insignificant space handling, as slapd does);
//   DNs: ldap::NormalizeDn; UUIDs: lower-case; times: UTC milliseconds, fixed width;
//   integers: offset to unsigned, fixed width; booleans: TRUE / FALSE.
// A value that is not valid for its syntax has no normal form: as an assertion it makes the
// filter item Undefined (RFC 4511 §4.5.1.7), as a stored value it never matches.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"
#include "ldap/server/schema.h"

namespace idsync::ldap {

std::optional<std::string> NormalizeValue(Matching matching, std::string_view value);

// Substring assertion pieces normalised like values of a case-ignoring (or exact IA5) kind.
// `value` is already normalised (NormalizeValue). Kinds without substrings: false.
bool SubstringsMatch(Matching matching, std::string_view normalized_value,
                     const std::optional<std::string>& initial, const std::vector<std::string>& any,
                     const std::optional<std::string>& final_value);

// Generalized Time (RFC 4517 §3.3.13): "YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|(+|-)HH[MM])".
// nullopt also for a time TimePoint cannot hold (before 1678 or after 2261).
std::optional<TimePoint> ParseGeneralizedTime(std::string_view text);
// The same as UTC milliseconds since 1970, for any year 0000-9999 (what matching compares).
std::optional<int64_t> ParseGeneralizedTimeMillis(std::string_view text);
// "YYYYMMDDHHMMSSZ", as slapd writes createTimestamp / modifyTimestamp.
std::string FormatGeneralizedTime(TimePoint time);
// "YYYYMMDDHHMMSS.0Z", as Active Directory writes whenCreated / whenChanged.
std::string FormatAdTime(TimePoint time);

// An integer value (RFC 4517 §3.3.16), the whole text; nullopt if it is not one.
std::optional<int64_t> ParseInteger(std::string_view text);

}  // namespace idsync::ldap
