// PATCH (RFC 7644 §3.5.2) applied to one resource. Pure except for the MemberStore callback.
#pragma once

#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "scim/schema/registry.h"
#include "scim/types.h"

namespace idsync::scim::patch {

// Group members live outside the group's JSON in the store, so that a one-member change to a
// 100,000-member group costs O(log n) (see docs/ARCHITECTURE.md). When the caller passes a
// MemberStore, every operation whose path is "members" (or "members[...]", "members[...].sub")
// goes through it and the resource JSON never holds "members". Without one (unit tests, small
// in-memory use) members are patched inside the JSON like any attribute.
class MemberStore {
 public:
  virtual ~MemberStore() = default;
  // Adds one member ({"value": id, "display"?, "type"?, "$ref"?}); adding an existing value is a
  // no-op (RFC 7644 §3.5.2.1: no duplicates). kInvalidValue if value missing or not a known
  // resource of this connection (the store decides).
  virtual Status Add(const Json& member) = 0;
  // Removes by value; returns whether it was present.
  virtual Result<bool> Remove(const std::string& value) = 0;
  virtual Status Clear() = 0;
  // All members, for filters other than `value eq "..."` and for sub-attribute paths.
  virtual Result<std::vector<Json>> All() = 0;
};

struct PatchOptions {
  MemberStore* members = nullptr;  // see above; only for ResourceType::kGroup
  // Bound on work per request: a body with more Operations is rejected with kPayloadTooLarge
  // before any operation is applied.
  size_t max_operations = 1000;
};

// `resource` is the stored form (canonical names). `request` is the PatchOp body.
// On success returns the new resource (the caller compares it with the old one to decide
// whether anything changed); on any failure nothing is changed (atomic: the engine works on a
// copy, and MemberStore calls are made inside the caller's store transaction, which the caller
// rolls back on error).
//
// Errors exactly where RFC 7644 §3.5.2 puts them:
//  - body not a PatchOp (schemas missing PatchOp URN, Operations not a non-empty array, op not
//    add/replace/remove in any letter case) -> kInvalidSyntax;
//  - path that does not parse or names an unknown attribute -> kInvalidPath;
//  - remove without path -> kNoTarget (§3.5.2.2); a value filter that matches nothing on
//    replace/remove with a sub-attribute target -> kNoTarget;
//  - value of the wrong type, add/replace without value -> kInvalidValue;
//  - readOnly or immutable (with an existing different value) target -> kMutability.
// Leniencies: op names in any case (Entra E-1); "True"/"False" strings for booleans (E-2);
// path-less values with dotted and URN-qualified keys (E-4); remove on "members" with a value
// list removes only those members (E-5, JumpCloud); filtered path on an absent multi-valued
// attribute creates the element for add/replace (E-9); manager as string/object/array (E-10);
// "id" in a path-less replace value equal to the resource id is ignored (Okta O-9).
// `resource` is taken by value: a caller that has built a copy to patch moves it in.
Result<Json> ApplyPatch(Json resource, const Json& request, ResourceType type,
                        const schema::Registry& registry, const PatchOptions& options = {});

}  // namespace idsync::scim::patch
