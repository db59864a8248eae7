// Pull sync (issue #4): runs of each connection, its sync engine state and its run lease.
//
// One area of the store (issue #15): Transaction (store.h) is the composition of all of them.
// Only store back-ends speak SQL; everything else sees this.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"

namespace idsync::store {

// One run of a pull sync (LDAP) of one connection. Counts and progress are the sync engine's
// JSON; the store interprets neither.
struct SyncRun {
  int64_t id = 0;  // assigned by InsertSyncRun; increasing, never reused
  int64_t connection_id = 0;
  std::string mode;     // "full" | "incremental"
  std::string trigger;  // "cli", "schedule", "admin:<token name>"
  std::string outcome;  // "running", "succeeded", "failed", "needs_confirmation", "abandoned"
  TimePoint started;
  std::optional<TimePoint> ended;
  Json counts = Json::object();    // {"created", "updated", "disabled", "removed", ...}
  Json progress = Json::object();  // {"phase", "entries_read", "total"}
  std::string error;               // why it failed, in words ("" otherwise)
  std::string owner;               // the lease owner that ran it
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class SyncArea {
 public:
  virtual ~SyncArea() = default;

  // Inserts and returns the run's id. kNotFound if the connection does not exist.
  virtual Result<int64_t> InsertSyncRun(const SyncRun& run) = 0;
  // Updates outcome, ended, counts, progress and error of run `run.id`. kNotFound.
  virtual Status UpdateSyncRun(const SyncRun& run) = 0;
  virtual Result<SyncRun> GetSyncRun(int64_t id) = 0;  // kNotFound
  // The connection's runs, newest first, at most `limit`.
  virtual Result<std::vector<SyncRun>> ListSyncRuns(int64_t connection_id, int64_t limit) = 0;
  // Marks the connection's runs still "running" but not owned by `owner` as "abandoned" (their
  // process died: the caller holds the lease now). Returns how many.
  virtual Result<int64_t> AbandonSyncRuns(int64_t connection_id, const std::string& owner,
                                          TimePoint when) = 0;
  // The sync engine's state of the connection (high-water marks); {} if none was put.
  virtual Result<Json> GetSyncState(int64_t connection_id) = 0;
  virtual Status PutSyncState(int64_t connection_id, const Json& state) = 0;
  // Takes or renews the connection's run lease for `owner` until `expires`: true if the lease
  // was free, expired at `now`, or already `owner`'s; false if another owner holds it. Because
  // write jobs run one at a time (and SQLite locks across processes), two callers can never
  // both get true.
  virtual Result<bool> AcquireSyncLease(int64_t connection_id, const std::string& owner,
                                        TimePoint now, TimePoint expires) = 0;
  // Frees the lease if `owner` holds it; otherwise does nothing.
  virtual Status ReleaseSyncLease(int64_t connection_id, const std::string& owner) = 0;
};

}  // namespace idsync::store
