#include "sync/scheduler.h"

#include <cstdio>
#include <future>
#include <memory>
#include <string>

#include "base/log.h"
#include "base/thread_name.h"

namespace idsync::sync {

SyncScheduler::SyncScheduler(LdapSync& sync, const Clock& clock, std::chrono::milliseconds tick,
                             store::Store* lease)
    : sync_(sync), clock_(clock), tick_(tick), lease_(lease) {}

SyncScheduler::~SyncScheduler() {
  Stop();
}

void SyncScheduler::Start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  loop_ = std::thread([this] {
    NameThisThread("sync-scheduler");
    Loop();
  });
}

void SyncScheduler::Stop() {
  std::vector<Manual> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    threads.swap(manual_);
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  for (auto& t : threads) t.thread.join();
  if (lease_ != nullptr && leader_.exchange(false)) {
    lease_->ReleaseSchedulerLease();
    log::Info("no longer the scheduler", {{"component", "scheduler"}, {"reason", "stopping"}});
  }
}

std::string SyncScheduler::RenderMetrics() const {
  return "# HELP idsync_scheduler_leader 1 while this instance fires scheduled LDAP syncs (holds "
         "the scheduler lease), 0 otherwise.\n"
         "# TYPE idsync_scheduler_leader gauge\n"
         "idsync_scheduler_leader " +
         std::string(leader_.load() ? "1" : "0") + "\n";
}

bool SyncScheduler::HoldLease() {
  if (lease_ == nullptr) {
    leader_ = true;
    return true;
  }
  auto held = lease_->HoldSchedulerLease();
  const bool now = held && *held;
  const bool was = leader_.exchange(now);
  if (now && !was) {
    log::Info("this instance is now the scheduler", {{"component", "scheduler"}});
  } else if (!now && was) {
    log::Warn(
        "no longer the scheduler",
        {{"component", "scheduler"}, {"reason", held ? "lease taken over" : held.error().detail}});
  }
  return now;
}

int64_t SyncScheduler::fired() const {
  std::lock_guard lock(mu_);
  return fired_;
}

void SyncScheduler::Loop() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, tick_, [this] { return stopping_; });
      if (stopping_) return;
    }
    if (!HoldLease()) continue;  // another instance fires the schedules
    auto due = sync_.DueRuns(clock_.Now());
    if (!due) {
      log::Error("scheduler failed", {{"component", "scheduler"}, {"detail", due.error().detail}});
      continue;
    }
    for (const auto& d : *due) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      // A run can be long: confirm the lease before each one, so that an instance that lost
      // it (its connection dropped) does not go on firing what the new holder also fires.
      if (!HoldLease()) break;
      {
        std::lock_guard lock(mu_);
        ++fired_;
      }
      RunOptions options;
      options.full = d.full;
      options.trigger = "schedule";
      // Another process (the CLI) holding the lease: skip this tick rather than queue behind it.
      options.wait_for_lease = std::chrono::milliseconds(0);
      auto run = sync_.Run(d.name, options);
      if (!run) {
        log::Warn("scheduled sync not run", {{"directory", d.name}, {"detail", run.error().detail}});
      } else if (run->outcome != "succeeded") {
        log::Warn("scheduled sync failed",
                {{"directory", d.name}, {"outcome", run->outcome}, {"detail", run->error}});
      }
    }
  }
}

Result<std::optional<int64_t>> SyncScheduler::StartRun(const std::string& name, RunOptions options,
                                                       std::chrono::milliseconds wait) {
  // The outcome of the start: a run id, or the error that prevented it.
  struct Start {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::optional<int64_t> id;
    std::optional<Error> error;
  };
  auto start = std::make_shared<Start>();
  options.on_started = [start](int64_t id) {
    std::lock_guard lock(start->mu);
    start->id = id;
    start->done = true;
    start->cv.notify_all();
  };
  {
    std::lock_guard lock(mu_);
    if (stopping_) return MakeError(ErrorCode::kUnavailable, "the server is stopping");
    for (auto it = manual_.begin(); it != manual_.end();) {
      if (*it->done) {
        it->thread.join();
        it = manual_.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread thread([this, name, options, start, done] {
      auto run = sync_.Run(name, options);
      {
        std::lock_guard start_lock(start->mu);
        if (!run && !start->done) start->error = run.error();
        start->done = true;
        start->cv.notify_all();
      }
      *done = true;
    });
    manual_.push_back(Manual{std::move(thread), std::move(done)});
  }
  std::unique_lock lock(start->mu);
  start->cv.wait_for(lock, wait, [&] { return start->done; });
  if (start->error) return *start->error;
  return start->id;
}

}  // namespace idsync::sync
