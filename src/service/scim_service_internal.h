// Private to ScimService (scim_service*.cpp): what its writes, reads and bulk share. Rendering
// of stored resources, ETags and preconditions, the index entries of a body, member checks and
// the success audit record. Not for use outside src/service.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"
#include "scim/query/etag.h"
#include "service/scim_service.h"
#include "store/store.h"

namespace idsync::service {

using scim::ResourceType;

std::string Endpoint(ResourceType type);

using scim::query::VersionETag;  // W/"<version>", the one ETag format (scim/query/etag)

Status CheckIfMatch(const std::optional<std::string>& if_match, int64_t version);

std::optional<std::string> StringAt(const Json& obj, const char* key);

// Index entries and the unique key of a stored body. userName is unique per connection,
// compared with Unicode case folding (RFC 7643 §4.1.1: caseExact false, uniqueness server).
void IndexOf(ResourceType type, const Json& body, std::optional<std::string>& unique_key,
             std::vector<store::IndexEntry>& index);

// The stored body: the normalised resource without server-owned and separately kept parts.
// `password` (writeOnly, returned never; Okta sends one) is dropped: idsync is not an
// authentication source and keeps no credentials of provisioned users.
Json BodyOf(Json resource);

// "User", "Group", or empty when `value` names neither in this connection; a store failure
// other than not-found is an error. Existence is all that is needed (GetResourceText).
Result<std::string> MemberTypeOf(store::Transaction& tx, int64_t conn, const std::string& value);

// Adds one member given as SCIM JSON; checks that it names a resource of this connection.
Result<bool> AddMemberJson(store::Transaction& tx, int64_t conn, const std::string& group_id,
                           const Json& member);

// Member values of a group (for re-deriving its members after a rename or delete).
Status MemberValues(store::Transaction& tx, int64_t conn, const std::string& group_id,
                    std::set<std::string>& out);

// Adds User.groups (readOnly, RFC 7643 §4.1.2): the groups of this connection that have the
// user as a direct member. Absent when there are none.
Status AddGroupsOf(store::Transaction& tx, const CallContext& ctx, const std::string& user_id,
                   Json& out);

// A group's displayName is unique per connection, compared with case folding as the index
// stores it. RFC 7643 §4.2 leaves it to the service provider; Entra ID requires it (it finds a
// group by `displayName eq` and expects one), authentik takes over an existing group only after
// a 409, and two same-named groups of one connection become one group in the effective
// directory, where the stale copy's members keep a membership the identity provider removed.
// Checked only when the folded name is new for this group (create, or a rename), so a database
// that already holds duplicates (written before this rule) keeps accepting member changes to
// them. Runs inside the write job, so with the single writer the check and the write are one
// step: two concurrent creates of a name cannot both pass.
Status CheckGroupNameFree(store::Transaction& tx, int64_t conn, const store::StoredResource& r,
                          const Json* before);

// Stores `r` with the index entries and unique key of its body; a taken userName or group
// displayName becomes an error that names it. `before` is the stored body `r` replaces (null
// on create). `r` by value: a caller that moves it in (a resource built inside the job) spares a
// copy of its body on the writer; a job must not move from what it captured, since the PostgreSQL
// store reruns a job after a serialization conflict.
Result<store::StoredResource> PutIndexed(store::Transaction& tx, int64_t conn,
                                         store::StoredResource r, const Json* before = nullptr);

// The resource as SCIM returns it without members or groups: its body, id and meta. Needs no
// transaction; `r` by value, so that a caller done with it moves it in.
Json RenderCore(const CallContext& ctx, ResourceType type, store::StoredResource r);
// Full SCIM representation of a stored resource.
Result<Json> Render(store::Transaction& tx, const CallContext& ctx, ResourceType type,
                    const store::StoredResource& r, bool include_members, bool include_groups);

// A user's answer to a write, rendered after the commit on the request's thread rather than on
// the writer every write waits for: the job only reads the user's groups (Hold), and the answer
// is the user as stored with them (Take). A rerun job (PostgreSQL, after a serialization
// conflict) holds again over what the previous run held.
class DeferredUserAnswer {
 public:
  // In the write's job: keeps `stored` and reads its groups through `tx`.
  Status Hold(store::Transaction& tx, const CallContext& ctx, store::StoredResource stored);
  bool held() const { return user_.has_value(); }
  // After the commit: the answer Render would have given inside the job.
  Json Take(const CallContext& ctx);

 private:
  std::optional<store::StoredResource> user_;
  Json groups_;
};

store::AuditRecord SuccessRecord(const CallContext& ctx, const Clock& clock,
                                 const std::string& operation, ResourceType type,
                                 const std::string& id, int status);

Error NotFound(ResourceType type, const std::string& id);

}  // namespace idsync::service
