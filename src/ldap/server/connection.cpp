#include "ldap/server/connection.h"
#include "base/log.h"

#include <algorithm>
#include <cstdio>
#include <exception>

#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace idsync::ldap::net_internal {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::string_view kStartTlsOid = "1.3.6.1.4.1.1466.20037";
// How long a closing connection keeps reading (and discarding) after our last message, so that
// closing with unread input does not reset the connection before the client has read it.
constexpr std::chrono::milliseconds kLingerTime{500};
// Answers the I/O thread writes itself (busy, protocolError, confidentialityRequired) may go
// this far past max_output_bytes before the connection stops reading requests; a client that
// pipelines requests and reads nothing is thereby bounded too.
constexpr size_t kAnswerAllowance = 64 * 1024;
constexpr size_t kMaxWriteBatch = 64;

void LogLine(const char* what, const char* detail) {
  log::Error(what, {{"component", "ldap"}, {"detail", detail}});
}

const char* OpName(Operation op) {
  switch (op) {
    case Operation::kBind: return "bind";
    case Operation::kUnbind: return "unbind";
    case Operation::kSearch: return "search";
    case Operation::kModify: return "modify";
    case Operation::kAdd: return "add";
    case Operation::kDelete: return "delete";
    case Operation::kModifyDn: return "modifyDn";
    case Operation::kCompare: return "compare";
    case Operation::kAbandon: return "abandon";
    case Operation::kExtended: return "extended";
  }
  return "other";
}

// The entry an operation names, for its access line: the bind DN, the search base, the entry
// compared or written; the OID of an extended operation. Never a password, never a filter.
std::string TargetOf(const Request& request) {
  return std::visit(
      [](const auto& body) -> std::string {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, BindRequest>) return body.name;
        if constexpr (std::is_same_v<T, SearchRequest>) return body.base;
        if constexpr (std::is_same_v<T, CompareRequest>) return body.dn;
        if constexpr (std::is_same_v<T, WriteRequest>) return body.dn;
        if constexpr (std::is_same_v<T, ExtendedRequest>) return body.oid;
        return {};
      },
      request.body);
}

// Reads one BER tag (single octet: LDAP uses no high tag numbers) and definite length at `pos`.
bool ReadHeader(std::string_view m, size_t& pos, unsigned char& tag, size_t& length) {
  if (pos + 2 > m.size()) return false;
  tag = static_cast<unsigned char>(m[pos++]);
  if ((tag & 0x1f) == 0x1f) return false;
  auto first = static_cast<unsigned char>(m[pos++]);
  if (first < 0x80) {
    length = first;
  } else {
    size_t octets = first & 0x7f;
    if (octets == 0 || octets > 4 || pos + octets > m.size()) return false;
    length = 0;
    for (size_t i = 0; i < octets; ++i) {
      length = (length << 8) | static_cast<unsigned char>(m[pos++]);
    }
  }
  return length <= m.size() - pos;
}

// Positions `pos` at the protocolOp of an LDAPMessage; sets the message id.
bool SkipToOperation(std::string_view m, size_t& pos, int64_t& message_id) {
  unsigned char tag = 0;
  size_t length = 0;
  pos = 0;
  if (!ReadHeader(m, pos, tag, length) || tag != 0x30) return false;
  if (!ReadHeader(m, pos, tag, length) || tag != 0x02 || length == 0 || length > 4) return false;
  message_id = 0;
  for (size_t i = 0; i < length; ++i) {
    message_id = (message_id << 8) | static_cast<unsigned char>(m[pos++]);
  }
  return pos < m.size();
}

}  // namespace

