// Pass-through binds (issue #10): the LDAP server checks the password of a user who came from an
// LDAP connection by binding as that user's DN on the connection's own server, over the
// connection's TLS settings. idsync keeps no passwords of provisioned users.
#pragma once

#include <string>

#include "base/result.h"
#include "store/store.h"

namespace idsync::sync {

// Binds to `connection`'s server (an "ldap" connection) as `user_dn` with `password`. OK if the
// server accepted it; kUnauthorized for a wrong password; kUnavailable (in words) when the
// server cannot be reached or its settings are unusable. Never chases referrals.
Status VerifyPassword(const store::Connection& connection, const std::string& user_dn,
                      const std::string& password);

}  // namespace idsync::sync
