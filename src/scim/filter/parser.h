// Filter and PATCH-path parsing. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "scim/filter/ast.h"

namespace idsync::scim::filter {

struct ParseLimits {
  size_t max_length = 4096;  // characters of filter text
  size_t max_depth = 32;     // nesting of parentheses, not, and/or chains, value paths
};

// Parses the full grammar of RFC 7644 §3.4.2.2, operators and keywords case-insensitive.
// `and` binds tighter than `or`; `not` applies to a parenthesised filter.
// Leniency (Entra ID, IDP-QUIRKS E-7): a compValue that is a bare word (not true/false/null/
// a number) is read as a string, e.g. `externalId eq jyoung`.
// Errors: kInvalidFilter with a detail that names the position and what was expected;
// limits exceeded -> kInvalidFilter saying which limit.
Result<NodePtr> Parse(std::string_view text, const ParseLimits& limits = {});

// Parses a PATCH "path" (RFC 7644 §3.5.2 PATH grammar). Errors: kInvalidPath.
Result<PatchPath> ParsePatchPath(std::string_view text, const ParseLimits& limits = {});

// Canonical text of a filter; Parse(Print(n)) yields a tree that prints the same.
std::string Print(const Node& node);
std::string Print(const PatchPath& path);
std::string Print(const AttrPath& path);

}  // namespace idsync::scim::filter
