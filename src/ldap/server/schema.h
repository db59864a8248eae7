// The LDAP schema idsync serves: every attribute type and object class an entry can carry, with
// the matching rules that decide filters and compares, and the subschema entry (cn=Subschema)
// that describes them (RFC 4512 §4.2).
//
// Names follow OpenLDAP's core, cosine, inetorgperson and nis schemas and Active Directory's,
// so that a filter means here what it means on slapd or AD. idsync's own types (entitlements,
// custom attributes) live under the OID arc kIdsyncOidArc, a UUID-derived arc (ITU-T X.667,
// 2.25.<uuid>, from 390de2a6-d030-4e16-9e48-e0e661ab7c68) that needs no registration and collides
// with nobody.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace idsync::ldap {

inline constexpr std::string_view kIdsyncOidArc = "2.25.75838092659777839404084674780824566888";

// How values of an attribute compare (RFC 4517 matching rules, AD's where AD has its own).
enum class Matching {
  kCaseIgnore,     // directoryString: caseIgnoreMatch / caseIgnoreOrderingMatch / substrings
  kCaseIgnoreIa5,  // mail: caseIgnoreIA5Match / caseIgnoreIA5SubstringsMatch
  kCaseExactIa5,   // homeDirectory, loginShell, memberUid
  kObjectClass,    // objectIdentifierMatch on names (ASCII case-insensitive)
  kDn,             // distinguishedNameMatch (and uniqueMemberMatch)
  kUuid,           // uuidMatch / uuidOrderingMatch
  kTime,           // generalizedTimeMatch / generalizedTimeOrderingMatch
  kInteger,        // integerMatch / integerOrderingMatch
  kBoolean,        // booleanMatch
  kOctets,         // octetStringMatch (objectGUID)
};

struct AttributeType {
  std::string name;                  // canonical spelling, as served
  std::vector<std::string> aliases;  // other names (commonName, surname, rfc822Mailbox, ...)
  std::string oid;
  std::string syntax;  // syntax OID
  Matching matching = Matching::kCaseIgnore;
  bool single_value = false;
  bool operational = false;  // returned only when named or with "+"
  bool ordering = false;     // >= and <= are defined (else Undefined)
  bool substrings = false;   // substring filters are defined (else Undefined)
};

struct ObjectClass {
  std::string name;
  std::string oid;
  std::string superior;  // "" for top
  std::string kind;      // "STRUCTURAL" | "AUXILIARY" | "ABSTRACT"
  std::vector<std::string> must, may;
};

// The schema of one server process: the fixed types plus idsync's custom-attribute types
// (added by name as directories configure them). Immutable after construction; shared.
class Schema {
 public:
  // `custom` are the LDAP names of custom attributes configured in any directory.
  explicit Schema(const std::vector<std::string>& custom = {});

  // By name or alias, ASCII case-insensitive; options (";binary", ";lang-en") are stripped.
  // nullptr for an unknown type.
  const AttributeType* Find(std::string_view description) const;

  // The subschema entry's attribute values: attributeTypes, objectClasses, ldapSyntaxes,
  // matchingRules (RFC 4512 §4.1 descriptions).
  std::vector<std::string> AttributeTypeDescriptions() const;
  std::vector<std::string> ObjectClassDescriptions() const;
  std::vector<std::string> SyntaxDescriptions() const;
  std::vector<std::string> MatchingRuleDescriptions() const;

 private:
  std::vector<std::unique_ptr<AttributeType>> types_;
  std::map<std::string, const AttributeType*, std::less<>> by_name_;  // lower-cased
  std::vector<ObjectClass> classes_;
};

}  // namespace idsync::ldap
