#include "http/scim/scim_api.h"

#include <fmt/format.h>

#include "base/json.h"
#include "base/strings.h"
#include "http/common.h"
#include "http/media_type.h"
#include "scim/query/etag.h"
#include "scim/query/projection.h"

namespace idsync::http {

using scim::ResourceType;

namespace {

constexpr std::string_view kPrefix = "/scim/v2";

// Request bodies: application/scim+json and application/json per RFC 7644 §3.1; Okta samples use
// text/json, so any JSON-ish media type is accepted. A missing Content-Type is tolerated too.
bool AcceptableContentType(const Request& req) {
  auto ct = req.Header("content-type");
  if (!ct) return true;
  std::string v = AsciiLower(*ct);
  return v.find("json") != std::string::npos;
}

std::string JoinStrings(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  std::string out;
  if (v.is_array()) {
    for (const auto& s : v) {
      if (!s.is_string()) continue;
      if (!out.empty()) out += ",";
      out += s.get<std::string>();
    }
  }
  return out;
}

// True if `body` has a "schemas" array naming `urn` (URNs compare case-insensitively, RFC 8141).
bool ListsSchema(const Json& body, std::string_view urn) {
  auto schemas = body.find("schemas");
  if (schemas == body.end() || !schemas->is_array()) return false;
  for (const Json& s : *schemas) {
    if (s.is_string() && EqualsIgnoreAsciiCase(s.get_ref<const std::string&>(), urn)) return true;
  }
  return false;
}

// The list parameters of a SearchRequest body (RFC 7644 §3.4.3); those of a query string are
// ListQueryFromRequest (http/common.h).
Result<ListQuery> ListQueryFromSearch(const Json& body) {
  if (!body.is_object()) {
    return MakeError(ErrorCode::kInvalidSyntax, "SearchRequest must be a JSON object");
  }
  ListQuery p;
  for (auto it = body.begin(); it != body.end(); ++it) {
    std::string key = AsciiLower(it.key());
    const Json& v = it.value();
    if (key == "filter" && v.is_string())
      p.request.filter = v.get<std::string>();
    else if (key == "sortby" && v.is_string())
      p.request.sort_by = v.get<std::string>();
    else if (key == "sortorder" && v.is_string()) {
      if (EqualsIgnoreAsciiCase(v.get<std::string>(), "descending"))
        p.request.descending = true;
      else if (!EqualsIgnoreAsciiCase(v.get<std::string>(), "ascending")) {
        return MakeError(ErrorCode::kInvalidValue, "sortOrder must be ascending or descending");
      }
    } else if (key == "startindex") {
      if (!v.is_number_integer())
        return MakeError(ErrorCode::kInvalidValue, "startIndex must be an integer");
      p.request.start_index = v.get<int64_t>();
    } else if (key == "count") {
      if (!v.is_number_integer())
        return MakeError(ErrorCode::kInvalidValue, "count must be an integer");
      p.request.count = v.get<int64_t>();
    } else if (key == "attributes") {
      p.attributes = JoinStrings(v);
    } else if (key == "excludedattributes") {
      p.excluded_attributes = JoinStrings(v);
    }
  }
  return p;
}

}  // namespace

ScimApi::ScimApi(service::ScimService& scim, service::Connections& connections,
                 const scim::schema::Registry& registry, RequestLimits& limits, ApiOptions options)
    : scim_(scim),
      connections_(connections),
      registry_(registry),
      limits_(limits),
      options_(std::move(options)) {}

Response ScimApi::Handle(const Request& req) {
  std::string request_id = RequestIdOf(req);
  Response r;
  std::string_view path = req.path;
  if (path == kPrefix ||
      (path.size() > kPrefix.size() && path.substr(0, kPrefix.size()) == kPrefix &&
       path[kPrefix.size()] == '/')) {
    std::string_view rest = path.substr(kPrefix.size());
    if (rest.empty()) rest = "/";
    r = HandleScim(req, rest, request_id);
  } else {
    r = ScimErrorResponse(
        ErrorCode::kNotFound,
        "no such endpoint: " + std::string(path) + " (SCIM is served under /scim/v2)", "other");
  }
  // RFC 7644 §3.8: every SCIM answer, errors included, in the media type the client asked for.
  NegotiateScimMediaType(req, r);
  r.SetHeader("X-Request-Id", request_id);
  return r;
}

Response ScimApi::HandleScim(const Request& req, std::string_view rest,
                             const std::string& request_id) {
  std::vector<std::string_view> seg = SplitPath(rest);  // "/Users/abc" -> {"Users", "abc"}
  const std::string& method = req.method;
  std::string base = PublicBase(req, options_.public_url) + std::string(kPrefix);

  auto method_not_allowed = [&](std::string allow, std::string route) {
    return MethodNotAllowed(method, std::move(allow), std::move(route));
  };

  // Discovery (RFC 7644 §4) carries no tenant data and is readable without a token, so that
  // identity providers' "test connection" and validators can read it before configuration.
  if (!seg.empty() && seg[0] == "ServiceProviderConfig") {
    if (method != "GET") return method_not_allowed("GET", "scim.discovery");
    return JsonResponse(200, scim_.ServiceProviderConfig(base), "scim.discovery");
  }
  if (!seg.empty() && seg[0] == "ResourceTypes") {
    if (method != "GET") return method_not_allowed("GET", "scim.discovery");
    if (seg.size() == 1) {
      std::vector<Json> list = {registry_.ResourceTypeJson(ResourceType::kUser, base),
                                registry_.ResourceTypeJson(ResourceType::kGroup, base)};
      return JsonResponse(200, ScimListResponse(2, 1, std::move(list)), "scim.discovery");
    }
    if (seg.size() == 2 && (seg[1] == "User" || seg[1] == "Group")) {
      return JsonResponse(200,
                          registry_.ResourceTypeJson(
                              seg[1] == "User" ? ResourceType::kUser : ResourceType::kGroup, base),
                          "scim.discovery");
    }
    return ScimErrorResponse(ErrorCode::kNotFound, "no resource type " + std::string(seg.back()),
                             "scim.discovery");
  }
  if (!seg.empty() && seg[0] == "Schemas") {
    if (method != "GET") return method_not_allowed("GET", "scim.discovery");
    if (seg.size() == 1) {
      std::vector<Json> list;
      for (const auto& s : registry_.AllSchemas()) list.push_back(registry_.SchemaJson(s, base));
      int64_t n = static_cast<int64_t>(list.size());
      return JsonResponse(200, ScimListResponse(n, 1, std::move(list)), "scim.discovery");
    }
    if (seg.size() == 2) {
      if (const auto* s = registry_.FindSchema(seg[1])) {
        return JsonResponse(200, registry_.SchemaJson(*s, base), "scim.discovery");
      }
    }
    return ScimErrorResponse(ErrorCode::kNotFound, "no schema " + std::string(seg.back()),
                             "scim.discovery");
  }
  if (!seg.empty() && seg[0] == "Me") {
    return ScimErrorResponse(ErrorCode::kNotImplemented,
                             "/Me is not supported: idsync authenticates connections, not users",
                             "scim.me");
  }

  // Limits shared with the admin and read APIs (request_limits.h gives the order and why).
  auto too_many = [](const Refusal& refusal, std::string route) {
    Response r = ScimErrorResponse(ErrorCode::kRateLimited, refusal.message, std::move(route));
    r.SetHeader("Retry-After", std::to_string(refusal.retry_after));
    return r;
  };
  if (auto refused = limits_.AdmitAddress(req.remote_address)) {
    return too_many(*refused, "scim.ratelimit");
  }

  // Everything else needs the connection's bearer token.
  int64_t generation = 0;
  auto connection = connections_.Authenticate(BearerToken(req), &generation);
  if (!connection) {
    if (connection.error().code == ErrorCode::kUnauthorized) {
      if (auto refused = limits_.AuthenticationFailed(req.remote_address)) {
        return too_many(*refused, "scim.auth");
      }
    }
    return ScimErrorResponse(connection.error(), "scim.auth");
  }
  NotePrincipal("connection:" + connection->name);
  if (auto refused = limits_.AdmitConnection(connection->uuid, connection->name)) {
    return too_many(*refused, "scim.ratelimit");
  }
  service::CallContext ctx;
  ctx.connection = &*connection;
  ctx.config_generation = generation;
  ctx.base_url = base;
  ctx.request_id = request_id;

  auto parse_body = [&]() -> Result<Json> {
    if (!AcceptableContentType(req)) {
      return MakeError(ErrorCode::kInvalidSyntax,
                       "Content-Type must be application/scim+json or application/json");
    }
    if (req.body.empty()) return MakeError(ErrorCode::kInvalidSyntax, "request body is empty");
    return ParseJsonStrict(req.body);
  };

  // Root-level search and bulk.
  if (seg.size() == 1 && seg[0] == ".search") {
    if (method != "POST") return method_not_allowed("POST", "scim.search");
    auto body = parse_body();
    if (!body) return ScimErrorResponse(body.error(), "scim.search");
    auto params = ListQueryFromSearch(*body);
    if (!params) return ScimErrorResponse(params.error(), "scim.search");
    auto list = scim_.ListAll(ctx, params->request);
    if (!list) return ScimErrorResponse(list.error(), "scim.search");
    // Projection per resource type (attributes names can belong to either).
    std::vector<Json> out;
    for (auto& res : list->resources) {
      ResourceType t =
          res["meta"]["resourceType"] == "Group" ? ResourceType::kGroup : ResourceType::kUser;
      auto proj = scim::query::Projection::Parse(t, params->attributes, params->excluded_attributes,
                                                 registry_);
      out.push_back(proj ? proj->Apply(res) : res);
    }
    return JsonResponse(200,
                        ScimListResponse(list->total_results, list->start_index, std::move(out)),
                        "scim.search");
  }
  if (seg.size() == 1 && seg[0] == "Bulk") {
    if (method != "POST") return method_not_allowed("POST", "scim.bulk");
    if (req.body.size() > scim_.limits().bulk_max_payload_bytes) {
      return ScimErrorResponse(ErrorCode::kPayloadTooLarge,
                               fmt::format("Bulk request is {} bytes; maxPayloadSize is {}",
                                           req.body.size(), scim_.limits().bulk_max_payload_bytes),
                               "scim.bulk");
    }
    auto body = parse_body();
    if (!body) return ScimErrorResponse(body.error(), "scim.bulk");
    // RFC 7644 §3.7: a BulkRequest lists its schema URN, as a PatchOp must (§3.5.2).
    if (body->is_object() && !ListsSchema(*body, scim::kBulkRequestSchema)) {
      return ScimErrorResponse(ErrorCode::kInvalidSyntax,
                               "\"schemas\" must list " + std::string(scim::kBulkRequestSchema),
                               "scim.bulk");
    }
    auto result = scim_.Bulk(ctx, *body);
    if (!result) return ScimErrorResponse(result.error(), "scim.bulk");
    return JsonResponse(200, *result, "scim.bulk");
  }

  if (seg.empty() || (seg[0] != "Users" && seg[0] != "Groups") || seg.size() > 2) {
    return ScimErrorResponse(ErrorCode::kNotFound, "no such SCIM endpoint: " + std::string(rest),
                             "scim.other");
  }
  ResourceType type = seg[0] == "Users" ? ResourceType::kUser : ResourceType::kGroup;
  std::string route_base = type == ResourceType::kUser ? "scim.users" : "scim.groups";

  auto attributes = req.QueryIgnoreCase("attributes");
  auto excluded = req.QueryIgnoreCase("excludedAttributes");
  auto projection = scim::query::Projection::Parse(type, attributes.value_or(""),
                                                   excluded.value_or(""), registry_);
  if (!projection) return ScimErrorResponse(projection.error(), route_base);
  bool include_members = projection->IncludesAttribute("members");

  auto if_match = [&]() -> std::optional<std::string> {
    if (auto h = req.Header("if-match")) return std::string(*h);
    return std::nullopt;
  };
  // Without attributes/excludedAttributes the projection keeps everything stored: the only
  // returned=never attribute (password) is never stored and the core schemas have no
  // returned=request attribute, so the walk over the resource is skipped.
  const bool identity = !attributes && !excluded;
  auto single = [&](int status, service::WriteResult& w, std::string route) {
    Response r = JsonResponse(status, identity ? w.resource : projection->Apply(w.resource),
                              std::move(route));
    r.SetHeader("ETag", w.etag);
    if (status == 201) {
      r.SetHeader("Location", w.resource["meta"]["location"].get<std::string>());
    }
    return r;
  };

  if (seg.size() == 1 || (seg.size() == 2 && seg[1] == ".search")) {
    bool search = seg.size() == 2;
    if (search ? method != "POST" : (method != "GET" && method != "POST")) {
      return method_not_allowed(search ? "POST" : "GET, POST", route_base);
    }
    if (!search && method == "POST") {
      auto body = parse_body();
      if (!body) return ScimErrorResponse(body.error(), route_base + ".create");
      auto created = scim_.Create(ctx, type, *body);
      if (!created) return ScimErrorResponse(created.error(), route_base + ".create");
      return single(201, *created, route_base + ".create");
    }
    Result<ListQuery> params = MakeError(ErrorCode::kInternal, "");
    if (search) {
      auto body = parse_body();
      if (!body) return ScimErrorResponse(body.error(), route_base + ".search");
      params = ListQueryFromSearch(*body);
    } else {
      params = ListQueryFromRequest(req);
    }
    std::string route = route_base + (search ? ".search" : ".list");
    if (!params) return ScimErrorResponse(params.error(), route);
    auto proj = scim::query::Projection::Parse(type, params->attributes,
                                               params->excluded_attributes, registry_);
    if (!proj) return ScimErrorResponse(proj.error(), route);
    params->request.include_members = proj->IncludesAttribute("members");
    params->request.include_groups = proj->IncludesAttribute("groups");
    bool list_identity = params->attributes.empty() && params->excluded_attributes.empty();
    params->request.as_text = list_identity;
    auto list = scim_.List(ctx, type, params->request);
    if (!list) return ScimErrorResponse(list.error(), route);
    if (!list->texts.empty()) {
      // Assembled as text: the resources are already serialised (ListRequest::as_text).
      std::string body = "{\"Resources\":[";
      for (size_t i = 0; i < list->texts.size(); ++i) {
        if (i > 0) body += ',';
        body += list->texts[i];
      }
      body += "],\"itemsPerPage\":" + std::to_string(list->texts.size()) + ",\"schemas\":[\"" +
              std::string(scim::kListResponseSchema) +
              "\"],\"startIndex\":" + std::to_string(list->start_index) +
              ",\"totalResults\":" + std::to_string(list->total_results) + "}";
      Response r;
      r.status = 200;
      r.body = std::move(body);
      r.route = route;
      r.SetHeader("Content-Type", std::string(kScimJsonType));
      return r;
    }
    std::vector<Json> out;
    out.reserve(list->resources.size());
    for (auto& res : list->resources) {
      out.push_back(list_identity ? std::move(res) : proj->Apply(res));
    }
    return JsonResponse(
        200, ScimListResponse(list->total_results, list->start_index, std::move(out)), route);
  }

  std::string id(seg[1]);
  if (method == "GET" && identity) {
    std::string route = route_base + ".get";
    auto got = scim_.GetText(ctx, type, id, include_members, true);
    if (!got) return ScimErrorResponse(got.error(), route);
    Response r;
    r.route = route;
    r.SetHeader("ETag", got->etag);
    if (auto inm = req.Header("if-none-match");
        inm && scim::query::ETagListMatches(*inm, got->etag)) {
      r.status = 304;
      return r;
    }
    r.status = 200;
    r.body = std::move(got->json);
    r.SetHeader("Content-Type", std::string(kScimJsonType));
    return r;
  }
  if (method == "GET") {
    std::string route = route_base + ".get";
    auto got = scim_.Get(ctx, type, id, include_members, projection->IncludesAttribute("groups"));
    if (!got) return ScimErrorResponse(got.error(), route);
    if (auto inm = req.Header("if-none-match");
        inm && scim::query::ETagListMatches(*inm, got->etag)) {
      Response r;
      r.status = 304;
      r.route = route;
      r.SetHeader("ETag", got->etag);
      return r;
    }
    return single(200, *got, route);
  }
  if (method == "PUT") {
    std::string route = route_base + ".replace";
    auto body = parse_body();
    if (!body) return ScimErrorResponse(body.error(), route);
    auto put = scim_.Replace(ctx, type, id, *body, if_match(), include_members);
    if (!put) return ScimErrorResponse(put.error(), route);
    return single(200, *put, route);
  }
  if (method == "PATCH") {
    std::string route = route_base + ".patch";
    auto body = parse_body();
    if (!body) return ScimErrorResponse(body.error(), route);
    // RFC 7644 §3.5.2: 200 with the resource, or 204; 200 is required when "attributes" is
    // given. Groups answer 204 otherwise, so that one member change on a 100,000-member group
    // does not send the whole member list back (Entra ID expects 204 for group PATCH).
    bool want_body = type == ResourceType::kUser || attributes || excluded;
    auto patched = scim_.Patch(ctx, type, id, *body, if_match(), want_body && include_members);
    if (!patched) return ScimErrorResponse(patched.error(), route);
    if (!want_body) {
      Response r;
      r.status = 204;
      r.route = route;
      r.SetHeader("ETag", patched->etag);
      return r;
    }
    return single(200, *patched, route);
  }
  if (method == "DELETE") {
    std::string route = route_base + ".delete";
    Status st = scim_.Delete(ctx, type, id, if_match());
    if (!st) return ScimErrorResponse(st.error(), route);
    Response r;
    r.status = 204;
    r.route = route;
    return r;
  }
  return method_not_allowed("GET, PUT, PATCH, DELETE", route_base);
}

}  // namespace idsync::http
