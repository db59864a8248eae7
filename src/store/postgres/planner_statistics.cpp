// PlannerStatistics: ANALYZE of the tables that grew; see planner_statistics.h.
#include "store/postgres/planner_statistics.h"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/log.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/queries.h"

namespace idsync::store::postgres {

void PlannerStatistics::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PlannerStatistics::NoteWrites(int64_t writes) {
  int64_t before = pending_.fetch_add(writes, std::memory_order_relaxed);
  if (before >= kCheckEvery || before + writes < kCheckEvery) return;  // one wake per crossing
  std::lock_guard lock(mu_);
  if (stop_) return;
  if (!started_) {
    started_ = true;
    thread_ = std::thread([this] { Run(); });
  }
  cv_.notify_all();
}

void PlannerStatistics::Run() {
  std::unique_lock lock(mu_);
  auto busy = [&] { return stop_ || pending_.load(std::memory_order_relaxed) >= kCheckEvery; };
  auto check = [&] {
    pending_.store(0, std::memory_order_relaxed);
    lock.unlock();
    Check();
    lock.lock();
  };
  while (!stop_) {
    cv_.wait(lock, busy);
    // A burst of writes: a check now, another each second while it lasts (at most one a
    // second: the server's counters are flushed about once a second, and ANALYZE must never
    // become a load of its own), and a last one once it ended and the counters caught up (a
    // backend that goes idle flushes what it counted in its last second within 10 s).
    while (!stop_) {
      check();
      if (cv_.wait_for(lock, std::chrono::milliseconds(kMinIntervalMs), [&] { return stop_; })) {
        break;
      }
      if (busy()) continue;
      if (cv_.wait_for(lock, std::chrono::milliseconds(kSettleMs), busy)) continue;
      check();
      break;
    }
  }
}

void PlannerStatistics::Check() {
  if (!conn_ || !conn_->Healthy()) {
    conn_.reset();
    auto conn = PgConnection::Open(url_);
    if (!conn) {
      log::Debug("planner statistics: no connection", {{"error", conn.error().detail}});
      return;
    }
    // Bounded, so that closing the store never waits long for an ANALYZE under way.
    if (Status s = (*conn)->ExecScript("SET statement_timeout = '10s'", "bounding ANALYZE"); !s) {
      return;
    }
    conn_ = std::move(*conn);
  }
  PgConnection& db = *conn_;
  auto tables =
      db.Exec(sql::kTablesToAnalyze, {std::to_string(kMinRows)}, "reading table statistics");
  if (!tables) {
    log::Debug("planner statistics: not read", {{"error", tables.error().detail}});
    return;
  }
  std::vector<std::string> names;
  for (int i = 0; i < tables->Rows(); ++i) names.push_back(tables->Text(i, 0));
  for (const std::string& table : names) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    auto started = std::chrono::steady_clock::now();
    // SKIP_LOCKED: another instance or autovacuum analyzing the same table does the work.
    Status s = db.ExecScript("ANALYZE (SKIP_LOCKED) " + table, "analyzing " + table);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    if (!s) {
      log::Debug("planner statistics: ANALYZE failed",
                 {{"table", table}, {"error", s.error().detail}});
      continue;
    }
    log::Debug("planner statistics: analyzed", {{"table", table}, {"ms", std::to_string(ms)}});
  }
}

}  // namespace idsync::store::postgres
