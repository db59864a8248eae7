// Filter and PATCH-path parsing. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "scim/filter/ast.h"

namespace idsync::scim::filter {

struct ParseLimits {
  size_t max_length = 4096;  // characters of filter text
  // Nesting of groups: each '(', each 'not (' and each value path '[...]' is one level. and/or
  // chains do not count per term: they are built as balanced trees, so a chain of n terms adds
  // about log2(n) levels to the AST (a 400-term `id eq ... or id eq ...` lookup is fine).
  size_t max_depth = 32;
};

// Parses the full grammar of RFC 7644 §3.4.2.2, operators and keywords case-insensitive.
// `and` binds tighter than `or`; `not` applies to a parenthesised filter.
// Leniency (Entra ID, IDP-QUIRKS E-7): a compValue that is a bare word (not true/false/null/
// a number) is read as a string, e.g. `externalId eq jyoung`.
// Also `attr[f].sub op v` (Entra ID, E-7) is read as the value path attr[f and sub op v].
// Strings are JSON strings (RFC 8259 escapes, valid UTF-8, no raw control characters); numbers
// are int64 or finite doubles. Never throws; recursion is bounded by limits.max_depth.
// Errors: kInvalidFilter with a detail that names the 1-based byte position and what was
// expected; limits exceeded -> kInvalidFilter naming max_length or max_depth.
Result<NodePtr> Parse(std::string_view text, const ParseLimits& limits = {});

// Parses a PATCH "path" (RFC 7644 §3.5.2 PATH = attrPath / valuePath [subAttr]); the bracket
// filter uses the filter grammar above. Errors: kInvalidPath, detail as for Parse.
// Note: a bare schema URN ("urn:...:enterprise:2.0:User") splits at its last ':' like any
// URN-prefixed path (urn "urn:...:2.0", attr "User"); callers that accept it must check.
Result<PatchPath> ParsePatchPath(std::string_view text, const ParseLimits& limits = {});

// Canonical text of a filter; Parse(Print(n)) yields a tree that prints the same. Keywords lower
// case, strings re-escaped as JSON, and/or chains printed flat, parentheses only for an `or`
// under an `and`.
std::string Print(const Node& node);
std::string Print(const PatchPath& path);
std::string Print(const AttrPath& path);

}  // namespace idsync::scim::filter
