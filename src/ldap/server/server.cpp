// Threading model, as in src/http/server.cpp: `io_threads` threads run one io_context; every
// connection has its own strand (its socket's executor); the Handler runs on a pool of
// `worker_threads`, one request at a time per connection (connection.h).
#include "ldap/server/server.h"
#include "base/log.h"
#include "base/thread_name.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "ldap/server/connection.h"
#include "tls/server_context.h"

namespace idsync::ldap {

namespace {

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;
using net_internal::Connection;
using net_internal::ServerShared;

void LogLine(const char* what, const char* detail) {
  log::Error(what, {{"component", "ldap"}, {"detail", detail}});
}

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};

// "HOST:PORT", "[IPv6]:PORT".
Result<ListenAddress> ParseListen(const std::string& text) {
  auto invalid = [&] {
    return Error{ErrorCode::kUnavailable,
                 "invalid listen address '" + text + "': expected HOST:PORT, e.g. 0.0.0.0:389"};
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return invalid();
  ListenAddress out;
  out.host = text.substr(0, colon);
  if (out.host.front() == '[') {
    if (out.host.size() < 3 || out.host.back() != ']') return invalid();
    out.host = out.host.substr(1, out.host.size() - 2);
  } else if (out.host.find(':') != std::string::npos) {
    return invalid();  // an IPv6 address needs brackets
  }
  unsigned long port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') return invalid();
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535) return invalid();
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, Handler& handler)
      : shared_(options, handler),
        ioc_(std::max(1, options.io_threads)),
        accept_strand_(net::make_strand(ioc_)),
        pool_(static_cast<size_t>(std::max(1, options.worker_threads))) {
    shared_.submit = [this](std::function<void()> job) { net::post(pool_, std::move(job)); };
  }
  ~ServerImpl() override { Stop(std::chrono::milliseconds(5000)); }

  Status Init();
  void Launch();

  uint16_t ldap_port() const override { return ldap_ ? ldap_->port : 0; }
  uint16_t ldaps_port() const override { return ldaps_ ? ldaps_->port : 0; }
  std::string Render() const override { return shared_.metrics.Render(); }
  void Stop(std::chrono::milliseconds grace) override;

 private:
  struct Listener {
    Listener(net::strand<net::io_context::executor_type>& strand, bool is_ldaps)
        : acceptor(strand), retry(strand), ldaps(is_ldaps) {}
    tcp::acceptor acceptor;
    net::steady_timer retry;
    bool ldaps;
    uint16_t port = 0;
  };

  Status InitTls();
  Status Listen(Listener& listener, const std::string& where);
  void DoAccept(Listener& listener);
  void OnAccept(Listener& listener, const error_code& ec, tcp::socket socket);
  void Reject(Listener& listener, tcp::socket socket);
  void RunIo();

  // Declaration order is destruction order in reverse: the shared state (and its TLS context)
  // outlive the io_context, whose destruction may destroy the last connections; the worker
  // pool goes before the io_context because jobs it never ran own connections (and sockets).
  ServerShared shared_;
  std::mutex stop_mu_;
  bool stopped_ = false;  // guarded by stop_mu_
  net::io_context ioc_;
  // Keeps run() going while a connection's only pending work is a job on the worker pool.
  net::executor_work_guard<net::io_context::executor_type> work_{ioc_.get_executor()};
  net::strand<net::io_context::executor_type> accept_strand_;
  std::optional<Listener> ldap_;
  std::optional<Listener> ldaps_;
  net::thread_pool pool_;
  std::vector<std::thread> io_threads_;
};