std::optional<Operation> PeekRequestOperation(std::string_view message) {
  size_t pos = 0;
  int64_t id = 0;
  if (!SkipToOperation(message, pos, id)) return std::nullopt;
  auto tag = static_cast<unsigned char>(message[pos]);
  if ((tag & 0xc0) != 0x40) return std::nullopt;  // protocolOp tags are [APPLICATION n]
  switch (tag & 0x1f) {                           // RFC 4511 appendix B
    case 0: return Operation::kBind;
    case 2: return Operation::kUnbind;
    case 3: return Operation::kSearch;
    case 6: return Operation::kModify;
    case 8: return Operation::kAdd;
    case 10: return Operation::kDelete;
    case 12: return Operation::kModifyDn;
    case 14: return Operation::kCompare;
    case 16: return Operation::kAbandon;
    case 23: return Operation::kExtended;
    default: return std::nullopt;
  }
}

std::optional<std::pair<Operation, int>> PeekResponseResult(std::string_view message) {
  size_t pos = 0;
  int64_t id = 0;
  if (!SkipToOperation(message, pos, id) || id == 0) return std::nullopt;
  unsigned char tag = 0;
  size_t length = 0;
  if (!ReadHeader(message, pos, tag, length)) return std::nullopt;
  Operation op;
  switch (tag) {
    case 0x61: op = Operation::kBind; break;
    case 0x65: op = Operation::kSearch; break;
    case 0x67: op = Operation::kModify; break;
    case 0x69: op = Operation::kAdd; break;
    case 0x6b: op = Operation::kDelete; break;
    case 0x6d: op = Operation::kModifyDn; break;
    case 0x6f: op = Operation::kCompare; break;
    case 0x78: op = Operation::kExtended; break;
    default: return std::nullopt;
  }
  if (!ReadHeader(message, pos, tag, length) || tag != 0x0a || length == 0 || length > 4) {
    return std::nullopt;
  }
  int code = 0;
  for (size_t i = 0; i < length; ++i)
    code = (code << 8) | static_cast<unsigned char>(message[pos++]);
  return std::pair{op, code};
}

// ---------------------------------------------------------------------------------------------
// LdapMetrics, ServerShared

void LdapMetrics::CountRequest(Operation op) {
  auto i = static_cast<size_t>(op);
  if (i < kOps) requests_[i].fetch_add(1, std::memory_order_relaxed);
}

void LdapMetrics::CountResult(Operation op, int code) {
  try {
    std::lock_guard lock(mu_);
    ++results_[{static_cast<int>(op), code}];
  } catch (...) {
    // Metrics must never take a connection down (allocation failure for a new code).
  }
}

std::string LdapMetrics::Render() const {
  std::string out;
  auto line = [&](const char* name, const char* type, const char* help, uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  line("idsync_ldap_open_connections", "gauge", "LDAP connections currently open.",
       static_cast<uint64_t>(std::max<int64_t>(0, open_connections.load())));
  line("idsync_ldap_connections_total", "counter", "LDAP connections accepted.", accepted.load());
  line("idsync_ldap_connections_refused_total", "counter",
       "LDAP connections refused over the connection limit.", refused.load());
  line("idsync_ldap_disconnects_total", "counter",
       "Notices of Disconnection sent for malformed or oversized messages.", disconnected.load());
  line("idsync_ldap_timeouts_total", "counter",
       "LDAP connections closed by the idle, message, handshake or write timeout.",
       timed_out.load());
  out += "# HELP idsync_ldap_requests_total LDAP requests received, by operation.\n";
  out += "# TYPE idsync_ldap_requests_total counter\n";
  for (size_t i = 0; i < kOps; ++i) {
    out += std::string("idsync_ldap_requests_total{op=\"") + OpName(static_cast<Operation>(i)) +
           "\"} " + std::to_string(requests_[i].load()) + "\n";
  }
  out += "# HELP idsync_ldap_responses_total LDAP operations answered, by operation and ";
  out += "result code.\n# TYPE idsync_ldap_responses_total counter\n";
  std::lock_guard lock(mu_);
  for (const auto& [key, count] : results_) {
    out += std::string("idsync_ldap_responses_total{op=\"") +
           OpName(static_cast<Operation>(key.first)) + "\",code=\"" + std::to_string(key.second) +
           "\"} " + std::to_string(count) + "\n";
  }
  return out;
}

void ServerShared::Register(Connection* c, std::weak_ptr<Connection> weak) {
  std::lock_guard lock(mu_);
  connections_.emplace(c, std::move(weak));
}

void ServerShared::Unregister(Connection* c) {
  {
    std::lock_guard lock(mu_);
    connections_.erase(c);
  }
  metrics.open_connections.fetch_sub(1, std::memory_order_relaxed);
  cv_.notify_all();
}

std::vector<std::shared_ptr<Connection>> ServerShared::Live() {
  std::vector<std::shared_ptr<Connection>> live;
  std::lock_guard lock(mu_);
  live.reserve(connections_.size());
  for (auto& [ptr, weak] : connections_) {
    if (auto c = weak.lock()) live.push_back(std::move(c));
  }
  return live;
}

bool ServerShared::WaitUntilEmpty(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return connections_.empty(); });
}

