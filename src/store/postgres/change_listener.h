// ChangeListener: one extra libpq connection that LISTENs on the change feed's channel
// (idsync_changes, notified by the change-feed sequencer at its commit) and calls `wake` for
// every notification, so a long poll on this instance answers as soon as any instance's change
// is numbered. `idle` (optional) is called after each second without a notification (the
// store runs the sequencer there, for changes whose writer died before numbering them).
// Private to store/postgres; PostgresStore owns it (OnForeignChanges).
//
// The connection is re-opened when it drops (every second until the database answers); `wake`
// is called once after each reconnect, since notifications sent meanwhile are lost and a waiter
// must re-read the feed.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace idsync::store::postgres {

class ChangeListener {
 public:
  ChangeListener(std::string url, std::function<void()> wake, std::function<void()> idle = {});
  // Stops the thread (within one poll, ~0 s: a pipe interrupts it) and closes the connection.
  ~ChangeListener();
  ChangeListener(const ChangeListener&) = delete;
  ChangeListener& operator=(const ChangeListener&) = delete;

 private:
  void Run();
  // Waits up to `ms` for the stop pipe; true if stopping.
  bool Stopping(int ms);

  const std::string url_;
  const std::function<void()> wake_;
  const std::function<void()> idle_;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace idsync::store::postgres
