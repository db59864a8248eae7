// The admin console (issue #12) at /console/: its single-page application (built from web/ and
// embedded in the binary) and its sign-in endpoints. Everything else the console shows or
// changes goes through the admin API (/api/v1) with the session cookie instead of a token, so
// every action is also scriptable; SessionAuthenticator() is what AdminApi asks.
//
//   GET  /console/                   the application (index.html); /console redirects here
//   GET  /console/assets/<file>      its scripts and styles
//   POST /console/api/login          {name, password} -> 200 {session} + Set-Cookie; 401; 429
//   GET  /console/api/session        the signed-in user, role, CSRF token; 401
//   POST /console/api/password       {current_password, new_password} -> 200 {session}
//   POST /console/api/logout         204, the session ends and the cookie is cleared
//
// Security (docs/ARCHITECTURE.md "Admin console" gives each reason):
// - The session id is 256 random bits in an HttpOnly, SameSite=Strict cookie (Secure with the
//   __Host- prefix over TLS); the store keeps only its hash. Sessions end at logout, when idle
//   or too old, and when the user is removed or its password reset.
// - Every state-changing request (login included) must come from the console's own origin
//   (Origin or Sec-Fetch-Site), and every one made with a session must carry the session's CSRF
//   token in X-CSRF-Token.
// - Failed sign-ins count against the address (shared with the APIs' failed authentications)
//   and against the user name; past the allowance, 429 without checking the password.
// - Every response carries the security headers of browser_rules.h.
// - Only admin users sign in: no SCIM, read, admin or LDAP credential is accepted here.
#pragma once

#include <string>
#include <string_view>

#include "http/admin/admin_api.h"
#include "http/request_limits.h"
#include "http/server.h"
#include "service/admin_users.h"
#include "service/console_sessions.h"

namespace idsync::http {

inline constexpr std::string_view kConsolePrefix = "/console";

// Thread-safe: Handle() and the authenticator run concurrently on the server's workers.
class ConsoleApi {
 public:
  // `limits` is shared with the other APIs; all references must outlive this object.
  // `public_url` as for AdminApi (empty: from the Host header).
  ConsoleApi(service::AdminUsers& users, service::ConsoleSessions& sessions, RequestLimits& limits,
             std::string public_url);

  // /console and everything below it.
  static bool Matches(std::string_view path);

  // Never throws; every failure is an error response ({"error": {"code", "message"}} as the
  // admin API's). Every response carries the security headers.
  Response Handle(const Request& request);

  // For AdminApi::SetSessionAuthenticator: the session of an /api/v1 request.
  SessionAuthenticator Authenticator();

 private:
  Response Route(const Request& request, const std::string& request_id);
  Response Login(const Request& request, const std::string& request_id);
  Response Session(const Request& request);
  Response Password(const Request& request, const std::string& request_id);
  Response Logout(const Request& request, const std::string& request_id);
  Response Asset(const Request& request);
  // The session of a console API request and, for a write, its origin and CSRF token. Sets
  // `refusal` and returns nullopt when refused.
  std::optional<service::ActiveSession> RequireSession(const Request& request, bool write,
                                                       Response& refusal);

  service::AdminUsers& users_;
  service::ConsoleSessions& sessions_;
  RequestLimits& limits_;
  std::string public_url_;
};

}  // namespace idsync::http