// ---------------------------------------------------------------------------------------------
// Connection: start, input

Connection::Connection(ServerShared& shared, tcp::socket socket, bool ldaps)
    : shared_(shared),
      opts_(shared.options),
      ldaps_(ldaps),
      strand_(socket.get_executor()),
      socket_(std::move(socket)),
      timer_(strand_) {
  session_.id = shared_.next_id.fetch_add(1, std::memory_order_relaxed);
  error_code ec;
  auto endpoint = socket_.remote_endpoint(ec);
  if (!ec) {
    auto address = endpoint.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
      address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
    }
    session_.remote_address = address.to_string();
    session_.loopback = address.is_loopback();
  }
  last_activity_ = Clock::now();
}

Connection::~Connection() {
  shared_.Unregister(this);
}

tcp::socket& Connection::Lowest() {
  return tls_ ? tls_->next_layer() : socket_;
}

void Connection::Start() {
  shared_.Register(this, weak_from_this());
  net::dispatch(strand_, [self = Self()] {
    if (self->shared_.stopping.load(std::memory_order_acquire)) return self->Close();
    if (self->ldaps_) return self->BeginHandshake();
    self->phase_ = Phase::kOpen;
    self->MaybeRead();
    self->ArmDeadline();
  });
}

void Connection::MaybeRead() {
  if (phase_ != Phase::kOpen || reading_ || input_paused_) return;
  reading_ = true;
  auto done = [self = Self()](const error_code& ec, size_t n) { self->OnRead(ec, n); };
  if (tls_) {
    tls_->async_read_some(net::buffer(chunk_), std::move(done));
  } else {
    socket_.async_read_some(net::buffer(chunk_), std::move(done));
  }
}

void Connection::OnRead(const error_code& ec, size_t n) {
  reading_ = false;
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kLingering) {
    if (ec) return Close();
    reading_ = true;
    Lowest().async_read_some(net::buffer(chunk_), [self = Self()](const error_code& e, size_t m) {
      self->OnRead(e, m);
    });
    return;
  }
  if (ec) return Close();              // end of stream, reset, or closed by a deadline or Stop
  if (phase_ != Phase::kOpen) return;  // a final message is being written; input is ignored
  last_activity_ = Clock::now();
  try {
    in_.append(chunk_.data(), n);
  } catch (const std::exception& e) {
    LogLine("cannot buffer input", e.what());
    return Close();
  }
  ProcessInput();
  MaybeRead();
  ArmDeadline();
}

