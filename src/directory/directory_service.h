// Layer 2: the effective directory, derived from the source mirrors by the policy engine.
//
// - Incremental: every mirror write (SCIM, later LDAP sync) calls OnMirrorChanged inside its own
//   write transaction; only the named source users, and the effective users linked to them, are
//   re-derived, at a cost independent of the directory's size.
// - Whole directory: a policy change is previewed (nothing written) and applied (written) by the
//   same function over every source user of the directory, so the preview's counts are what the
//   apply does.
// - Every effective change appends a change-feed entry with its cause, in the same transaction.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"
#include "policy/policy.h"
#include "service/mirror_observer.h"
#include "store/store.h"

namespace idsync::directory {

// Who asks for a change, for the audit trail and policy versions.
struct Actor {
  std::string name = "cli";  // "cli", "admin:<token name>"
  std::string request_id;
};

// How ApplyPolicy runs its batches.
struct ApplyOptions {
  int64_t batch = 200;  // at most this many users per batch (per write transaction)
  // Time bound: each batch's size is adapted so that its work takes about this long (a SCIM
  // write waits for at most about one batch); 0: every batch takes `batch` users (tests).
  int64_t batch_ms = 40;
  // Tests: stop after this many batches, leaving the apply recorded as a killed process leaves
  // it (the call returns kUnavailable); < 0: run to the end.
  int64_t stop_after_batches = -1;
};

struct PreviewOptions {
  size_t max_items = 100;  // per list in the diff JSON; counts are always complete
};

class DirectoryService final : public service::MirrorObserver {
 public:
  DirectoryService(store::Store& store, const Clock& clock);
  ~DirectoryService() override;

  // ---- layer-1 hook (inside the mirror's write transaction)
  Status OnMirrorChanged(store::Transaction& tx, const service::MirrorChange& change) override;
  std::shared_ptr<const service::MirrorPreparation> PrepareCreatedUser(
      const store::Connection& connection, const store::StoredResource& user,
      const std::string& request_id, int64_t generation) override;
  void AfterCommit() override;
  // Before a connection is removed (inside the same transaction): its source users count as
  // deleted, so each linked effective user follows its deletion rule.
  Status OnConnectionRemoving(store::Transaction& tx, const store::Connection& connection,
                              const Actor& actor);

  // ---- directories and custom attributes
  Result<std::vector<store::DirectoryRecord>> ListDirectories();
  // kInvalidValue for a bad name ([a-z][a-z0-9_-]{0,62}), kUniqueness if it exists.
  Result<store::DirectoryRecord> CreateDirectory(const std::string& name, const Actor& actor);
  Result<store::DirectoryRecord> GetDirectory(const std::string& name);  // kNotFound
  // Validates (policy::ParseCustomAttributeDefs), stores, and re-derives the directory.
  // kInvalidValue naming the element, or the connection whose policy still maps an attribute
  // removed here.
  Result<store::DirectoryRecord> SetCustomAttributes(const std::string& directory,
                                                     const Json& defs, const Actor& actor);

  // ---- policies (by connection name)
  // {"connection", "directory", "version" (0: never set, defaults), "time", "actor",
  //  "policy": <full policy JSON, defaults included>}
  Result<Json> GetPolicy(const std::string& connection);
  // The full policy JSON `policy` would be, or kInvalidValue naming the field.
  Result<Json> ValidatePolicy(const std::string& connection, const Json& policy);
  // What applying `policy` would do: policy::DiffToJson of the directory before and after, plus
  // "conflicts_added"/"conflicts_resolved" counts. Writes nothing.
  Result<Json> PreviewPolicy(const std::string& connection, const Json& policy,
                             const PreviewOptions& options = {});
  // Stores the policy as a new version (in force from then on) and re-derives the directory
  // from the mirrors in batches, each its own transaction, recording its progress; an apply left
  // half-done by a killed process is finished first. A directory that cannot be streamed
  // (streamed_plan.h) is re-derived in the transaction that stores the version.
  // Returns {"version", "counts": <DiffCounts JSON>, ..., "applied"} like the preview.
  Result<Json> ApplyPolicy(const std::string& connection, const Json& policy, const Actor& actor,
                           const ApplyOptions& options = {});
  // Finishes every apply left half-done (by a process killed during ApplyPolicy):
  // [{"directory", "result": <ApplyPolicy's JSON>}], empty when there was none. `stop`, when
  // set, ends it between two batches (kUnavailable; the record stays for the next start).
  Result<Json> ResumeApplies(const std::atomic<bool>* stop = nullptr);
  // [{"version", "time", "actor", "comment", "policy"}], newest first.
  Result<Json> PolicyVersions(const std::string& connection);
  // What the draft `policy` makes of one source user of the connection (the console's live
  // mapping preview), through policy::MapUser as derivation runs it. `source_user_id` ""
  // takes the connection's first source user. Writes nothing. mapping_sample.cpp documents the
  // form. kInvalidValue for an invalid draft, kNotFound for an unknown connection or user.
  Result<Json> SampleMapping(const std::string& connection, const Json& policy,
                             const std::string& source_user_id, int64_t max_candidates);

  // ---- effective users: provenance
  // `user`: an effective user id or a username (case-insensitive). {"directory", "id",
  // "username", "state", "state_reason", "attributes": {name: {value, connection,
  // connection_name, source_user, source, rule}}, "memberships": [...], "entitlements": [...],
  // "sources": [{"connection", "connection_name", "source_user", "deleted", "priority"}],
  // "warnings"}. kNotFound.
  Result<Json> Explain(const std::string& directory, const std::string& user);
  // [{"connection", "connection_name", "source_user", "username", "detail", "time"}]
  Result<Json> Conflicts(const std::string& directory);

  // ---- memberships granted by an administrator (rule "existing": no source granted them).
  // They survive re-derivation while some source of the user keeps existing memberships
  // (groups.keep_existing_memberships); a source's grant of the same group is independent.
  // `user` as for Explain; the local group is created when missing. Returns Explain's JSON.
  Result<Json> GrantMembership(const std::string& directory, const std::string& user,
                               const std::string& group, const Actor& actor);
  // Removes the administrator's grant; the membership stays while a source still grants it.
  // kNotFound if the user has no such grant.
  Result<Json> RevokeMembership(const std::string& directory, const std::string& user,
                                const std::string& group, const Actor& actor);

  // Re-derives every user of the directory from the mirrors under the stored policies (repair;
  // what ApplyPolicy does after storing). Returns the counts. In the steady state it runs in
  // batches and keeps every stored link (streamed_plan.h); `whole` plans the whole directory in
  // one transaction instead, re-deciding every link (the reference: ~20 KiB per user).
  Result<Json> Rederive(const std::string& directory, const Actor& actor, bool whole = false);

  // ---- change feed
  // Entries with seq > after, at most `limit`; when there are none, waits up to `wait` for one
  // (long poll; woken by writes of this process, and re-checks every 500 ms for other
  // processes' writes). kNotFound for an unknown directory.
  Result<std::vector<store::ChangeRecord>> Changes(const std::string& directory, int64_t after,
                                                   int64_t limit,
                                                   std::chrono::milliseconds wait);
  // Wakes every waiting Changes() call (shutdown).
  void WakeAll();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// JSON of a change-feed entry: {"seq", "time", "type", "op", "id", "member" (Membership),
// "resource" (upsert), "cause"}.
Json ChangeToJson(const store::ChangeRecord& change);

}  // namespace idsync::directory