// The TLS context comes from tls/server_context.h, as the HTTP server's (shared with it when
// both use the same certificate).
Status ServerImpl::InitTls() {
  const ServerOptions& options = shared_.options;
  if (options.tls) {
    shared_.tls_context = options.tls;
    return Status::Ok();
  }
  const auto& cert = options.tls_cert_file;
  const auto& key = options.tls_key_file;
  if (cert.has_value() != key.has_value()) {
    return Error{ErrorCode::kUnavailable,
                 "TLS needs both --tls-cert and --tls-key, only one is set"};
  }
  if (!cert) {
    if (!options.ldaps_listen.empty()) {
      return Error{ErrorCode::kUnavailable, "LDAPS needs --tls-cert and --tls-key"};
    }
    return Status::Ok();
  }
  auto loaded = tls::ServerContext::Load(*cert, *key);
  if (!loaded) return loaded.error();
  shared_.tls_context = std::move(*loaded);
  return Status::Ok();
}

Status ServerImpl::Listen(Listener& listener, const std::string& where) {
  auto parsed = ParseListen(where);
  if (!parsed) return parsed.error();
  const ListenAddress& address = *parsed;
  error_code ec;
  tcp::endpoint endpoint;
  auto ip = net::ip::make_address(address.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(ip, address.port);
  } else {
    tcp::resolver resolver(ioc_);
    auto results =
        resolver.resolve(address.host, std::to_string(address.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return Error{ErrorCode::kUnavailable,
                   "cannot listen on " + where + ": host '" + address.host +
                       "' is not an IP address or a resolvable name (" +
                       (ec ? ec.message() : std::string("no address")) + ")"};
    }
    endpoint = results.begin()->endpoint();
  }
  listener.acceptor.open(endpoint.protocol(), ec);
  if (!ec) listener.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) listener.acceptor.bind(endpoint, ec);
  if (ec == net::error::address_in_use) {
    return Error{ErrorCode::kUnavailable, "address " + where + " is already in use"};
  }
  if (ec == net::error::access_denied) {
    return Error{ErrorCode::kUnavailable,
                 "cannot listen on " + where +
                     ": permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)"};
  }
  if (!ec) listener.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Error{ErrorCode::kUnavailable, "cannot listen on " + where + ": " + ec.message()};
  listener.port = listener.acceptor.local_endpoint(ec).port();
  return Status::Ok();
}

Status ServerImpl::Init() {
  const ServerOptions& options = shared_.options;
  if (options.ldap_listen.empty() && options.ldaps_listen.empty()) {
    return Error{ErrorCode::kUnavailable, "no LDAP listener configured (LDAP or LDAPS address)"};
  }
  if (Status tls = InitTls(); !tls) return tls;
  if (!options.ldap_listen.empty()) {
    ldap_.emplace(accept_strand_, false);
    if (Status s = Listen(*ldap_, options.ldap_listen); !s) return s;
  }
  if (!options.ldaps_listen.empty()) {
    ldaps_.emplace(accept_strand_, true);
    if (Status s = Listen(*ldaps_, options.ldaps_listen); !s) return s;
  }
  return Status::Ok();
}

void ServerImpl::Launch() {
  net::dispatch(accept_strand_, [this] {
    if (ldap_) DoAccept(*ldap_);
    if (ldaps_) DoAccept(*ldaps_);
  });
  int n = std::max(1, shared_.options.io_threads);
  io_threads_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) io_threads_.emplace_back([this] {
    NameThisThread("ldap-io");
    RunIo();
  });
}

void ServerImpl::RunIo() {
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      // Not expected: every handler catches. Keep the thread serving rather than dying.
      LogLine("exception escaped an I/O handler", e.what());
    } catch (...) {
      LogLine("exception escaped an I/O handler", "non-standard exception");
    }
  }
}

void ServerImpl::DoAccept(Listener& listener) {
  if (shared_.stopping.load(std::memory_order_acquire)) return;
  listener.acceptor.async_accept(
      net::make_strand(ioc_),
      net::bind_executor(accept_strand_,
                         [this, &listener](const error_code& ec, tcp::socket socket) {
                           OnAccept(listener, ec, std::move(socket));
                         }));
}

