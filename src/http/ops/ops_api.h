// The operational endpoints: /healthz (the process answers), /readyz (the store answers),
// /metrics (Prometheus text: the transport's, the LDAP face's and the SCIM service's figures)
// and, with `idsync serve --bench-routes`, /bench/static (a fixed 1 KiB SCIM body with no store
// behind it: the HTTP ceiling the benchmark measures against). None needs a token: they carry
// no tenant data and are what load balancers and monitoring poll.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "http/server.h"
#include "store/store.h"

namespace idsync::http {

// Thread-safe: Handle() is called concurrently by the server's workers.
class OpsApi {
 public:
  OpsApi(store::Store& store, bool bench_routes);

  // True for the paths this handler answers.
  bool Handles(std::string_view path) const;
  Response Handle(const Request& request);

  // Supplies the text of /metrics (set once the server has started, before it is polled).
  void SetMetrics(std::function<std::string()> render) { metrics_ = std::move(render); }

 private:
  store::Store& store_;
  const bool bench_routes_;
  std::function<std::string()> metrics_;
};

}  // namespace idsync::http
