#include "http/common.h"

#include <charconv>

#include "base/strings.h"
#include "base/uuid.h"
#include "scim/types.h"

namespace idsync::http {

Response JsonResponse(int status, const Json& body, std::string route,
                      std::string_view content_type) {
  Response r;
  r.status = status;
  r.body = DumpJson(body);
  r.SetHeader("Content-Type", std::string(content_type));
  r.route = std::move(route);
  return r;
}

Response ScimErrorResponse(const Error& error, std::string route) {
  int status = service::StatusOf(error.code);
  Json body = {{"schemas", {std::string(scim::kErrorSchema)}},
               {"status", std::to_string(status)},
               {"detail", error.detail}};
  if (auto t = service::ScimTypeOf(error.code); !t.empty()) body["scimType"] = std::string(t);
  Response r = JsonResponse(status, body, std::move(route));
  if (error.code == ErrorCode::kUnauthorized) {
    r.SetHeader("WWW-Authenticate", "Bearer realm=\"idsync\"");
  }
  return r;
}

Response ScimErrorResponse(ErrorCode code, std::string detail, std::string route) {
  return ScimErrorResponse(Error{code, std::move(detail)}, std::move(route));
}

Response MethodNotAllowed(std::string_view method, std::string allow, std::string route) {
  Json body = {{"schemas", {std::string(scim::kErrorSchema)}},
               {"status", "405"},
               {"detail", "method " + std::string(method) + " is not allowed here; use " + allow}};
  Response r = JsonResponse(405, body, std::move(route));
  r.SetHeader("Allow", std::move(allow));
  return r;
}

Json ScimListResponse(int64_t total, int64_t start_index, std::vector<Json> resources) {
  Json list = Json::array();
  for (auto& r : resources) list.push_back(std::move(r));
  size_t n = list.size();
  return {{"schemas", {std::string(scim::kListResponseSchema)}},
          {"totalResults", total},
          {"startIndex", start_index},
          {"itemsPerPage", n},
          {"Resources", std::move(list)}};
}

std::string RequestIdOf(const Request& request) {
  if (auto id = request.Header("x-request-id"); id && !id->empty() && id->size() <= 128) {
    bool printable = true;
    for (char c : *id) printable &= (c > 32 && c < 127);
    if (printable) return std::string(*id);
  }
  return NewUuid();
}

std::string_view BearerToken(const Request& request) {
  auto auth = request.Header("authorization");
  if (!auth || !StartsWithIgnoreAsciiCase(*auth, "bearer ")) return {};
  std::string_view token = auth->substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

std::string PublicBase(const Request& request, std::string_view public_url) {
  std::string base(public_url);
  if (base.empty()) {
    auto host = request.Header("host");
    base = std::string(request.tls ? "https://" : "http://") +
           std::string(host && !host->empty() ? *host : "localhost");
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view seg = path.substr(0, slash);
    if (!seg.empty()) out.push_back(seg);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

Result<int64_t> ParseQueryInt(std::string_view name, std::string_view text) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
    return MakeError(ErrorCode::kInvalidValue,
                     std::string(name) + " must be an integer, got \"" + std::string(text) + "\"");
  }
  return v;
}

Result<ListQuery> ListQueryFromRequest(const Request& request) {
  ListQuery q;
  if (auto f = request.QueryIgnoreCase("filter")) q.request.filter = std::string(*f);
  if (auto s = request.QueryIgnoreCase("sortBy")) q.request.sort_by = std::string(*s);
  if (auto o = request.QueryIgnoreCase("sortOrder")) {
    if (EqualsIgnoreAsciiCase(*o, "descending")) {
      q.request.descending = true;
    } else if (!EqualsIgnoreAsciiCase(*o, "ascending")) {
      return MakeError(ErrorCode::kInvalidValue, "sortOrder must be ascending or descending");
    }
  }
  if (auto s = request.QueryIgnoreCase("startIndex")) {
    auto v = ParseQueryInt("startIndex", *s);
    if (!v) return v.error();
    q.request.start_index = *v;
  }
  if (auto c = request.QueryIgnoreCase("count")) {
    auto v = ParseQueryInt("count", *c);
    if (!v) return v.error();
    q.request.count = *v;
  }
  if (auto a = request.QueryIgnoreCase("attributes")) q.attributes = std::string(*a);
  if (auto e = request.QueryIgnoreCase("excludedAttributes")) {
    q.excluded_attributes = std::string(*e);
  }
  return q;
}

}  // namespace idsync::http
