// PostgresStore: the engine (pool, migrations, transactions); see postgres_store.h.
#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "base/log.h"
#include "store/postgres/migrations.h"
#include "store/postgres/queries.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

namespace {

// Before rerunning a write that lost a serialization conflict: a random pause that grows with
// the attempt (up to 64 ms), so writers contending for one row spread out instead of colliding
// again in lockstep.
void BackOff(int attempt) {
  thread_local std::minstd_rand random{std::random_device{}()};
  int cap = 1 << std::min(attempt, 6);
  std::this_thread::sleep_for(std::chrono::milliseconds(random() % (cap + 1)));
}

}  // namespace

bool IsPostgresUrl(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

PostgresStore::PostgresStore(std::string url, PostgresStoreOptions options)
    : url_(std::move(url)),
      options_(options),
      clock_(options.clock ? *options.clock : SystemClock::Instance()),
      statistics_(url_) {}

PostgresStore::~PostgresStore() { Close(); }

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& url,
                                                           PostgresStoreOptions options) {
  if (!IsPostgresUrl(url)) {
    return MakeError(ErrorCode::kInvalidValue,
                     "a PostgreSQL store is named postgresql://USER@HOST:PORT/DATABASE, not " +
                         RedactUrl(url));
  }
  if (options.max_connections == 0) options.max_connections = 1;
  auto store = std::unique_ptr<PostgresStore>(new PostgresStore(url, options));
  auto conn = store->Acquire();
  if (!conn) return conn.error();
  size_t count = options.migrate_to ? options.migrate_to : Migrations().size();
  Status migrated = Migrate(**conn, count);
  // Changes a writer committed but did not live to number (tests that build an older schema
  // have no sequencer).
  if (migrated && count >= 6) migrated = Sequence(**conn, /*only_if_pending=*/true);
  store->Release(std::move(*conn));
  if (!migrated) return migrated.error();
  // From now on the schema is the build's: a connection the pool opens prepares the hot
  // statements at once (before the migrations, a statement prepared on the old schema could
  // answer a migrated table's row with the old row type).
  store->prepare_on_open_ = true;
  return store;
}

Result<std::unique_ptr<PgConnection>> PostgresStore::Acquire() {
  {
    std::unique_lock lock(mu_);
    freed_.wait(lock, [&] { return closed_ || !idle_.empty() || open_ < options_.max_connections; });
    if (closed_) return MakeError(ErrorCode::kUnavailable, "the store is closed");
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;
  }
  auto conn = PgConnection::Open(url_);
  if (!conn) {
    std::lock_guard lock(mu_);
    --open_;
    freed_.notify_one();
    return conn;
  }
  if (prepare_on_open_) {
    // Every connection opened after the first (a pool growing under load, one replacing a
    // connection the database dropped, all of them again after an outage) is as warm as those
    // Warm opened. A failure here is the first statement's to report: the connection is then
    // unhealthy and the pool drops it, or the statement is prepared on first use.
    if (Status prepared = (*conn)->PrepareAll(sql::kHotStatements, "preparing the hot statements");
        !prepared) {
      log::Debug("a new connection could not prepare the hot statements",
                 {{"error", prepared.error().detail}});
    }
  }
  return conn;
}

EncodedBodyPtr PostgresStore::EncodeBody(BodyKind kind, const Json& body) {
  (void)kind;  // every body is JSON text here
  return std::make_shared<const EncodedBody>(EncodedBody{DumpJson(body), false});
}

Status PostgresStore::Warm() {
  // Held until all are open, so that each Acquire opens a new one rather than handing back the
  // one just warmed.
  std::vector<std::unique_ptr<PgConnection>> held;
  Status result = Status::Ok();
  while (held.size() < options_.max_connections) {
    auto conn = Acquire();
    if (!conn) {
      result = conn.error();
      break;
    }
    held.push_back(std::move(*conn));
    result = held.back()->PrepareAll(sql::kHotStatements, "preparing the hot statements");
    if (!result) break;
  }
  for (auto& conn : held) Release(std::move(conn));
  return result;
}

