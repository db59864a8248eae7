// SqliteStore: the embedded default back-end of the Store interface, one SQLite file.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "store/sqlite/page_boundaries.h"
#include "store/store.h"

struct sqlite3;

namespace idsync::store::sqlite {

class Database;

struct SqliteOptions {
  // Read-only connections shared by Read() callers; a caller waits when all are busy.
  size_t read_connections = 4;
  // How long a writer waits for another process (the CLI) holding the write lock before the
  // batch fails with kUnavailable.
  int busy_timeout_ms = 10000;
  // Most jobs committed together in one transaction.
  size_t max_batch = 256;
  // Time source for last_modified of groups whose members DeleteResource removes. Not owned;
  // must outlive the store.
  const Clock* clock = &SystemClock::Instance();
  // Number of migrations to apply. Only tests lower it, to build a database as an older
  // release left it.
  size_t migrations = std::numeric_limits<size_t>::max();
  // Bodies of a kind (mirror users, effective users, change-feed entries) written before that
  // kind's compression dictionary is trained; 0 never compresses. See body_codec.h.
  size_t compression_samples = 1000;
};

class BodyCodec;

// Store on `<data_dir>/idsync.db`, in WAL mode with synchronous=FULL: Write() returns after
// the commit is on disk, so a crash at any moment loses no acknowledged write.
//
// Writes: one writer thread owns the write connection and commits queued jobs in batches
// (group commit): BEGIN IMMEDIATE, one SAVEPOINT per job, one COMMIT (one fsync) per batch.
// Reads: a pool of read-only connections, each Read() in its own snapshot, concurrent with
// the writer. Another process (the CLI) may write the same file at the same time; the writer
// waits for it up to busy_timeout_ms. Thread-safe.
class SqliteStore final : public Store {
 public:
  // Creates the database if missing (mode 0600; its -wal and -shm files inherit that mode),
  // migrates it to this build's schema and starts the writer. kUnavailable, in words an
  // administrator can act on, if the folder is missing, the file cannot be opened, a
  // migration fails, or the database was written by a newer idsync.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& data_dir,
                                                   const SqliteOptions& options);
  ~SqliteStore() override;

  Status Read(const std::function<Status(Transaction&)>& job) override;
  Status Write(const std::function<Status(Transaction&)>& job) override;
  void Close() override;
  Result<int64_t> ConfigGeneration() override;

  // Transactions committed by the writer since Open; with concurrent writers it grows slower
  // than the number of Write() calls (group commit). For tests and metrics.
  int64_t commit_count() const;
  WriteStats WriteCounts() const override;
  EncodedBodyPtr EncodeBody(BodyKind kind, const Json& body) override;
  // Path of the database file.
  const std::string& path() const { return path_; }
  // For tests: how many times the writer has run the statement `sql` (a queries.h constant).
  int WriterRuns(std::string_view sql);
  // For tests: waits until no dictionary training is under way.
  void WaitForTraining();
  // For tests: the compression dictionary of a kind (BodyKind), 0 when none yet.
  int64_t CompressionDictionary(int kind) const;

 private:
  struct Job {
    const std::function<Status(Transaction&)>* fn = nullptr;
    Status status;
    // Each job has its own: a caller woken by its commit takes only this mutex, not the
    // queue's, which the writer and every new caller also take (issue #13 item 3).
    std::mutex done_mutex;
    bool done = false;                // guarded by done_mutex
    std::condition_variable done_cv;  // its Write() caller waits here for `done`
  };

  SqliteStore(std::string path, const SqliteOptions& options);
  void WriterLoop();
  void RunBatch(const std::vector<Job*>& batch);
  Status Begin();
  // After a commit: starts training a dictionary for a kind whose samples are complete.
  void MaybeTrain();
  // WAL checkpoints run on a thread of their own, so that no commit pays for one (they were
  // the 1-in-100 slow commit: p99 of a one-member PATCH 3x its p50). The writer's WAL hook
  // (which replaces SQLite's auto-checkpoint) asks for one when the WAL passes 1,000 pages.
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages);
  void CheckpointLoop();

  const std::string path_;
  const SqliteOptions options_;

  // Compression of bodies (body_codec.h) and the thread that trains its dictionaries.
  std::unique_ptr<BodyCodec> codec_;
  // Page starts remembered by read transactions, for paging by key (page_boundaries.h).
  PageBoundaries page_boundaries_;
  std::mutex trainer_mutex_;
  std::condition_variable trainer_cv_;
  std::thread trainer_;
  bool training_ = false;        // guarded by trainer_mutex_
  bool training_closed_ = false;  // guarded by trainer_mutex_: Close() has begun

  std::unique_ptr<Database> checkpoint_db_;  // used by checkpointer_ only
  std::thread checkpointer_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;   // guarded by checkpoint_mutex_
  bool checkpoint_closing_ = false;  // guarded by checkpoint_mutex_

  std::unique_ptr<Database> writer_db_;  // used by the writer thread only
  std::thread writer_;
  std::thread::id writer_id_;  // set before Open returns; read by Write() without a lock

  std::mutex close_mutex_;  // makes Close() idempotent when called from two threads
  mutable std::mutex mutex_;
  std::condition_variable queue_cv_;  // writer waits for jobs or closing_
  std::deque<Job*> queue_;
  bool closing_ = false;
  int64_t commits_ = 0;
  int64_t committed_jobs_ = 0;  // jobs acknowledged by those commits

  std::mutex readers_mutex_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Database>> readers_;  // all read connections
  std::vector<Database*> idle_readers_;
  bool readers_closed_ = false;

  // ConfigGeneration(): a read connection of its own. PRAGMA data_version changes only when
  // another connection commits; while it stays put the cached generation is still right and
  // no query runs at all.
  std::mutex generation_mutex_;
  std::unique_ptr<Database> generation_db_;
  int64_t last_data_version_ = -1;
  int64_t last_generation_ = 0;
};

}  // namespace idsync::store::sqlite
