#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/thread_name.h"
#include "store/sqlite/body_codec.h"
#include "store/sqlite/database.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"
#include "store/sqlite/wal_write_buffer.h"

namespace idsync::store::sqlite {

namespace {

// Runs a job; a job that throws gets kInternal (exceptions do not cross the store boundary).
Status RunJob(const std::function<Status(Transaction&)>& job, Transaction& tx) {
  try {
    return job(tx);
  } catch (const std::exception& e) {
    return Internal(std::string("unexpected exception in a store job: ") + e.what());
  } catch (...) {
    return Internal("unexpected exception in a store job");
  }
}

// The busy handler of the writer connection: polls every millisecond until the timeout.
// SQLite's own (busy_timeout) backs off to 100 ms sleeps, so a writer waiting while another
// process commits transaction after transaction (`idsync policy set` in batches, with a short
// pause between two) wakes too rarely to get the lock between two of them and waits for
// seconds; polling often takes the first gap. `arg` is the timeout in milliseconds.
int PollWhileBusy(void* arg, int count) {
  const auto timeout_ms = reinterpret_cast<intptr_t>(arg);
  if (count >= timeout_ms) return 0;
  sqlite3_sleep(1);
  return 1;
}

Status Configure(Database& db, const std::string& path, int busy_timeout_ms, bool writer) {
  auto fail = [&](const Error& error) {
    return MakeError(ErrorCode::kUnavailable, "cannot open database " + path + ": " + error.detail);
  };
  std::string pragmas = "PRAGMA busy_timeout = " + std::to_string(busy_timeout_ms) + ";";
  // journal_size_limit: a WAL that one large transaction (a policy apply) grew is cut back to
  // 16 MiB when it restarts, instead of keeping its largest size for ever.
  if (writer) {
    pragmas +=
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
        "PRAGMA journal_size_limit = 16777216; PRAGMA temp_store = MEMORY;";
  }
  if (auto set = db.Exec(pragmas, "configuring the connection"); !set) return fail(set.error());
  if (!writer) return Status::Ok();
  sqlite3_busy_handler(db.handle(), PollWhileBusy,
                       reinterpret_cast<void*>(static_cast<intptr_t>(busy_timeout_ms)));
  // WAL lets readers keep their snapshot while the writer commits; the mode is stored in the
  // file, so the CLI opening it later uses WAL too.
  auto wal = db.Prepare("PRAGMA journal_mode = WAL");
  if (!wal) return fail(wal.error());
  auto row = wal->Step("switching to WAL");
  if (!row) return fail(row.error());
  if (!*row || wal->Text(0) != "wal") {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot open database " + path + ": the file system does not support WAL");
  }
  return Status::Ok();
}

}  // namespace

SqliteStore::SqliteStore(std::string path, const SqliteOptions& options)
    : path_(std::move(path)),
      options_(options),
      codec_(std::make_unique<BodyCodec>(options.compression_samples)) {}

SqliteStore::~SqliteStore() {
  Close();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& data_dir,
                                                       const SqliteOptions& options) {
  struct stat info {};
  if (stat(data_dir.c_str(), &info) != 0) {
    if (errno == ENOENT) {
      return MakeError(ErrorCode::kUnavailable,
                       "data folder " + data_dir + " does not exist; create it or pass --data");
    }
    return MakeError(ErrorCode::kUnavailable,
                     "cannot read data folder " + data_dir + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(info.st_mode)) {
    return MakeError(ErrorCode::kUnavailable,
                     "data path " + data_dir + " is not a folder; pass --data with a folder");
  }
  std::string dir = data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string path = dir + "/idsync.db";

  // Create the file ourselves with mode 0600 rather than changing the process umask, which
  // would race with other threads creating files. SQLite gives the -wal and -shm files the
  // permissions of the database file.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != EEXIST) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot create database " + path + ": " + std::strerror(errno));
  }

  std::unique_ptr<SqliteStore> store(new SqliteStore(path, options));
  // The writer hands each commit's WAL frames to the kernel in one write (wal_write_buffer.h).
  auto writer = Database::Open(path, SQLITE_OPEN_READWRITE, WalWriteBufferVfs());
  if (!writer) return writer.error();
  store->writer_db_ = std::move(*writer);
  if (auto ok = Configure(*store->writer_db_, path, options.busy_timeout_ms, true); !ok) {
    return ok.error();
  }
  if (auto ok = Migrate(*store->writer_db_, path, options.migrations); !ok) return ok.error();
  if (options.migrations >= 7) {
    if (auto ok = store->codec_->Load(*store->writer_db_); !ok) {
      return MakeError(
          ErrorCode::kUnavailable,
          "database " + path + ": cannot read compression dictionaries: " + ok.error().detail);
    }
  }

  size_t readers = std::max<size_t>(options.read_connections, 1);
  for (size_t i = 0; i < readers; ++i) {
    auto reader = Database::Open(path, SQLITE_OPEN_READONLY);
    if (!reader) return reader.error();
    if (auto ok = Configure(**reader, path, options.busy_timeout_ms, false); !ok) {
      return ok.error();
    }
    store->idle_readers_.push_back(reader->get());
    store->readers_.push_back(std::move(*reader));
  }
  auto generation = Database::Open(path, SQLITE_OPEN_READONLY);
  if (!generation) return generation.error();
  if (auto ok = Configure(**generation, path, options.busy_timeout_ms, false); !ok) {
    return ok.error();
  }
  store->generation_db_ = std::move(*generation);
  auto checkpoint = Database::Open(path, SQLITE_OPEN_READWRITE);
  if (!checkpoint) return checkpoint.error();
  if (auto ok = Configure(**checkpoint, path, options.busy_timeout_ms, false); !ok) {
    return ok.error();
  }
  store->checkpoint_db_ = std::move(*checkpoint);
  {
    // A connection learns that the file is in WAL mode when it first reads it; until then
    // sqlite3_wal_checkpoint_v2 on it does nothing.
    auto mode = store->checkpoint_db_->Prepare("PRAGMA journal_mode");
    if (!mode) return mode.error();
    if (auto row = mode->Step("reading the journal mode"); !row) return row.error();
  }
  try {
    store->checkpointer_ = std::thread([s = store.get()] {
      NameThisThread("store-checkpt");
      s->CheckpointLoop();
    });
  } catch (const std::system_error& e) {
    return MakeError(ErrorCode::kUnavailable,
                     std::string("cannot start the checkpoint thread: ") + e.what());
  }
  // Replaces SQLite's auto-checkpoint on the writer connection (sqlite3_wal_hook docs).
  sqlite3_wal_hook(store->writer_db_->handle(), &SqliteStore::OnWalCommit, store.get());
  try {
    store->writer_ = std::thread([s = store.get()] {
      NameThisThread("store-writer");
      s->WriterLoop();
    });
  } catch (const std::system_error& e) {
    return MakeError(ErrorCode::kUnavailable,
                     std::string("cannot start the database writer thread: ") + e.what());
  }
  store->writer_id_ = store->writer_.get_id();
  return store;
}

Result<int64_t> SqliteStore::ConfigGeneration() {
  std::lock_guard lock(generation_mutex_);
  if (!generation_db_) return MakeError(ErrorCode::kUnavailable, "the store is closed");
  auto version = generation_db_->Prepare("PRAGMA data_version");
  if (!version) return version.error();
  auto row = version->Step("reading the data version");
  if (!row) return row.error();
  int64_t data_version = version->Int(0);
  if (data_version == last_data_version_) return last_generation_;
  auto gen = generation_db_->Prepare(sql::kConfigGeneration);
  if (!gen) return gen.error();
  auto gen_row = gen->Step("reading the configuration generation");
  if (!gen_row) return gen_row.error();
  if (!*gen_row) return MakeError(ErrorCode::kInternal, "configuration generation row missing");
  last_generation_ = gen->Int(0);
  last_data_version_ = data_version;
  return last_generation_;
}

Status SqliteStore::Read(const std::function<Status(Transaction&)>& job) {
  Database* db = nullptr;
  {
    std::unique_lock lock(readers_mutex_);
    readers_cv_.wait(lock, [&] { return readers_closed_ || !idle_readers_.empty(); });
    if (readers_closed_) return MakeError(ErrorCode::kUnavailable, "the store is closed");
    db = idle_readers_.back();
    idle_readers_.pop_back();
  }
  Status status;
  // The snapshot starts at the first read after BEGIN and lasts until COMMIT.
  if (auto begun = db->Exec("BEGIN DEFERRED", "starting a read"); !begun) {
    status =
        MakeError(ErrorCode::kUnavailable, "cannot read the database: " + begun.error().detail);
  } else {
    SqliteTransaction tx(*db, *codec_, /*writable=*/false, *options_.clock,
                         &page_boundaries_);
    status = RunJob(job, tx);
    if (!db->Exec("COMMIT", "ending a read")) (void)db->Exec("ROLLBACK", "ending a read");
  }
  {
    std::lock_guard lock(readers_mutex_);
    idle_readers_.push_back(db);
  }
  readers_cv_.notify_all();
  return status;
}

Status SqliteStore::Write(const std::function<Status(Transaction&)>& job) {
  if (std::this_thread::get_id() == writer_id_) {
    return Internal("Write() called from inside a write job");
  }
  Job entry;
  entry.fn = &job;
  {
    std::lock_guard lock(mutex_);
    if (closing_) return MakeError(ErrorCode::kUnavailable, "the store is closed");
    queue_.push_back(&entry);
  }
  queue_cv_.notify_one();
  std::unique_lock lock(entry.done_mutex);
  entry.done_cv.wait(lock, [&] { return entry.done; });
  return entry.status;
}

void SqliteStore::Close() {
  std::lock_guard close_lock(close_mutex_);
  {
    // A training under way finishes first: it stores its dictionary through Write().
    std::unique_lock lock(trainer_mutex_);
    training_closed_ = true;
    trainer_cv_.wait(lock, [&] { return !training_; });
  }
  if (trainer_.joinable()) trainer_.join();
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_closing_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  checkpoint_db_.reset();
  {
    std::unique_lock lock(readers_mutex_);
    readers_closed_ = true;
    readers_cv_.notify_all();
    // Reads in progress finish on their connection before it closes.
    readers_cv_.wait(lock, [&] { return idle_readers_.size() == readers_.size(); });
    idle_readers_.clear();
    readers_.clear();
  }
  writer_db_.reset();
  std::lock_guard generation_lock(generation_mutex_);
  generation_db_.reset();
}

int SqliteStore::OnWalCommit(void* self, sqlite3* db, const char* /*name*/, int pages) {
  constexpr int kCheckpointPages = 1000;  // SQLite's own auto-checkpoint threshold
  // Under sustained writes a checkpoint on another connection never catches up with the last
  // frame, so the WAL would never restart and would grow without end (it reached ~800 MB
  // while loading 100,000 users). Past this size the writer finishes the checkpoint itself,
  // between its batches: the background one has copied most pages already.
  constexpr int kWriterCheckpointPages = 2000;
  if (pages >= kWriterCheckpointPages) {
    int log_pages = 0;
    int copied = 0;
    (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &copied);
    return SQLITE_OK;
  }
  if (pages >= kCheckpointPages) {
    auto* store = static_cast<SqliteStore*>(self);
    {
      std::lock_guard lock(store->checkpoint_mutex_);
      store->checkpoint_wanted_ = true;
    }
    store->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::CheckpointLoop() {
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mutex_);
      checkpoint_cv_.wait(lock, [&] { return checkpoint_closing_ || checkpoint_wanted_; });
      if (checkpoint_closing_) return;
      checkpoint_wanted_ = false;
    }
    // PASSIVE never blocks the writer or readers: it copies what no reader still needs and
    // leaves the rest to the next one. BUSY (another process checkpointing) is fine too.
    int log_pages = 0;
    int copied = 0;
    (void)sqlite3_wal_checkpoint_v2(checkpoint_db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                    &log_pages, &copied);
  }
}

