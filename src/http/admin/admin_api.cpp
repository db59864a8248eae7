#include "http/admin/admin_api.h"
#include "base/log.h"

#include <cstdio>
#include <exception>
#include <set>
#include <vector>

#include "base/json.h"
#include "base/strings.h"
#include "base/time.h"
#include "directory/reader.h"
#include "http/admin/admin_call.h"
#include "http/common.h"
#include "service/scim_service.h"
#include "sync/ldap_sync.h"
#include "sync/scheduler.h"

namespace idsync::http {

using admin_detail::CodeName;
using admin_detail::ErrorResponse;
using admin_detail::kJson;
using admin_detail::NoContent;
using admin_detail::ParseBody;
using admin_detail::ParseObjectBody;
using admin_detail::QueryInt;
using admin_detail::Reply;
using admin_detail::StringField;

namespace {

// 429 from the shared request limits, in the admin API's error format.
Response TooMany(const Refusal& refusal, const std::string& route) {
  Response r = ErrorResponse(429, CodeName(ErrorCode::kRateLimited), refusal.message, route);
  r.SetHeader("Retry-After", std::to_string(refusal.retry_after));
  return r;
}

Json TimeOrNull(const std::optional<TimePoint>& t) {
  return t ? Json(FormatRfc3339(*t)) : Json(nullptr);
}

Json DirectoryJson(const store::DirectoryRecord& d) {
  return {{"name", d.name},
          {"custom_attributes", d.custom_attributes},
          {"version", d.version},
          {"created", FormatRfc3339(d.created)}};
}

Json AuditJson(const store::AuditRecord& a) {
  return {{"seq", a.seq},
          {"time", FormatRfc3339(a.time)},
          {"connection", a.connection_name},
          {"request_id", a.request_id},
          {"actor", a.actor},
          {"operation", a.operation},
          {"resource_type", a.resource_type},
          {"resource_id", a.resource_id},
          {"status", a.status},
          {"detail", a.detail}};
}

}  // namespace

AdminApi::AdminApi(directory::DirectoryService& directory, service::Connections& connections,
                   service::ApiTokens& tokens, store::Store& store, RequestLimits& limits,
                   std::string public_url)
    : directory_(directory),
      connections_(connections),
      tokens_(tokens),
      store_(store),
      limits_(limits),
      public_url_(std::move(public_url)),
      reader_(std::make_unique<directory::DirectoryReader>(store)),
      ldap_accounts_(std::make_unique<service::LdapAccounts>(store, SystemClock::Instance())),
      admin_users_(std::make_unique<service::AdminUsers>(store, SystemClock::Instance())) {
  while (!public_url_.empty() && public_url_.back() == '/') public_url_.pop_back();
}

AdminApi::~AdminApi() = default;

bool AdminApi::Matches(std::string_view path) {
  return path == kAdminApiPrefix || (path.size() > kAdminApiPrefix.size() &&
                                     path.substr(0, kAdminApiPrefix.size()) == kAdminApiPrefix &&
                                     path[kAdminApiPrefix.size()] == '/');
}

Response AdminApi::Handle(const Request& req) {
  std::string request_id = RequestIdOf(req);
  Response r;
  try {
    Call call{req, request_id, {}, PublicBase(req, public_url_), {}};
    std::string_view path = req.path;
    if (Matches(path)) call.seg = SplitPath(path.substr(kAdminApiPrefix.size()));
    r = Route(call);
    r.principal = call.actor.name;
  } catch (const std::exception& e) {
    // A bug (e.g. a JSON shape assumption): the request fails alone, with the API's error body;
    // the reason goes to the log, not to the client.
    log::Error("admin API internal error", {{"method", req.method},
                                            {"route", req.path},
                                            {"request_id", request_id},
                                            {"detail", e.what()}});
    r = ErrorResponse(500, "internal", "internal error", "admin.error");
  }
  r.SetHeader("X-Request-Id", request_id);
  // JSON only, never a page: a browser that is sent here must not sniff a body into HTML or
  // frame it (the console's own pages carry the full policy, console/browser_rules).
  r.SetHeader("X-Content-Type-Options", "nosniff");
  r.SetHeader("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  return r;
}

Response AdminApi::Route(Call& call) {
  const Request& req = call.req;
  const auto& seg = call.seg;
  if (!Matches(req.path)) return call.NotFound();

  // The API description holds no tenant data and is what a client reads before it has a token.
  if (seg.size() == 1 && seg[0] == "openapi.json") {
    if (req.method != "GET") return call.MethodNotAllowed("GET", "admin.openapi");
    Response r;
    r.status = 200;
    r.body = std::string(AdminOpenApiDocument());
    r.SetHeader("Content-Type", std::string(kJson));
    r.route = "admin.openapi";
    return r;
  }

  // Limits shared with SCIM and the read API (request_limits.h gives the order and why).
  if (auto refused = limits_.AdmitAddress(req.remote_address)) {
    return TooMany(*refused, "admin.ratelimit");
  }
  auto unauthorized = [&](const std::string& message) {
    if (auto refused = limits_.AuthenticationFailed(req.remote_address)) {
      return TooMany(*refused, "admin.auth");
    }
    return ErrorResponse(401, "unauthorized", message, "admin.auth");
  };
  std::string_view secret = BearerToken(req);
  if (secret.empty()) {
    if (auto session = AuthenticateSession(call); session.present) {
      if (session.refusal) return std::move(*session.refusal);
      return Dispatch(call);
    }
    return unauthorized(
        "an admin token is required: Authorization: Bearer idsync_admin_... "
        "(create one with `idsync admin-token add NAME`)");
  }
  auto token = tokens_.Authenticate(secret);
  if (!token) {
    if (token.error().code == ErrorCode::kUnauthorized) {
      return unauthorized("the admin token is not valid");
    }
    return ErrorResponse(token.error(), "admin.auth");
  }
  // A read token is a valid credential (403, not a failed authentication: see request_limits.h).
  if (token->kind != "admin") {
    return ErrorResponse(403, "forbidden",
                         "token \"" + token->name + "\" is a " + token->kind +
                             " token; the admin API needs an admin token",
                         "admin.auth");
  }
  if (auto refused = limits_.AdmitApiToken(token->name)) {
    return TooMany(*refused, "admin.ratelimit");
  }
  call.actor = directory::Actor{"admin:" + token->name, call.request_id};
  return Dispatch(call);
}

// Console sessions instead of a bearer token (issue #12).
AdminApi::SessionOutcome AdminApi::AuthenticateSession(Call& call) {
  const Request& req = call.req;
  if (!session_auth_) return {};
  auto verdict = session_auth_(req);
  if (!verdict) return {};
  auto refuse = [](Response r) { return SessionOutcome{true, std::move(r)}; };
  if (!*verdict) {
    const Error& e = verdict->error();
    if (e.code == ErrorCode::kUnauthorized) {
      if (auto refused = limits_.AuthenticationFailed(req.remote_address)) {
        return refuse(TooMany(*refused, "admin.auth"));
      }
      return refuse(ErrorResponse(401, "unauthorized", e.detail, "admin.auth"));
    }
    return refuse(ErrorResponse(e, "admin.auth"));
  }
  // A viewer reads everything and changes nothing, whatever the route.
  if (req.method != "GET" && req.method != "HEAD" && !(*verdict)->may_write) {
    return refuse(ErrorResponse(
        403, "forbidden", "a viewer cannot change anything; ask an admin user", "admin.auth"));
  }
  if (auto refused = limits_.AdmitApiToken((*verdict)->actor)) {
    return refuse(TooMany(*refused, "admin.ratelimit"));
  }
  call.actor = directory::Actor{(*verdict)->actor, call.request_id};
  return {true, std::nullopt};
}

Response AdminApi::Dispatch(Call& call) {
  const auto& seg = call.seg;
  if (seg.empty()) return call.NotFound();
  if (seg[0] == "directories") return Directories(call);
  if (seg[0] == "connections") return Connections(call);
  if (seg[0] == "ldap-accounts") return LdapAccountRoutes(call);
  if (seg[0] == "api-tokens") return ApiTokenRoutes(call);
  if (seg[0] == "admin-users") return AdminUserRoutes(call);
  if (seg[0] == "audit" && seg.size() == 1) return Audit(call);
  return call.NotFound();
}

Response AdminApi::Directories(Call& call) {
  const Request& req = call.req;
  const auto& seg = call.seg;
  const std::string& method = req.method;

  if (seg.size() == 1) {
    if (method == "GET") {
      const std::string route = "admin.directories.list";
      auto all = directory_.ListDirectories();
      if (!all) return ErrorResponse(all.error(), route);
      Json list = Json::array();
      for (const auto& d : *all) list.push_back(DirectoryJson(d));
      return Reply(200, Json{{"directories", std::move(list)}}, route);
    }
    if (method == "POST") {
      const std::string route = "admin.directories.create";
      auto body = ParseObjectBody(req, {"name"});
      if (!body) return ErrorResponse(body.error(), route);
      auto name = StringField(*body, "name", true);
      if (!name) return ErrorResponse(name.error(), route);
      auto created = directory_.CreateDirectory(*name, call.actor);
      if (!created) return ErrorResponse(created.error(), route);
      Response r = Reply(201, DirectoryJson(*created), route);
      r.SetHeader("Location",
                  call.base_url + std::string(kAdminApiPrefix) + "/directories/" + created->name);
      return r;
    }
    return call.MethodNotAllowed("GET, POST", "admin.directories");
  }

  const std::string name(seg[1]);
  if (seg.size() == 2) {
    const std::string route = "admin.directories.get";
    if (method != "GET") return call.MethodNotAllowed("GET", route);
    auto d = directory_.GetDirectory(name);
    if (!d) return ErrorResponse(d.error(), route);
    Json j = DirectoryJson(*d);
    auto all = connections_.List();
    if (!all) return ErrorResponse(all.error(), route);
    Json names = Json::array();
    for (const auto& c : *all) {
      if (c.directory == name) names.push_back(c.name);
    }
    j["connections"] = std::move(names);
    Status st = store_.Read([&](store::Transaction& tx) -> Status {
      auto users = tx.CountEffectiveUsers(name);
      if (!users) return users.error();
      auto groups = tx.CountEffectiveGroups(name);
      if (!groups) return groups.error();
      j["users"] = *users;
      j["groups"] = *groups;
      return Status::Ok();
    });
    if (!st) return ErrorResponse(st.error(), route);
    return Reply(200, j, route);
  }

  if (seg.size() == 3 && seg[2] == "custom-attributes") {
    auto render = [&](const store::DirectoryRecord& d) {
      return Json{{"directory", d.name},
                  {"version", d.version},
                  {"custom_attributes", d.custom_attributes}};
    };
    if (method == "GET") {
      const std::string route = "admin.custom_attributes.get";
      auto d = directory_.GetDirectory(name);
      if (!d) return ErrorResponse(d.error(), route);
      return Reply(200, render(*d), route);
    }
    if (method == "PUT") {
      const std::string route = "admin.custom_attributes.set";
      auto body = ParseObjectBody(req, {"custom_attributes"});
      if (!body) return ErrorResponse(body.error(), route);
      if (!body->contains("custom_attributes")) {
        return ErrorResponse(Error{ErrorCode::kInvalidValue, "custom_attributes: required"}, route);
      }
      auto d = directory_.SetCustomAttributes(name, (*body)["custom_attributes"], call.actor);
      if (!d) {
        Error e = d.error();
        // The definitions are validated as a bare list ("[1].type: ..."); name the field of
        // this body so that the message points at what the client sent.
        if (e.code == ErrorCode::kInvalidValue && !e.detail.empty() && e.detail[0] == '[') {
          e.detail = "custom_attributes" + e.detail;
        }
        return ErrorResponse(e, route);
      }
      return Reply(200, render(*d), route);
    }
    return call.MethodNotAllowed("GET, PUT", "admin.custom_attributes");
  }

  if (seg.size() == 3 && seg[2] == "ldap") return DirectoryLdapRoutes(call, name);
  if (seg.size() >= 3 && (seg[2] == "memberships" || seg[2] == "rederive" || seg[2] == "changes")) {
    return DirectoryOperationRoutes(call, name);
  }

  if (seg.size() == 3 && seg[2] == "conflicts") {
    const std::string route = "admin.conflicts";
    if (method != "GET") return call.MethodNotAllowed("GET", route);
    auto list = directory_.Conflicts(name);
    if (!list) return ErrorResponse(list.error(), route);
    return Reply(200, Json{{"directory", name}, {"conflicts", std::move(*list)}}, route);
  }

  if (seg.size() == 3 && seg[2] == "user-search") return UserSearchRoute(call, name);

  if ((seg.size() == 3 || seg.size() == 4) && (seg[2] == "users" || seg[2] == "groups")) {
    return Effective(call);
  }

  if (seg.size() == 5 && seg[2] == "users" && seg[4] == "explain") {
    const std::string route = "admin.users.explain";
    if (method != "GET") return call.MethodNotAllowed("GET", route);
    auto explained = directory_.Explain(name, std::string(seg[3]));
    if (!explained) return ErrorResponse(explained.error(), route);
    return Reply(200, *explained, route);
  }

  return call.NotFound();
}

// Effective users and groups, as the read API shows them (same reader, same representation),
// so that an administrator sees exactly what applications see.
Response AdminApi::Effective(Call& call) {
  const Request& req = call.req;
  const auto& seg = call.seg;
  const std::string directory(seg[1]);
  const bool users = seg[2] == "users";
  const bool single = seg.size() == 4;
  const std::string route =
      std::string("admin.") + (users ? "users" : "groups") + (single ? ".get" : ".list");
  if (req.method != "GET") return call.MethodNotAllowed("GET", route);
  // meta.location and $ref point at the read API, the resource's home.
  const std::string base = call.base_url + "/directory/v2/" + directory;
  // The SCIM list parameters, parsed as the read API parses them (count above the page
  // limit is capped, RFC 7644 §3.4.2.4).
  auto query = ListQueryFromRequest(req);
  if (!query) return ErrorResponse(query.error(), route);
  const directory::ReadProjection projection{query->attributes, query->excluded_attributes};
  if (single) {
    auto got = users ? reader_->GetUser(directory, std::string(seg[3]), base, projection)
                     : reader_->GetGroup(directory, std::string(seg[3]), base, projection);
    if (!got) return ErrorResponse(got.error(), route);
    Response r = Reply(200, got->resource, route);
    r.SetHeader("ETag", got->etag);
    return r;
  }
  auto result = users ? reader_->ListUsers(directory, query->request, base, projection)
                      : reader_->ListGroups(directory, query->request, base, projection);
  if (!result) return ErrorResponse(result.error(), route);
  return Reply(
      200,
      ScimListResponse(result->total_results, result->start_index, std::move(result->resources)),
      route);
}

Response AdminApi::Connections(Call& call) {
  const Request& req = call.req;
  const auto& seg = call.seg;
  const std::string& method = req.method;
  const std::string& actor = call.actor.name;

  auto connection_json = [&](const store::Connection& c) {
    Json j{{"name", c.name},
           {"id", c.uuid},
           {"directory", c.directory},
           {"kind", c.kind},
           {"enabled", c.enabled},
           {"created", FormatRfc3339(c.created)},
           {"base_url", call.base_url + "/scim/v2"}};
    // LDAP settings as stored: the bind password is sealed apart and never part of them.
    if (c.kind == sync::kLdapKind) j["settings"] = c.settings;
    return j;
  };

  if (seg.size() == 1) {
    if (method == "GET") {
      const std::string route = "admin.connections.list";
      auto all = connections_.List();
      if (!all) return ErrorResponse(all.error(), route);
      Json list = Json::array();
      for (const auto& c : *all) list.push_back(connection_json(c));
      return Reply(200, Json{{"connections", std::move(list)}}, route);
    }
    if (method == "POST") {
      const std::string route = "admin.connections.create";
      auto body = ParseObjectBody(req, {"name", "directory", "kind", "settings", "bind_password"});
      if (!body) return ErrorResponse(body.error(), route);
      auto name = StringField(*body, "name", true);
      if (!name) return ErrorResponse(name.error(), route);
      auto dir = StringField(*body, "directory", false);
      if (!dir) return ErrorResponse(dir.error(), route);
      auto kind = StringField(*body, "kind", false);
      if (!kind) return ErrorResponse(kind.error(), route);
      if (*kind == sync::kLdapKind) {
        sync::LdapSync* ldap = ldap_.load();
        if (!ldap) return ErrorResponse(503, "unavailable", "LDAP sync is not running", route);
        auto password = StringField(*body, "bind_password", false);
        if (!password) return ErrorResponse(password.error(), route);
        Json settings = body->value("settings", Json::object());
        auto made =
            ldap->AddConnection(*name, dir->empty() ? "users" : *dir, settings, *password, actor);
        if (!made) return ErrorResponse(made.error(), route);
        Response r = Reply(201, connection_json(*made), route);
        r.SetHeader("Location",
                    call.base_url + std::string(kAdminApiPrefix) + "/connections/" + made->name);
        return r;
      }
      if (!kind->empty() && *kind != "scim") {
        return ErrorResponse(Error{ErrorCode::kInvalidValue, "kind: use scim or ldap"}, route);
      }
      if (body->contains("settings") || body->contains("bind_password")) {
        return ErrorResponse(
            Error{ErrorCode::kInvalidValue, "settings and bind_password are for kind ldap"}, route);
      }
      auto created = connections_.Add(*name, dir->empty() ? "users" : *dir, actor);
      if (!created) return ErrorResponse(created.error(), route);
      Json j = connection_json(created->connection);
      j["token"] = created->token;
      Response r = Reply(201, j, route);
      r.SetHeader("Location", call.base_url + std::string(kAdminApiPrefix) + "/connections/" +
                                  created->connection.name);
      r.SetHeader("Cache-Control", "no-store");  // the token is in the body
      return r;
    }
    return call.MethodNotAllowed("GET, POST", "admin.connections");
  }

  const std::string name(seg[1]);
  if (seg.size() == 2) {
    if (method == "GET") {
      const std::string route = "admin.connections.get";
      auto c = connections_.Get(name);
      if (!c) return ErrorResponse(c.error(), route);
      Json j = connection_json(*c);
      Status st = store_.Read([&](store::Transaction& tx) -> Status {
        auto tokens = tx.ListTokens(c->id);
        if (!tokens) return tokens.error();
        Json list = Json::array();
        for (const auto& t : *tokens) {
          list.push_back(
              {{"created", FormatRfc3339(t.created)}, {"expires", TimeOrNull(t.expires)}});
        }
        j["tokens"] = std::move(list);
        for (auto type : {scim::ResourceType::kUser, scim::ResourceType::kGroup}) {
          auto n = tx.CountResources(c->id, type);
          if (!n) return n.error();
          j[type == scim::ResourceType::kUser ? "users" : "groups"] = *n;
        }
        return Status::Ok();
      });
      if (!st) return ErrorResponse(st.error(), route);
      return Reply(200, j, route);
    }
    if (method == "PATCH") {
      // An LDAP connection's settings (issue #11): the given ones replace the stored ones.
      const std::string route = "admin.connections.update";
      auto body = ParseObjectBody(req, {"settings"});
      if (!body) return ErrorResponse(body.error(), route);
      if (!body->contains("settings") || !(*body)["settings"].is_object()) {
        return ErrorResponse(
            Error{ErrorCode::kInvalidValue, "settings: required, an object of settings to change"},
            route);
      }
      sync::LdapSync* ldap = ldap_.load();
      if (!ldap) return ErrorResponse(503, "unavailable", "LDAP sync is not running", route);
      auto updated = ldap->UpdateConnection(name, (*body)["settings"], actor, call.request_id);
      if (!updated) return ErrorResponse(updated.error(), route);
      Json j = connection_json(updated->connection);
      j["changed"] = updated->changed;
      return Reply(200, j, route);
    }
    if (method == "DELETE") {
      const std::string route = "admin.connections.delete";
      Status st = connections_.Remove(name, actor);
      if (!st) return ErrorResponse(st.error(), route);
      return NoContent(route);
    }
    return call.MethodNotAllowed("GET, PATCH, DELETE", "admin.connections");
  }

  if (seg.size() == 3 && (seg[2] == "enable" || seg[2] == "disable")) {
    bool enable = seg[2] == "enable";
    const std::string route = enable ? "admin.connections.enable" : "admin.connections.disable";
    if (method != "POST") return call.MethodNotAllowed("POST", route);
    Status st = connections_.SetEnabled(name, enable, actor);
    if (!st) return ErrorResponse(st.error(), route);
    auto c = connections_.Get(name);
    if (!c) return ErrorResponse(c.error(), route);
    return Reply(200, connection_json(*c), route);
  }

  if (seg.size() == 3 && seg[2] == "activity") return ActivityRoute(call, name);

  if (seg.size() == 3 && (seg[2] == "test" || seg[2] == "sync" || seg[2] == "runs" ||
                          seg[2] == "login-sync" || seg[2] == "bind-password")) {
    return Ldap(call, name, seg[2]);
  }

  if (seg.size() == 3 && seg[2] == "rotate-token") {
    const std::string route = "admin.connections.rotate_token";
    if (method != "POST") return call.MethodNotAllowed("POST", route);
    auto body = ParseObjectBody(req, {"keep_old_for"}, /*optional=*/true);
    if (!body) return ErrorResponse(body.error(), route);
    auto keep_text = StringField(*body, "keep_old_for", false);
    if (!keep_text) return ErrorResponse(keep_text.error(), route);
    std::chrono::seconds keep{0};
    if (!keep_text->empty()) {
      auto d = service::ParseDuration(*keep_text);
      if (!d)
        return ErrorResponse(Error{d.error().code, "keep_old_for: " + d.error().detail}, route);
      keep = *d;
    }
    auto rotated = connections_.RotateToken(name, keep, actor);
    if (!rotated) return ErrorResponse(rotated.error(), route);
    Response r = Reply(200,
                       Json{{"name", name},
                            {"token", rotated->token},
                            {"old_token_expires", TimeOrNull(rotated->old_expires)}},
                       route);
    r.SetHeader("Cache-Control", "no-store");
    return r;
  }

  if (seg.size() >= 3 && seg[2] == "policy") return Policy(call, name);
  return call.NotFound();
}

Response AdminApi::Policy(Call& call, const std::string& connection) {
  const Request& req = call.req;
  const auto& seg = call.seg;
  const std::string& method = req.method;

  if (seg.size() == 3) {
    if (method == "GET") {
      const std::string route = "admin.policy.get";
      auto policy = directory_.GetPolicy(connection);
      if (!policy) return ErrorResponse(policy.error(), route);
      return Reply(200, *policy, route);
    }
    if (method == "PUT") {
      const std::string route = "admin.policy.apply";
      auto body = ParseBody(req);
      if (!body) return ErrorResponse(body.error(), route);
      auto applied = directory_.ApplyPolicy(connection, *body, call.actor);
      if (!applied) return ErrorResponse(applied.error(), route);
      return Reply(200, *applied, route);
    }
    return call.MethodNotAllowed("GET, PUT", "admin.policy");
  }
  if (seg.size() != 4) return call.NotFound();

  if (seg[3] == "validate") {
    const std::string route = "admin.policy.validate";
    if (method != "POST") return call.MethodNotAllowed("POST", route);
    auto body = ParseBody(req);
    if (!body) return ErrorResponse(body.error(), route);
    auto full = directory_.ValidatePolicy(connection, *body);
    if (!full) return ErrorResponse(full.error(), route);
    return Reply(200, Json{{"valid", true}, {"policy", std::move(*full)}}, route);
  }
  if (seg[3] == "preview") {
    const std::string route = "admin.policy.preview";
    if (method != "POST") return call.MethodNotAllowed("POST", route);
    auto max_items = QueryInt(req, "max_items", 100, 0, 10000);
    if (!max_items) return ErrorResponse(max_items.error(), route);
    auto body = ParseBody(req);
    if (!body) return ErrorResponse(body.error(), route);
    directory::PreviewOptions options;
    options.max_items = static_cast<size_t>(*max_items);
    auto preview = directory_.PreviewPolicy(connection, *body, options);
    if (!preview) return ErrorResponse(preview.error(), route);
    return Reply(200, *preview, route);
  }
  if (seg[3] == "sample") {
    // The Policy page's live mapping preview: the draft in the body, ?user= a source user id
    // (absent: the connection's first).
    const std::string route = "admin.policy.sample";
    if (method != "POST") return call.MethodNotAllowed("POST", route);
    auto candidates = QueryInt(req, "candidates", 50, 0, 200);
    if (!candidates) return ErrorResponse(candidates.error(), route);
    auto body = ParseBody(req);
    if (!body) return ErrorResponse(body.error(), route);
    auto sample = directory_.SampleMapping(
        connection, *body, std::string(req.Query("user").value_or("")), *candidates);
    if (!sample) return ErrorResponse(sample.error(), route);
    return Reply(200, *sample, route);
  }
  if (seg[3] == "versions") {
    const std::string route = "admin.policy.versions";
    if (method != "GET") return call.MethodNotAllowed("GET", route);
    auto versions = directory_.PolicyVersions(connection);
    if (!versions) return ErrorResponse(versions.error(), route);
    return Reply(200, Json{{"connection", connection}, {"versions", std::move(*versions)}}, route);
  }
  return call.NotFound();
}

Response AdminApi::Audit(Call& call) {
  const Request& req = call.req;
  const std::string route = "admin.audit";
  if (req.method != "GET") return call.MethodNotAllowed("GET", route);
  store::AuditQuery query;
  if (auto name = req.Query("connection"); name && !name->empty()) {
    auto c = connections_.Get(std::string(*name));
    if (!c) return ErrorResponse(c.error(), route);
    query.connection_id = c->id;
  }
  if (auto since = req.Query("since"); since && !since->empty()) {
    query.since = ParseRfc3339(*since);
    if (!query.since) {
      return ErrorResponse(Error{ErrorCode::kInvalidValue,
                                 "since: expected an RFC 3339 time such as "
                                 "2026-01-31T09:00:00Z, got \"" +
                                     std::string(*since) + "\""},
                           route);
    }
  }
  if (auto until = req.Query("until"); until && !until->empty()) {
    query.until = ParseRfc3339(*until);
    if (!query.until) {
      return ErrorResponse(Error{ErrorCode::kInvalidValue,
                                 "until: expected an RFC 3339 time such as "
                                 "2026-01-31T09:00:00Z, got \"" +
                                     std::string(*until) + "\""},
                           route);
    }
  }
  // One resource: the console's Activity filtered to a user (its id, as records name it).
  if (auto user = req.Query("user"); user && !user->empty()) query.resource_id = *user;
  auto limit = QueryInt(req, "limit", 100, 1, 1000);
  if (!limit) return ErrorResponse(limit.error(), route);
  auto after = QueryInt(req, "after", 0, 0, INT64_MAX);
  if (!after) return ErrorResponse(after.error(), route);
  query.limit = *limit;
  query.after_seq = *after;
  Json records = Json::array();
  int64_t last = 0;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto list = tx.ListAudit(query);
    if (!list) return list.error();
    for (const auto& a : *list) {
      records.push_back(AuditJson(a));
      last = a.seq;
    }
    return Status::Ok();
  });
  if (!st) return ErrorResponse(st.error(), route);
  // A full page may have more after it; the client pages on with ?after=next_after.
  Json next = static_cast<int64_t>(records.size()) == *limit ? Json(last) : Json(nullptr);
  return Reply(200, Json{{"records", std::move(records)}, {"next_after", next}}, route);
}

}  // namespace idsync::http

