// ScimService: error mapping, the write wrapper (timing, observers, audit of failures), the
// service provider configuration and metrics. The operations are in scim_service_write.cpp,
// scim_service_read.cpp and scim_service_bulk.cpp.
#include "service/scim_service.h"

#include <chrono>
#include <set>

#include <fmt/format.h>

#include "service/scim_service_internal.h"

namespace idsync::service {

using scim::ResourceType;

namespace {

constexpr double kCommitBounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                    0.05,   0.1,   0.25,  0.5,   1.0,  5.0};

}  // namespace

int StatusOf(ErrorCode code) {
  switch (code) {  // no default: a new ErrorCode must be mapped here
    case ErrorCode::kInvalidSyntax: return 400;
    case ErrorCode::kInvalidFilter: return 400;
    case ErrorCode::kTooMany: return 400;
    case ErrorCode::kInvalidPath: return 400;
    case ErrorCode::kNoTarget: return 400;
    case ErrorCode::kInvalidValue: return 400;
    case ErrorCode::kMutability: return 400;
    case ErrorCode::kUniqueness: return 409;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kInvalidVersion: return 400;
    case ErrorCode::kSensitive: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kVersionMismatch: return 412;
    case ErrorCode::kNotModified: return 304;
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kNotImplemented: return 501;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

std::string_view ScimTypeOf(ErrorCode code) {
  switch (code) {  // RFC 7644 §3.12, Table 9; no default, so -Wswitch lists a new code
    case ErrorCode::kInvalidSyntax: return "invalidSyntax";
    case ErrorCode::kInvalidFilter: return "invalidFilter";
    case ErrorCode::kTooMany: return "tooMany";
    case ErrorCode::kInvalidPath: return "invalidPath";
    case ErrorCode::kNoTarget: return "noTarget";
    case ErrorCode::kInvalidValue: return "invalidValue";
    case ErrorCode::kMutability: return "mutability";
    case ErrorCode::kUniqueness: return "uniqueness";
    case ErrorCode::kInvalidVersion: return "invalidVers";
    case ErrorCode::kSensitive: return "sensitive";
    case ErrorCode::kConflict:
    case ErrorCode::kNotFound:
    case ErrorCode::kVersionMismatch:
    case ErrorCode::kNotModified:
    case ErrorCode::kPayloadTooLarge:
    case ErrorCode::kUnauthorized:
    case ErrorCode::kForbidden:
    case ErrorCode::kNotImplemented:
    case ErrorCode::kRateLimited:
    case ErrorCode::kUnavailable:
    case ErrorCode::kInternal: return {};
  }
  return {};
}

ScimService::ScimService(store::Store& store, const scim::schema::Registry& registry,
                         const Clock& clock, ScimLimits limits)
    : store_(store), registry_(registry), clock_(clock), limits_(limits) {}

Status ScimService::TimedWrite(const std::function<Status(store::Transaction&)>& job) {
  auto start = std::chrono::steady_clock::now();
  Status st = store_.Write(job);
  if (observer_) observer_->AfterCommit();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int b = 0;
  while (b < kBuckets && secs > kCommitBounds[b]) ++b;
  commit_buckets_[b].fetch_add(1, std::memory_order_relaxed);
  commit_count_.fetch_add(1, std::memory_order_relaxed);
  commit_micros_.fetch_add(static_cast<uint64_t>(secs * 1e6), std::memory_order_relaxed);
  return st;
}

Status ScimService::Observe(store::Transaction& tx, const CallContext& ctx,
                            const std::string& operation, std::set<std::string> users,
                            std::shared_ptr<const MirrorPreparation> prepared) {
  if (!observer_ || users.empty()) return Status::Ok();
  MirrorChange change;
  change.connection = ctx.connection;
  change.users = std::move(users);
  change.request_id = ctx.request_id;
  change.actor = ctx.actor;
  change.operation = operation;
  change.prepared = std::move(prepared);
  return observer_->OnMirrorChanged(tx, change);
}

Status ScimService::AuditFailure(const CallContext& ctx, const std::string& operation,
                                 ResourceType type, const std::string& id, const Error& error) {
  store::AuditRecord r;
  r.time = clock_.Now();
  r.connection_id = ctx.connection->id;
  r.connection_name = ctx.connection->name;
  r.request_id = ctx.request_id;
  r.actor = ctx.actor;
  r.operation = operation;
  r.resource_type = std::string(scim::ResourceTypeName(type));
  r.resource_id = id;
  r.status = StatusOf(error.code);
  r.detail = error.detail.substr(0, 500);
  return TimedWrite([&](store::Transaction& tx) { return tx.AppendAudit(r); });
}
Json ScimService::ServiceProviderConfig(const std::string& base_url) const {
  return {
      {"schemas", {"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"}},
      {"documentationUri", "https://github.com/idsync/idsync#readme"},
      {"patch", {{"supported", true}}},
      {"bulk",
       {{"supported", true},
        {"maxOperations", limits_.bulk_max_operations},
        {"maxPayloadSize", limits_.bulk_max_payload_bytes}}},
      {"filter", {{"supported", true}, {"maxResults", limits_.max_results}}},
      {"changePassword", {{"supported", false}}},
      {"sort", {{"supported", true}}},
      {"etag", {{"supported", true}}},
      {"authenticationSchemes",
       {{{"type", "oauthbearertoken"},
         {"name", "Bearer token"},
         {"description",
          "One token per connection, created with `idsync connection add` and sent as "
          "\"Authorization: Bearer <token>\""},
         {"primary", true}}}},
      {"meta",
       {{"resourceType", "ServiceProviderConfig"},
        {"location", base_url + "/ServiceProviderConfig"}}},
  };
}

std::string ScimService::RenderMetrics() {
  std::string out;
  out += "# HELP idsync_store_write_seconds Time from submitting a write to its durable commit.\n";
  out += "# TYPE idsync_store_write_seconds histogram\n";
  uint64_t cumulative = 0;
  for (int b = 0; b < kBuckets; ++b) {
    cumulative += commit_buckets_[b].load(std::memory_order_relaxed);
    out += fmt::format("idsync_store_write_seconds_bucket{{le=\"{}\"}} {}\n", kCommitBounds[b],
                       cumulative);
  }
  cumulative += commit_buckets_[kBuckets].load(std::memory_order_relaxed);
  out += fmt::format("idsync_store_write_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out += fmt::format("idsync_store_write_seconds_sum {}\n",
                     static_cast<double>(commit_micros_.load()) / 1e6);
  out += fmt::format("idsync_store_write_seconds_count {}\n", commit_count_.load());
  const store::Store::WriteStats writes = store_.WriteCounts();
  out += "# HELP idsync_store_commits_total Write transactions committed (each one fsync).\n";
  out += "# TYPE idsync_store_commits_total counter\n";
  out += fmt::format("idsync_store_commits_total {}\n", writes.commits);
  out += "# HELP idsync_store_committed_writes_total Writes (jobs) those commits made durable; "
         "over idsync_store_commits_total: writes per fsync (group commit).\n";
  out += "# TYPE idsync_store_committed_writes_total counter\n";
  out += fmt::format("idsync_store_committed_writes_total {}\n", writes.jobs);
  out += "# HELP idsync_store_write_reruns_total Write transactions run again after losing a "
         "serialization conflict to another writer (PostgreSQL; always 0 on SQLite).\n";
  out += "# TYPE idsync_store_write_reruns_total counter\n";
  out += fmt::format("idsync_store_write_reruns_total {}\n", writes.reruns);
  out += "# HELP idsync_resources Resources in each connection's mirror.\n";
  out += "# TYPE idsync_resources gauge\n";
  (void)store_.Read([&](store::Transaction& tx) -> Status {
    auto conns = tx.ListConnections();
    if (!conns) return conns.error();
    for (const auto& c : *conns) {
      for (ResourceType t : {ResourceType::kUser, ResourceType::kGroup}) {
        auto n = tx.CountResources(c.id, t);
        if (n) {
          out += fmt::format("idsync_resources{{connection=\"{}\",type=\"{}\"}} {}\n", c.name,
                             scim::ResourceTypeName(t), *n);
        }
      }
    }
    return Status::Ok();
  });
  return out;
}

}  // namespace idsync::service
