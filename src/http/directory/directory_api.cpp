#include "http/directory/directory_api.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "base/strings.h"
#include "http/common.h"
#include "http/media_type.h"
#include "scim/query/etag.h"
#include "scim/types.h"

namespace idsync::http {

using scim::ResourceType;

namespace {

constexpr std::string_view kSpcSchema =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

// Directory names as DirectoryService accepts them ([a-z][a-z0-9_-]{0,62}); anything else
// cannot exist, so it is a 404 before any token or store lookup.
bool ValidDirectoryName(std::string_view name) {
  if (name.empty() || name.size() > 63 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Json ServiceProviderConfig(const std::string& base_url, int64_t max_results) {
  return {
      {"schemas", {std::string(kSpcSchema)}},
      {"patch", {{"supported", false}}},
      {"bulk", {{"supported", false}, {"maxOperations", 0}, {"maxPayloadSize", 0}}},
      {"filter", {{"supported", true}, {"maxResults", max_results}}},
      {"changePassword", {{"supported", false}}},
      {"sort", {{"supported", true}}},
      {"etag", {{"supported", true}}},
      {"authenticationSchemes",
       Json::array({{{"type", "oauthbearertoken"},
                     {"name", "Read token"},
                     {"description",
                      "idsync read token of this directory (idsync read-token add), or an "
                      "admin token"},
                     {"primary", true}}})},
      {"meta",
       {{"resourceType", "ServiceProviderConfig"},
        {"location", base_url + "/ServiceProviderConfig"}}},
  };
}

// If-None-Match against our only representation's weak ETag W/"n" (RFC 9110 §13.1.2).
bool NotModified(const Request& req, const std::string& etag) {
  auto inm = req.Header("if-none-match");
  return inm && scim::query::ETagListMatches(*inm, etag);
}

}  // namespace

DirectoryApi::DirectoryApi(directory::DirectoryReader& reader,
                           directory::DirectoryService& directories, service::ApiTokens& tokens,
                           store::Store& store, RequestLimits& limits, std::string public_url,
                           int max_long_polls)
    : reader_(reader),
      directories_(directories),
      tokens_(tokens),
      store_(store),
      limits_(limits),
      public_url_(std::move(public_url)),
      max_long_polls_(max_long_polls) {}

void DirectoryApi::Shutdown() {
  stopping_.store(true);
  directories_.WakeAll();
}

bool DirectoryApi::Handles(std::string_view path) {
  return path == kDirectoryApiPrefix ||
         (path.size() > kDirectoryApiPrefix.size() &&
          path.substr(0, kDirectoryApiPrefix.size()) == kDirectoryApiPrefix &&
          path[kDirectoryApiPrefix.size()] == '/');
}

Response DirectoryApi::Handle(const Request& request) {
  std::string request_id = RequestIdOf(request);
  Response r = Route(request);
  NegotiateScimMediaType(request, r);  // RFC 7644 §3.8, as the SCIM endpoints
  r.SetHeader("X-Request-Id", request_id);
  return r;
}

Response DirectoryApi::Route(const Request& req) {
  std::vector<std::string_view> seg = SplitPath(
      std::string_view(req.path).substr(std::min(req.path.size(), kDirectoryApiPrefix.size())));
  if (seg.empty() || !ValidDirectoryName(seg[0]) || seg.size() > 3) {
    return ScimErrorResponse(ErrorCode::kNotFound,
                             "no such endpoint: " + req.path +
                                 " (the read API is /directory/v2/{directory}/Users, /Groups, "
                                 "/changes)",
                             "directory.other");
  }
  const std::string directory(seg[0]);
  std::string_view what = seg.size() > 1 ? seg[1] : std::string_view();
  std::string route;
  if (what == "Users" || what == "Groups") {
    route = std::string(what == "Users" ? "directory.users" : "directory.groups") +
            (seg.size() == 3 ? ".get" : ".list");
  } else if (what == "changes" && seg.size() == 2) {
    route = "directory.changes";
  } else if ((what == "ServiceProviderConfig" && seg.size() == 2) || what == "Schemas" ||
             what == "ResourceTypes") {
    route = "directory.discovery";
  } else {
    return ScimErrorResponse(ErrorCode::kNotFound, "no such endpoint: " + req.path,
                             "directory.other");
  }
  // Read-only: decided by the endpoint alone, before the credential is looked at.
  if (req.method != "GET") return MethodNotAllowed(req.method, "GET", route);

  // Limits shared with SCIM and the admin API (request_limits.h gives the order and why). A
  // change-feed request costs one request whatever its wait, so a consumer long-polling in a
  // loop spends at most one token per wait and never approaches a limit while idle.
  auto too_many = [](const Refusal& refusal, std::string limit_route) {
    Response r =
        ScimErrorResponse(ErrorCode::kRateLimited, refusal.message, std::move(limit_route));
    r.SetHeader("Retry-After", std::to_string(refusal.retry_after));
    return r;
  };
  if (auto refused = limits_.AdmitAddress(req.remote_address)) {
    return too_many(*refused, "directory.ratelimit");
  }
  auto token = tokens_.Authenticate(BearerToken(req));
  if (!token) {
    if (token.error().code == ErrorCode::kUnauthorized) {
      if (auto refused = limits_.AuthenticationFailed(req.remote_address)) {
        return too_many(*refused, "directory.auth");
      }
      return ScimErrorResponse(ErrorCode::kUnauthorized,
                               "missing or invalid bearer token: use a read token of directory \"" +
                                   directory + "\" or an admin token",
                               route);
    }
    return ScimErrorResponse(token.error(), route);
  }
  if (token->kind != "admin" && token->directory != directory) {
    return ScimErrorResponse(ErrorCode::kForbidden,
                             "read token \"" + token->name + "\" is for directory \"" +
                                 token->directory + "\", not \"" + directory + "\"",
                             route);
  }
  NotePrincipal(token->kind + ":" + token->name);
  if (auto refused = limits_.AdmitApiToken(token->name)) {
    return too_many(*refused, "directory.ratelimit");
  }

  if (route == "directory.changes") return Changes(req, directory);

  const std::string base =
      PublicBase(req, public_url_) + std::string(kDirectoryApiPrefix) + "/" + directory;
  if (route == "directory.discovery") {
    auto registry = reader_.RegistryFor(directory);
    if (!registry) return ScimErrorResponse(registry.error(), route);
    const auto& reg = **registry;
    if (what == "ServiceProviderConfig") {
      return JsonResponse(200, ServiceProviderConfig(base, reader_.limits().max_results), route);
    }
    if (what == "ResourceTypes") {
      if (seg.size() == 2) {
        std::vector<Json> list = {reg.ResourceTypeJson(ResourceType::kUser, base),
                                  reg.ResourceTypeJson(ResourceType::kGroup, base)};
        return JsonResponse(200, ScimListResponse(2, 1, std::move(list)), route);
      }
      if (seg[2] == "User" || seg[2] == "Group") {
        return JsonResponse(
            200,
            reg.ResourceTypeJson(seg[2] == "User" ? ResourceType::kUser : ResourceType::kGroup,
                                 base),
            route);
      }
      return ScimErrorResponse(ErrorCode::kNotFound, "no resource type " + std::string(seg[2]),
                               route);
    }
    if (seg.size() == 2) {
      std::vector<Json> list;
      for (const auto& s : reg.AllSchemas()) list.push_back(reg.SchemaJson(s, base));
      int64_t n = static_cast<int64_t>(list.size());
      return JsonResponse(200, ScimListResponse(n, 1, std::move(list)), route);
    }
    if (const auto* s = reg.FindSchema(seg[2]))
      return JsonResponse(200, reg.SchemaJson(*s, base), route);
    return ScimErrorResponse(ErrorCode::kNotFound, "no schema " + std::string(seg[2]), route);
  }

  const bool users = what == "Users";
  directory::ReadProjection projection;
  if (seg.size() == 3) {
    if (auto a = req.QueryIgnoreCase("attributes")) projection.attributes = std::string(*a);
    if (auto e = req.QueryIgnoreCase("excludedAttributes")) {
      projection.excluded_attributes = std::string(*e);
    }
    std::string id(seg[2]);
    auto got = users ? reader_.GetUser(directory, id, base, projection)
                     : reader_.GetGroup(directory, id, base, projection);
    if (!got) return ScimErrorResponse(got.error(), route);
    if (NotModified(req, got->etag)) {
      Response r;
      r.status = 304;
      r.route = route;
      r.SetHeader("ETag", got->etag);
      return r;
    }
    Response r = JsonResponse(200, got->resource, route);
    r.SetHeader("ETag", got->etag);
    return r;
  }
  auto query = ListQueryFromRequest(req);
  if (!query) return ScimErrorResponse(query.error(), route);
  projection.attributes = std::move(query->attributes);
  projection.excluded_attributes = std::move(query->excluded_attributes);
  auto list = users ? reader_.ListUsers(directory, query->request, base, projection)
                    : reader_.ListGroups(directory, query->request, base, projection);
  if (!list) return ScimErrorResponse(list.error(), route);
  return JsonResponse(
      200, ScimListResponse(list->total_results, list->start_index, std::move(list->resources)),
      route);
}

Response DirectoryApi::Changes(const Request& req, const std::string& directory) {
  const std::string route = "directory.changes";
  int64_t since = 0;
  if (auto s = req.Query("since")) {
    auto v = ParseQueryInt("since", *s);
    if (!v || *v < 0) {
      return ScimErrorResponse(ErrorCode::kInvalidValue,
                               "since must be a cursor from this feed (an integer >= 0, 0 for "
                               "the beginning), got \"" +
                                   std::string(*s) + "\"",
                               route);
    }
    since = *v;
  }
  int64_t limit = kMaxChangesPerPage;
  if (auto s = req.Query("limit")) {
    auto v = ParseQueryInt("limit", *s);
    if (!v || *v < 1) {
      return ScimErrorResponse(
          ErrorCode::kInvalidValue,
          "limit must be an integer from 1 to " + std::to_string(kMaxChangesPerPage), route);
    }
    limit = std::min(*v, kMaxChangesPerPage);
  }
  int64_t wait_seconds = 0;
  if (auto s = req.Query("wait")) {
    auto v = ParseQueryInt("wait", *s);
    if (!v || *v < 0) {
      return ScimErrorResponse(
          ErrorCode::kInvalidValue,
          "wait must be a number of seconds from 0 to " + std::to_string(kMaxWaitSeconds), route);
    }
    wait_seconds = std::min(*v, kMaxWaitSeconds);
  }

  // Admission for long polls: a slot is taken before waiting and given back on every path out.
  bool refused = false;
  struct Slot {
    std::atomic<int>* counter = nullptr;
    ~Slot() {
      if (counter) counter->fetch_sub(1);
    }
  } slot;
  if (stopping_.load()) wait_seconds = 0;
  if (wait_seconds > 0) {
    if (active_long_polls_.fetch_add(1) >= max_long_polls_) {
      active_long_polls_.fetch_sub(1);
      wait_seconds = 0;
      refused = true;
    } else {
      slot.counter = &active_long_polls_;
    }
  }

  // Waits in slices, so that Shutdown() is noticed within one slice; each slice is woken at once
  // by a write of this process (DirectoryService::Changes).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  Result<std::vector<store::ChangeRecord>> changes = std::vector<store::ChangeRecord>();
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (stopping_.load()) left = std::chrono::milliseconds(0);
    left = std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(1000));
    changes = directories_.Changes(directory, since, limit, left);
    if (!changes) return ScimErrorResponse(changes.error(), route);
    if (!changes->empty() || left.count() == 0 || std::chrono::steady_clock::now() >= deadline ||
        stopping_.load()) {
      break;
    }
  }
  int64_t last = 0;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto seq = tx.LastChangeSeq(directory);
    if (!seq) return seq.error();
    last = *seq;
    return Status::Ok();
  });
  if (!st) return ScimErrorResponse(st.error(), route);

  Json list = Json::array();
  int64_t next = since;
  for (const auto& c : *changes) {
    list.push_back(directory::ChangeToJson(c));
    next = std::max(next, c.seq);
  }
  // `last` is read after the page, so last >= next; a consumer is caught up when next == last.
  Json body = {{"changes", std::move(list)}, {"next", next}, {"last", std::max(last, next)}};
  Response r = JsonResponse(200, body, route, "application/json");
  if (refused) r.SetHeader("Retry-After", "1");
  return r;
}

}  // namespace idsync::http
