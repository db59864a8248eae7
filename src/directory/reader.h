// Read-only SCIM queries over one directory's effective users and groups: what the read API for
// applications (/directory/v2/{directory}, http/directory) serves.
//
// Representations (render.h, plus what only a read adds):
//   User  = RenderUserCore + "groups": [{"value", "display", "$ref", "type": "direct"}] + meta
//   Group = RenderGroupCore + "members": [{"value", "$ref", "type": "User"}] + meta
// Members carry no "display": it would cost one user read per member, on groups of 100,000.
//
// Filters, sortBy and attributes/excludedAttributes resolve against a registry per directory:
// the core User and Group schemas, the user extension kUserExtensionUrn holding the directory's
// custom attributes (so `urn:idsync:...:User:costCenter eq "42"`, or just `costCenter eq "42"`,
// works), and the group extension kGroupExtensionUrn ("entitlements"). It is rebuilt when the
// directory's version changes (custom attributes edited) and cached otherwise.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "scim/schema/registry.h"
#include "service/scim_service.h"
#include "store/store.h"

namespace idsync::directory {

// attributes / excludedAttributes as the query string gives them (comma-separated, may be "").
struct ReadProjection {
  std::string attributes;
  std::string excluded_attributes;
};

struct ReadResult {
  Json resource;
  std::string etag;  // W/"<version>"
};

// Thread-safe: every call runs in its own read transaction; the registry cache is locked.
class DirectoryReader {
 public:
  // Uses limits.max_results (page size), max_filter_length/depth and max_scan_resources.
  DirectoryReader(store::Store& store, service::ScimLimits limits = {});

  const service::ScimLimits& limits() const { return limits_; }

  // The registry the directory's queries resolve against. kNotFound for an unknown directory.
  // The returned registry stays valid for as long as the caller holds it.
  Result<std::shared_ptr<const scim::schema::Registry>> RegistryFor(const std::string& directory);

  // `base_url` is the directory's read-API root, e.g. "https://host/directory/v2/users"; it
  // builds meta.location and $ref. kNotFound for an unknown directory or id; kInvalidValue for
  // an unknown name in the projection.
  Result<ReadResult> GetUser(const std::string& directory, const std::string& id,
                             const std::string& base_url, const ReadProjection& projection = {});
  Result<ReadResult> GetGroup(const std::string& directory, const std::string& id,
                              const std::string& base_url, const ReadProjection& projection = {});

  // RFC 7644 §3.4.2: filter, sortBy/sortOrder, startIndex/count (count absent or above
  // max_results: max_results). kInvalidFilter for a bad filter, kInvalidValue for a bad sortBy
  // or projection, kTooMany if a filter no index serves would scan more than
  // max_scan_resources. request.include_members/include_groups/as_text are ignored (the
  // projection decides). The result's resources are projected.
  Result<service::ListResult> ListUsers(const std::string& directory,
                                        const service::ListRequest& request,
                                        const std::string& base_url,
                                        const ReadProjection& projection = {});
  Result<service::ListResult> ListGroups(const std::string& directory,
                                         const service::ListRequest& request,
                                         const std::string& base_url,
                                         const ReadProjection& projection = {});

  // The extension schemas of a directory, RFC 7643 §7 form: user (custom attributes) and group
  // (entitlements). Exposed for /Schemas and for tests.
  static Json UserExtensionSchema(const Json& custom_attributes);
  static Json GroupExtensionSchema();

 private:
  struct Cached {
    int64_t version = -1;
    std::shared_ptr<const scim::schema::Registry> registry;
  };
  Result<std::shared_ptr<const scim::schema::Registry>> RegistryOf(
      const store::DirectoryRecord& record);
  Result<service::ListResult> List(scim::ResourceType type, const std::string& directory,
                                   const service::ListRequest& request, const std::string& base_url,
                                   const ReadProjection& projection);

  store::Store& store_;
  service::ScimLimits limits_;
  std::mutex mutex_;
  std::map<std::string, Cached> registries_;  // by directory name; directories are few
};

}  // namespace idsync::directory
