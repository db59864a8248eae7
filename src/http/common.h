// Small helpers shared by the HTTP faces of idsync (SCIM, read, admin, console and operational
// endpoints), so that each rule has one home: JSON and SCIM error responses, request ids,
// bearer tokens, base URLs and the SCIM list query parameters. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "http/server.h"
#include "service/scim_service.h"

namespace idsync::http {

inline constexpr std::string_view kScimJsonType = "application/scim+json";

// `body` serialised with the given Content-Type; `route` labels the metrics.
Response JsonResponse(int status, const Json& body, std::string route,
                      std::string_view content_type = kScimJsonType);

// RFC 7644 §3.12 error: status (a string in the body) from service::StatusOf, scimType where the
// RFC defines one; 401 adds WWW-Authenticate: Bearer.
Response ScimErrorResponse(const Error& error, std::string route);
Response ScimErrorResponse(ErrorCode code, std::string detail, std::string route);
// 405 with Allow and a SCIM error body (status "405", no scimType).
Response MethodNotAllowed(std::string_view method, std::string allow, std::string route);

// RFC 7644 §3.4.2 ListResponse.
Json ScimListResponse(int64_t total, int64_t start_index, std::vector<Json> resources);

// X-Request-Id if the client sent a usable one (printable, at most 128 characters), else a new
// UUID.
std::string RequestIdOf(const Request& request);

// The credential of "Authorization: Bearer <token>", trimmed; empty if there is none.
std::string_view BearerToken(const Request& request);

// "scheme://host" for absolute URLs: `public_url` when set (trailing '/' dropped), else from
// the Host header and whether the connection is TLS.
std::string PublicBase(const Request& request, std::string_view public_url);

// "/a//b/c/" -> {"a", "b", "c"} (empty segments dropped).
std::vector<std::string_view> SplitPath(std::string_view path);

// A decimal int64 query parameter; kInvalidValue naming the parameter otherwise.
Result<int64_t> ParseQueryInt(std::string_view name, std::string_view text);

// The list parameters of a GET query string (RFC 7644 §3.4.2; names case-insensitive):
// filter, sortBy, sortOrder (ascending|descending, else kInvalidValue), startIndex, count
// (integers, else kInvalidValue), attributes, excludedAttributes.
struct ListQuery {
  service::ListRequest request;
  std::string attributes;
  std::string excluded_attributes;
};
Result<ListQuery> ListQueryFromRequest(const Request& request);

}  // namespace idsync::http