// Consumes every complete message in in_, unless the connection stops taking requests
// (output over its bound, StartTLS, unbind, disconnect): the rest waits in in_.
void Connection::ProcessInput() {
  size_t consumed = 0;
  bool partial = false;
  while (phase_ == Phase::kOpen && consumed < in_.size()) {
    if (OutputOverLimit()) {
      input_paused_ = true;
      break;
    }
    std::string_view rest = std::string_view(in_).substr(consumed);
    Frame frame = PeekFrame(rest, opts_.max_message_bytes);
    if (frame.status == Frame::kNeedMore) {
      partial = true;
      break;
    }
    if (frame.status != Frame::kComplete) {
      // kTooLarge is decided from the length octets: nothing more of it is read or buffered.
      in_.clear();
      shared_.metrics.disconnected.fetch_add(1, std::memory_order_relaxed);
      return Disconnect(kProtocolError, frame.status == Frame::kTooLarge
                                            ? "message larger than the server accepts"
                                            : "malformed LDAPMessage framing");
    }
    consumed += frame.total_bytes;
    message_started_.reset();
    OnMessage(rest.substr(0, frame.total_bytes));
  }
  if (phase_ == Phase::kClosed) return;
  in_.erase(0, consumed);
  if (in_.empty() || !partial) {
    message_started_.reset();
  } else if (!message_started_) {
    message_started_ = Clock::now();
  }
}

void Connection::OnMessage(std::string_view bytes) {
  Decoded decoded = DecodeRequest(bytes, opts_.decode_limits);
  if (!decoded.request) return OnDecodeError(bytes, decoded);
  Request& request = *decoded.request;
  shared_.metrics.CountRequest(request.op);
  switch (request.op) {
    case Operation::kUnbind:
      // RFC 4511 §4.3: the client is done; nothing else runs and nothing is answered.
      LogAccess(request.message_id, request.op, "", -1, 0, 0, Clock::now());
      return Close();
    case Operation::kAbandon:
      if (auto* abandon = std::get_if<AbandonRequest>(&request.body)) {
        LogAccess(request.message_id, request.op, std::to_string(abandon->message_id), -1, 0, 0,
                  Clock::now());
        OnAbandon(abandon->message_id);
      }
      return;
    case Operation::kExtended:
      if (auto* ext = std::get_if<ExtendedRequest>(&request.body);
          ext && ext->oid == kStartTlsOid) {
        return OnStartTls(request);
      }
      break;
    case Operation::kBind:
    case Operation::kSearch:
      if (PlaintextRefused(request)) {
        LogAccess(request.message_id, request.op, TargetOf(request), kConfidentialityRequired, 0,
                  0, Clock::now());
        return Answer(request.message_id, request.op,
                      {kConfidentialityRequired, "",
                       "this server requires a protected connection: use LDAPS or StartTLS"});
      }
      break;
    default: break;
  }
  Enqueue(std::move(request), bytes.size());
}

// RFC 4511 §4.1.1: a message whose messageID cannot be read, or whose protocolOp is unknown,
// ends the session with a Notice of Disconnection. When both are known, the message was still
// delimited exactly by its outer length, so the stream is in step: the one request is answered
// protocolError in its own response type and the session goes on.
void Connection::OnDecodeError(std::string_view bytes, const Decoded& decoded) {
  std::optional<Operation> op = PeekRequestOperation(bytes);
  std::string message = decoded.error.empty() ? "malformed request" : decoded.error;
  if (decoded.message_id > 0 && op && *op != Operation::kUnbind && *op != Operation::kAbandon) {
    shared_.metrics.CountRequest(*op);
    LogAccess(decoded.message_id, *op, "", kProtocolError, 0, 0, Clock::now());
    return Answer(decoded.message_id, *op, {kProtocolError, "", message});
  }
  shared_.metrics.disconnected.fetch_add(1, std::memory_order_relaxed);
  Disconnect(kProtocolError, message);
}

bool Connection::PlaintextRefused(const Request& request) const {
  if (request.op != Operation::kBind && request.op != Operation::kSearch) return false;
  if (session_.tls || opts_.allow_plaintext) return false;
  // A base-scope read of the root DSE carries no password and no directory data, and clients
  // read it in clear to learn that StartTLS is offered before they start it.
  if (const auto* search = std::get_if<SearchRequest>(&request.body);
      search && search->base.empty() && search->scope == Scope::kBase) {
    return false;
  }
  return !session_.loopback || opts_.treat_loopback_as_remote;
}

