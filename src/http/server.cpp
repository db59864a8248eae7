// Threading model: `io_threads` threads run one io_context. Every connection has its own strand
// (the executor of its beast::tcp_stream), so a connection's state is only touched on that
// strand. A connection reads one request at a time; when it is complete, the request is moved
// into a job on the worker pool (`worker_threads`), which runs the Handler (it may block on the
// store) and posts the Response back to the connection's strand to be written. Pipelined
// requests wait in the connection's read buffer and are parsed only after the previous
// response is written, which keeps responses in request order without any reordering queue.
#include "http/server.h"
#include "base/log.h"
#include "base/thread_name.h"
#include "tls/server_context.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>

#include "base/strings.h"
#include "http/metrics.h"
#include "http/request_head.h"

namespace idsync::http {

// ---------------------------------------------------------------------------------------------
// Request / Response helpers

std::optional<std::string_view> Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreAsciiCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::QueryIgnoreCase(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (EqualsIgnoreAsciiCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

void Response::SetHeader(std::string name, std::string value) {
  auto same = [&](const auto& h) { return EqualsIgnoreAsciiCase(h.first, name); };
  auto it = std::find_if(headers.begin(), headers.end(), same);
  if (it == headers.end()) {
    headers.emplace_back(std::move(name), std::move(value));
    return;
  }
  headers.erase(std::remove_if(std::next(it), headers.end(), same), headers.end());
  it->first = std::move(name);
  it->second = std::move(value);
}

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// How long a closing connection keeps reading (and discarding) what the client still sends,
// so that closing with unread data does not reset the connection before the client has read
// our final response (RFC 9112 §9.6, "lingering close").
constexpr std::chrono::milliseconds kLingerTime{500};
constexpr size_t kReadChunk = 16 * 1024;
// Retry-After of a 503 whose handler gave none (a store that is briefly unreachable), seconds.
constexpr const char* kRetryAfterUnavailable = "2";

// Invalid escapes ("%zz", a trailing "%") are kept literally: rejecting them would break
// clients for no gain, and the SCIM layer validates what it uses.
std::string PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      int hi = HexDigitValue(in[i + 1]);
      int lo = HexDigitValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

// The query string is decoded as application/x-www-form-urlencoded, so '+' means a space, as
// in most servers and frameworks. SCIM clients encode spaces in filters as %20, which decodes
// the same; a literal '+' must be sent as %2B.
void ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>& out) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(PercentDecode(part, true), std::string());
    } else {
      out.emplace_back(PercentDecode(part.substr(0, eq), true),
                       PercentDecode(part.substr(eq + 1), true));
    }
  }
}

// RFC 9110 §5.6.7 IMF-fixdate, cached per thread and second.
const std::string& HttpDate() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_second || cached.empty()) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                  tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    cached = buf;
    cached_second = now;
  }
  return cached;
}

bool ValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ':') return false;
  }
  return true;
}

bool ValidHeaderValue(std::string_view value) {
  return value.find_first_of("\r\n", 0, 3) == std::string_view::npos;  // also rejects NUL
}

template <class Fields>
std::vector<std::string_view> FieldValues(const Fields& fields, bhttp::field name) {
  std::vector<std::string_view> values;
  auto [first, last] = fields.equal_range(name);
  for (auto it = first; it != last; ++it)
    values.emplace_back(it->value().data(), it->value().size());
  return values;
}

Response ErrorResponse(int status, std::string_view detail) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body =
      "{\"status\":\"" + std::to_string(status) + "\",\"detail\":\"" + std::string(detail) + "\"}";
  return r;
}

void LogLine(const char* what, const char* detail) {
  log::Error(what, {{"component", "http"}, {"detail", detail}});
}

// Who the request this worker thread is handling comes from (NotePrincipal), read by
// RunHandler into the response for the access line.
thread_local std::string t_principal;

std::string EndpointText(std::string_view host, uint16_t port) {
  if (host.find(':') != std::string_view::npos) {
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  // Thread-safe. Closes the connection now if no request is in flight, otherwise after its
  // response is written.
  virtual void RequestStop() = 0;
};

class ServerImpl;

template <bool kTls>
class Session;

}  // namespace

