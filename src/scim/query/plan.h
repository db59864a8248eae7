// Query planning shared by the SCIM mirror (service/scim_service) and the read API
// (directory/reader): which index a filter can use, and the page size a list answers with.
// Both stores keep their own indexes (the mirror: id, externalId, userName / displayName,
// emails.value; the effective directory: id and the name), so the caller says which exist.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "scim/filter/ast.h"
#include "scim/types.h"

namespace idsync::scim::query {

// True if `path` names the core attribute `attr` (case-insensitive; no URN or the core schema's
// URN). The sub-attribute is not looked at: callers that need none check `path.sub` themselves.
bool NamesAttr(const filter::AttrPath& path, std::string_view core_urn, std::string_view attr);

// Does the filter mention `attr` anywhere (e.g. "members", "groups")? Those are loaded only then.
bool Mentions(const filter::Node& node, std::string_view attr);

// The indexes a store has, as a bit set.
enum IndexKind : unsigned {
  kIndexId = 1,
  kIndexName = 2,        // userName (users), displayName (groups); stored folded
  kIndexExternalId = 4,  // stored folded
  kIndexEmails = 8,      // emails.value of users; stored folded
};
inline constexpr unsigned kMirrorIndexes = kIndexId | kIndexName | kIndexExternalId | kIndexEmails;
inline constexpr unsigned kEffectiveIndexes = kIndexId | kIndexName;

// An index the filter can use: a conjunct `attr eq "value"` on an indexed attribute, found in
// the top-level chain of `and`s (the first one, left to right, that `indexes` has). The full
// filter is still evaluated on every candidate, so the index only has to return a superset:
// the value is folded for the folded indexes (caseExact attributes are re-checked).
struct IndexPlan {
  std::string attr;  // "id", "externalId", "userName", "displayName", "emails.value"
  std::string value;
};
std::optional<IndexPlan> PlanIndex(const filter::Node& node, ResourceType type,
                                   unsigned indexes = kMirrorIndexes);

// The number of resources a list page holds: `count` clamped to [0, max_results], or
// max_results when the client gave none (RFC 7644 §3.4.2.4: count is a maximum, and a negative
// one is taken as 0).
int64_t PageSize(const std::optional<int64_t>& count, int64_t max_results);

}  // namespace idsync::scim::query