// RFC 4511 §4.11: no response to Abandon, and none to the abandoned operation.
void Connection::OnAbandon(int32_t message_id) {
  if (running_ && running_id_ == message_id) return AbandonRunning();
  auto it = std::find_if(queue_.begin(), queue_.end(),
                         [&](const Pending& p) { return p.request.message_id == message_id; });
  if (it != queue_.end()) {
    queued_bytes_ -= it->bytes;
    queue_.erase(it);
  }
}

void Connection::OnStartTls(const Request& request) {
  const std::optional<std::string> oid{std::string(kStartTlsOid)};
  auto refuse = [&](int code, const char* message) {
    LogAccess(request.message_id, Operation::kExtended, "StartTLS", code, 0, 0, Clock::now());
    shared_.metrics.CountResult(Operation::kExtended, code);
    Write(EncodeExtendedResponse(request.message_id, {code, "", message}, oid, std::nullopt));
  };
  if (session_.tls) return refuse(kProtocolError, "TLS is already established");
  if (shared_.tls_context == nullptr) {
    return refuse(kUnavailable, "StartTLS is not available: the server has no TLS certificate");
  }
  // RFC 4511 §4.14.1: no operation may be outstanding when StartTLS is requested.
  if (running_ || !queue_.empty()) {
    return refuse(kOperationsError, "StartTLS while other operations are outstanding");
  }
  LogAccess(request.message_id, Operation::kExtended, "StartTLS", kSuccess, 0, 0, Clock::now());
  shared_.metrics.CountResult(Operation::kExtended, kSuccess);
  // The response goes out in clear; the handshake starts when it is written (OnDrained).
  Write(EncodeExtendedResponse(request.message_id, {kSuccess, "", ""}, oid, std::nullopt));
  phase_ = Phase::kStartingTls;
}

void Connection::BeginHandshake() {
  // RFC 4511 §4.14.1: the client sends nothing after StartTLS until it has the response; bytes
  // here would be read in clear as if they came through TLS.
  if (!in_.empty() || shared_.tls_context == nullptr) return Close();
  try {
    tls_ctx_ = shared_.tls_context->Current();
    tls_ = std::make_unique<TlsStream>(std::move(socket_), *tls_ctx_);
  } catch (const std::exception& e) {
    LogLine("cannot start TLS", e.what());
    return Close();
  }
  phase_ = Phase::kHandshake;
  phase_started_ = Clock::now();
  ArmDeadline();
  tls_->async_handshake(ssl::stream_base::server,
                        [self = Self()](const error_code& ec) { self->OnHandshake(ec); });
}

void Connection::OnHandshake(const error_code& ec) {
  if (phase_ != Phase::kHandshake) return;
  if (ec) return Close();
  session_.tls = true;  // no request is outstanding: no worker reads session_
  phase_ = Phase::kOpen;
  last_activity_ = Clock::now();
  MaybeRead();
  ArmDeadline();
}

// ---------------------------------------------------------------------------------------------
// Requests

void Connection::Enqueue(Request request, size_t bytes) {
  if (!running_) return Run(std::move(request));
  // The queued bytes are bounded too: 64 queued 1 MiB searches would hold 64 MiB.
  if (queue_.size() >= opts_.max_queued_requests ||
      queued_bytes_ + bytes > opts_.max_message_bytes) {
    LogAccess(request.message_id, request.op, TargetOf(request), kBusy, 0, 0, Clock::now());
    return Answer(request.message_id, request.op,
                  {kBusy, "", "too many requests outstanding on this connection"});
  }
  queued_bytes_ += bytes;
  queue_.push_back(Pending{std::move(request), bytes});
}

void Connection::Run(Request request) {
  auto abandoned = std::make_shared<std::atomic<bool>>(false);
  running_ = true;
  running_id_ = request.message_id;
  {
    std::lock_guard lock(mu_);
    running_abandoned_ = abandoned;
  }
  try {
    shared_.submit([self = Self(), request = std::move(request), abandoned]() {
      self->RunOnWorker(request, abandoned);
      net::post(self->strand_, [self] { self->OnHandlerDone(); });
    });
  } catch (const std::exception& e) {
    LogLine("cannot submit request", e.what());
    Close();
  }
}

