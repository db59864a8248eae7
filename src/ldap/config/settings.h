// A directory's LDAP settings (issue #10): how the LDAP server presents one effective
// directory. Stored per directory as JSON (store::LdapArea::GetLdapSettings); this is the one
// parser of that JSON, used by the CLI, the admin API and the server.
//
// JSON form (every key optional; DirectorySettingsToJson writes all of them):
//   {"profile": "standard" | "active_directory",
//    "disabled_users": "hide" | "show",
//    "posix": true | false,
//    "uid_base": 10000, "gid_base": 10000,
//    "home_template": "/home/{uid}", "login_shell": "/bin/bash",
//    "attribute_names": {"<custom attribute>": "<LDAP attribute name>", ...},
//    "tombstone_days": 180}
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/json.h"
#include "base/result.h"

namespace idsync::ldap {

enum class Profile { kStandard, kActiveDirectory };

struct DirectorySettings {
  Profile profile = Profile::kStandard;        // "standard" | "active_directory"
  bool show_disabled = false;                  // "disabled_users": "hide" (default) | "show"
  bool posix = false;                          // posixAccount / posixGroup
  int64_t uid_base = 10000, gid_base = 10000;  // uidNumber = uid_base + PosixNumber
  std::string home_template = "/home/{uid}";   // {uid} = the username
  std::string login_shell = "/bin/bash";
  // Custom attribute -> LDAP attribute name (letters, digits, '-', starting with a letter; not a
  // name idsync serves itself, see IsServedAttribute; no two custom attributes on one name).
  std::map<std::string, std::string> attribute_names;
  int64_t tombstone_days = 180;  // AD profile: how long deleted entries stay visible with the
                                 // show-deleted control

  friend bool operator==(const DirectorySettings&, const DirectorySettings&) = default;
};

// Parses the JSON form. Missing keys take the defaults above. kInvalidValue naming the field
// ("uid_base: ...", "attribute_names.badge: ...") for an unknown key, a wrong type or a value
// out of range: uid_base and gid_base 1000..2000000000 (below 1000 are system accounts),
// tombstone_days 0..3650, home_template and login_shell absolute paths without control
// characters (home_template's only placeholder is {uid}). Whether each mapped custom
// attribute is defined in the directory is the caller's check (this library knows no
// directories).
Result<DirectorySettings> ParseDirectorySettings(const Json& json);

// The full form, defaults included; ParseDirectorySettings of it gives `settings` back.
Json DirectorySettingsToJson(const DirectorySettings& settings);

std::string_view ProfileName(Profile profile);  // "standard" | "active_directory"

// True if idsync itself serves an attribute of this name (uid, cn, mail, memberOf, uidNumber,
// objectGUID, ...), compared case-insensitively as LDAP does: a custom attribute may not take
// such a name.
bool IsServedAttribute(std::string_view name);

}  // namespace idsync::ldap
