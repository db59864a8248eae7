#include "http/admin/admin_call.h"

#include <charconv>

#include "base/strings.h"
#include "service/scim_service.h"

namespace idsync::http::admin_detail {

std::string_view CodeName(ErrorCode code) {
  switch (code) {  // no default: a new ErrorCode must be named here
    case ErrorCode::kInvalidSyntax: return "invalid_syntax";
    case ErrorCode::kInvalidFilter: return "invalid_filter";
    case ErrorCode::kTooMany: return "too_many";
    case ErrorCode::kInvalidPath: return "invalid_path";
    case ErrorCode::kNoTarget: return "no_target";
    case ErrorCode::kInvalidValue: return "invalid_value";
    case ErrorCode::kMutability: return "mutability";
    case ErrorCode::kUniqueness: return "uniqueness";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kInvalidVersion: return "invalid_version";
    case ErrorCode::kSensitive: return "sensitive";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kVersionMismatch: return "version_mismatch";
    case ErrorCode::kNotModified: return "not_modified";
    case ErrorCode::kPayloadTooLarge: return "payload_too_large";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kNotImplemented: return "not_implemented";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

Response Reply(int status, const Json& body, const std::string& route) {
  return JsonResponse(status, body, route, kJson);
}

Response ErrorResponse(int status, std::string_view code, const std::string& message,
                       const std::string& route) {
  Response r =
      Reply(status, Json{{"error", {{"code", std::string(code)}, {"message", message}}}}, route);
  if (status == 401) r.SetHeader("WWW-Authenticate", "Bearer realm=\"idsync admin\"");
  return r;
}

Response ErrorResponse(const Error& e, const std::string& route) {
  int status = service::StatusOf(e.code);
  // 304 carries no body; no admin route answers it, so a stray kNotModified is a bug.
  if (status == 304) status = 500;
  return ErrorResponse(status, CodeName(e.code), e.detail, route);
}

Response NoContent(const std::string& route) {
  Response r;
  r.status = 204;
  r.route = route;
  return r;
}

Result<Json> ParseBody(const Request& req) {
  if (auto ct = req.Header("content-type");
      ct && AsciiLower(*ct).find("json") == std::string::npos) {
    return MakeError(ErrorCode::kInvalidSyntax, "Content-Type must be application/json");
  }
  if (req.body.empty()) return MakeError(ErrorCode::kInvalidSyntax, "request body is empty");
  return ParseJsonStrict(req.body);
}

Result<Json> ParseObjectBody(const Request& req, const std::set<std::string>& allowed,
                             bool optional) {
  if (optional && req.body.empty()) return Json::object();
  auto body = ParseBody(req);
  if (!body) return body.error();
  if (!body->is_object()) {
    return MakeError(ErrorCode::kInvalidSyntax, "request body must be a JSON object");
  }
  for (auto it = body->begin(); it != body->end(); ++it) {
    if (!allowed.count(it.key())) {
      return MakeError(ErrorCode::kInvalidValue, it.key() + ": unknown field");
    }
  }
  return body;
}

Result<int64_t> QueryInt(const Request& req, std::string_view name, int64_t fallback, int64_t min,
                         int64_t max) {
  auto text = req.Query(name);
  if (!text) return fallback;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || p != text->data() + text->size() || v < min || v > max) {
    return MakeError(ErrorCode::kInvalidValue,
                     std::string(name) + ": expected an integer from " + std::to_string(min) +
                         " to " + std::to_string(max) + ", got \"" + std::string(*text) + "\"");
  }
  return v;
}

Result<std::string> StringField(const Json& body, const std::string& name, bool required) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) return MakeError(ErrorCode::kInvalidValue, name + ": required");
    return std::string();
  }
  if (!it->is_string()) return MakeError(ErrorCode::kInvalidValue, name + ": expected a string");
  return it->get<std::string>();
}

}  // namespace idsync::http::admin_detail