void Connection::RunOnWorker(const Request& request,
                             const std::shared_ptr<std::atomic<bool>>& abandoned) {
  const std::atomic<bool>& flag = *abandoned;
  const Clock::time_point started = Clock::now();
  int code = -1;  // the final response's resultCode; -1 until it is sent
  size_t entries = 0;
  size_t bytes = 0;
  Send send = [this, &flag, &code, &entries, &bytes](std::string message) {
    auto result = PeekResponseResult(message);
    size_t size = message.size();
    if (!SendFromWorker(std::move(message), flag)) return false;
    bytes += size;
    if (result) {
      code = result->second;
    } else {
      ++entries;
    }
    return true;
  };
  try {
    shared_.handler.Handle(session_, request, flag, send);
    LogAccess(request.message_id, request.op, TargetOf(request), code, entries, bytes, started,
              true);
    return;
  } catch (const std::exception& e) {
    LogLine("handler threw", e.what());
  } catch (...) {
    LogLine("handler threw", "non-standard exception");
  }
  try {
    if (request.op == Operation::kBind) {
      send(EncodeBindResponse(request.message_id, {kOperationsError, "", "internal error"}));
    } else if (request.op == Operation::kSearch) {
      send(EncodeSearchDone(request.message_id, {kOperationsError, "", "internal error"}));
    } else {
      send(
          EncodeResponse(request.message_id, request.op, {kOperationsError, "", "internal error"}));
    }
  } catch (...) {
    // Out of memory: the client gets no answer to this request.
  }
}

// The access line of one operation: where it ends (a worker after the handler, or the strand
// for what the network layer answers itself). `code` -1: no response was sent (unbind,
// abandon, an abandoned or cut-off operation). Runs on a worker only while no other thread
// touches session_ (one request at a time per connection), on the strand otherwise.
void Connection::LogAccess(int32_t message_id, Operation op, std::string_view target, int code,
                           size_t entries, size_t bytes, Clock::time_point started,
                           bool on_worker) {
  try {
    log::Fields fields = {
        {"proto", ldaps_ ? "ldaps" : (session_.tls ? "ldap+starttls" : "ldap")},
        {"conn", std::to_string(session_.id)},
        {"remote", session_.remote_address},
        // A bind running on a worker may be changing the identity: the strand does not read it.
        {"bind_dn", on_worker || !running_ ? session_.identity.dn : std::string("-")},
        {"op", OpName(op)},
        {"msgid", std::to_string(message_id)},
        {"dn", std::string(target)},
        {"result", code < 0 ? std::string("none") : std::to_string(code)},
        {"duration_ms",
         std::to_string(std::chrono::duration<double, std::milli>(Clock::now() - started).count())},
        {"bytes_out", std::to_string(bytes)}};
    if (op == Operation::kSearch) fields.emplace_back("entries", std::to_string(entries));
    log::Info("access", fields);
  } catch (...) {
    // Out of memory: no access line; the operation is not affected.
  }
}

void Connection::OnHandlerDone() {
  running_ = false;
  {
    std::lock_guard lock(mu_);
    running_abandoned_.reset();
  }
  last_activity_ = Clock::now();
  if (phase_ != Phase::kOpen) return;
  if (!queue_.empty()) {
    Pending next = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= next.bytes;
    Run(std::move(next.request));
  }
  ArmDeadline();
}

bool Connection::SendFromWorker(std::string message, const std::atomic<bool>& abandoned) {
  auto result = PeekResponseResult(message);
  {
    std::unique_lock lock(mu_);
    drained_.wait(
        lock, [&] { return closed_ || abandoned.load() || out_bytes_ <= opts_.max_output_bytes; });
    if (closed_ || abandoned.load()) return false;
    out_bytes_ += message.size();
    out_.push_back(std::move(message));
    ScheduleWriteLocked();
  }
  if (result) shared_.metrics.CountResult(result->first, result->second);
  return true;
}

