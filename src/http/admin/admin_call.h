// Private to src/http/admin: the request context and the response helpers that the admin
// API's route files share (admin_api.cpp and the *_routes.cpp files). Not part of the API's
// public header, which declares only AdminApi.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "directory/directory_service.h"
#include "http/admin/admin_api.h"
#include "http/common.h"

namespace idsync::http {

namespace admin_detail {

inline constexpr std::string_view kJson = "application/json";

// The error vocabulary of the admin API: ErrorCode in snake case, so that clients can switch on
// a stable word while the message stays free to change.
std::string_view CodeName(ErrorCode code);

// Admin responses are application/json (the shared helper defaults to SCIM's media type).
Response Reply(int status, const Json& body, const std::string& route);

// {"error": {"code", "message"}}; 401 also gets WWW-Authenticate.
Response ErrorResponse(int status, std::string_view code, const std::string& message,
                       const std::string& route);
// The status service::StatusOf gives e.code.
Response ErrorResponse(const Error& e, const std::string& route);

Response NoContent(const std::string& route);

// The request body as JSON. Bodies come from the network, so they go through the strict parser.
// Any JSON media type is accepted (scripts send application/json or text/json), and none.
Result<Json> ParseBody(const Request& req);

// An object body with only the keys in `allowed` (an unknown key is an error naming it, so a
// typo is never silently ignored). An empty body is {} when `optional`.
Result<Json> ParseObjectBody(const Request& req, const std::set<std::string>& allowed,
                             bool optional = false);

// An integer query parameter in [min, max]; `fallback` when absent; kInvalidValue naming the
// parameter and the range otherwise.
Result<int64_t> QueryInt(const Request& req, std::string_view name, int64_t fallback, int64_t min,
                         int64_t max);

// A string field; "" when absent and not `required` (kInvalidValue "name: required" otherwise).
Result<std::string> StringField(const Json& body, const std::string& name, bool required);

}  // namespace admin_detail

// Everything one request needs on its way through the routes.
struct AdminApi::Call {
  const Request& req;
  std::string request_id;
  std::vector<std::string_view> seg;  // path segments after /api/v1 (views into req.path)
  std::string base_url;               // public URL without trailing slash
  directory::Actor actor;

  Response MethodNotAllowed(const std::string& allow, const std::string& route) const {
    Response r = admin_detail::ErrorResponse(
        405, "method_not_allowed", "method " + req.method + " is not allowed here; use " + allow,
        route);
    r.SetHeader("Allow", allow);
    return r;
  }
  Response NotFound() const {
    return admin_detail::ErrorResponse(404, "not_found", "no such endpoint: " + req.path,
                                       "admin.other");
  }
};

}  // namespace idsync::http
