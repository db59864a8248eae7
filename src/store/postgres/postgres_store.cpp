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
      clock_(options.clock ? *options.clock : SystemClock::Instance()) {}

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
  }
  return conn;
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
  Status result = db.ExecScript(sql::kBeginRead, "starting a read");
  if (result) {
    PgTransaction tx(db, /*writable=*/false, clock_);
    result = job(tx);
    Status ended = db.ExecScript(result ? "COMMIT" : "ROLLBACK", "ending a read");
    if (result && !ended) result = ended;
  }
  Release(std::move(*conn));
  return result;
}

Status PostgresStore::Write(const std::function<Status(Transaction&)>& job) {
  auto conn = Acquire();
  if (!conn) return conn.error();
  PgConnection& db = **conn;
  Status result;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      reruns_.fetch_add(1, std::memory_order_relaxed);
      BackOff(attempt);
    }
    db.ResetConflict();
    result = db.ExecScript(sql::kBeginWrite, "starting a write");
    if (!result) break;
    PgTransaction tx(db, /*writable=*/true, clock_);
    result = job(tx);
    if (result) {
      result = db.Commit("committing");
      if (result) committed_.fetch_add(1, std::memory_order_relaxed);
      if (result && tx.AppendedChanges()) {
        // Committed and durable: the write stands whatever happens next. Its changes are
        // numbered now, before the caller answers, so that a reader of the feed that follows
        // the response sees them; if this fails, the next sequencer anywhere numbers them.
        if (Status numbered = Sequence(db, /*only_if_pending=*/false); !numbered) {
          log::Warn("change feed: committed changes not numbered yet",
                    {{"error", numbered.error().detail}});
        }
      }
      if (result || !(db.Retryable() || db.Conflicted())) break;
      continue;  // the commit lost a serialization conflict: nothing was written; run again
    }
    // A job that failed after any of its statements lost a conflict failed because of it (a
    // read that answered an error it took for "absent", say): run it again, as a conflict at
    // COMMIT is.
    bool retry = db.Retryable() || db.Conflicted();
    (void)db.ExecScript("ROLLBACK", "rolling back");
    if (!retry) break;
  }
  Release(std::move(*conn));
  return result;
}

Status PostgresStore::Sequence(PgConnection& db, bool only_if_pending) {
  if (only_if_pending) {
    auto pending = db.Exec(sql::kUnsequencedChanges, {}, "looking for changes to number");
    if (!pending) return pending.error();
    if (pending->Text(0, 0) != "t") return Status::Ok();
  }
  const std::string what = "numbering the change feed";
  // READ COMMITTED (the session default): each statement after the lock sees every sequencer
  // that committed before it took the lock.
  if (Status begun = db.ExecScript("BEGIN ISOLATION LEVEL READ COMMITTED", what); !begun) {
    return begun;
  }
  auto run = [&]() -> Status {
    auto locked = db.Exec(sql::kSequencerLock, {std::to_string(kSequencerLock)}, what);
    if (!locked) return locked.error();
    auto directories = db.Exec(sql::kSequenceChanges, {}, what);
    if (!directories) return directories.error();
    for (int i = 0; i < directories->Rows(); ++i) {
      auto notified = db.Exec(sql::kNotifyChange, {directories->Text(i, 0)}, what);
      if (!notified) return notified.error();
    }
    return db.Commit(what);
  };
  Status result = run();
  if (!result) (void)db.ExecScript("ROLLBACK", what);
  return result;
}

Store::WriteStats PostgresStore::WriteCounts() const {
  WriteStats s;
  s.jobs = s.commits = committed_.load(std::memory_order_relaxed);
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
}

}  // namespace idsync::store::postgres