// ---------------------------------------------------------------------------------------------
// ServerImpl

namespace {

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, Handler handler)
      : options_(options),
        handler_(std::move(handler)),
        ioc_(std::max(1, options.io_threads)),
        accept_strand_(net::make_strand(ioc_)),
        acceptor_(accept_strand_),
        accept_retry_timer_(accept_strand_),
        pool_(static_cast<size_t>(std::max(1, options.worker_threads))) {}

  ~ServerImpl() override { Stop(std::chrono::milliseconds(10000)); }

  Status Init();
  void Launch();

  uint16_t port() const override { return port_; }
  const Metrics& metrics() const override { return metrics_; }
  void Stop(std::chrono::milliseconds grace) override;

  // For sessions.
  const ServerOptions& options() const { return options_; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  ServerMetrics& server_metrics() { return metrics_; }

  // Reserves a place in the worker queue; false when max_queued_requests are already waiting.
  bool TryReserveQueueSlot() {
    size_t n = queued_.load(std::memory_order_relaxed);
    while (n < options_.max_queued_requests) {
      if (queued_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  void ReleaseQueueSlot() { queued_.fetch_sub(1, std::memory_order_relaxed); }

  template <class Job>
  void Submit(Job&& job) {
    net::post(pool_, [job = std::forward<Job>(job)]() mutable {
      // The pool's threads are Asio's own: each is named by the first job it runs.
      thread_local bool named = false;
      if (!named) {
        NameThisThread("http-worker");
        named = true;
      }
      job();
    });
  }

  // Runs the handler; never throws.
  Response RunHandler(const Request& request) {
    t_principal.clear();
    try {
      Response response = handler_(request);
      if (response.principal.empty()) response.principal = std::move(t_principal);
      return response;
    } catch (const std::exception& e) {
      LogLine("handler threw", e.what());
    } catch (...) {
      LogLine("handler threw", "non-standard exception");
    }
    try {
      return ErrorResponse(500, "internal error");
    } catch (...) {
      return Response{500, {}, {}, {}, {}};
    }
  }

  void Register(SessionBase* session, std::weak_ptr<SessionBase> weak) {
    std::lock_guard lock(sessions_mu_);
    sessions_.emplace(session, std::move(weak));
  }
  void Unregister(SessionBase* session) {
    {
      std::lock_guard lock(sessions_mu_);
      sessions_.erase(session);
    }
    metrics_.open_connections.fetch_sub(1, std::memory_order_relaxed);
    sessions_cv_.notify_all();
  }

 private:
  Status InitTls();
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void Reject(tcp::socket socket);
  void RunIo();

  const ServerOptions options_;
  const Handler handler_;
  ServerMetrics metrics_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> queued_{0};

  std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_;

  std::mutex stop_mu_;
  bool stopped_ = false;
  uint16_t port_ = 0;

  // Declaration order is destruction order in reverse: the TLS context and the bookkeeping
  // above outlive the io_context, whose destruction may destroy the last sessions; the worker
  // pool is destroyed before the io_context because abandoned jobs own sessions (and sockets).
  std::shared_ptr<tls::ServerContext> tls_;  // null: plain HTTP
  net::io_context ioc_;
  // Keeps run() going while a connection's only pending work is a job on the worker pool,
  // which will post back to the io_context.
  net::executor_work_guard<net::io_context::executor_type> work_{ioc_.get_executor()};
  net::strand<net::io_context::executor_type> accept_strand_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_timer_;
  net::thread_pool pool_;
  std::vector<std::thread> io_threads_;
};

// ---------------------------------------------------------------------------------------------
// Session: one connection.

template <bool kTls>
class Session final : public SessionBase {
  using Stream = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;
  enum class State {
    kHandshake,
    kIdle,
    kReadingHeader,
    kReadingBody,
    kHandling,
    kWriting,
    kClosing
  };

 public:
  Session(ServerImpl* server, tcp::socket&& socket, std::shared_ptr<ssl::context> ctx)
      : server_(server),
        opts_(server->options()),
        tls_ctx_(std::move(ctx)),
        stream_(MakeStream(std::move(socket), tls_ctx_.get())) {
    beast::error_code ec;
    auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_address_ = endpoint.address().to_string();
  }

  ~Session() override { server_->Unregister(this); }

  void Run() {
    server_->Register(this, weak_from_this());
    net::dispatch(stream_.get_executor(), [self = Self()] { self->OnRun(); });
  }

  void RequestStop() override {
    net::post(stream_.get_executor(), [self = Self()] { self->OnStopRequested(); });
  }

 private:
  static Stream MakeStream(tcp::socket&& socket, ssl::context* ctx) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *ctx);
    } else {
      (void)ctx;
      return Stream(std::move(socket));
    }
  }

  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void OnRun() {
    if (server_->stopping()) return CloseSocket();
    if constexpr (kTls) {
      state_ = State::kHandshake;
      Lowest().expires_after(opts_.header_timeout);
      stream_.async_handshake(ssl::stream_base::server, [self = Self()](beast::error_code ec) {
        if (ec) return self->CloseSocket();
        self->ReadRequest(true);
      });
    } else {
      ReadRequest(true);
    }
  }

  void OnStopRequested() {
    switch (state_) {
      case State::kHandshake:
      case State::kIdle:
      case State::kReadingHeader:
      case State::kReadingBody: CloseSocket(); break;
      case State::kHandling:
      case State::kWriting:
      case State::kClosing: break;  // closes once the response is written
    }
  }

  // Waits for the next request. Before its first byte the connection is idle (idle_timeout,
  // or header_timeout for a fresh connection, which has no business being silent); from the
  // first byte the whole head must arrive within header_timeout, which cuts off clients that
  // trickle header bytes (slowloris).
  void ReadRequest(bool first) {
    if (server_->stopping()) return CloseSocket();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(opts_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(opts_.max_body_bytes);
    version_ = 11;
    keep_alive_ = true;
    head_ = false;
    method_.clear();
    path_.clear();
    if (buffer_.size() > 0) return ReadHeader();
    state_ = State::kIdle;
    Lowest().expires_after(first ? opts_.header_timeout : opts_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = Self()](beast::error_code ec, size_t n) {
                              if (ec) return self->CloseSocket();
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  // The whole head is read into the buffer before Beast parses it, so that its lines can be
  // checked as sent (CheckHead): Beast unfolds obsolete line folding without saying so.
  void ReadHeader() {
    state_ = State::kReadingHeader;
    Lowest().expires_after(opts_.header_timeout);
    head_scanned_ = 0;
    AwaitHead();
  }

  void AwaitHead() {
    auto data = buffer_.data();
    std::string_view view(static_cast<const char*>(data.data()), data.size());
    size_t end = view.find("\r\n\r\n", head_scanned_ > 3 ? head_scanned_ - 3 : 0);
    if (end != std::string_view::npos) {
      if (std::string problem = HeadLineProblem(view.substr(0, end + 2)); !problem.empty()) {
        return WriteError(400, problem);
      }
      return ParseHead();
    }
    head_scanned_ = view.size();
    if (view.size() > opts_.max_header_bytes) {
      return WriteError(431, "request header fields too large");
    }
    // An incomplete head whose request line is already malformed (a TLS handshake on the plain
    // port, garbage) is answered now, as Beast alone would, not after the header timeout.
    if (!view.empty()) {
      bhttp::request_parser<bhttp::empty_body> probe;
      probe.header_limit(std::numeric_limits<std::uint32_t>::max());
      beast::error_code ec;
      probe.put(data, ec);
      if (ec && ec != bhttp::error::need_more) return ParseHead();  // fails the same way
    }
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = Self()](beast::error_code ec, size_t n) {
                              if (ec) return self->CloseSocket();  // timeout, reset, gone
                              self->buffer_.commit(n);
                              self->AwaitHead();
                            });
  }

  void ParseHead() {
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = Self()](beast::error_code ec, size_t n) { self->OnHeader(ec, n); });
  }

  // Maps a read error to a final answer, or closes silently when the client is gone.
  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) {
      return WriteError(431, "request header fields too large");
    }
    if (ec == bhttp::error::body_limit) return WriteError(413, "request body too large");
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
      return CloseSocket();
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
      return WriteError(400, "malformed request");
    }
    CloseSocket();  // timeout, reset, cancelled by Stop
  }

  void OnHeader(beast::error_code ec, size_t head_bytes) {
    if (ec) return OnReadError(ec);
    // Beast's header_limit bounds only the bytes not yet parsed within one read, so a head of
    // many small fields could exceed it; the parser is fresh per request, so `head_bytes` is
    // the whole head.
    if (head_bytes > opts_.max_header_bytes) {
      return WriteError(431, "request header fields too large");
    }
    const auto& head = parser_->get();
    try {
      method_ = std::string(head.method_string());
      std::string_view target(head.target().data(), head.target().size());
      path_ = std::string(target.substr(0, target.find('?')));  // the query may hold secrets
    } catch (const std::exception&) {
      // Out of memory: the access line lacks them.
    }
    version_ = head.version();
    keep_alive_ = head.keep_alive();
    head_ = head.method() == bhttp::verb::head;
    // RFC 9112 §6.1: both framings at once is a smuggling attempt; a transfer coding other
    // than a final "chunked" leaves the body length unknown. Either way: 400 and close.
    bool has_te = head.count(bhttp::field::transfer_encoding) > 0;
    if (has_te && head.count(bhttp::field::content_length) > 0) {
      return WriteError(400, "both Content-Length and Transfer-Encoding");
    }
    // Only a lone "chunked" is supported: "gzip, chunked" would be decoded as chunked with the
    // gzip coding silently ignored (RFC 9112 §6.1 lists transfer codings we do not implement).
    if (has_te && (head.count(bhttp::field::transfer_encoding) != 1 ||
                   !beast::iequals(head[bhttp::field::transfer_encoding], "chunked"))) {
      return WriteError(400, "unsupported transfer coding");
    }
    if (version_ < 10 || version_ > 11) return WriteError(505, "HTTP version not supported");
    if (std::string problem = HostProblem(version_, FieldValues(head, bhttp::field::host));
        !problem.empty()) {
      return WriteError(400, problem);
    }
    bool has_body = has_te || parser_->content_length().value_or(0) > 0;
    if (std::string problem =
            ContentCodingProblem(FieldValues(head, bhttp::field::content_encoding));
        has_body && !problem.empty()) {
      Response refused = ErrorResponse(415, problem);
      refused.headers.emplace_back("Accept-Encoding", "identity");  // RFC 9110 §12.5.3
      if (started_ == Clock::time_point()) started_ = Clock::now();
      return WriteResponse(std::move(refused), true);
    }
    if (auto length = parser_->content_length(); length && *length > opts_.max_body_bytes) {
      return WriteError(413, "request body too large");
    }
    if (parser_->is_done()) return OnRequestComplete();
    if (version_ >= 11 && beast::iequals(head[bhttp::field::expect], "100-continue")) {
      state_ = State::kReadingBody;
      Lowest().expires_after(opts_.body_timeout);
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                              [self = Self()](beast::error_code wec, size_t) {
                                if (wec) return self->CloseSocket();
                                self->ReadBody();
                              });
    }
    ReadBody();
  }

  void ReadBody() {
    state_ = State::kReadingBody;
    Lowest().expires_after(opts_.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_, [self = Self()](beast::error_code ec, size_t) {
      if (ec) return self->OnReadError(ec);
      self->OnRequestComplete();
    });
  }

  void OnRequestComplete() {
    Lowest().expires_never();
    started_ = Clock::now();
    if (!server_->TryReserveQueueSlot()) {
      Response busy = ErrorResponse(503, "server busy, retry later");
      busy.headers.emplace_back("Retry-After", "1");
      return WriteResponse(std::move(busy), !keep_alive_);
    }
    Request request;
    try {
      auto message = parser_->release();
      request.method = std::string(message.method_string());
      request.target = std::string(message.target());
      std::string_view target = request.target;
      size_t qmark = target.find('?');
      request.path = PercentDecode(target.substr(0, qmark), false);
      if (qmark != std::string_view::npos) ParseQuery(target.substr(qmark + 1), request.query);
      request.headers.reserve(16);
      for (const auto& field : message) {
        request.headers.emplace_back(AsciiLower(field.name_string()), std::string(field.value()));
      }
      request.body = std::move(message.body());
      bytes_in_ = request.body.size();
      request.remote_address = remote_address_;
      request.tls = kTls;
    } catch (const std::exception& e) {
      server_->ReleaseQueueSlot();
      LogLine("cannot build request", e.what());
      return WriteError(500, "internal error");
    }
    state_ = State::kHandling;
    // The executor is copied here, on the strand, so that the worker touches no stream state.
    server_->Submit(
        [self = Self(), executor = stream_.get_executor(), request = std::move(request)]() mutable {
          self->server_->ReleaseQueueSlot();
          Response response = self->server_->RunHandler(request);
          try {
            net::post(executor, [self, response = std::move(response)]() mutable {
              self->WriteResponse(std::move(response), false);
            });
          } catch (const std::exception& e) {
            // Out of memory: the connection is dropped when this job releases it.
            LogLine("cannot post response", e.what());
          }
        });
  }

  void WriteError(int status, std::string_view detail) {
    if (started_ == Clock::time_point()) started_ = Clock::now();
    WriteResponse(ErrorResponse(status, detail), true);
  }

  void WriteResponse(Response response, bool close) {
    try {
      close = close || !keep_alive_ || server_->stopping();
      int status = response.status;
      if (status < 100 || status > 999) status = 500;
      res_ = {};
      res_.version(version_);
      res_.result(static_cast<unsigned>(status));
      bool has_date = false;
      bool has_retry_after = false;
      for (auto& [name, value] : response.headers) {
        if (!ValidHeaderName(name) || !ValidHeaderValue(value)) continue;
        if (beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding")) {
          continue;
        }
        if (beast::iequals(name, "connection")) {
          if (value.find("close") != std::string::npos) close = true;
          continue;
        }
        if (beast::iequals(name, "date")) has_date = true;
        if (beast::iequals(name, "retry-after")) has_retry_after = true;
        res_.insert(name, value);
      }
      if (!has_date) res_.set(bhttp::field::date, HttpDate());
      // Every 503 says when to come back (RFC 9110 §10.2.3): identity providers retry on it, and
      // a store that is briefly unreachable (a PostgreSQL restart, a failover) is the usual cause.
      if (status == 503 && !has_retry_after) {
        res_.set(bhttp::field::retry_after, kRetryAfterUnavailable);
      }
      // RFC 9110 §8.6: no Content-Length in 1xx and 204; HEAD gets the length it would have had.
      if (status == 204 || status < 200) {
        response.body.clear();
      } else if (status != 304) {
        res_.content_length(response.body.size());
      }
      bytes_out_ = head_ || status == 304 ? 0 : response.body.size();
      if (!head_ && status != 304) res_.body() = std::move(response.body);
      res_.keep_alive(!close);
      route_ = std::move(response.route);
      principal_ = std::move(response.principal);
      request_id_.clear();
      for (const auto& [name, value] : response.headers) {
        if (beast::iequals(name, "x-request-id")) request_id_ = value;
      }
      status_ = status;
      close_after_write_ = close;
    } catch (const std::exception& e) {
      LogLine("cannot build response", e.what());
      return CloseSocket();
    }
    state_ = State::kWriting;
    Lowest().expires_after(std::max(opts_.body_timeout, opts_.idle_timeout));
    bhttp::async_write(stream_, res_,
                       [self = Self()](beast::error_code ec, size_t) { self->OnWritten(ec); });
  }

  void OnWritten(beast::error_code ec) {
    auto elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    try {
      server_->server_metrics().Observe(route_, status_, elapsed);
      LogAccess(elapsed, ec);
    } catch (...) {
      // Metrics and the log must never take the connection down (allocation failure).
    }
    started_ = Clock::time_point();
    if (ec) return CloseSocket();
    if (close_after_write_) return LingeringClose();
    res_ = {};
    ReadRequest(false);
  }

  // The access line: one per request, where its response has been written (or failed to be).
  // The path is without its query and no header is logged: tokens, passwords and cookies
  // travel in headers, bodies and (for some clients) query strings, never in these fields.
  void LogAccess(double elapsed, beast::error_code ec) {
    log::Fields fields = {{"proto", kTls ? "https" : "http"},
                          {"request_id", request_id_},
                          {"remote", remote_address_},
                          {"principal", principal_},
                          {"method", method_},
                          {"path", path_},
                          {"route", route_},
                          {"status", std::to_string(status_)},
                          {"duration_ms", std::to_string(elapsed * 1000.0)},
                          {"bytes_in", std::to_string(bytes_in_)},
                          {"bytes_out", std::to_string(bytes_out_)}};
    if (ec) fields.emplace_back("write_error", ec.message());
    log::Info("access", fields);
    bytes_in_ = 0;
  }

  void LingeringClose() {
    state_ = State::kClosing;
    Lowest().expires_after(kLingerTime);
    if constexpr (kTls) {
      stream_.async_shutdown([self = Self()](beast::error_code) { self->CloseSocket(); });
    } else {
      beast::error_code ec;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return CloseSocket();
      buffer_.clear();
      Drain();
    }
  }

  void Drain() {
    Lowest().async_read_some(buffer_.prepare(kReadChunk),
                             [self = Self()](beast::error_code ec, size_t) {
                               if (ec) return self->CloseSocket();
                               self->Drain();
                             });
  }

  void CloseSocket() {
    state_ = State::kClosing;
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().socket().close(ec);
  }

  ServerImpl* const server_;
  const ServerOptions& opts_;
  // The TLS context this connection began with; a reload does not change it (before stream_,
  // which refers to it).
  std::shared_ptr<ssl::context> tls_ctx_;
  Stream stream_;
  std::string remote_address_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  size_t head_scanned_ = 0;  // bytes of the buffer searched for the end of the head
  bhttp::response<bhttp::string_body> res_;
  State state_ = State::kHandshake;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  bool close_after_write_ = false;
  int status_ = 0;
  std::string route_;
  Clock::time_point started_{};
  // For the access line.
  std::string method_;
  std::string path_;
  std::string principal_;
  std::string request_id_;
  size_t bytes_in_ = 0;
  size_t bytes_out_ = 0;
};

