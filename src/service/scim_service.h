// The SCIM use cases over one connection's mirror: create, read, replace, patch, delete, list,
// bulk. Owns transactions and the audit trail; knows nothing of HTTP (the http/scim layer maps
// requests in and Errors out).
#pragma once

#include <atomic>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"
#include "scim/schema/registry.h"
#include "scim/types.h"
#include "service/mirror_observer.h"
#include "store/store.h"

namespace idsync::service {

// Declared in /ServiceProviderConfig and enforced; see docs/ARCHITECTURE.md "Limits".
struct ScimLimits {
  int64_t max_results = 1000;       // largest page; also the page size when count is absent
  size_t max_filter_length = 4096;  // characters
  size_t max_filter_depth = 32;
  size_t max_patch_operations = 1000;
  size_t bulk_max_operations = 1000;
  size_t bulk_max_payload_bytes = 1048576;
  size_t max_scan_resources = 2000000;  // a filter no index serves scans at most this many
};

// Who is calling and how to build absolute URLs for meta.location and $ref.
struct CallContext {
  const store::Connection* connection = nullptr;
  // The committed configuration generation the request was authenticated at (0: not known).
  // A write's preparation before its job (MirrorObserver::PrepareCreatedUser) is made for it.
  int64_t config_generation = 0;
  std::string base_url;  // e.g. "https://idsync.example.com/scim/v2"
  std::string request_id;
  std::string actor = "scim";
};

struct ListRequest {
  std::optional<std::string> filter;
  std::optional<std::string> sort_by;
  bool descending = false;
  int64_t start_index = 1;       // 1-based (RFC 7644 §3.4.2.4); values < 1 are read as 1
  std::optional<int64_t> count;  // absent: max_results; capped at max_results; < 0 read as 0
  bool include_members = true;   // false when the projection drops Group.members
  bool include_groups = true;    // false when the projection drops User.groups
  // Fill ListResult::texts (serialised resources) instead of `resources`, where that saves
  // parsing and re-serialising stored bodies (no attributes/excludedAttributes to apply).
  bool as_text = false;
};

struct ListResult {
  int64_t total_results = 0;
  int64_t start_index = 1;
  std::vector<Json> resources;     // full representations (the caller projects them)
  std::vector<std::string> texts;  // with ListRequest::as_text: the same, serialised
};

// Outcome of a conditional write for HTTP: the new representation, or nothing for DELETE.
struct WriteResult {
  Json resource;
  std::string etag;  // W/"<version>"
};

// Thread-safe.
class ScimService {
 public:
  ScimService(store::Store& store, const scim::schema::Registry& registry, const Clock& clock,
              ScimLimits limits = {});

  const ScimLimits& limits() const { return limits_; }

  // Layer 2 follows every mirror write through `observer` (inside the write transaction). Set
  // once before serving; not owned.
  void SetObserver(MirrorObserver* observer) { observer_ = observer; }

  // Create, Replace and Patch (and Bulk through them): kUniqueness for a User userName or a
  // Group displayName already held in the connection (both compared with Unicode case folding).
  // A group's name is checked only when it is new for that group, so duplicates stored before
  // the rule keep accepting member changes.
  Result<WriteResult> Create(const CallContext& ctx, scim::ResourceType type, const Json& body);
  // include_members / include_groups: whether Group.members / User.groups are loaded (false when
  // the projection drops them, so that such reads never touch the membership table).
  Result<WriteResult> Get(const CallContext& ctx, scim::ResourceType type, const std::string& id,
                          bool include_members, bool include_groups = true);
  // Get, serialised: the stored body text is spliced with id, meta and members/groups instead
  // of being parsed and re-serialised. For GET without attributes/excludedAttributes.
  struct TextResult {
    std::string json;
    std::string etag;
  };
  Result<TextResult> GetText(const CallContext& ctx, scim::ResourceType type, const std::string& id,
                             bool include_members, bool include_groups);
  // PUT (RFC 7644 §3.5.1): replaces every writable attribute; readOnly ones are ignored.
  Result<WriteResult> Replace(const CallContext& ctx, scim::ResourceType type,
                              const std::string& id, const Json& body,
                              const std::optional<std::string>& if_match, bool include_members);
  Result<WriteResult> Patch(const CallContext& ctx, scim::ResourceType type, const std::string& id,
                            const Json& body, const std::optional<std::string>& if_match,
                            bool include_members);
  Status Delete(const CallContext& ctx, scim::ResourceType type, const std::string& id,
                const std::optional<std::string>& if_match);
  Result<ListResult> List(const CallContext& ctx, scim::ResourceType type,
                          const ListRequest& request);
  // POST /.search at the root: the filter applies to Users and Groups; results are combined.
  Result<ListResult> ListAll(const CallContext& ctx, const ListRequest& request);
  // RFC 7644 §3.7. Returns the BulkResponse body. kPayloadTooLarge if over maxOperations.
  Result<Json> Bulk(const CallContext& ctx, const Json& body);

  Json ServiceProviderConfig(const std::string& base_url) const;

  // Prometheus text: store commit latency histogram and resources per connection.
  std::string RenderMetrics();

 private:
  Status AuditFailure(const CallContext& ctx, const std::string& operation, scim::ResourceType type,
                      const std::string& id, const Error& error);
  Status TimedWrite(const std::function<Status(store::Transaction&)>& job);
  // Tells the observer (if any) which source users a write affected; `prepared`: what its
  // PrepareCreatedUser made for this write before the job.
  Status Observe(store::Transaction& tx, const CallContext& ctx, const std::string& operation,
                 std::set<std::string> users,
                 std::shared_ptr<const MirrorPreparation> prepared = nullptr);

  MirrorObserver* observer_ = nullptr;

  store::Store& store_;
  const scim::schema::Registry& registry_;
  const Clock& clock_;
  ScimLimits limits_;

  // Commit latency histogram (seconds); buckets in kCommitBuckets.
  static constexpr int kBuckets = 12;
  std::atomic<uint64_t> commit_buckets_[kBuckets + 1] = {};
  std::atomic<uint64_t> commit_count_{0};
  std::atomic<uint64_t> commit_micros_{0};
};

// The HTTP status an error maps to (also used for Bulk per-operation status and audit).
int StatusOf(ErrorCode code);
// The scimType of RFC 7644 §3.12 for an error, or "" where the RFC defines none.
std::string_view ScimTypeOf(ErrorCode code);

}  // namespace idsync::service
