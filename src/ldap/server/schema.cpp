#include "ldap/server/schema.h"

#include <utility>

#include "base/strings.h"

namespace idsync::ldap {
namespace {

constexpr const char* kDirectoryString = "1.3.6.1.4.1.1466.115.121.1.15";
constexpr const char* kIa5String = "1.3.6.1.4.1.1466.115.121.1.26";
constexpr const char* kOidSyntax = "1.3.6.1.4.1.1466.115.121.1.38";
constexpr const char* kDnSyntax = "1.3.6.1.4.1.1466.115.121.1.12";
constexpr const char* kNameAndUid = "1.3.6.1.4.1.1466.115.121.1.34";
constexpr const char* kUuidSyntax = "1.3.6.1.1.16.1";
constexpr const char* kTimeSyntax = "1.3.6.1.4.1.1466.115.121.1.24";
constexpr const char* kIntegerSyntax = "1.3.6.1.4.1.1466.115.121.1.27";
constexpr const char* kBooleanSyntax = "1.3.6.1.4.1.1466.115.121.1.7";
constexpr const char* kOctetSyntax = "1.3.6.1.4.1.1466.115.121.1.40";

struct Def {
  const char* name;
  std::vector<std::string> aliases;
  const char* oid;
  const char* syntax;
  Matching matching;
  bool single = false;
  bool operational = false;
  // Whether the type has the ordering rule of its matching kind. RFC 4519's name types (cn, sn,
  // givenName, uid, ou, description) and inetOrgPerson's displayName have EQUALITY and SUBSTR
  // only, so (uid>=m) is Undefined on slapd (RFC 4511 §4.5.1.7.3) and must be here too.
  bool ordered = true;
};

// Every attribute type served. Ordering (unless `ordered` is false) and substrings follow from
// the matching kind.
std::vector<Def> Definitions() {
  using M = Matching;
  return {
      {"objectClass", {}, "2.5.4.0", kOidSyntax, M::kObjectClass},
      {"cn", {"commonName"}, "2.5.4.3", kDirectoryString, M::kCaseIgnore, false, false, false},
      {"sn", {"surname"}, "2.5.4.4", kDirectoryString, M::kCaseIgnore, false, false, false},
      {"givenName", {"gn"}, "2.5.4.42", kDirectoryString, M::kCaseIgnore, false, false, false},
      {"displayName",
       {},
       "2.16.840.1.113730.3.1.241",
       kDirectoryString,
       M::kCaseIgnore,
       true,
       false,
       false},
      {"uid",
       {"userid"},
       "0.9.2342.19200300.100.1.1",
       kDirectoryString,
       M::kCaseIgnore,
       false,
       false,
       false},
      {"mail", {"rfc822Mailbox"}, "0.9.2342.19200300.100.1.3", kIa5String, M::kCaseIgnoreIa5},
      {"ou",
       {"organizationalUnitName"},
       "2.5.4.11",
       kDirectoryString,
       M::kCaseIgnore,
       false,
       false,
       false},
      {"description", {}, "2.5.4.13", kDirectoryString, M::kCaseIgnore, false, false, false},
      {"member", {}, "2.5.4.31", kDnSyntax, M::kDn},
      {"uniqueMember", {}, "2.5.4.50", kNameAndUid, M::kDn},
      {"memberOf", {}, "1.2.840.113556.1.2.102", kDnSyntax, M::kDn, false, true},
      {"entryUUID", {}, "1.3.6.1.1.16.4", kUuidSyntax, M::kUuid, true, true},
      {"createTimestamp", {}, "2.5.18.1", kTimeSyntax, M::kTime, true, true},
      {"modifyTimestamp", {}, "2.5.18.2", kTimeSyntax, M::kTime, true, true},
      {"subschemaSubentry", {}, "2.5.18.10", kDnSyntax, M::kDn, true, true},
      {"entryDN", {}, "1.3.6.1.1.20", kDnSyntax, M::kDn, true, true},
      {"hasSubordinates", {}, "2.5.18.9", kBooleanSyntax, M::kBoolean, true, true},
      {"structuralObjectClass", {}, "2.5.21.9", kOidSyntax, M::kObjectClass, true, true},
      // Root DSE (RFC 4512 §5.1) and the subschema entry (§4.2).
      {"namingContexts", {}, "1.3.6.1.4.1.1466.101.120.5", kDnSyntax, M::kDn, false, true},
      {"supportedLDAPVersion",
       {},
       "1.3.6.1.4.1.1466.101.120.15",
       kIntegerSyntax,
       M::kInteger,
       false,
       true},
      {"supportedControl",
       {},
       "1.3.6.1.4.1.1466.101.120.13",
       kOidSyntax,
       M::kObjectClass,
       false,
       true},
      {"supportedExtension",
       {},
       "1.3.6.1.4.1.1466.101.120.7",
       kOidSyntax,
       M::kObjectClass,
       false,
       true},
      {"supportedFeatures", {}, "1.3.6.1.4.1.4203.1.3.5", kOidSyntax, M::kObjectClass, false, true},
      {"vendorName", {}, "1.3.6.1.1.4", kDirectoryString, M::kCaseIgnore, true, true},
      {"vendorVersion", {}, "1.3.6.1.1.5", kDirectoryString, M::kCaseIgnore, true, true},
      {"attributeTypes", {}, "2.5.21.5", kDirectoryString, M::kCaseIgnore, false, true},
      {"objectClasses", {}, "2.5.21.6", kDirectoryString, M::kCaseIgnore, false, true},
      {"ldapSyntaxes",
       {},
       "1.3.6.1.4.1.1466.101.120.16",
       kDirectoryString,
       M::kCaseIgnore,
       false,
       true},
      {"matchingRules", {}, "2.5.21.4", kDirectoryString, M::kCaseIgnore, false, true},
      // RFC 2307 (nis.schema).
      {"uidNumber", {}, "1.3.6.1.1.1.1.0", kIntegerSyntax, M::kInteger, true},
      {"gidNumber", {}, "1.3.6.1.1.1.1.1", kIntegerSyntax, M::kInteger, true},
      {"gecos", {}, "1.3.6.1.1.1.1.2", kIa5String, M::kCaseIgnoreIa5, true},
      {"homeDirectory", {}, "1.3.6.1.1.1.1.3", kIa5String, M::kCaseExactIa5, true},
      {"loginShell", {}, "1.3.6.1.1.1.1.4", kIa5String, M::kCaseExactIa5, true},
      {"memberUid", {}, "1.3.6.1.1.1.1.12", kIa5String, M::kCaseExactIa5},
      // Active Directory.
      {"sAMAccountName", {}, "1.2.840.113556.1.4.221", kDirectoryString, M::kCaseIgnore, true},
      {"userPrincipalName", {}, "1.2.840.113556.1.4.656", kDirectoryString, M::kCaseIgnore, true},
      {"objectGUID", {}, "1.2.840.113556.1.4.2", kOctetSyntax, M::kOctets, true},
      {"userAccountControl", {}, "1.2.840.113556.1.4.8", kIntegerSyntax, M::kInteger, true},
      {"uSNCreated", {}, "1.2.840.113556.1.2.19", kIntegerSyntax, M::kInteger, true},
      {"uSNChanged", {}, "1.2.840.113556.1.2.120", kIntegerSyntax, M::kInteger, true},
      {"isDeleted", {}, "1.2.840.113556.1.2.48", kBooleanSyntax, M::kBoolean, true},
      {"objectCategory", {}, "1.2.840.113556.1.4.782", kDnSyntax, M::kDn, true},
      {"distinguishedName", {}, "2.5.4.49", kDnSyntax, M::kDn, true},
      {"name", {}, "1.2.840.113556.1.4.1", kDirectoryString, M::kCaseIgnore, true},
      {"whenCreated", {}, "1.2.840.113556.1.2.2", kTimeSyntax, M::kTime, true},
      {"whenChanged", {}, "1.2.840.113556.1.2.3", kTimeSyntax, M::kTime, true},
      {"groupType", {}, "1.2.840.113556.1.4.750", kIntegerSyntax, M::kInteger, true},
      {"highestCommittedUSN",
       {},
       "1.2.840.113556.1.4.1185",
       kIntegerSyntax,
       M::kInteger,
       true,
       true},
      {"defaultNamingContext", {}, "1.2.840.113556.1.4.1187", kDnSyntax, M::kDn, true, true},
      {"invocationId", {}, "1.2.840.113556.1.2.115", kOctetSyntax, M::kOctets, true},
      // idsync's own.
      {"idsyncEntitlement", {}, "", kDirectoryString, M::kCaseIgnore},
      // Active Directory's root DSE names its DSA object so; AD publishes no OID for it.
      {"dsServiceName", {}, "", kDnSyntax, M::kDn, true, true},
  };
}

std::vector<ObjectClass> Classes(const std::vector<std::string>& custom) {
  std::vector<std::string> idsync_may = {"idsyncEntitlement"};
  idsync_may.insert(idsync_may.end(), custom.begin(), custom.end());
  std::string arc(kIdsyncOidArc);
  return {
      {"top", "2.5.6.0", "", "ABSTRACT", {"objectClass"}, {}},
      {"organizationalUnit", "2.5.6.5", "top", "STRUCTURAL", {"ou"}, {"description"}},
      {"person", "2.5.6.6", "top", "STRUCTURAL", {"sn", "cn"}, {"description"}},
      {"organizationalPerson", "2.5.6.7", "person", "STRUCTURAL", {}, {"ou"}},
      {"inetOrgPerson",
       "2.16.840.1.113730.3.2.2",
       "organizationalPerson",
       "STRUCTURAL",
       {},
       {"displayName", "givenName", "mail", "uid"}},
      {"groupOfNames", "2.5.6.9", "top", "STRUCTURAL", {"member", "cn"}, {"description", "ou"}},
      {"groupOfUniqueNames",
       "2.5.6.17",
       "top",
       "STRUCTURAL",
       {"uniqueMember", "cn"},
       {"description", "ou"}},
      {"posixAccount",
       "1.3.6.1.1.1.2.0",
       "top",
       "AUXILIARY",
       {"cn", "uid", "uidNumber", "gidNumber", "homeDirectory"},
       {"loginShell", "gecos", "description"}},
      {"posixGroup",
       "1.3.6.1.1.1.2.2",
       "top",
       "AUXILIARY",
       {"cn", "gidNumber"},
       {"memberUid", "description"}},
      {"user",
       "1.2.840.113556.1.5.9",
       "organizationalPerson",
       "STRUCTURAL",
       {},
       {"sAMAccountName", "userPrincipalName", "objectGUID", "userAccountControl", "uSNCreated",
        "uSNChanged", "memberOf", "objectCategory", "distinguishedName", "name", "whenCreated",
        "whenChanged", "isDeleted", "mail", "givenName", "displayName", "uid"}},
      {"group",
       "1.2.840.113556.1.5.8",
       "top",
       "STRUCTURAL",
       {"cn"},
       {"member", "sAMAccountName", "objectGUID", "groupType", "uSNCreated", "uSNChanged",
        "objectCategory", "distinguishedName", "name", "whenCreated", "whenChanged", "isDeleted",
        "description"}},
      {"nTDSDSA",
       "1.2.840.113556.1.5.7000.47",
       "top",
       "STRUCTURAL",
       {},
       {"cn", "invocationId", "objectGUID", "distinguishedName", "name"}},
      {"idsyncUser", arc + ".2.1", "top", "AUXILIARY", {}, idsync_may},
      {"subschema",
       "2.5.20.1",
       "top",
       "AUXILIARY",
       {},
       {"attributeTypes", "objectClasses", "ldapSyntaxes", "matchingRules"}},
  };
}

const char* EqualityRule(Matching m) {
  switch (m) {
    case Matching::kCaseIgnore: return "caseIgnoreMatch";
    case Matching::kCaseIgnoreIa5: return "caseIgnoreIA5Match";
    case Matching::kCaseExactIa5: return "caseExactIA5Match";
    case Matching::kObjectClass: return "objectIdentifierMatch";
    case Matching::kDn: return "distinguishedNameMatch";
    case Matching::kUuid: return "UUIDMatch";
    case Matching::kTime: return "generalizedTimeMatch";
    case Matching::kInteger: return "integerMatch";
    case Matching::kBoolean: return "booleanMatch";
    case Matching::kOctets: return "octetStringMatch";
  }
  return "octetStringMatch";
}

const char* OrderingRule(Matching m) {
  switch (m) {
    case Matching::kCaseIgnore: return "caseIgnoreOrderingMatch";
    case Matching::kUuid: return "UUIDOrderingMatch";
    case Matching::kTime: return "generalizedTimeOrderingMatch";
    case Matching::kInteger: return "integerOrderingMatch";
    case Matching::kOctets: return "octetStringOrderingMatch";
    default: return nullptr;
  }
}

const char* SubstringsRule(Matching m) {
  switch (m) {
    case Matching::kCaseIgnore: return "caseIgnoreSubstringsMatch";
    case Matching::kCaseIgnoreIa5: return "caseIgnoreIA5SubstringsMatch";
    case Matching::kCaseExactIa5: return "caseExactIA5SubstringsMatch";
    default: return nullptr;
  }
}

std::string QuotedList(const std::vector<std::string>& names) {
  if (names.size() == 1) return names[0];
  std::string out = "( ";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? " $ " : "") + names[i];
  return out + " )";
}

}  // namespace

