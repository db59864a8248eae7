// PostgresStore: the store (store.h) in a PostgreSQL database shared by any number of idsync
// instances. The engine: a pool of libpq connections, migrations on open, and transactions
// (serializable writes retried on serialization failure, repeatable-read reads). The areas are
// in one file each (transaction.h). See docs/ARCHITECTURE.md, "PostgreSQL store".
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "store/postgres/change_listener.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/planner_statistics.h"
#include "store/store.h"

namespace idsync::store::postgres {

struct PostgresStoreOptions {
  size_t max_connections = 16;  // per instance; PostgreSQL's default max_connections is 100
  int max_attempts = 50;        // a write that keeps hitting serialization failures gives up
  size_t max_batch = 64;        // writes of this instance committed in one transaction
  size_t writers = 1;           // batches of this instance running at once
  const Clock* clock = nullptr;  // SystemClock when null
  // Migrations 1..migrate_to; 0 means all (tests build older schemas).
  size_t migrate_to = 0;
};

// True if `location` names a PostgreSQL database (postgresql:// or postgres://).
bool IsPostgresUrl(const std::string& location);

class PostgresStore final : public Store {
 public:
  // Connects to `url`, applies missing migrations under an advisory lock, and refuses a
  // database a newer idsync wrote. kUnavailable (naming the URL without its password).
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& url,
                                                     PostgresStoreOptions options = {});
  ~PostgresStore() override;

  Status Read(const std::function<Status(Transaction&)>& job) override;
  // The job in a serializable transaction, committed (synchronous_commit: durable on the
  // server) before this returns. Group commit: the jobs of concurrent callers on this instance
  // run one after another in one transaction, each in a savepoint (a failed job leaves nothing
  // and does not fail the others), with one COMMIT. A serialization failure or deadlock reruns
  // the batch from the start in a new transaction, so a job must not act outside the
  // transaction before it ends, and must not call Write itself.
  Status Write(const std::function<Status(Transaction&)>& job) override;
  Result<int64_t> ConfigGeneration() override;
  // Jobs committed, the transactions (group commits) that committed them, and job reruns.
  WriteStats WriteCounts() const override;
  // A ChangeListener (change_listener.h): one more connection, LISTENing. A second call
  // replaces the first callback.
  void OnForeignChanges(std::function<void()> wake) override;
  // Opens every connection the pool may hold (max_connections), each of which prepares
  // sql::kHotStatements as the pool opens it (one round trip), and fails if one of them does
  // not prepare. A fresh instance's first requests otherwise each waited for a new PostgreSQL
  // session (connection, authentication, catalog caches) and then for one round trip per
  // statement they were the first to run: under load 0.7-2.3 s (docs/ARCHITECTURE.md,
  // "PostgreSQL store").
  Status Warm() override;
  // The JSON text: what every write of this store binds for a body (EncodedText).
  EncodedBodyPtr EncodeBody(BodyKind kind, const Json& body) override;
  void Close() override;
  // A session advisory lock (kSchedulerLock) on a connection of its own; scheduler_lease.cpp.
  Result<bool> HoldSchedulerLease() override;
  void ReleaseSchedulerLease() override;

  // Numbers every committed change that has no seq yet (migrations.cpp, kFeedSequencer). Write
  // runs it after committing a transaction that appended changes; Open and the change
  // listener's idle second run it too, for changes whose writer died before numbering them.
  Status SequenceChanges();

 private:
  PostgresStore(std::string url, PostgresStoreOptions options);
  struct QueuedWrite {
    const std::function<Status(Transaction&)>* job;
    Status result;
    bool done = false;
  };
  // Runs `batch` in one transaction (see Write) and sets each one's result.
  void RunBatch(const std::vector<QueuedWrite*>& batch);
  Result<std::unique_ptr<PgConnection>> Acquire();
  // The sequencer on `db` (no transaction open on it). `only_if_pending`: first ask whether
  // anything waits, without taking the lock.
  static Status Sequence(PgConnection& db, bool only_if_pending);
  void Release(std::unique_ptr<PgConnection> conn);

  const std::string url_;
  const PostgresStoreOptions options_;
  const Clock& clock_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  size_t open_ = 0;
  bool closed_ = false;
  // Set once Open has migrated, before the store is shared: connections opened afterwards
  // prepare sql::kHotStatements at once (Acquire).
  bool prepare_on_open_ = false;
  std::unique_ptr<ChangeListener> listener_;  // guarded by mu_; stopped outside it
  PlannerStatistics statistics_;  // ANALYZE of the tables a bulk import grows; stopped by Close
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<QueuedWrite*> queue_;  // guarded by queue_mu_
  size_t writing_ = 0;              // batches running; guarded by queue_mu_
  std::atomic<int64_t> committed_{0};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> reruns_{0};
  // The scheduler lease: its connection, open while trying or holding; guarded by lease_mu_
  // (taken before mu_, never inside it).
  std::mutex lease_mu_;
  std::unique_ptr<PgConnection> lease_conn_;
  bool lease_held_ = false;
};

}  // namespace idsync::store::postgres
