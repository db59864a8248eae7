// SyncScheduler: the server's pull-sync triggers. One thread fires scheduled runs (each ldap
// connection's `schedule`, full when `full_every` has passed), and manual runs from the admin
// API run on threads of their own. Overlap is prevented by LdapSync itself (per-connection
// mutex and store lease), so a manual run that arrives during a scheduled one waits for it.
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
#include "sync/ldap_sync.h"

namespace idsync::sync {

// Thread-safe.
class SyncScheduler {
 public:
  // `tick`: how often due schedules are checked.
  SyncScheduler(LdapSync& sync, const Clock& clock,
                std::chrono::milliseconds tick = std::chrono::seconds(1));
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

 private:
  void Loop();

  LdapSync& sync_;
  const Clock& clock_;
  const std::chrono::milliseconds tick_;
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
