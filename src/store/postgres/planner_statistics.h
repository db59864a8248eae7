// PlannerStatistics: keeps PostgreSQL's planner statistics current while tables grow fast, so
// that a bulk import (an identity provider's first push of thousands of users) is not planned
// with the statistics of an empty table. Private to store/postgres; PostgresStore owns one.
//
// Why: until a table has been analyzed, the planner assumes any equality matches few rows. A
// lookup by (connection, type, id) then costs the same on the UNIQUE index and on the smaller
// (connection, type, pk) index, and the smaller one wins: every lookup walks the whole
// connection (measured: 1.9 ms per GET by id at 3,000 users, 0.02 ms once analyzed).
// Autovacuum analyzes a table at most once per autovacuum_naptime (a minute by default), so a
// fresh installation spends its first minute of pushes on such plans. This analyzes a table of
// at least kMinRows rows once its rows changed since its last analyze reach half its size (it
// doubled, or half of it was rewritten): a dozen ANALYZEs while a table grows to a million.
//
// Writers call NoteWrites after each commit (cheap: an atomic add). After kCheckEvery writes, a
// thread of its own (started then) reads pg_stat_user_tables on a connection of its own (kept
// open: one more idle session per instance), at most once a second while writes go on and once
// more some seconds after they stop, and runs ANALYZE (SKIP_LOCKED) on the tables that qualify:
// never on a writer's path, and never waiting for another instance's or autovacuum's ANALYZE of
// the same table. Failures (the database away, a
// table owned by another role) are logged at debug level and the next check tries again.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "store/postgres/pg_connection.h"

namespace idsync::store::postgres {

class PlannerStatistics {
 public:
  static constexpr int64_t kCheckEvery = 256;  // writes between two checks
  static constexpr int64_t kMinRows = 200;     // smaller tables are left to autovacuum
  static constexpr int kMinIntervalMs = 1000;  // between two checks
  static constexpr int kSettleMs = 11'000;     // after a burst, before its last check

  explicit PlannerStatistics(std::string url) : url_(std::move(url)) {}
  ~PlannerStatistics() { Stop(); }
  // Stops the thread (waiting for an ANALYZE under way, at most its 10 s statement timeout);
  // NoteWrites does nothing afterwards.
  void Stop();
  PlannerStatistics(const PlannerStatistics&) = delete;
  PlannerStatistics& operator=(const PlannerStatistics&) = delete;

  void NoteWrites(int64_t writes);

 private:
  void Run();
  // One check: which tables qualify, and ANALYZE of each. Runs on the thread.
  void Check();

  const std::string url_;
  std::atomic<int64_t> pending_{0};  // writes since the last check
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                   // guarded by mu_
  bool started_ = false;                // guarded by mu_
  std::unique_ptr<PgConnection> conn_;  // the thread's own, opened at its first check
  std::thread thread_;
};

}  // namespace idsync::store::postgres
