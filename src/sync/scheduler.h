// SyncScheduler: the server's pull-sync triggers. One thread fires scheduled runs (each ldap
// connection's `schedule`, full when `full_every` has passed) while this instance holds the
// store's scheduler lease (one instance of those sharing a database; issue #15), and manual runs
// from the admin API run on threads of their own, on any instance. Overlap is prevented by
// LdapSync itself (per-connection mutex and store lease), so a manual run that arrives during a
// scheduled one waits for it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "store/store.h"
#include "sync/ldap_sync.h"

namespace idsync::sync {

// Thread-safe.
class SyncScheduler {
 public:
  // `tick`: how often due schedules are checked. `lease`: the store whose scheduler lease
  // (store.h, HoldSchedulerLease) decides whether this instance fires scheduled runs; each tick
  // tries to take or confirm it and fires due runs only while it is held. Null: always held.
  SyncScheduler(LdapSync& sync, const Clock& clock,
                std::chrono::milliseconds tick = std::chrono::seconds(1),
                store::Store* lease = nullptr);
  ~SyncScheduler();  // Stop()

  void Start();
  // Stops firing; waits for the runs in progress to end. Idempotent.
  void Stop();

  // Starts a run in the background. Returns the run id as soon as the run is recorded, nullopt
  // if it is still waiting for another run of the connection after `wait`, or the error that
  // kept it from starting (unknown connection, not ldap, disabled, ...).
  Result<std::optional<int64_t>> StartRun(const std::string& name, RunOptions options,
                                          std::chrono::milliseconds wait);

  // Scheduled runs fired since Start (for tests).
  int64_t fired() const;
  // True while this instance holds the scheduler lease (as of the last tick).
  bool leader() const { return leader_.load(); }
  // The lease as a Prometheus gauge, for /metrics: idsync_scheduler_leader 1 or 0.
  std::string RenderMetrics() const;

 private:
  void Loop();
  // Takes or confirms the lease; logs when this instance becomes or stops being the scheduler.
  bool HoldLease();

  LdapSync& sync_;
  const Clock& clock_;
  const std::chrono::milliseconds tick_;
  store::Store* const lease_;
  std::atomic<bool> leader_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool started_ = false;
  int64_t fired_ = 0;
  std::thread loop_;
  // Manual runs; finished ones are joined when the next one starts, the rest by Stop().
  struct Manual {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Manual> manual_;
};

}  // namespace idsync::sync