Status ServerImpl::InitTls() {
  if (options_.tls) {
    tls_ = options_.tls;
    return Status::Ok();
  }
  const auto& cert = options_.tls_cert_file;
  const auto& key = options_.tls_key_file;
  if (cert.has_value() != key.has_value()) {
    return Error{ErrorCode::kUnavailable,
                 "TLS needs both tls_cert_file and tls_key_file, only one is set"};
  }
  if (!cert) return Status::Ok();
  auto loaded = tls::ServerContext::Load(*cert, *key);
  if (!loaded) return loaded.error();
  tls_ = std::move(*loaded);
  return Status::Ok();
}

Status ServerImpl::Init() {
  if (Status tls = InitTls(); !tls) return tls;
  const std::string where = EndpointText(options_.host, options_.port);
  beast::error_code ec;
  tcp::endpoint endpoint;
  auto address = net::ip::make_address(options_.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, options_.port);
  } else {
    tcp::resolver resolver(ioc_);
    auto results =
        resolver.resolve(options_.host, std::to_string(options_.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return Error{ErrorCode::kUnavailable,
                   "cannot listen on " + where + ": host '" + options_.host +
                       "' is not an IP address or a resolvable name (" +
                       (ec ? ec.message() : std::string("no address")) + ")"};
    }
    endpoint = results.begin()->endpoint();
  }
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (ec == net::error::address_in_use) {
    return Error{ErrorCode::kUnavailable, "address " + where + " is already in use"};
  }
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Error{ErrorCode::kUnavailable, "cannot listen on " + where + ": " + ec.message()};
  port_ = acceptor_.local_endpoint(ec).port();
  return Status::Ok();
}