void SqliteStore::WaitForTraining() {
  std::unique_lock lock(trainer_mutex_);
  trainer_cv_.wait(lock, [&] { return !training_; });
}

int SqliteStore::WriterRuns(std::string_view sql) {
  int runs = -1;
  // Read on the writer thread, which owns its connection.
  Status st = Write([&](Transaction&) {
    runs = writer_db_->Runs(sql);
    return Status::Ok();
  });
  return st ? runs : -1;
}

int64_t SqliteStore::CompressionDictionary(int kind) const {
  if (kind < 1 || kind > kBodyKinds) return 0;
  return codec_->DictionaryOf(static_cast<BodyKind>(kind));
}

void SqliteStore::MaybeTrain() {
  std::lock_guard lock(trainer_mutex_);
  if (training_ || training_closed_) return;
  auto set = codec_->TakeTrainingSet();
  if (!set) return;
  const BodyKind kind = set->kind;
  // A previous training has finished (training_ is false), so this join does not wait.
  if (trainer_.joinable()) trainer_.join();
  auto train = [this, set = std::move(*set)] {
    bool installed = false;
    if (auto dict = BodyCodec::Train(set.samples)) {
      int64_t id = 0;
      Status stored = Write([&](Transaction& tx) -> Status {
        auto inserted = BodyCodec::Store(static_cast<SqliteTransaction&>(tx).db(), set.kind, *dict);
        if (!inserted) return inserted.error();
        id = *inserted;
        return Status::Ok();
      });
      if (stored) {
        codec_->Install(id, set.kind, *dict);
        installed = true;
      }
    }
    if (!installed) codec_->TrainingFailed(set.kind);
    {
      std::lock_guard done(trainer_mutex_);
      training_ = false;
    }
    trainer_cv_.notify_all();
  };
  try {
    trainer_ = std::thread([train = std::move(train)]() mutable {
      NameThisThread("store-trainer");
      train();
    });
    training_ = true;
  } catch (const std::system_error&) {
    codec_->TrainingFailed(kind);
  }
}

