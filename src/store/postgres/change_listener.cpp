// ChangeListener over libpq's asynchronous notifications; see change_listener.h.
#include "store/postgres/change_listener.h"

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "base/log.h"
#include "base/thread_name.h"

namespace idsync::store::postgres {

namespace {

constexpr const char* kListen = "LISTEN idsync_changes";

}  // namespace

ChangeListener::ChangeListener(std::string url, std::function<void()> wake,
                               std::function<void()> idle)
    : url_(std::move(url)), wake_(std::move(wake)), idle_(std::move(idle)) {
  if (::pipe(stop_pipe_) != 0) stop_pipe_[0] = stop_pipe_[1] = -1;
  thread_ = std::thread([this] {
    NameThisThread("pg-listener");
    Run();
  });
}

ChangeListener::~ChangeListener() {
  stop_ = true;
  if (stop_pipe_[1] >= 0) {
    char c = 0;
    (void)!::write(stop_pipe_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : stop_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

bool ChangeListener::Stopping(int ms) {
  if (stop_) return true;
  pollfd p{stop_pipe_[0], POLLIN, 0};
  (void)::poll(&p, stop_pipe_[0] >= 0 ? 1 : 0, ms);
  return stop_.load();
}

void ChangeListener::Run() {
  bool first = true;
  while (!stop_) {
    PGconn* conn = PQconnectdb(url_.c_str());
    bool listening = false;
    if (conn != nullptr && PQstatus(conn) == CONNECTION_OK) {
      // What the server says on this long-lived connection ("terminating connection due to
      // administrator command" when PostgreSQL stops) goes to the server log as one line,
      // never raw to stderr (libpq's default), which would break the JSON log.
      PQsetNoticeProcessor(
          conn,
          [](void*, const char* message) {
            std::string text = message;
            while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
            log::Warn("database notice", {{"component", "change-listener"}, {"notice", text}});
          },
          nullptr);
      PGresult* r = PQexec(conn, kListen);
      listening = PQresultStatus(r) == PGRES_COMMAND_OK;
      PQclear(r);
    }
    if (!listening) {
      if (conn != nullptr) PQfinish(conn);
      if (Stopping(1000)) return;
      continue;
    }
    // Anything committed while we were not listening was not notified to us.
    if (!first) wake_();
    first = false;
    while (!stop_) {
      pollfd fds[2] = {{PQsocket(conn), POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      int n = ::poll(fds, stop_pipe_[0] >= 0 ? 2 : 1, 1000);
      if (stop_) break;
      if (n == 0 && idle_) idle_();
      if (n <= 0) continue;
      if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) break;  // dropped
      bool any = false;
      while (PGnotify* note = PQnotifies(conn)) {
        any = true;
        PQfreemem(note);
      }
      if (any) wake_();
    }
    PQfinish(conn);
    if (!stop_ && Stopping(1000)) return;
  }
}

}  // namespace idsync::store::postgres