Schema::Schema(const std::vector<std::string>& custom) {
  auto add = [&](AttributeType t, bool ordered) {
    t.ordering = ordered && OrderingRule(t.matching) != nullptr;
    t.substrings = SubstringsRule(t.matching) != nullptr;
    types_.push_back(std::make_unique<AttributeType>(std::move(t)));
    const AttributeType* p = types_.back().get();
    by_name_.emplace(AsciiLower(p->name), p);
    for (const auto& a : p->aliases) by_name_.emplace(AsciiLower(a), p);
  };
  int next_custom = 1;
  std::string arc(kIdsyncOidArc);
  for (auto& d : Definitions()) {
    AttributeType t{d.name, d.aliases, d.oid, d.syntax, d.matching, d.single, d.operational};
    if (t.oid.empty()) t.oid = arc + ".1." + std::to_string(next_custom++);
    add(std::move(t), d.ordered);
  }
  // Custom attributes: directoryString, case-insensitive, one value (idsync keeps one value
  // per custom attribute). A name that is already a served type keeps that type's definition.
  int custom_index = 100;
  std::vector<std::string> custom_names;
  for (const auto& name : custom) {
    if (Find(name)) continue;
    add({name,
         {},
         arc + ".1." + std::to_string(custom_index++),
         kDirectoryString,
         Matching::kCaseIgnore,
         true,
         false},
        true);
    custom_names.push_back(name);
  }
  classes_ = Classes(custom_names);
}

