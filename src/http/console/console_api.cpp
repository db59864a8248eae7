#include "http/console/console_api.h"

#include <exception>
#include <optional>
#include <utility>

#include "base/crypto.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "http/common.h"
#include "http/console/assets.h"
#include "http/console/browser_rules.h"

namespace idsync::http {
namespace {

constexpr std::string_view kJson = "application/json";

Response Reply(int status, const Json& body, const std::string& route) {
  Response r = JsonResponse(status, body, route, kJson);
  r.SetHeader("Cache-Control", "no-store");
  return r;
}

Response Fail(int status, std::string_view code, const std::string& message,
              const std::string& route) {
  return Reply(status, Json{{"error", {{"code", std::string(code)}, {"message", message}}}}, route);
}

// The refusal for a request from an address or for a user already past its allowance (the
// counter answers one; the fallback is for a window that ended between the two calls).
Refusal ThrottledRefusal(std::optional<Refusal> refusal) {
  return refusal ? *refusal : Refusal{"too many failed sign-ins; wait before trying again", 1};
}

Response TooMany(const Refusal& refusal, const std::string& route) {
  Response r = Fail(429, "rate_limited", refusal.message, route);
  r.SetHeader("Retry-After", std::to_string(refusal.retry_after));
  return r;
}

// What the application needs to know about its session. The CSRF token is readable by our own
// scripts only: this answer is same-origin JSON (no CORS headers), so another origin's page
// cannot read it.
Json SessionJson(const store::AdminUser& user, const std::string& csrf_token) {
  return {{"user", user.name},
          {"role", user.role},
          {"must_change_password", user.must_change_password},
          {"csrf_token", csrf_token}};
}

// A JSON object body with only `allowed` string fields.
Result<Json> StringObject(const Request& req, std::initializer_list<std::string_view> allowed) {
  if (auto ct = req.Header("content-type");
      !ct || AsciiLower(*ct).find("application/json") == std::string::npos) {
    return MakeError(ErrorCode::kInvalidSyntax, "Content-Type must be application/json");
  }
  auto body = ParseJsonStrict(req.body);
  if (!body) return body.error();
  if (!body->is_object()) {
    return MakeError(ErrorCode::kInvalidSyntax, "request body must be a JSON object");
  }
  for (auto it = body->begin(); it != body->end(); ++it) {
    bool known = false;
    for (auto name : allowed) known |= it.key() == name;
    if (!known) return MakeError(ErrorCode::kInvalidValue, it.key() + ": unknown field");
    if (!it->is_string()) {
      return MakeError(ErrorCode::kInvalidValue, it.key() + ": expected a string");
    }
  }
  return body;
}

Response ErrorOf(const Error& e, const std::string& route) {
  switch (e.code) {
    case ErrorCode::kUnauthorized: return Fail(401, "unauthorized", e.detail, route);
    case ErrorCode::kForbidden: return Fail(403, "forbidden", e.detail, route);
    case ErrorCode::kInvalidSyntax: return Fail(400, "invalid_syntax", e.detail, route);
    case ErrorCode::kInvalidValue: return Fail(400, "invalid_value", e.detail, route);
    case ErrorCode::kUnavailable: return Fail(503, "unavailable", e.detail, route);
    default: return Fail(500, "internal", "internal error", route);
  }
}

}  // namespace

ConsoleApi::ConsoleApi(service::AdminUsers& users, service::ConsoleSessions& sessions,
                       RequestLimits& limits, std::string public_url)
    : users_(users), sessions_(sessions), limits_(limits), public_url_(std::move(public_url)) {
  while (!public_url_.empty() && public_url_.back() == '/') public_url_.pop_back();
}

bool ConsoleApi::Matches(std::string_view path) {
  return path == kConsolePrefix || (path.size() > kConsolePrefix.size() &&
                                    path.substr(0, kConsolePrefix.size()) == kConsolePrefix &&
                                    path[kConsolePrefix.size()] == '/');
}

Response ConsoleApi::Handle(const Request& req) {
  std::string request_id = RequestIdOf(req);
  Response r;
  try {
    r = Route(req, request_id);
  } catch (const std::exception& e) {
    log::Error("console handler failed", {{"component", "console"},
                                          {"method", req.method},
                                          {"path", req.path},
                                          {"request_id", request_id},
                                          {"detail", e.what()}});
    r = Fail(500, "internal", "internal error", "console.error");
  }
  r.SetHeader("X-Request-Id", request_id);
  console::AddSecurityHeaders(r);
  return r;
}

Response ConsoleApi::Route(const Request& req, const std::string& request_id) {
  // The path is never percent-decoded into "..": assets are looked up by exact name.
  if (req.path == kConsolePrefix) {
    Response r;
    r.status = 308;
    r.SetHeader("Location", "/console/");
    r.route = "console.redirect";
    return r;
  }
  std::string_view rest = std::string_view(req.path).substr(kConsolePrefix.size() + 1);
  if (rest.rfind("api/", 0) == 0) {
    if (auto refused = limits_.AdmitAddress(req.remote_address)) {
      return TooMany(*refused, "console.ratelimit");
    }
    std::string_view name = rest.substr(4);
    auto only = [&](std::string_view method, const std::string& route) -> std::optional<Response> {
      if (req.method == method) return std::nullopt;
      Response r =
          Fail(405, "method_not_allowed",
               "method " + req.method + " is not allowed here; use " + std::string(method), route);
      r.SetHeader("Allow", std::string(method));
      return r;
    };
    if (name == "login") {
      if (auto r = only("POST", "console.login")) return *r;
      return Login(req, request_id);
    }
    if (name == "session") {
      if (auto r = only("GET", "console.session")) return *r;
      return Session(req);
    }
    if (name == "password") {
      if (auto r = only("POST", "console.password")) return *r;
      return Password(req, request_id);
    }
    if (name == "logout") {
      if (auto r = only("POST", "console.logout")) return *r;
      return Logout(req, request_id);
    }
    return Fail(404, "not_found", "no such endpoint: " + req.path, "console.other");
  }
  return Asset(req);
}

Response ConsoleApi::Asset(const Request& req) {
  const std::string route = "console.asset";
  if (req.method != "GET" && req.method != "HEAD") {
    Response r = Fail(405, "method_not_allowed", "use GET", route);
    r.SetHeader("Allow", "GET, HEAD");
    return r;
  }
  std::string_view rest = std::string_view(req.path).substr(kConsolePrefix.size() + 1);
  const console::Asset* asset = console::FindAsset(rest.empty() ? "index.html" : rest);
  if (!asset) return Fail(404, "not_found", "no such file: " + req.path, route);
  Response r;
  r.status = 200;
  r.route = route;
  r.body = std::string(asset->body);
  r.SetHeader("Content-Type", std::string(asset->content_type));
  // Revalidated on every load, so a new binary's console replaces the old one at once.
  r.SetHeader("Cache-Control", "no-cache");
  return r;
}

Response ConsoleApi::Login(const Request& req, const std::string& request_id) {
  const std::string route = "console.login";
  // Login CSRF (signing a victim in as the attacker) is refused like any cross-origin write.
  if (!console::SameOrigin(req, public_url_)) {
    return Fail(403, "forbidden", "cross-origin request refused", route);
  }
  auto body = StringObject(req, {"name", "password"});
  if (!body) return ErrorOf(body.error(), route);
  const std::string name = body->value("name", "");
  const std::string password = body->value("password", "");
  if (name.empty() || password.empty()) {
    return Fail(400, "invalid_value", "name and password are required", route);
  }
  // Throttled addresses and users are refused before any password is checked, so a guesser
  // past the allowance costs no argon2 and learns nothing, even with the right password.
  // (Counting the refused attempt as one more failure never extends the window, which is
  // fixed from its first failure, and gives the refusal its Retry-After.)
  if (limits_.Throttled(req.remote_address)) {
    sessions_.SignInFailed(name, req.remote_address, request_id, 429);
    return TooMany(ThrottledRefusal(limits_.AuthenticationFailed(req.remote_address)), route);
  }
  if (limits_.SignInThrottled(name)) {
    sessions_.SignInFailed(name, req.remote_address, request_id, 429);
    return TooMany(ThrottledRefusal(limits_.SignInFailed(name)), route);
  }
  auto user = users_.Authenticate(name, password);
  if (!user) {
    if (user.error().code != ErrorCode::kUnauthorized) return ErrorOf(user.error(), route);
    sessions_.SignInFailed(name, req.remote_address, request_id, 401);
    auto by_address = limits_.AuthenticationFailed(req.remote_address);
    auto by_user = limits_.SignInFailed(name);
    if (by_address) return TooMany(*by_address, route);
    if (by_user) return TooMany(*by_user, route);
    return Fail(401, "unauthorized", user.error().detail, route);
  }
  NotePrincipal("console:" + user->name);
  auto id = sessions_.Start(*user, req.remote_address, request_id);
  if (!id) return ErrorOf(id.error(), route);
  const bool secure = console::SecureContext(req, public_url_);
  Response r = Reply(200, SessionJson(*user, service::ConsoleSessions::CsrfTokenOf(*id)), route);
  r.SetHeader("Set-Cookie", console::SessionSetCookie(*id, secure));
  return r;
}

std::optional<service::ActiveSession> ConsoleApi::RequireSession(const Request& req, bool write,
                                                                 Response& refusal) {
  const std::string route = "console.auth";
  if (write && !console::SameOrigin(req, public_url_)) {
    refusal = Fail(403, "forbidden", "cross-origin request refused", route);
    return std::nullopt;
  }
  auto id = console::SessionIdOf(req, public_url_);
  if (!id) {
    // No credential at all is not a guess: the application asks this on every load of the
    // sign-in page, which must not use up the address's allowance.
    refusal = Fail(401, "unauthorized", "not signed in", route);
    return std::nullopt;
  }
  auto session = sessions_.Check(*id);
  if (!session) {
    if (session.error().code == ErrorCode::kUnauthorized) {
      if (auto refused = limits_.AuthenticationFailed(req.remote_address)) {
        refusal = TooMany(*refused, route);
        return std::nullopt;
      }
    }
    refusal = ErrorOf(session.error(), route);
    // A session that has ended is dropped from the browser too, so that it is not presented
    // (and counted as a failure) again on every load.
    if (session.error().code == ErrorCode::kUnauthorized) {
      refusal.SetHeader("Set-Cookie",
                        console::ClearSessionCookie(console::SecureContext(req, public_url_)));
    }
    return std::nullopt;
  }
  NotePrincipal("console:" + session->user.name);
  if (write) {
    auto token = req.Header("x-csrf-token");
    if (!token || !ConstantTimeEquals(*token, session->csrf_token)) {
      refusal = Fail(403, "forbidden", "missing or wrong X-CSRF-Token", route);
      return std::nullopt;
    }
  }
  return std::move(*session);
}

Response ConsoleApi::Session(const Request& req) {
  Response refusal;
  auto session = RequireSession(req, false, refusal);
  if (!session) return refusal;
  return Reply(200, SessionJson(session->user, session->csrf_token), "console.session");
}

Response ConsoleApi::Password(const Request& req, const std::string& request_id) {
  const std::string route = "console.password";
  Response refusal;
  auto session = RequireSession(req, true, refusal);
  if (!session) return refusal;
  auto body = StringObject(req, {"current_password", "new_password"});
  if (!body) return ErrorOf(body.error(), route);
  // A wrong current password is a failed sign-in too: a stolen session must not become a way
  // to guess the password it lacks.
  if (limits_.SignInThrottled(session->user.name)) {
    return TooMany(ThrottledRefusal(limits_.SignInFailed(session->user.name)), route);
  }
  Status st = users_.ChangePassword(session->user.name, body->value("current_password", ""),
                                    body->value("new_password", ""), session->id_hash, request_id);
  if (!st) {
    if (st.error().code == ErrorCode::kUnauthorized) {
      if (auto refused = limits_.SignInFailed(session->user.name)) return TooMany(*refused, route);
      // 400, not 401: the session is fine, a field is wrong (the page shows it by the field).
      return Fail(400, "invalid_value", st.error().detail, route);
    }
    return ErrorOf(st.error(), route);
  }
  store::AdminUser user = session->user;
  user.must_change_password = false;
  return Reply(200, SessionJson(user, session->csrf_token), route);
}

Response ConsoleApi::Logout(const Request& req, const std::string& request_id) {
  const std::string route = "console.logout";
  Response refusal;
  auto session = RequireSession(req, true, refusal);
  if (!session) return refusal;
  auto id = console::SessionIdOf(req, public_url_);
  if (Status st = sessions_.End(*id, request_id); !st) return ErrorOf(st.error(), route);
  Response r;
  r.status = 204;
  r.route = route;
  r.SetHeader("Set-Cookie", console::ClearSessionCookie(console::SecureContext(req, public_url_)));
  r.SetHeader("Cache-Control", "no-store");
  return r;
}

SessionAuthenticator ConsoleApi::Authenticator() {
  return [this](const Request& req) -> std::optional<Result<SessionCaller>> {
    auto id = console::SessionIdOf(req, public_url_);
    if (!id) return std::nullopt;
    const bool write = req.method != "GET" && req.method != "HEAD";
    if (write && !console::SameOrigin(req, public_url_)) {
      return Result<SessionCaller>(
          MakeError(ErrorCode::kForbidden, "cross-origin request refused"));
    }
    auto session = sessions_.Check(*id);
    if (!session) return Result<SessionCaller>(session.error());
    NotePrincipal("console:" + session->user.name);
    if (session->user.must_change_password) {
      return Result<SessionCaller>(
          MakeError(ErrorCode::kForbidden,
                    "change your one-time password first (POST /console/api/password)"));
    }
    if (write) {
      auto token = req.Header("x-csrf-token");
      if (!token || !ConstantTimeEquals(*token, session->csrf_token)) {
        return Result<SessionCaller>(
            MakeError(ErrorCode::kForbidden, "missing or wrong X-CSRF-Token"));
      }
    }
    return Result<SessionCaller>(
        SessionCaller{"console:" + session->user.name, session->user.role == "admin"});
  };
}

}  // namespace idsync::http
