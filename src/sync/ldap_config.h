// An LDAP connection's settings (the `ldap` connection kind, issue #4): the configuration
// struct, its validation (ParseLdapConfig) and its stored JSON form (LdapConfigToJson). The bind
// password is not part of it: it is sealed apart (see ldap_sync.h).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/json.h"
#include "base/result.h"
#include "sync/ldap/settings.h"

namespace idsync::sync {

inline constexpr std::string_view kLdapKind = "ldap";

// An LDAP connection's configuration (store::Connection::settings), without the password.
struct LdapConfig {
  ldap::LdapSettings ldap;  // bind_password is always empty here
  // "modifyTimestamp" (OpenLDAP and most servers) or "uSNChanged" (Active Directory).
  std::string change_attribute = "modifyTimestamp";
  // Incremental runs every `schedule` (0 = no schedule); a scheduled run is full when the last
  // complete full run is older than `full_every`.
  std::chrono::seconds schedule{0};
  std::chrono::seconds full_every{std::chrono::hours(24)};
  // A run that would deprovision more than this share of the connection's users stops with
  // outcome "needs_confirmation" (0.1 = 10%). 1.0 disables the guard.
  double deprovision_guard = 0.10;
  // Incremental runs find deletions with an id-only scan ("id_scan") or leave them to the next
  // full run ("full_only").
  std::string incremental_deletions = "id_scan";
  // Entries per store write job (one transaction; SCIM writers wait at most for one batch).
  int batch_size = 500;
  // modifyTimestamp has one-second resolution and comes from the server's clock: the next
  // incremental run re-reads entries changed within this margin before the run started.
  std::chrono::seconds clock_skew{std::chrono::seconds(2)};
};

// Validates settings JSON (keys of LdapConfigToJson; unknown keys are errors naming the key)
// and the LDAP settings (ldap::Validate, except the password). kInvalidValue naming the field.
Result<LdapConfig> ParseLdapConfig(const Json& settings);
// The stored form: every setting, no password.
Json LdapConfigToJson(const LdapConfig& config);

// Checks a connection's settings are fit to be saved (AddConnection, UpdateConnection), beyond
// ParseLdapConfig (which also reads settings stored before these rules, so it cannot refuse
// them): user_filter and group_filter are RFC 4515 filters (the protocol layer's parser), and a
// schedule is 0 or at least kMinSchedule. kInvalidValue naming the setting.
Status CheckForSave(const LdapConfig& config);
inline constexpr std::chrono::seconds kMinSchedule{60};

// True when the connection's change attribute is uSNChanged (Active Directory).
bool IsUsn(const LdapConfig& config);

}  // namespace idsync::sync
