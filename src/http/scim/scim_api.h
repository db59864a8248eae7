// SCIM 2.0 endpoints at /scim/v2 (RFC 7644) and the operational endpoints (/healthz, /readyz,
// /metrics): HTTP request -> service call -> SCIM JSON; Error -> SCIM error body.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "http/scim/rate_limit.h"
#include "http/server.h"
#include "scim/schema/registry.h"
#include "service/connections.h"
#include "service/scim_service.h"

namespace idsync::http {

struct ApiOptions {
  std::string public_url;  // e.g. "https://idsync.example.com"; "" -> from the Host header
  int auth_failures_before_throttle = 10;  // per client address, within the window
  std::chrono::seconds auth_failure_window{60};
  // Serve GET /bench/static: a fixed 1 KiB JSON body with no store behind it, the HTTP
  // ceiling the benchmark measures against (`idsync serve --bench-routes`).
  bool bench_routes = false;
  // Requests per second (token bucket, burst twice the rate) per connection and per client
  // address; 0 turns a limit off. Over the limit: 429 with Retry-After.
  double rate_per_connection = 1000;
  double rate_per_address = 2000;
};

// Thread-safe: Handle() is called concurrently by the server's workers.
class ScimApi {
 public:
  ScimApi(service::ScimService& scim, service::Connections& connections,
          const scim::schema::Registry& registry, store::Store& store, ApiOptions options);

  Response Handle(const Request& request);

  // Supplies the transport's metrics text for /metrics (set once the server has started).
  void SetServerMetrics(std::function<std::string()> render) {
    server_metrics_ = std::move(render);
  }

 private:
  Response HandleScim(const Request& request, std::string_view rest, const std::string& request_id);

  service::ScimService& scim_;
  service::Connections& connections_;
  const scim::schema::Registry& registry_;
  store::Store& store_;
  ApiOptions options_;
  std::function<std::string()> server_metrics_;

  // Failed authentications per client address: slows down token guessing (429 + Retry-After)
  // without affecting requests that carry a valid token.
  struct Failures {
    std::chrono::steady_clock::time_point window_start;
    int count = 0;
  };
  RateLimiter per_connection_;
  RateLimiter per_address_;
  std::mutex failures_mu_;
  std::unordered_map<std::string, Failures> failures_;
};

}  // namespace idsync::http