void PostgresStore::Release(std::unique_ptr<PgConnection> conn) {
  std::lock_guard lock(mu_);
  if (closed_ || !conn->Healthy()) {
    --open_;  // a connection the server dropped is not reused; the next Acquire opens another
  } else {
    idle_.push_back(std::move(conn));
  }
  freed_.notify_one();
}

Status PostgresStore::Read(const std::function<Status(Transaction&)>& job) {
  auto conn = Acquire();
  if (!conn) return conn.error();
  PgConnection& db = **conn;
  // BEGIN goes out with the job's first statement, COMMIT on its own: two round trips fewer
  // than a read that asks one question had.
  db.DeferBegin(sql::kBeginRead);
  PgTransaction tx(db, /*writable=*/false, clock_);
  Status result = job(tx);
  if (result) {
    auto ended = db.ExecPipeline({{"COMMIT", {}, false}}, "ending a read");
    if (!ended) {
      result = ended.error();
      (void)db.Rollback("ending a read");
    }
  } else {
    (void)db.Rollback("ending a read");
  }
  Release(std::move(*conn));
  return result;
}

Status PostgresStore::Write(const std::function<Status(Transaction&)>& job) {
  // Group commit within the instance (as SQLite's writer thread): the first writer to find no
  // batch running takes every queued job and runs them in one transaction; the others wait for
  // their result. Concurrent writes of one instance therefore never conflict with each other,
  // only with other instances' (docs/ARCHITECTURE.md, "PostgreSQL store").
  QueuedWrite me{&job, Status::Ok(), false};
  std::unique_lock lock(queue_mu_);
  queue_.push_back(&me);
  while (!me.done) {
    if (writing_ >= options_.writers || queue_.empty()) {
      queue_cv_.wait(lock);
      continue;
    }
    ++writing_;
    std::vector<QueuedWrite*> batch;
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();
    RunBatch(batch);
    lock.lock();
    for (QueuedWrite* w : batch) w->done = true;
    --writing_;
    queue_cv_.notify_all();
  }
  return me.result;
}

void PostgresStore::RunBatch(const std::vector<QueuedWrite*>& batch) {
  auto conn = Acquire();
  if (!conn) {
    for (QueuedWrite* w : batch) w->result = conn.error();
    return;
  }
  PgConnection& db = **conn;
  const bool several = batch.size() > 1;
  Status failed;  // what ends every job of the batch, if the batch itself fails
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      reruns_.fetch_add(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
      BackOff(attempt);
    }
    db.ResetConflict();
    for (QueuedWrite* w : batch) w->result = Status::Ok();
    // BEGIN and each job's savepoint go out with the job's first statement (DeferBegin,
    // DeferSavepoint): no round trip of their own.
    db.DeferBegin(sql::kBeginWrite);
    failed = Status::Ok();
    bool appended = false, conflict = false;
    size_t succeeded = 0;
    for (QueuedWrite* w : batch) {
      // Each job of several in its own savepoint: a job that fails leaves nothing behind and
      // the others commit (a job alone is rolled back whole instead: two round trips fewer).
      if (several) db.DeferSavepoint("idsync_job");
      PgTransaction tx(db, /*writable=*/true, clock_);
      w->result = (*w->job)(tx);
      // A job that lost a conflict in any statement (even one whose error it took for
      // "absent") reruns, with the whole batch, as a conflict at COMMIT does.
      if (db.Retryable() || db.Conflicted()) {
        conflict = true;
        break;
      }
      if (w->result) {
        ++succeeded;
        appended = appended || tx.AppendedChanges();
        // The release goes out with what the job queued, so that a queued write that fails
        // fails this job (the one that wrote it), before the next one starts.
        if (several) {
          auto released =
              db.ExecPipeline({{"RELEASE SAVEPOINT idsync_job", {}, false}}, "ending a write");
          if (!released) failed = released.error();
        }
      } else if (several) {
        failed = db.Rollback("rolling back a write", "idsync_job");
      }
      if (!failed) break;
    }
    if (conflict || !failed) {
      (void)db.Rollback("rolling back");
      if (conflict || db.Retryable() || db.Conflicted()) {
        failed = MakeError(ErrorCode::kUnavailable,
                           "the write kept losing serialization conflicts to other writers");
        continue;
      }
      break;
    }
    if (succeeded == 0) {
      (void)db.Rollback("rolling back");
      failed = Status::Ok();
      break;
    }
    failed = db.Commit("committing");
    if (!failed) {
      if (db.Retryable() || db.Conflicted()) continue;  // nothing was written; run again
      break;
    }
    committed_.fetch_add(static_cast<int64_t>(succeeded), std::memory_order_relaxed);
    commits_.fetch_add(1, std::memory_order_relaxed);
    statistics_.NoteWrites(static_cast<int64_t>(succeeded));
    if (appended) {
      // Committed and durable: the writes stand whatever happens next. Their changes are
      // numbered now, before the callers answer, so that a reader of the feed that follows a
      // response sees them; if this fails, the next sequencer anywhere numbers them.
      if (Status numbered = Sequence(db, /*only_if_pending=*/false); !numbered) {
        log::Warn("change feed: committed changes not numbered yet",
                  {{"error", numbered.error().detail}});
      }
    }
    break;
  }
  // A batch that could not commit fails every job that had not failed on its own.
  if (!failed) {
    for (QueuedWrite* w : batch) {
      if (w->result) w->result = failed;
    }
  }
  Release(std::move(*conn));
}

