// SCIM 2.0 endpoints at /scim/v2 (RFC 7644) and the operational endpoints (/healthz, /readyz,
// /metrics): HTTP request -> service call -> SCIM JSON; Error -> SCIM error body.
#pragma once

#include <functional>
#include <string>

#include "http/request_limits.h"
#include "http/server.h"
#include "scim/schema/registry.h"
#include "service/connections.h"
#include "service/scim_service.h"

namespace idsync::http {

struct ApiOptions {
  std::string public_url;  // e.g. "https://idsync.example.com"; "" -> from the Host header
  // Serve GET /bench/static: a fixed 1 KiB JSON body with no store behind it, the HTTP
  // ceiling the benchmark measures against (`idsync serve --bench-routes`).
  bool bench_routes = false;
};

// Thread-safe: Handle() is called concurrently by the server's workers.
class ScimApi {
 public:
  // `limits` (rates per address and per connection, failed-authentication throttling) is
  // shared with the admin and read APIs and must outlive this object.
  ScimApi(service::ScimService& scim, service::Connections& connections,
          const scim::schema::Registry& registry, store::Store& store, RequestLimits& limits,
          ApiOptions options);

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
  RequestLimits& limits_;
  ApiOptions options_;
  std::function<std::string()> server_metrics_;
};

}  // namespace idsync::http