void Connection::AbandonRunning() {
  {
    std::lock_guard lock(mu_);
    if (running_abandoned_) running_abandoned_->store(true);
  }
  drained_.notify_all();
}

// ---------------------------------------------------------------------------------------------
// Output

void Connection::Answer(int32_t message_id, Operation op, const LdapResult& result) {
  shared_.metrics.CountResult(op, result.code);
  switch (op) {
    case Operation::kBind: return Write(EncodeBindResponse(message_id, result));
    case Operation::kSearch: return Write(EncodeSearchDone(message_id, result));
    case Operation::kExtended:
      return Write(EncodeExtendedResponse(message_id, result, std::nullopt, std::nullopt));
    case Operation::kUnbind:
    case Operation::kAbandon: return;  // no response exists
    default: return Write(EncodeResponse(message_id, op, result));
  }
}

void Connection::Write(std::string message) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  out_bytes_ += message.size();
  out_.push_back(std::move(message));
  ScheduleWriteLocked();
}

void Connection::ScheduleWriteLocked() {
  if (write_scheduled_) return;
  write_scheduled_ = true;
  net::post(strand_, [self = Self()] { self->WriteMore(); });
}

void Connection::WriteMore() {
  if (phase_ == Phase::kClosed || phase_ == Phase::kHandshake) {
    // Nothing is written during a handshake (nothing can be queued then, as no request is
    // outstanding); a closed connection writes nothing.
    std::lock_guard lock(mu_);
    write_scheduled_ = false;
    return;
  }
  if (writing_) return;
  if (inflight_offset_ == 0 && inflight_.empty()) {
    std::lock_guard lock(mu_);
    if (out_.empty()) {
      write_scheduled_ = false;
    } else {
      while (!out_.empty() && inflight_.size() < kMaxWriteBatch) {
        inflight_.push_back(std::move(out_.front()));
        out_.pop_front();
      }
    }
  }
  if (inflight_.empty()) return OnDrained();
  std::vector<net::const_buffer> buffers;
  buffers.reserve(inflight_.size());
  size_t skip = inflight_offset_;
  for (const auto& piece : inflight_) {
    buffers.push_back(net::buffer(piece) + skip);
    skip = 0;
  }
  writing_ = true;
  write_progress_ = Clock::now();
  ArmDeadline();
  auto done = [self = Self()](const error_code& ec, size_t n) { self->OnWrite(ec, n); };
  if (tls_) {
    tls_->async_write_some(buffers, std::move(done));
  } else {
    socket_.async_write_some(buffers, std::move(done));
  }
}

void Connection::OnWrite(const error_code& ec, size_t n) {
  writing_ = false;
  if (phase_ == Phase::kClosed) return;
  if (ec) return Close();
  write_progress_ = Clock::now();
  last_activity_ = write_progress_;
  size_t left = n;
  while (left > 0 && !inflight_.empty()) {
    size_t rest = inflight_.front().size() - inflight_offset_;
    if (left < rest) {
      inflight_offset_ += left;
      left = 0;
    } else {
      left -= rest;
      inflight_offset_ = 0;
      inflight_.erase(inflight_.begin());
    }
  }
  {
    std::lock_guard lock(mu_);
    out_bytes_ -= n;
  }
  drained_.notify_all();
  if (input_paused_ && !OutputOverLimit() && phase_ == Phase::kOpen) {
    input_paused_ = false;
    ProcessInput();
    MaybeRead();
  }
  WriteMore();
}

bool Connection::OutputOverLimit() {
  std::lock_guard lock(mu_);
  return out_bytes_ > opts_.max_output_bytes + kAnswerAllowance;
}

// Everything queued has been written.
void Connection::OnDrained() {
  switch (phase_) {
    case Phase::kStartingTls: return BeginHandshake();
    case Phase::kFlushing: return LingeringClose();
    default: ArmDeadline();
  }
}

// ---------------------------------------------------------------------------------------------
// Closing and deadlines