Status PostgresStore::Sequence(PgConnection& db, bool only_if_pending) {
  if (only_if_pending) {
    auto pending = db.Exec(sql::kUnsequencedChanges, {}, "looking for changes to number");
    if (!pending) return pending.error();
    if (pending->Text(0, 0) != "t") return Status::Ok();
  }
  const std::string what = "numbering the change feed";
  // READ COMMITTED (the session default): each statement after the lock sees every sequencer
  // that committed before it took the lock. The whole transaction goes out in one round trip.
  auto ran = db.ExecPipeline({{"BEGIN ISOLATION LEVEL READ COMMITTED", {}, false},
                              {sql::kSequencerLock, {std::to_string(kSequencerLock)}},
                              {sql::kSequenceChanges, {}},
                              {"COMMIT", {}, false}},
                             what);
  if (ran) return Status::Ok();
  // A failed statement left the transaction open (the COMMIT after it did not run).
  (void)db.Rollback(what);
  return ran.error();
}

Store::WriteStats PostgresStore::WriteCounts() const {
  WriteStats s;
  s.jobs = committed_.load(std::memory_order_relaxed);
  s.commits = commits_.load(std::memory_order_relaxed);
  s.reruns = reruns_.load(std::memory_order_relaxed);
  return s;
}

Status PostgresStore::SequenceChanges() {
  auto conn = Acquire();
  if (!conn) return conn.error();
  Status result = Sequence(**conn, /*only_if_pending=*/true);
  Release(std::move(*conn));
  return result;
}

Result<int64_t> PostgresStore::ConfigGeneration() {
  auto conn = Acquire();
  if (!conn) return conn.error();
  auto r = (*conn)->Exec(sql::kConfigGeneration, {}, "reading the configuration generation");
  Release(std::move(*conn));
  if (!r) return r.error();
  if (r->Rows() == 0) return MakeError(ErrorCode::kInternal, "configuration generation row missing");
  return r->Int(0, 0);
}

void PostgresStore::OnForeignChanges(std::function<void()> wake) {
  auto listener = std::make_unique<ChangeListener>(url_, std::move(wake),
                                                   [this] { (void)SequenceChanges(); });
  std::unique_ptr<ChangeListener> old;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    old = std::move(listener_);
    listener_ = std::move(listener);
  }
}

void PostgresStore::Close() {
  ReleaseSchedulerLease();
  std::unique_ptr<ChangeListener> listener;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    open_ -= idle_.size();
    idle_.clear();
    freed_.notify_all();
    listener = std::move(listener_);
  }
  listener.reset();  // joins its thread: no `wake` call after Close returns
  statistics_.Stop();
}

}  // namespace idsync::store::postgres
