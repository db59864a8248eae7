// LDAP service accounts (issue #10): the credentials applications bind to idsync's LDAP server
// with (`idsync ldap-account add NAME --directory D`, POST /api/v1/ldap-accounts). An account
// reads exactly one directory. Its password is generated ("idsync_ldap_" + 256 random bits),
// shown once, and stored only as an argon2id hash (base/password_hash.h). Thread-safe.
#pragma once

#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "store/store.h"

namespace idsync::service {

inline constexpr std::string_view kLdapPasswordPrefix = "idsync_ldap_";
// The base DN the server publishes when none is configured.
inline constexpr std::string_view kDefaultLdapSuffix = "dc=idsync";

struct NewLdapPassword {
  store::LdapAccount account;
  std::string password;  // shown once
};

class LdapAccounts {
 public:
  LdapAccounts(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // kInvalidValue naming the rule if `name` is not 1-64 of [A-Za-z0-9._-]; kNotFound if the
  // directory does not exist; kUniqueness if an account has the name (compared ignoring case,
  // since "cn=App" and "cn=app" are one DN). Audited ("ldap_account.add") in the same write.
  Result<NewLdapPassword> Add(const std::string& name, const std::string& directory,
                              const std::string& actor);
  Result<std::vector<store::LdapAccount>> List();           // by name
  Result<store::LdapAccount> Get(const std::string& name);  // kNotFound
  // kNotFound. Audited ("ldap_account.remove"). Binds with the account fail from the next one.
  Status Remove(const std::string& name, const std::string& actor);
  // A new password; the old one stops working at once. kNotFound. Audited
  // ("ldap_account.rotate").
  Result<NewLdapPassword> Rotate(const std::string& name, const std::string& actor);

  // The account if `password` is its current password; kUnauthorized otherwise, with the same
  // detail for an unknown name and a wrong password (an unknown name also costs one argon2
  // verification, so timing does not tell names apart). kUnavailable if the store cannot be
  // read. A success is cached by (name, SHA-256 of the password) until Store::ConfigGeneration
  // changes (any account change), so repeated binds cost no argon2 and a removed or rotated
  // account fails on its next bind. At most two argon2 verifications (~19 MiB each) run at
  // once; further callers wait, so a bind flood cannot exhaust memory.
  Result<store::LdapAccount> Authenticate(std::string_view name, std::string_view password);

  // "cn=<name>,ou=services,<suffix>".
  static std::string BindDn(const std::string& name, const std::string& suffix);
  // The account name of a bind DN of that form, nullopt for any other DN. Attribute types,
  // "services" and the suffix compare ignoring case and spaces around ',' and '=' (as clients
  // write DNs); names use only [A-Za-z0-9._-], so no DN escaping is involved.
  static std::optional<std::string> NameOfBindDn(std::string_view dn, std::string_view suffix);

  // The account-name rule, for callers that validate before asking (CLI argument checks).
  static bool ValidName(std::string_view name);

 private:
  Result<store::LdapAccount> Lookup(std::string_view name);
  bool Verify(const std::string& hash, std::string_view password);
  const std::string& DummyHash();

  store::Store& store_;
  const Clock& clock_;
  std::counting_semaphore<2> verifying_{2};
  std::once_flag dummy_once_;
  std::string dummy_hash_;  // set once under dummy_once_
  std::mutex mutex_;
  int64_t generation_ = -1;  // guarded by mutex_
  // (lower-case name, '\n', SHA-256 hex of the password) -> account; guarded by mutex_.
  std::unordered_map<std::string, store::LdapAccount> cache_;
};

}  // namespace idsync::service
