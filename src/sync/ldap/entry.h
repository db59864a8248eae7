// One directory entry as read from an LDAP server, and the rendering of its stable id.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace idsync::sync::ldap {

// Attribute descriptions compare case-insensitively (RFC 4512 §2.5): "entryUUID" and
// "entryuuid" name the same attribute.
struct AttributeNameLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

// A plain value: the entry's DN and every attribute the server returned, each with its values
// in server order. Values are raw octets (binary-safe: objectGUID, jpegPhoto, NULs kept).
struct LdapEntry {
  std::string dn;
  std::map<std::string, std::vector<std::string>, AttributeNameLess> attributes;

  // The values of `attribute`, or nullptr if the entry has none.
  const std::vector<std::string>* Find(std::string_view attribute) const;
  // The first value of `attribute`, or nullopt if the entry has none.
  std::optional<std::string> First(std::string_view attribute) const;
};

// The entry's stable id as text, from the single value of `id_attribute`:
// - `objectGUID` (Active Directory) holds 16 raw bytes in Microsoft GUID layout (the first
//   three fields little-endian); rendered as the lower-case canonical UUID text that AD tools
//   show, e.g. "3f2504e0-4f89-11d3-9a0c-0305e82c3301".
// - a UUID in text form (OpenLDAP `entryUUID`, optionally in braces or upper case) is
//   rendered lower-case canonical;
// - any other printable ASCII value is returned as is (some directories use opaque ids).
// kInvalidValue, naming the DN, if the attribute is missing, multi-valued, empty, or binary
// other than a 16-byte objectGUID. Thread-safe.
Result<std::string> StableId(const LdapEntry& entry, std::string_view id_attribute);

// Canonical UUID text of 16 raw bytes in Microsoft GUID layout (objectGUID).
// kInvalidValue unless `bytes` is exactly 16 bytes long.
Result<std::string> GuidBytesToText(std::string_view bytes);

}  // namespace idsync::sync::ldap