namespace idsync::http {

void AdminApi::SetLdapSync(sync::LdapSync* ldap, sync::SyncScheduler* scheduler) {
  ldap_ = ldap;
  scheduler_ = scheduler;
}

// LDAP connections (issue #4): test / test search, runs, manual sync, login sync, password.
Response AdminApi::Ldap(Call& call, const std::string& name, std::string_view action) {
  const Request& req = call.req;
  const std::string route = "admin.connections.ldap." + std::string(action);
  sync::LdapSync* ldap = ldap_.load();
  sync::SyncScheduler* scheduler = scheduler_.load();
  if (!ldap || !scheduler) {
    return ErrorResponse(503, "unavailable", "LDAP sync is not running", route);
  }
  if (action == "runs") {
    if (req.method != "GET") return call.MethodNotAllowed("GET", route);
    int64_t limit = 20;
    if (auto text = req.Query("limit")) {
      try {
        limit = std::stoll(std::string(*text));
      } catch (const std::exception&) {
        limit = -1;
      }
      if (limit < 1 || limit > 1000) {
        return ErrorResponse(Error{ErrorCode::kInvalidValue, "limit: a number from 1 to 1000"},
                             route);
      }
    }
    auto runs = ldap->Runs(name, limit);
    if (!runs) return ErrorResponse(runs.error(), route);
    Json list = Json::array();
    for (const auto& r : *runs) list.push_back(sync::SyncRunToJson(r, name));
    return Reply(200, Json{{"runs", std::move(list)}}, route);
  }
  if (req.method != "POST" && !(action == "bind-password" && req.method == "PUT")) {
    return call.MethodNotAllowed(action == "bind-password" ? "PUT" : "POST", route);
  }
  if (action == "test") {
    auto body = ParseObjectBody(req, {"username"}, /*optional=*/true);
    if (!body) return ErrorResponse(body.error(), route);
    auto username = StringField(*body, "username", false);
    if (!username) return ErrorResponse(username.error(), route);
    auto result =
        ldap->Test(name, username->empty() ? std::nullopt : std::optional<std::string>(*username));
    if (!result) return ErrorResponse(result.error(), route);
    return Reply(200, *result, route);
  }
  if (action == "sync") {
    auto body = ParseObjectBody(req, {"full", "confirm"}, /*optional=*/true);
    if (!body) return ErrorResponse(body.error(), route);
    sync::RunOptions options;
    for (const char* key : {"full", "confirm"}) {
      if (!body->contains(key)) continue;
      if (!(*body)[key].is_boolean()) {
        return ErrorResponse(
            Error{ErrorCode::kInvalidValue, std::string(key) + ": expected true or false"}, route);
      }
      (std::string(key) == "full" ? options.full : options.confirm) = (*body)[key].get<bool>();
    }
    options.trigger = call.actor.name;
    options.request_id = call.request_id;
    auto started = scheduler->StartRun(name, options, std::chrono::seconds(5));
    if (!started) return ErrorResponse(started.error(), route);
    Json out = {{"run", nullptr}, {"queued", !started->has_value()}};
    if (*started) {
      auto runs = ldap->Runs(name, 20);
      if (runs) {
        for (const auto& r : *runs) {
          if (r.id == **started) out["run"] = sync::SyncRunToJson(r, name);
        }
      }
    }
    return Reply(202, out, route);
  }
  if (action == "login-sync") {
    auto body = ParseObjectBody(req, {"username"});
    if (!body) return ErrorResponse(body.error(), route);
    auto username = StringField(*body, "username", true);
    if (!username) return ErrorResponse(username.error(), route);
    auto result = ldap->LoginSync(name, *username, call.actor);
    if (!result) return ErrorResponse(result.error(), route);
    return Reply(200, *result, route);
  }
  // bind-password
  auto body = ParseObjectBody(req, {"bind_password"});
  if (!body) return ErrorResponse(body.error(), route);
  auto password = StringField(*body, "bind_password", true);
  if (!password) return ErrorResponse(password.error(), route);
  Status st = ldap->SetPassword(name, *password, call.actor.name);
  if (!st) return ErrorResponse(st.error(), route);
  return NoContent(route);
}

}  // namespace idsync::http
