// The value a resource sorts by for `sortBy` (RFC 7644 §3.4.2.3), shared by the SCIM mirrors'
// lists and the read API of the effective directory.
#pragma once

#include "base/json.h"
#include "scim/schema/registry.h"

namespace idsync::scim::query {

// For a multi-valued attribute, the primary value, else the first (its "value" sub-attribute
// when no sub-attribute is named). nullptr when the resource has none.
const Json* SortValue(const Json& resource, const schema::ResolvedAttribute& r);

}  // namespace idsync::scim::query
