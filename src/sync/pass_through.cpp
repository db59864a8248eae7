#include "sync/pass_through.h"

#include <utility>

#include "sync/ldap/client.h"
#include "sync/ldap_sync.h"

namespace idsync::sync {

Status VerifyPassword(const store::Connection& connection, const std::string& user_dn,
                      const std::string& password) {
  if (connection.kind != kLdapKind) {
    return MakeError(ErrorCode::kInvalidValue,
                     "connection \"" + connection.name + "\" is not an LDAP connection");
  }
  if (password.empty()) return MakeError(ErrorCode::kUnauthorized, "empty password");
  auto config = ParseLdapConfig(connection.settings);
  if (!config) return MakeError(ErrorCode::kUnavailable, config.error().detail);
  ldap::LdapSettings settings = std::move(config->ldap);
  settings.bind_dn = user_dn;
  settings.bind_password = password;
  auto client = ldap::LdapClient::Connect(std::move(settings));
  if (!client) return MakeError(ErrorCode::kUnavailable, client.error().detail);
  Status bound = client->Bind();
  if (bound) return bound;
  if (client->last_failure() == ldap::LdapFailure::kBadCredentials) {
    return MakeError(ErrorCode::kUnauthorized, "the source directory refused the password");
  }
  return MakeError(ErrorCode::kUnavailable,
                   "the source directory of connection \"" + connection.name +
                       "\" could not check the password: " + bound.error().detail);
}

}  // namespace idsync::sync