void ServerImpl::Launch() {
  net::dispatch(accept_strand_, [this] { DoAccept(); });
  int n = std::max(1, options_.io_threads);
  io_threads_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) io_threads_.emplace_back([this] {
    NameThisThread("http-io");
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

void ServerImpl::DoAccept() {
  if (stopping()) return;
  acceptor_.async_accept(
      net::make_strand(ioc_),
      net::bind_executor(accept_strand_, [this](beast::error_code ec, tcp::socket socket) {
        OnAccept(ec, std::move(socket));
      }));
}

void ServerImpl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopping() || ec == net::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors or memory: back off briefly instead of spinning, then keep going.
    if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
        ec == net::error::no_memory || ec.value() == ENFILE) {
      accept_retry_timer_.expires_after(std::chrono::milliseconds(50));
      accept_retry_timer_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) DoAccept();
      });
      return;
    }
    return DoAccept();
  }
  beast::error_code opt_ec;
  socket.set_option(tcp::no_delay(true), opt_ec);
  if (metrics_.open_connections.load(std::memory_order_relaxed) >=
      static_cast<int64_t>(options_.max_connections)) {
    Reject(std::move(socket));
    return DoAccept();
  }
  metrics_.open_connections.fetch_add(1, std::memory_order_relaxed);
  try {
    if (tls_) {
      std::make_shared<Session<true>>(this, std::move(socket), tls_->Current())->Run();
    } else {
      std::make_shared<Session<false>>(this, std::move(socket), nullptr)->Run();
    }
  } catch (const std::exception& e) {
    LogLine("cannot start connection", e.what());
  }
  DoAccept();
}