int64_t SqliteStore::commit_count() const {
  std::lock_guard lock(mutex_);
  return commits_;
}

Store::WriteStats SqliteStore::WriteCounts() const {
  std::lock_guard lock(mutex_);
  return {committed_jobs_, commits_};
}

EncodedBodyPtr SqliteStore::EncodeBody(BodyKind kind, const Json& body) {
  if (!codec_) return nullptr;  // not open
  return std::make_shared<const EncodedBody>(codec_->Encode(kind, DumpJson(body)));
}

void SqliteStore::WriterLoop() {
  for (;;) {
    std::vector<Job*> batch;
    {
      std::unique_lock lock(mutex_);
      queue_cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and every queued job is done
      while (!queue_.empty() && batch.size() < std::max<size_t>(options_.max_batch, 1)) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    RunBatch(batch);
    // Wakes only this batch's callers (one condition for all woke every waiting caller, most
    // of them only to sleep again), each under its job's own lock: woken under the queue's
    // lock, every caller of the batch queued for it behind the writer and the others. Notified
    // under the lock: a caller that sees `done` returns and destroys its Job, so no notify may
    // come after the lock is released.
    for (Job* job : batch) {
      std::lock_guard lock(job->done_mutex);
      job->done = true;
      job->done_cv.notify_one();
    }
  }
}

Status SqliteStore::Begin() {
  // busy_timeout already waits inside SQLite while another process holds the write lock;
  // this loop also covers the SQLITE_BUSY cases that skip the busy handler (e.g. while a WAL
  // is being recovered), with backoff, within the same budget.
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
  auto backoff = std::chrono::milliseconds(1);
  // A batch whose ROLLBACK failed would otherwise leave every later batch unable to begin.
  if (writer_db_->InTransaction()) (void)writer_db_->Exec("ROLLBACK", "abandoning a write");
  for (;;) {
    auto begun = writer_db_->Exec("BEGIN IMMEDIATE", "starting a write");
    if (begun) return begun;
    int rc = sqlite3_extended_errcode(writer_db_->handle()) & 0xff;
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
        std::chrono::steady_clock::now() >= deadline) {
      return MakeError(ErrorCode::kUnavailable,
                       "cannot write to the database: " + begun.error().detail);
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
  }
}

void SqliteStore::RunBatch(const std::vector<Job*>& batch) {
  auto begun = Begin();
  if (!begun) {
    for (Job* job : batch) job->status = begun;
    return;
  }
  Database& db = *writer_db_;
  // Jobs whose changes are in the open transaction; they are acknowledged only by COMMIT.
  std::vector<Job*> pending;
  auto fail_all = [&](const Error& error) {
    (void)db.Exec("ROLLBACK", "abandoning a write");
    Error lost = MakeError(ErrorCode::kUnavailable, "the write was not saved: " + error.detail);
    for (Job* job : pending) job->status = lost;
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    Job* job = batch[i];
    if (auto saved = db.Exec("SAVEPOINT job", "starting a write"); !saved) {
      pending.insert(pending.end(), batch.begin() + static_cast<ptrdiff_t>(i), batch.end());
      return fail_all(saved.error());
    }
    SqliteTransaction tx(db, *codec_, /*writable=*/true, *options_.clock);
    job->status = RunJob(*job->fn, tx);
    if (!db.InTransaction()) {
      // SQLite rolled back the whole transaction (disk full, I/O error): every job so far is
      // lost, this one included, and the rest are not attempted.
      pending.insert(pending.end(), batch.begin() + static_cast<ptrdiff_t>(i), batch.end());
      return fail_all(MakeError(ErrorCode::kUnavailable, "the transaction was rolled back"));
    }
    Status ended = job->status ? db.Exec("RELEASE job", "ending a write")
                               : db.Exec("ROLLBACK TO job; RELEASE job", "undoing a write");
    if (!ended) {
      pending.insert(pending.end(), batch.begin() + static_cast<ptrdiff_t>(i), batch.end());
      return fail_all(ended.error());
    }
    if (job->status) pending.push_back(job);
  }
  // Jobs that failed keep their own error: they wrote nothing, whatever COMMIT does.
  if (auto committed = db.Exec("COMMIT", "committing"); !committed)
    return fail_all(committed.error());
  {
    std::lock_guard lock(mutex_);
    ++commits_;
    committed_jobs_ += static_cast<int64_t>(pending.size());
  }
  MaybeTrain();
}

}  // namespace idsync::store::sqlite
