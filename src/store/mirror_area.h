// The mirror: each connection's source resources as its identity provider sent them, and the
// (attribute, folded value) index the service looks them up by.
//
// One area of the store (issue #15): Transaction (store.h) is the composition of all of them.
// Only store back-ends speak SQL; everything else sees this.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"
#include "scim/types.h"
#include "store/encoded_body.h"

namespace idsync::store {

// One source resource in a connection's mirror.
struct StoredResource {
  std::string id;  // server-assigned UUID
  scim::ResourceType type = scim::ResourceType::kUser;
  // The stored SCIM form without "id", "meta" and, for groups, without "members" (members are
  // kept apart, see the member functions below).
  Json body = Json::object();
  int64_t version = 0;  // increases by one on every change, members included; ETag W/"<version>"
  // The stored body as compact JSON text, filled only by GetResourceText (body is then empty).
  std::string body_text;
  // PutResource of a user: `body` as Store::EncodeBody encoded it before the job was queued
  // (store/encoded_body.h); null, it encodes `body` itself. Never set on what a store returns.
  EncodedBodyPtr encoded;
  TimePoint created;
  TimePoint last_modified;
};

// A (attribute, folded value) pair the store indexes for lookups, e.g. {"emails.value", "a@x"}.
// The service computes them (it knows SCIM); the store only stores and searches them.
struct IndexEntry {
  std::string attr;
  std::string value;
};

// The attribute under which FindByIndex finds a resource by its unique key (PutResource's
// `unique_key`: a user's folded userName). The store keeps that value once, in the resource's
// row, where its uniqueness is enforced, rather than a second time as an index entry (~110 bytes
// per user in resource_index and its by-resource index); so `index` holds no entry under this
// attribute.
inline constexpr std::string_view kUniqueKeyAttr = "userName";

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class MirrorArea {
 public:
  virtual ~MirrorArea() = default;

  virtual Result<StoredResource> GetResource(int64_t connection_id, scim::ResourceType type,
                                             const std::string& id) = 0;  // kNotFound
  // As GetResource, but without parsing the body: `body_text` holds it as stored. For reads
  // that send the resource on unchanged (GET by id), where parsing and re-serialising the body
  // was a third of the work.
  virtual Result<StoredResource> GetResourceText(int64_t connection_id, scim::ResourceType type,
                                                 const std::string& id) = 0;
  // The version of a resource, without reading its body (kNotFound). A write prepared on a read
  // snapshot checks with it that the resource has not changed since (an optimistic PATCH).
  virtual Result<int64_t> GetResourceVersion(int64_t connection_id, scim::ResourceType type,
                                             const std::string& id) = 0;
  // Inserts or updates (by id). `unique_key`, when set, must be unique among resources of this
  // type in the connection (kUniqueness otherwise). `index` replaces the resource's index
  // entries. The store sets version (1 on insert, previous + 1 on update) and keeps `created`
  // of an existing row; returns the stored row (`resource`, moved back out: a caller that moves
  // its resource in spares a copy of the body on the writer). The caller's `resource.version`
  // is only a hint: above 0 (the version it read) it expects the row to exist, 0 it expects a
  // new one; a store may try the matching statement first (PostgreSQL saves a round trip) and
  // is correct either way.
  virtual Result<StoredResource> PutResource(int64_t connection_id, StoredResource resource,
                                             const std::optional<std::string>& unique_key,
                                             const std::vector<IndexEntry>& index) = 0;
  // Deletes the resource, its index entries, its own members (if a group) and its membership in
  // every group of the connection (those groups' versions increase). kNotFound.
  virtual Status DeleteResource(int64_t connection_id, scim::ResourceType type,
                                const std::string& id) = 0;
  // Increases version and sets last_modified (used after member-only changes).
  virtual Status TouchResource(int64_t connection_id, scim::ResourceType type,
                               const std::string& id, TimePoint when) = 0;
  // Resources whose index entry `attr` equals `folded_value` exactly; under kUniqueKeyAttr, the
  // resource whose unique key does.
  virtual Result<std::vector<StoredResource>> FindByIndex(int64_t connection_id,
                                                          scim::ResourceType type,
                                                          const std::string& attr,
                                                          const std::string& folded_value) = 0;
  // As FindByIndex, with `body_text` filled and `body` left empty (see GetResourceText).
  virtual Result<std::vector<StoredResource>> FindByIndexText(int64_t connection_id,
                                                              scim::ResourceType type,
                                                              const std::string& attr,
                                                              const std::string& folded_value) = 0;
  virtual Result<int64_t> CountResources(int64_t connection_id, scim::ResourceType type) = 0;
  // A page in a stable order (creation order): rows offset..offset+limit-1.
  virtual Result<std::vector<StoredResource>> ListResources(int64_t connection_id,
                                                            scim::ResourceType type, int64_t offset,
                                                            int64_t limit) = 0;
  // As ListResources, with `body_text` filled and `body` left empty (see GetResourceText).
  virtual Result<std::vector<StoredResource>> ListResourcesText(int64_t connection_id,
                                                                scim::ResourceType type,
                                                                int64_t offset, int64_t limit) = 0;
  // Calls `visit` for every resource of the type in stable order until it returns false.
  virtual Status ScanResources(int64_t connection_id, scim::ResourceType type,
                               const std::function<bool(const StoredResource&)>& visit) = 0;
};

}  // namespace idsync::store
