// LDAP entries as the sync keeps them: the mirror body of a user or group, the raw entry shown by
// `ldap test`, DN comparison keys, and reads of attributes from a mirror body.
#pragma once

#include <string>
#include <string_view>

#include "base/json.h"
#include "sync/ldap/entry.h"
#include "sync/ldap_config.h"

namespace idsync::sync {

bool IsUtf8(std::string_view s);
// DNs compare case-insensitively, without the spaces some tools put around ',' and '='.
std::string DnKey(std::string_view dn);
// uniqueMember is a DN optionally followed by "#'0101'B" (RFC 4517 nameAndOptionalUID).
std::string UniqueMemberDn(std::string_view value);
// The mirror body of an LDAP user or group: {attribute: [values]} plus "dn" (see the .cpp).
Json EntryBody(const ldap::LdapEntry& entry, const LdapConfig& config);
// The raw entry for `ldap test`: every attribute, binary values as {"base64": ...}.
Json RawEntry(const ldap::LdapEntry& entry);
// The first string value of `attribute` (case-insensitive) in a mirror body, or "".
std::string FirstValue(const Json& body, const std::string& attribute);
// The values of `attribute` (case-insensitive) in a mirror body, or nullptr.
const Json* Values(const Json& body, const std::string& attribute);

}  // namespace idsync::sync
