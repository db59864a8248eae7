// SCIM 2.0 endpoints at /scim/v2 (RFC 7644): HTTP request -> service call -> SCIM JSON; Error ->
// SCIM error body (http/common.h). The server's fallback: any path no other face claims gets a
// SCIM 404 here. The operational endpoints are http/ops/ops_api.h.
#pragma once

#include <string>

#include "http/request_limits.h"
#include "http/server.h"
#include "scim/schema/registry.h"
#include "service/connections.h"
#include "service/scim_service.h"

namespace idsync::http {

struct ApiOptions {
  std::string public_url;  // e.g. "https://idsync.example.com"; "" -> from the Host header
};

// Thread-safe: Handle() is called concurrently by the server's workers.
class ScimApi {
 public:
  // `limits` (rates per address and per connection, failed-authentication throttling) is
  // shared with the admin and read APIs and must outlive this object.
  ScimApi(service::ScimService& scim, service::Connections& connections,
          const scim::schema::Registry& registry, RequestLimits& limits, ApiOptions options);

  Response Handle(const Request& request);

 private:
  Response HandleScim(const Request& request, std::string_view rest, const std::string& request_id);

  service::ScimService& scim_;
  service::Connections& connections_;
  const scim::schema::Registry& registry_;
  RequestLimits& limits_;
  ApiOptions options_;
};

}  // namespace idsync::http
