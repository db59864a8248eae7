// The value a resource sorts by for `sortBy` (RFC 7644 §3.4.2.3), shared by the SCIM mirrors'
// lists and the read API of the effective directory.
#pragma once

#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "base/json.h"
#include "scim/schema/registry.h"

namespace idsync::scim::query {

// For a multi-valued attribute, the primary value, else the first (its "value" sub-attribute
// when no sub-attribute is named). nullptr when the resource has none.
const Json* SortValue(const Json& resource, const schema::ResolvedAttribute& r);

// The listing order of `n` resources (`resource(i)` the i-th) for sortBy `by`: indices, by the
// attribute's SortValue (strings compared case-folded unless the attribute is caseExact),
// descending if asked. Resources without a value come last (RFC 7644 §3.4.2.3); ties keep their
// order, so paging through a list sorted on a shared value is stable.
std::vector<size_t> SortOrder(size_t n, const std::function<const Json&(size_t)>& resource,
                              const schema::ResolvedAttribute& by, bool descending);

// Puts `items` (each with a `json` member holding the resource) in SortOrder.
template <typename T>
void SortResources(std::vector<T>& items, const schema::ResolvedAttribute& by, bool descending) {
  auto order = SortOrder(
      items.size(), [&](size_t i) -> const Json& { return items[i].json; }, by, descending);
  std::vector<T> sorted;
  sorted.reserve(items.size());
  for (size_t i : order) sorted.push_back(std::move(items[i]));
  items = std::move(sorted);
}

}  // namespace idsync::scim::query
