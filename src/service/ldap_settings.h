// A directory's LDAP settings as the CLI (`idsync directory ldap NAME ...`) and the admin API
// (GET/PUT /api/v1/directories/{name}/ldap) read and change them: one home for the checks that
// need the store (the directory exists, mapped custom attributes are defined in it).
#pragma once

#include <string>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"
#include "ldap/config/settings.h"
#include "store/store.h"

namespace idsync::service {

// The directory's settings, defaults where never set. kNotFound if there is no such directory;
// kInternal if the stored JSON no longer parses (it was validated when stored).
Result<ldap::DirectorySettings> GetLdapSettings(store::Store& store, const std::string& directory);

// Validates `json` (ldap::ParseDirectorySettings: missing keys take the defaults), checks that
// every key of attribute_names is a custom attribute defined in the directory (kInvalidValue
// naming it), stores the full form and appends an audit record ("directory.ldap") in the same
// write. Returns what was stored. kNotFound if there is no such directory.
Result<ldap::DirectorySettings> PutLdapSettings(store::Store& store, const Clock& clock,
                                                const std::string& directory, const Json& json,
                                                const std::string& actor);

}  // namespace idsync::service
