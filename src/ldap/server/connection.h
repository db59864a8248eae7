// One LDAP client connection (internal to idsync_ldap_net): TLS handshake or StartTLS, framing,
// decoding, the per-connection request queue, abandon, unbind, output with backpressure,
// deadlines. server.cpp owns the listeners and the state connections share (ServerShared).
//
// Threading: all connection state is touched only on the connection's strand (the executor of
// its socket), except what is marked "guarded by mu_", which worker threads reach through Send.
// Requests run on the worker pool one at a time per connection; the connection keeps reading
// meanwhile, so Abandon and Unbind are seen while a request runs.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ldap/protocol/message.h"
#include "ldap/server/handler.h"
#include "ldap/server/server.h"
#include "tls/server_context.h"

namespace idsync::ldap::net_internal {

// Operations and results for /metrics. Thread-safe.
class LdapMetrics {
 public:
  void CountRequest(Operation op);
  // A final response (not a search entry) to an operation, with its result code.
  void CountResult(Operation op, int code);
  std::string Render() const;

  std::atomic<int64_t> open_connections{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};       // over max_connections
  std::atomic<uint64_t> disconnected{0};  // Notice of Disconnection sent (malformed, too large)
  std::atomic<uint64_t> timed_out{0};     // idle, message, handshake or write timeout

 private:
  static constexpr size_t kOps = 10;  // Operation has 10 enumerators
  std::array<std::atomic<uint64_t>, kOps> requests_{};
  mutable std::mutex mu_;
  std::map<std::pair<int, int>, uint64_t> results_;  // (op, code) -> count; guarded by mu_
};

class Connection;

// What every connection of one server shares. Owned by the server, outlives its connections.
struct ServerShared {
  ServerShared(const ServerOptions& opts, Handler& h) : options(opts), handler(h) {}

  const ServerOptions options;
  Handler& handler;
  // Null when no certificate is configured; a connection takes its Current() context when its
  // handshake begins and keeps it.
  std::shared_ptr<tls::ServerContext> tls_context;
  std::function<void(std::function<void()>)> submit;  // runs a job on the worker pool
  LdapMetrics metrics;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> next_id{1};

  void Register(Connection* c, std::weak_ptr<Connection> weak);
  void Unregister(Connection* c);
  std::vector<std::shared_ptr<Connection>> Live();
  // Waits until no connection is registered, or `deadline`; true if none is left.
  bool WaitUntilEmpty(std::chrono::steady_clock::time_point deadline);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;  // guarded by mu_
};

// The protocolOp of a framed LDAPMessage, read from its tag; nullopt when the outer SEQUENCE
// or the messageID cannot be read or the tag is not a request. Decoded carries no op, and a
// protocolError must be answered in the response type of the op (RFC 4511 §4.1.1).
std::optional<Operation> PeekRequestOperation(std::string_view message);

// The op and resultCode of an encoded final response (bindResponse, searchResDone, ...), for
// metrics; nullopt for search entries, references, intermediate responses and unsolicited
// notifications (message id 0).
std::optional<std::pair<Operation, int>> PeekResponseResult(std::string_view message);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `socket` is open and its executor is a strand of its own.
  Connection(ServerShared& shared, boost::asio::ip::tcp::socket socket, bool ldaps);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Registers and starts the handshake (LDAPS) or reading. Thread-safe.
  void Start();
  // Abandons the running request, drops queued ones, sends a Notice of Disconnection
  // (unavailable) and closes. Thread-safe.
  void RequestStop();
  // From now on Send returns false and nothing more is written; used by Stop after its grace.
  // Thread-safe.
  void ForceClose();

 private:
  using Clock = std::chrono::steady_clock;
  using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

  enum class Phase {
    kHandshake,    // TLS handshake (LDAPS accept, or after StartTLS)
    kOpen,         // reading and answering
    kStartingTls,  // StartTLS answered; the handshake begins once the answer is written
    kFlushing,     // a final message (Notice of Disconnection) is being written; input ignored
    kLingering,    // sending side shut; reading and discarding until the client closes
    kClosed
  };

