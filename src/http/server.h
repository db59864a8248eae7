// The HTTP/1.1 server: listener, TLS, keep-alive and pipelining, limits, timeouts, worker pool,
// graceful shutdown. It knows nothing of SCIM: it hands each complete request to a Handler.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace idsync::tls {
class ServerContext;
}

namespace idsync::http {

struct Request {
  std::string method;  // "GET", upper case as received
  std::string target;  // raw request-target, e.g. "/scim/v2/Users?filter=..."
  std::string path;    // percent-decoded path without the query
  // Decoded as application/x-www-form-urlencoded, in order: '+' is a space (a literal plus
  // arrives as %2B); a name without '=' has an empty value; invalid %-escapes are kept as is.
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_address;  // peer IP as text
  bool tls = false;

  // First header / query parameter with that name (header names case-insensitive,
  // query names case-sensitive as RFC 7644 spells them, but see FindQueryIgnoreCase).
  std::optional<std::string_view> Header(std::string_view name) const;
  std::optional<std::string_view> Query(std::string_view name) const;
  std::optional<std::string_view> QueryIgnoreCase(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string route;  // label for metrics, e.g. "scim.users.get"; set by the handler
  // Who made the request, for the access log: a SCIM connection, an admin or read token, a
  // console user (never a secret). Filled from NotePrincipal when the handler leaves it empty.
  std::string principal;

  void SetHeader(std::string name, std::string value);
};

// Called by an API, on the worker thread running its Handler, once it knows the credential:
// names the request's principal in its access line ("connection:okta", "admin:ci").
void NotePrincipal(std::string_view name);

// Called on a worker thread (never on an I/O thread), concurrently for different requests.
// Must not throw; the server answers 500 if it does and logs the exception.
using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;                      // 0: any free port (see Server::port())
  std::optional<std::string> tls_cert_file;  // PEM chain; both or neither
  std::optional<std::string> tls_key_file;
  // A TLS context to serve with instead of the files above (shared with the LDAP listeners and
  // reloaded on SIGHUP: tls/server_context.h).
  std::shared_ptr<tls::ServerContext> tls;
  size_t max_header_bytes = 16 * 1024;              // request line + headers; more -> 431
  size_t max_body_bytes = 2 * 1024 * 1024;          // more -> 413
  std::chrono::milliseconds header_timeout{10000};  // whole head must arrive in this time
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive between requests
  size_t max_connections = 1024;                  // beyond: accepted and closed with 503
  size_t max_queued_requests = 4096;              // waiting for a worker; beyond: 503 Retry-After
  int io_threads = 2;
  int worker_threads = 32;
};

// Prometheus text-format metrics kept by the server: requests by route and status,
// latency histogram by route, open connections. Thread-safe.
class Metrics {
 public:
  virtual ~Metrics() = default;
  virtual std::string Render() const = 0;
};

class Server {
 public:
  virtual ~Server() = default;

  // Binds and starts serving. Errors (kUnavailable) in words an administrator can act on:
  // "address 127.0.0.1:8080 is already in use", "cannot read TLS certificate /x.pem: ...".
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Handler handler);

  virtual uint16_t port() const = 0;
  virtual const Metrics& metrics() const = 0;
  // Stops accepting, lets in-flight requests finish and their responses be written (up to
  // `grace`), closes idle connections, then joins all threads. A handler still running after
  // `grace` is waited for (it cannot be interrupted) but its response is not sent.
  // Idempotent; the destructor calls it. Must not be called from a Handler.
  virtual void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10000)) = 0;
};

}  // namespace idsync::http
