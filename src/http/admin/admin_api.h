// The admin API at /api/v1 (issue #3): JSON over HTTP for directories, custom attributes,
// connections and their tokens, policies (get, validate, preview, apply, versions), effective
// users and groups (search, explain), memberships granted by hand, re-derivation, the change
// feed, conflicts, admin and read API tokens, LDAP connections and service accounts, and the
// audit log: everything the CLI can do (issue #11), through the same service calls. Used by the
// console and by scripts; `GET /api/v1/openapi.json` (no token) serves the OpenAPI document that
// describes every route, compiled in from src/http/admin/openapi.json byte for byte.
//
// - Authentication: `Authorization: Bearer idsync_admin_...` (service::ApiTokens). No or an
//   unknown token: 401 with WWW-Authenticate; a valid token that is not an admin token (a
//   read token): 403.
// - Limits (http/request_limits.h, shared with SCIM and the read API): per client address, per
//   admin token, and failed authentications per address; over one: 429 "rate_limited" with
//   Retry-After.
// - Errors: {"error": {"code": "<snake_case ErrorCode>", "message": "..."}} with the status
//   service::StatusOf gives the code; 405 (code "method_not_allowed") lists Allow.
// - Every change carries directory::Actor{"admin:<token name>", request id}, so the audit and
//   policy versions name the credential that made it.
// - The admin console (issue #12) calls this API with its session cookie instead of a token
//   (SetSessionAuthenticator): the actor is then "console:<admin user>", writes need the
//   session's CSRF token, and a viewer's session is refused every write (403).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "directory/directory_service.h"
#include "http/request_limits.h"
#include "http/server.h"
#include "service/admin_users.h"
#include "service/api_tokens.h"
#include "service/connections.h"
#include "service/ldap_accounts.h"
#include "store/store.h"

namespace idsync::directory {
class DirectoryReader;
}
namespace idsync::sync {
class LdapSync;
class SyncScheduler;
}  // namespace idsync::sync

namespace idsync::http {

inline constexpr std::string_view kAdminApiPrefix = "/api/v1";

// Who a console session says the caller is (http/console decides; see SessionAuthenticator).
struct SessionCaller {
  std::string actor;       // "console:<admin user name>"
  bool may_write = false;  // false for the viewer role
};

// Asked for every /api/v1 request without a bearer token. nullopt: the request carries no
// console session, and the usual 401 follows. An error: kUnauthorized (401, counted as a failed
// authentication: the session is unknown or over) or kForbidden (403: a write without the
// session's CSRF token or from another origin, or a one-time password not yet changed).
using SessionAuthenticator =
    std::function<std::optional<Result<SessionCaller>>(const Request& request)>;

// The OpenAPI document as stored in the repository (src/http/admin/openapi.json).
std::string_view AdminOpenApiDocument();

// Thread-safe: Handle() is called concurrently by the server's workers; all state is in the
// services and the store.
class AdminApi {
 public:
  // `public_url` (e.g. "https://idsync.example.com", no trailing slash) prefixes URLs in
  // responses (Location, a connection's SCIM base URL, meta.location of effective users and
  // groups, which point at the read API); empty: taken from the Host header. Effective users
  // and groups are read through a DirectoryReader of its own over `store`. `limits` is shared
  // with the other APIs and must outlive this object.
  AdminApi(directory::DirectoryService& directory, service::Connections& connections,
           service::ApiTokens& tokens, store::Store& store, RequestLimits& limits,
           std::string public_url);
  ~AdminApi();

  // True for paths this API answers: /api/v1 and everything below it.
  static bool Matches(std::string_view path);

  // Never throws; every failure is an error response.
  Response Handle(const Request& request);

  // The LDAP routes (issue #4: ldap connections, test, sync runs, login sync) answer 503 until
  // these are set. Not owned; set before serving, cleared before they are destroyed.
  void SetLdapSync(sync::LdapSync* ldap, sync::SyncScheduler* scheduler);

  // Accept console sessions (see SessionAuthenticator). Set before serving.
  void SetSessionAuthenticator(SessionAuthenticator authenticator) {
    session_auth_ = std::move(authenticator);
  }

  // The LDAP server's base DN, for the bind DNs of LDAP service accounts in responses
  // (default service::kDefaultLdapSuffix). Set before serving.
  void SetLdapSuffix(std::string suffix) { ldap_suffix_ = std::move(suffix); }

 private:
  struct Call;
  Response Route(Call& call);
  // The routes behind authentication (call.actor set).
  Response Dispatch(Call& call);
  Response Directories(Call& call);
  Response Connections(Call& call);
  Response Policy(Call& call, const std::string& connection);
  Response Audit(Call& call);
  Response Effective(Call& call);
  Response Ldap(Call& call, const std::string& connection, std::string_view action);
  // ldap_accounts_routes.cpp: /ldap-accounts and /directories/{name}/ldap.
  Response LdapAccountRoutes(Call& call);
  Response DirectoryLdapRoutes(Call& call, const std::string& directory);
  // api_token_routes.cpp: /api-tokens (admin and read API tokens).
  Response ApiTokenRoutes(Call& call);
  // directory_operation_routes.cpp: /directories/{name}/memberships/{grant,revoke},
  // /directories/{name}/rederive and /directories/{name}/changes.
  Response DirectoryOperationRoutes(Call& call, const std::string& directory);
  // admin_users_routes.cpp: /admin-users (the console's local users).
  Response AdminUserRoutes(Call& call);
  // activity_routes.cpp: /connections/{name}/activity (hourly counts for the Overview).
  Response ActivityRoute(Call& call, const std::string& connection);
  Response UserSearchRoute(Call& call, const std::string& directory);
  // Authenticates by console session (issue #12).
  struct SessionOutcome {
    bool present = false;             // the request carries a console session cookie
    std::optional<Response> refusal;  // set when present and refused; else call.actor is set
  };
  SessionOutcome AuthenticateSession(Call& call);

  directory::DirectoryService& directory_;
  service::Connections& connections_;
  service::ApiTokens& tokens_;
  store::Store& store_;
  RequestLimits& limits_;
  std::string public_url_;
  std::unique_ptr<directory::DirectoryReader> reader_;
  std::atomic<sync::LdapSync*> ldap_{nullptr};
  std::atomic<sync::SyncScheduler*> scheduler_{nullptr};
  std::unique_ptr<service::LdapAccounts> ldap_accounts_;
  std::unique_ptr<service::AdminUsers> admin_users_;
  SessionAuthenticator session_auth_;
  std::string ldap_suffix_{service::kDefaultLdapSuffix};
};

}  // namespace idsync::http