  struct Pending {
    Request request;
    size_t bytes = 0;  // encoded size, for the queued-bytes bound
  };

  std::shared_ptr<Connection> Self() { return shared_from_this(); }
  boost::asio::ip::tcp::socket& Lowest();

  // Input.
  void MaybeRead();
  void OnRead(const boost::system::error_code& ec, size_t n);
  void ProcessInput();
  void OnMessage(std::string_view bytes);
  void OnDecodeError(std::string_view bytes, const Decoded& decoded);
  bool PlaintextRefused(const Request& request) const;
  void OnAbandon(int32_t message_id);
  void OnStartTls(const Request& request);
  void BeginHandshake();
  void OnHandshake(const boost::system::error_code& ec);

  // Requests.
  void Enqueue(Request request, size_t bytes);
  void Run(Request request);
  void RunOnWorker(const Request& request, const std::shared_ptr<std::atomic<bool>>& abandoned);
  void OnHandlerDone();
  bool SendFromWorker(std::string message, const std::atomic<bool>& abandoned);
  void AbandonRunning();

  void LogAccess(int32_t message_id, Operation op, std::string_view target, int code,
                 size_t entries, size_t bytes, Clock::time_point started, bool on_worker = false);

  // Output.
  void Answer(int32_t message_id, Operation op, const LdapResult& result);
  void Write(std::string message);  // on the strand; not subject to backpressure
  void ScheduleWriteLocked();       // mu_ held
  void WriteMore();
  void OnWrite(const boost::system::error_code& ec, size_t n);
  bool OutputOverLimit();
  void OnDrained();

  // Closing and deadlines.
  void Disconnect(int code, std::string_view message);
  void LingeringClose();
  void Close();
  void MarkClosed();
  void ArmDeadline();
  std::optional<Clock::time_point> NextDeadline();
  void OnTimer(uint64_t generation);

  ServerShared& shared_;
  const ServerOptions& opts_;
  const bool ldaps_;
  boost::asio::any_io_executor strand_;
  boost::asio::ip::tcp::socket socket_;  // moved into tls_ when TLS begins
  std::shared_ptr<boost::asio::ssl::context> tls_ctx_;  // what tls_ was made with
  std::unique_ptr<TlsStream> tls_;
  boost::asio::steady_timer timer_;
  Session session_;  // what the handler sees; tls changes only while no request is outstanding

  // Strand-only state.
  Phase phase_ = Phase::kOpen;
  bool reading_ = false;       // a read is outstanding
  bool writing_ = false;       // a write is outstanding
  bool input_paused_ = false;  // output over its bound: stop taking requests until it drains
  std::string in_;             // received bytes not yet consumed (at most one partial message)
  std::array<char, 16 * 1024> chunk_{};
  std::vector<std::string> inflight_;  // being written, front first
  size_t inflight_offset_ = 0;         // bytes of inflight_ already written
  std::deque<Pending> queue_;          // waiting behind the running request
  size_t queued_bytes_ = 0;
  bool running_ = false;
  int32_t running_id_ = 0;
  Clock::time_point last_activity_;
  std::optional<Clock::time_point> message_started_;  // first byte of an incomplete message
  Clock::time_point phase_started_;                   // kHandshake, kLingering
  Clock::time_point write_progress_;                  // last byte written
  uint64_t timer_generation_ = 0;
  std::optional<Clock::time_point> timer_at_;  // when the armed timer fires

  // Shared with workers.
  std::mutex mu_;
  std::condition_variable drained_;  // out_bytes_ fell, or closed_ / an abandon flag was set
  std::deque<std::string> out_;      // guarded by mu_; queued behind inflight_
  size_t out_bytes_ = 0;             // guarded by mu_; unsent bytes in out_ and inflight_
  bool write_scheduled_ = false;     // guarded by mu_; WriteMore posted or a write outstanding
  bool closed_ = false;              // guarded by mu_; nothing more will be written
  std::shared_ptr<std::atomic<bool>> running_abandoned_;  // guarded by mu_
};

}  // namespace idsync::ldap::net_internal