void ServerImpl::OnAccept(Listener& listener, const error_code& ec, tcp::socket socket) {
  if (shared_.stopping.load(std::memory_order_acquire) || ec == net::error::operation_aborted) {
    return;
  }
  if (ec) {
    // Out of descriptors or memory: back off briefly instead of spinning, then keep going.
    if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
        ec == net::error::no_memory || ec.value() == ENFILE) {
      listener.retry.expires_after(std::chrono::milliseconds(50));
      listener.retry.async_wait([this, &listener](const error_code& wait_ec) {
        if (!wait_ec) DoAccept(listener);
      });
      return;
    }
    return DoAccept(listener);
  }
  error_code opt_ec;
  socket.set_option(tcp::no_delay(true), opt_ec);
  auto& metrics = shared_.metrics;
  if (metrics.open_connections.load(std::memory_order_relaxed) >=
      static_cast<int64_t>(shared_.options.max_connections)) {
    metrics.refused.fetch_add(1, std::memory_order_relaxed);
    Reject(listener, std::move(socket));
    return DoAccept(listener);
  }
  metrics.open_connections.fetch_add(1, std::memory_order_relaxed);
  metrics.accepted.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<Connection> connection;
  try {
    connection = std::make_shared<Connection>(shared_, std::move(socket), listener.ldaps);
  } catch (const std::exception& e) {
    metrics.open_connections.fetch_sub(1, std::memory_order_relaxed);
    LogLine("cannot start connection", e.what());
    return DoAccept(listener);
  }
  try {
    connection->Start();
  } catch (const std::exception& e) {
    // Dropping the connection gives back its count (its destructor unregisters it).
    LogLine("cannot start connection", e.what());
  }
  DoAccept(listener);
}

// Over max_connections: a plain LDAP client gets a Notice of Disconnection (RFC 4511 §4.4.1,
// unavailable); an LDAPS client cannot be answered without a handshake, which is exactly the
// work we are refusing, so it is closed.
void ServerImpl::Reject(Listener& listener, tcp::socket socket) {
  error_code ec;
  if (!listener.ldaps) {
    try {
      static const std::string notice =
          EncodeNoticeOfDisconnection(kUnavailable, "too many connections, retry later");
      // Best effort and non-blocking: the notice fits in any socket send buffer.
      socket.non_blocking(true, ec);
      if (!ec) socket.send(net::buffer(notice), 0, ec);
    } catch (const std::exception&) {
      // Out of memory building the notice: close without it.
    }
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void ServerImpl::Stop(std::chrono::milliseconds grace) {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  shared_.stopping.store(true, std::memory_order_release);
  auto deadline = std::chrono::steady_clock::now() + grace;

  net::post(accept_strand_, [this] {
    error_code ec;
    for (auto* listener : {ldap_ ? &*ldap_ : nullptr, ldaps_ ? &*ldaps_ : nullptr}) {
      if (listener == nullptr) continue;
      listener->acceptor.close(ec);
      listener->retry.cancel();
    }
  });
  for (auto& connection : shared_.Live()) connection->RequestStop();
  if (!io_threads_.empty() && !shared_.WaitUntilEmpty(deadline)) {
    // Past the grace: handlers blocked in Send return false, sockets close.
    for (auto& connection : shared_.Live()) connection->ForceClose();
  }
  work_.reset();
  ioc_.stop();
  for (auto& thread : io_threads_) {
    if (thread.joinable()) thread.join();
  }
  pool_.join();  // handlers still running finish; their Send returns false
  pool_.stop();
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Handler& handler) {
  std::unique_ptr<ServerImpl> server;
  try {
    server = std::make_unique<ServerImpl>(options, handler);
  } catch (const std::exception& e) {
    return Error{ErrorCode::kUnavailable, std::string("cannot start LDAP server: ") + e.what()};
  }
  if (Status status = server->Init(); !status) return status.error();
  server->Launch();
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace idsync::ldap
