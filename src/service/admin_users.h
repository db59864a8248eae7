// The admin console's local users (issue #12): `idsync admin-user add|list|remove|
// reset-password`, /api/v1/admin-users, and the console's sign-in. A user has a role, "admin"
// (may change everything) or "viewer" (reads everything, changes nothing). Passwords are stored
// only as argon2id hashes (base/password_hash.h). `add` and `reset-password` generate a one-time
// password that is shown once and must be changed at the first sign-in. Every change is audited
// in the same write. Thread-safe.
#pragma once

#include <optional>
#include <semaphore>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "store/store.h"

namespace idsync::service {

struct NewAdminPassword {
  store::AdminUser user;
  std::string password;  // one-time: shown once, must be changed at the first sign-in
};

class AdminUsers {
 public:
  AdminUsers(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // kInvalidValue naming the rule if `name` is not 1-64 of [A-Za-z0-9._@-] or `role` is not
  // "admin" or "viewer"; kUniqueness if the name is taken. Audited ("admin_user.add").
  Result<NewAdminPassword> Add(const std::string& name, const std::string& role,
                               const std::string& actor);
  Result<std::vector<store::AdminUser>> List();           // by name
  Result<store::AdminUser> Get(const std::string& name);  // kNotFound
  // kNotFound; kInvalidValue if it is the last admin (nobody could manage the console any
  // more; the CLI can still add one). Its sessions end with it. Audited ("admin_user.remove").
  Status Remove(const std::string& name, const std::string& actor);
  // A new one-time password; the old one stops working and every session of the user ends.
  // kNotFound. Audited ("admin_user.reset_password").
  Result<NewAdminPassword> ResetPassword(const std::string& name, const std::string& actor);
  // The user's own change: `current` must be its password (kUnauthorized otherwise); `next`
  // must satisfy CheckNewPassword. Clears must_change_password and ends the user's other
  // sessions (all sessions but `keep_session_hash`). Audited ("admin_user.change_password").
  Status ChangePassword(const std::string& name, std::string_view current, std::string_view next,
                        const std::string& keep_session_hash, const std::string& request_id);

  // The user if `password` is its password; kUnauthorized otherwise, with the same detail for
  // an unknown name and a wrong password (an unknown name costs one argon2 verification too, so
  // timing does not tell names apart). At most two verifications (~19 MiB each) run at once.
  Result<store::AdminUser> Authenticate(std::string_view name, std::string_view password);

  // kInvalidValue with the rule when `password` is not acceptable as a chosen password: 12 to
  // 256 characters, not equal to the user name.
  static Status CheckNewPassword(std::string_view name, std::string_view password);
  static bool ValidName(std::string_view name);
  static bool ValidRole(std::string_view role) { return role == "admin" || role == "viewer"; }

 private:
  bool Verify(const std::string& hash, std::string_view password);

  store::Store& store_;
  const Clock& clock_;
  std::counting_semaphore<2> verifying_{2};
};

}  // namespace idsync::service