void Connection::RequestStop() {
  net::post(strand_, [self = Self()] {
    switch (self->phase_) {
      case Phase::kOpen: return self->Disconnect(kUnavailable, "the server is shutting down");
      case Phase::kHandshake:
      case Phase::kStartingTls: return self->Close();
      case Phase::kFlushing:
      case Phase::kLingering:
      case Phase::kClosed: return;
    }
  });
}

void Connection::ForceClose() {
  MarkClosed();
  net::post(strand_, [self = Self()] { self->Close(); });
}

// RFC 4511 §4.4.1: the Notice of Disconnection, then close once it is written.
void Connection::Disconnect(int code, std::string_view message) {
  queue_.clear();
  queued_bytes_ = 0;
  AbandonRunning();
  Write(EncodeNoticeOfDisconnection(code, message));
  phase_ = Phase::kFlushing;
  ArmDeadline();
}

void Connection::LingeringClose() {
  MarkClosed();
  phase_ = Phase::kLingering;
  phase_started_ = Clock::now();
  error_code ec;
  Lowest().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  ArmDeadline();
  if (!reading_) {
    reading_ = true;
    Lowest().async_read_some(net::buffer(chunk_), [self = Self()](const error_code& e, size_t m) {
      self->OnRead(e, m);
    });
  }
}

void Connection::Close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  MarkClosed();
  queue_.clear();
  queued_bytes_ = 0;
  timer_.cancel();
  error_code ec;
  Lowest().shutdown(tcp::socket::shutdown_both, ec);
  Lowest().close(ec);
}

void Connection::MarkClosed() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    if (running_abandoned_) running_abandoned_->store(true);
  }
  drained_.notify_all();
}

// The earliest deadline the connection is under now:
// - handshake (LDAPS accept or after StartTLS): message_timeout from its start;
// - a message begun and not complete: message_timeout from its first byte (slowloris);
// - idle (nothing running, queued, unsent or partly received): idle_timeout from the last
//   activity;
// - a write outstanding: write_timeout from the last byte the client took;
// - lingering close: kLingerTime.
std::optional<Connection::Clock::time_point> Connection::NextDeadline() {
  std::optional<Clock::time_point> next;
  auto consider = [&](Clock::time_point t) {
    if (!next || t < *next) next = t;
  };
  switch (phase_) {
    case Phase::kHandshake: consider(phase_started_ + opts_.message_timeout); break;
    case Phase::kLingering: consider(phase_started_ + kLingerTime); break;
    case Phase::kClosed: return std::nullopt;
    default: break;
  }
  if (writing_) consider(write_progress_ + opts_.write_timeout);
  if (phase_ == Phase::kOpen) {
    if (message_started_) consider(*message_started_ + opts_.message_timeout);
    bool unsent;
    {
      std::lock_guard lock(mu_);
      unsent = out_bytes_ > 0;
    }
    if (!running_ && queue_.empty() && in_.empty() && !unsent) {
      consider(last_activity_ + opts_.idle_timeout);
    }
  }
  return next;
}

void Connection::ArmDeadline() {
  std::optional<Clock::time_point> next = NextDeadline();
  if (!next || (timer_at_ && *timer_at_ <= *next)) return;  // the armed timer fires first
  timer_at_ = next;
  uint64_t generation = ++timer_generation_;
  timer_.expires_at(*next);
  timer_.async_wait([self = Self(), generation](const error_code&) { self->OnTimer(generation); });
}

// Deadlines move later with activity; the timer is not re-armed for that, it re-checks here.
void Connection::OnTimer(uint64_t generation) {
  if (generation != timer_generation_ || phase_ == Phase::kClosed) return;
  timer_at_.reset();
  std::optional<Clock::time_point> next = NextDeadline();
  if (next && *next <= Clock::now()) {
    if (phase_ != Phase::kLingering) {
      shared_.metrics.timed_out.fetch_add(1, std::memory_order_relaxed);
    }
    return Close();
  }
  ArmDeadline();
}

}  // namespace idsync::ldap::net_internal