// Over max_connections: a plain-HTTP client gets a 503 it can act on; a TLS client cannot be
// answered without a handshake, which is exactly the work we are refusing, so it is closed.
void ServerImpl::Reject(tcp::socket socket) {
  static constexpr std::string_view kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
      "Content-Length: 55\r\nConnection: close\r\n\r\n"
      "{\"status\":\"503\",\"detail\":\"too many connections, retry\"}";
  static_assert(kBusy.size() - kBusy.find("\r\n\r\n") - 4 == 55);
  beast::error_code ec;
  if (tls_) {
    socket.close(ec);
    return;
  }
  // Best effort and non-blocking: the 503 fits in any socket send buffer.
  socket.non_blocking(true, ec);
  if (!ec) socket.send(net::buffer(kBusy.data(), kBusy.size()), 0, ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void ServerImpl::Stop(std::chrono::milliseconds grace) {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  auto deadline = Clock::now() + grace;

  net::post(accept_strand_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    accept_retry_timer_.cancel();
  });
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard lock(sessions_mu_);
    live.reserve(sessions_.size());
    for (auto& [ptr, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (auto& session : live) session->RequestStop();
  live.clear();
  if (!io_threads_.empty()) {
    std::unique_lock lock(sessions_mu_);
    sessions_cv_.wait_until(lock, deadline, [this] { return sessions_.empty(); });
  }
  work_.reset();
  ioc_.stop();
  for (auto& thread : io_threads_) {
    if (thread.joinable()) thread.join();
  }
  pool_.stop();
  pool_.join();
}

}  // namespace

void NotePrincipal(std::string_view name) {
  try {
    t_principal.assign(name);
  } catch (...) {
    // Out of memory: the access line lacks the name.
  }
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Handler handler) {
  if (!handler) return Error{ErrorCode::kInternal, "no request handler"};
  std::unique_ptr<ServerImpl> server;
  try {
    server = std::make_unique<ServerImpl>(options, std::move(handler));
  } catch (const std::exception& e) {
    return Error{ErrorCode::kUnavailable, std::string("cannot start HTTP server: ") + e.what()};
  }
  if (Status status = server->Init(); !status) return status.error();
  server->Launch();
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace idsync::http
