// The parts of the PATCH engine (apply.cpp) that work on one value, shared by its source files;
// not part of the engine's interface (apply.h).
// - coerce.cpp: errors, case-insensitive keys, and value coercion: a PATCH value checked against
//   the attribute it is written to and brought into the stored form.
// - multivalued.cpp: the rules of multi-valued attributes (duplicates, primary, immutable
//   sub-attributes) and the value filters of PATCH paths ("emails[type eq \"work\"]").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "base/result.h"
#include "scim/filter/ast.h"
#include "scim/schema/attribute.h"

namespace idsync::scim::patch::detail {

Error Fail(ErrorCode code, std::string detail);

// `name` among the keys of `object`, ignoring ASCII case (RFC 7643 §2.1); nullptr if absent.
const Json* FindKey(const Json& object, std::string_view name);

// null, [] or {}: the same state as absent (RFC 7643 §2.5).
bool IsEmptyValue(const Json& v);

// One value of `attr` (one element if `attr` is multi-valued), in stored form; null for
// "unassigned". `where` prefixes error details.
Result<Json> CoerceOne(const schema::Attribute& attr, const Json& v, const std::string& where);
// The elements of a multi-valued `attr` (a single value is taken as one element).
Result<Json> CoerceMulti(const schema::Attribute& attr, const Json& v, const std::string& where);
// A whole value of `attr`: CoerceMulti for multi-valued attributes, CoerceOne otherwise.
Result<Json> CoerceValue(const schema::Attribute& attr, const Json& v, const std::string& where);

// Whether two elements of `attr` are the same value (RFC 7644 §3.5.2.1).
bool SameElement(const schema::Attribute& attr, const Json& a, const Json& b);
// RFC 7644 §3.5.2: "primary": true on one element (the last of `touched`) clears the others.
void ApplyPrimaryRule(Json& array, const std::vector<size_t>& touched);
// Appends each of `values` unless already present, merging into the existing element.
void AppendUnique(const schema::Attribute& attr, Json& array, const Json& values);
// Sets `sub` of one element; an immutable sub-attribute may be set but not changed.
Status SetSub(Json& element, const schema::Attribute& sub, const Json& value,
              const std::string& where);
// Whether writing `value` over `element` would change an immutable sub-attribute.
Status CheckImmutableSubs(const schema::Attribute& attr, const Json& element, const Json& value,
                          bool whole, const std::string& where);

// The sub-attribute a comparison inside "attr[...]" names (relative or qualified).
const schema::Attribute* FilterSub(const filter::AttrPath& path, const schema::Attribute& attr);
// Refuses a value filter naming anything but sub-attributes of `attr`, or nested filters.
Status CheckFilter(const filter::Node& node, const schema::Attribute& attr,
                   const std::string& where);
// The `sub eq value` comparisons of a conjunction, as an element; false for any other filter.
bool CollectEqualities(const filter::Node& node, const schema::Attribute& attr, Json& element);

}  // namespace idsync::scim::patch::detail
