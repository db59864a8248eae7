#include "http/ops/ops_api.h"

#include "base/json.h"
#include "http/common.h"
#include "http/media_type.h"
#include "scim/types.h"

namespace idsync::http {

namespace {

constexpr std::string_view kHealthz = "/healthz";
constexpr std::string_view kReadyz = "/readyz";
constexpr std::string_view kMetrics = "/metrics";
constexpr std::string_view kBenchStatic = "/bench/static";

Response Text(int status, std::string body, std::string_view content_type, std::string route) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.SetHeader("Content-Type", std::string(content_type));
  r.route = std::move(route);
  return r;
}

}  // namespace

OpsApi::OpsApi(store::Store& store, bool bench_routes)
    : store_(store), bench_routes_(bench_routes) {}

bool OpsApi::Handles(std::string_view path) const {
  return path == kHealthz || path == kReadyz || path == kMetrics ||
         (bench_routes_ && path == kBenchStatic);
}

Response OpsApi::Handle(const Request& req) {
  std::string request_id = RequestIdOf(req);
  Response r;
  std::string_view path = req.path;
  if (path == kHealthz) {
    r = Text(200, "ok\n", "text/plain; charset=utf-8", "healthz");
  } else if (path == kReadyz) {
    Status st = store_.Read([](store::Transaction& tx) -> Status {
      auto c = tx.ListConnections();
      return c ? Status::Ok() : Status(c.error());
    });
    r = Text(st ? 200 : 503, st ? "ready\n" : "store unavailable: " + st.error().detail + "\n",
             "text/plain; charset=utf-8", "readyz");
  } else if (path == kMetrics) {
    r = Text(200, metrics_ ? metrics_() : std::string(), "text/plain; version=0.0.4; charset=utf-8",
             "metrics");
  } else if (bench_routes_ && path == kBenchStatic) {
    static const std::string kBody = [] {
      Json j = {{"schemas", {std::string(scim::kUserSchema)}},
                {"id", "2819c223-7f76-453a-919d-413861904646"},
                {"userName", "bjensen@example.com"},
                {"padding", std::string(850, 'x')}};
      return DumpJson(j);
    }();
    r = Text(200, kBody, kScimJsonType, "bench.static");
  } else {
    r = ScimErrorResponse(ErrorCode::kNotFound, "no such endpoint: " + std::string(path), "other");
  }
  // As every answer of the server's SCIM face: the media type the client asked for (the bench
  // body is SCIM JSON) and the request id.
  NegotiateScimMediaType(req, r);
  r.SetHeader("X-Request-Id", request_id);
  return r;
}

}  // namespace idsync::http
