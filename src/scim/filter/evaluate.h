// In-memory evaluation of a filter against one resource's JSON (as stored: canonical attribute
// names, extension attributes under their schema URN). Thread-safe.
#pragma once

#include "base/json.h"
#include "base/result.h"
#include "scim/filter/ast.h"
#include "scim/schema/registry.h"
#include "scim/types.h"

namespace idsync::scim::filter {

// Checks that every attribute `node` names exists for `type`, and that operators suit the
// attribute types (e.g. gt on a boolean or complex attribute is rejected).
// kInvalidFilter naming the attribute otherwise. Also rejected: attributes that are never
// returned (password), a comparison on a complex attribute without a "value" sub-attribute,
// co/sw/ew on numbers and booleans, and compValues of the wrong type (a number for a dateTime).
// Call once before evaluating many resources: it stores the resolved attributes and the
// pre-folded comparison values in the nodes (Node::compiled), so it writes to `node` through
// mutable fields and must not run while other threads evaluate the same tree. Matches and
// MatchesElement only read, and are thread-safe.
Status Validate(const Node& node, ResourceType type, const schema::Registry& registry);

// RFC 7644 §3.4.2.2 semantics: comparison per attribute type (string caseExact or Unicode
// case-insensitive, dateTime chronological, numbers numeric, boolean, binary and reference as
// case-exact strings); a multi-valued attribute matches if any value matches; "pr" is false for
// null, "" , [] and {}; a filter on a complex multi-valued attribute without sub-attribute
// compares its "value" sub-attribute. `node` should have passed Validate; a node that did not
// is resolved on each call, and anything unresolvable does not match.
// `ne`: RFC 7644 §3.4.2.2 says "not identical", and RFC 7643 §2.5 makes an unassigned attribute
// equivalent to null, which is not identical to any value: so `ne` is true for an absent, null
// or empty attribute, and on a multi-valued attribute true if any value differs (the
// any-value rule). `eq null` is true exactly when `pr` is false, `ne null` when `pr` is true.
bool Matches(const Node& node, const Json& resource, ResourceType type,
             const schema::Registry& registry);

// Evaluates a value-path inner filter against one element of a multi-valued complex attribute
// (`element` is the element object, `attr` the multi-valued attribute). Used by PATCH.
bool MatchesElement(const Node& inner, const Json& element, const schema::Attribute& attr);

}  // namespace idsync::scim::filter
