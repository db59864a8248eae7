// One source user through one connection's policy: its effective attribute values, the local
// groups its source groups map to, and the entitlements those groups grant. Pure; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "policy/policy.h"

namespace idsync::policy {

// One mapped value and where it came from.
struct MappedValue {
  Json value;          // string, boolean, integer, RFC 3339 string; an array if multi-valued
  std::string source;  // the source path or template that produced it, or "default"
  std::string rule;    // the policy field, e.g. "attributes.email.sources[1]"
  friend bool operator==(const MappedValue&, const MappedValue&) = default;
};

struct EffectiveUserValues {
  // Effective attribute name -> value. An attribute without value is absent. "username" is
  // always present (MapUser fails otherwise), "active" always present (true by default).
  std::map<std::string, MappedValue> values;
  // Values a source had but that could not be used (wrong type, emptied by a transform);
  // for `explain`, never fatal.
  std::vector<std::string> warnings;

  const MappedValue* Find(const std::string& name) const;
  std::string username() const;  // "" if absent
  std::string email() const;     // "" if absent
  bool active() const;           // true if absent
};

// Maps `source_user` (SCIM stored form plus "id", or for LDAP an object attribute -> [values])
// through `policy`. `custom` gives the type of each custom attribute: a mapping of a custom
// attribute that is not (or no longer) defined is skipped with a warning. Values are converted
// to the attribute's type (boolean accepts "true"/"false" in any case, Entra ID IDP-QUIRKS E-2;
// integer accepts decimal text; dateTime must be RFC 3339 and is normalised to UTC); a value
// that does not convert counts as absent and the next source is tried.
// Errors: kInvalidValue if no source yields a username (the detail lists the sources tried):
// such a user cannot be imported, and the caller records why.
Result<EffectiveUserValues> MapUser(const Policy& policy, const Json& source_user,
                                    const CustomAttributeDefs& custom);

// Applies `transforms` to one text value; nullopt if the result is empty. `source_user` feeds
// template placeholders.
std::optional<std::string> ApplyTransforms(const std::vector<Transform>& transforms,
                                           std::string value, const Json& source_user);

// ---------- groups ----------

// A group the source user is a member of, as its source knows it.
struct SourceGroup {
  std::string id;
  std::string name;  // displayName (SCIM) or cn (LDAP)
};

enum class MembershipRule {
  kOnTheFly,    // source group imported under its (transformed) name
  kManual,      // groups.manual table
  kDefaultNew,  // groups.default_groups_new_users; granted once, at creation
  kDefaultAll,  // groups.default_groups_all_users
  kExisting,    // not granted by any source (an admin's, or there before the source)
};
std::string_view MembershipRuleName(MembershipRule rule);

// Why one local group is granted.
struct GroupGrant {
  MembershipRule rule = MembershipRule::kOnTheFly;
  std::string source_group;  // the source group's name (id if nameless); "" for defaults
  std::string detail;        // policy field, e.g. "groups.manual[2]"
  // groups.import off: the membership is granted only if the local group already exists (a
  // grant never creates a group).
  bool existing_only = false;
  friend bool operator==(const GroupGrant&, const GroupGrant&) = default;
};

struct LocalGroup {
  std::string name;                // spelling of the first grant
  std::vector<GroupGrant> grants;  // every reason, in policy order
};

struct MappedGroups {
  // FoldCase(local name) -> group: local group names compare case-insensitively, like SCIM
  // Group displayName (RFC 7643 §4.2, caseExact false).
  std::map<std::string, LocalGroup> groups;
  std::vector<std::string> ignored;   // source groups not imported, each with the reason
  std::vector<std::string> warnings;  // e.g. a name transform that produced nothing
};

// Maps the source groups a user is in to local groups. `new_user`: the effective user is being
// created now, so default_groups_new_users apply.
MappedGroups MapGroups(const Policy& policy, const std::vector<SourceGroup>& source_groups,
                       bool new_user);

// ---------- entitlements ----------

struct Entitlement {
  std::string value;  // e.g. "project:DEMO:portal-access"
  std::string group;  // the local group that grants it
  friend bool operator==(const Entitlement&, const Entitlement&) = default;
  friend auto operator<=>(const Entitlement&, const Entitlement&) = default;
};

// The entitlements `groups` (local names) grant under `table`, sorted, one per (value, group).
// Group names match the table case-insensitively.
std::vector<Entitlement> DeriveEntitlements(
    const std::map<std::string, std::vector<std::string>>& table,
    const std::vector<std::string>& groups);

}  // namespace idsync::policy