const AttributeType* Schema::Find(std::string_view description) const {
  size_t semi = description.find(';');
  if (semi != std::string_view::npos) description = description.substr(0, semi);
  auto it = by_name_.find(AsciiLower(description));
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> Schema::AttributeTypeDescriptions() const {
  std::vector<std::string> out;
  for (const auto& t : types_) {
    std::vector<std::string> names = {"'" + t->name + "'"};
    for (const auto& a : t->aliases) names.push_back("'" + a + "'");
    std::string d = "( " + t->oid + " NAME " + QuotedList(names);
    d += std::string(" EQUALITY ") + EqualityRule(t->matching);
    if (t->ordering) d += std::string(" ORDERING ") + OrderingRule(t->matching);
    if (const char* s = SubstringsRule(t->matching)) d += std::string(" SUBSTR ") + s;
    d += " SYNTAX " + t->syntax;
    if (t->single_value) d += " SINGLE-VALUE";
    if (t->operational) d += " NO-USER-MODIFICATION USAGE directoryOperation";
    out.push_back(d + " )");
  }
  return out;
}

std::vector<std::string> Schema::ObjectClassDescriptions() const {
  std::vector<std::string> out;
  for (const auto& c : classes_) {
    std::string d = "( " + c.oid + " NAME '" + c.name + "'";
    if (!c.superior.empty()) d += " SUP " + c.superior;
    d += " " + c.kind;
    if (!c.must.empty()) d += " MUST " + QuotedList(c.must);
    if (!c.may.empty()) d += " MAY " + QuotedList(c.may);
    out.push_back(d + " )");
  }
  return out;
}

std::vector<std::string> Schema::SyntaxDescriptions() const {
  return {
      std::string("( ") + kDirectoryString + " DESC 'Directory String' )",
      std::string("( ") + kIa5String + " DESC 'IA5 String' )",
      std::string("( ") + kOidSyntax + " DESC 'OID' )",
      std::string("( ") + kDnSyntax + " DESC 'Distinguished Name' )",
      std::string("( ") + kNameAndUid + " DESC 'Name And Optional UID' )",
      std::string("( ") + kUuidSyntax + " DESC 'UUID' )",
      std::string("( ") + kTimeSyntax + " DESC 'Generalized Time' )",
      std::string("( ") + kIntegerSyntax + " DESC 'INTEGER' )",
      std::string("( ") + kBooleanSyntax + " DESC 'Boolean' )",
      std::string("( ") + kOctetSyntax + " DESC 'Octet String' )",
  };
}

std::vector<std::string> Schema::MatchingRuleDescriptions() const {
  return {
      std::string("( 2.5.13.0 NAME 'objectIdentifierMatch' SYNTAX ") + kOidSyntax + " )",
      std::string("( 2.5.13.1 NAME 'distinguishedNameMatch' SYNTAX ") + kDnSyntax + " )",
      std::string("( 2.5.13.2 NAME 'caseIgnoreMatch' SYNTAX ") + kDirectoryString + " )",
      std::string("( 2.5.13.3 NAME 'caseIgnoreOrderingMatch' SYNTAX ") + kDirectoryString + " )",
      std::string(
          "( 2.5.13.4 NAME 'caseIgnoreSubstringsMatch' SYNTAX 1.3.6.1.4.1.1466.115.121.1.58 )"),
      std::string("( 2.5.13.13 NAME 'booleanMatch' SYNTAX ") + kBooleanSyntax + " )",
      std::string("( 2.5.13.14 NAME 'integerMatch' SYNTAX ") + kIntegerSyntax + " )",
      std::string("( 2.5.13.15 NAME 'integerOrderingMatch' SYNTAX ") + kIntegerSyntax + " )",
      std::string("( 2.5.13.17 NAME 'octetStringMatch' SYNTAX ") + kOctetSyntax + " )",
      std::string("( 2.5.13.23 NAME 'uniqueMemberMatch' SYNTAX ") + kNameAndUid + " )",
      std::string("( 2.5.13.27 NAME 'generalizedTimeMatch' SYNTAX ") + kTimeSyntax + " )",
      std::string("( 2.5.13.28 NAME 'generalizedTimeOrderingMatch' SYNTAX ") + kTimeSyntax + " )",
      std::string("( 1.3.6.1.4.1.1466.109.114.1 NAME 'caseExactIA5Match' SYNTAX ") + kIa5String +
          " )",
      std::string("( 1.3.6.1.4.1.1466.109.114.2 NAME 'caseIgnoreIA5Match' SYNTAX ") + kIa5String +
          " )",
      std::string("( 1.3.6.1.1.16.2 NAME 'UUIDMatch' SYNTAX ") + kUuidSyntax + " )",
      std::string("( 1.3.6.1.1.16.3 NAME 'UUIDOrderingMatch' SYNTAX ") + kUuidSyntax + " )",
      "( 1.2.840.113556.1.4.803 NAME 'LDAP_MATCHING_RULE_BIT_AND' SYNTAX "
      "1.3.6.1.4.1.1466.115.121.1.27 )",
      "( 1.2.840.113556.1.4.804 NAME 'LDAP_MATCHING_RULE_BIT_OR' SYNTAX "
      "1.3.6.1.4.1.1466.115.121.1.27 )",
  };
}

}  // namespace idsync::ldap
