// The provisioning policy of one connection (issue #3), as data, and its JSON form.
//
// Decisions of this module (pure functions over plain data; no SQL, HTTP, threads or clock):
// - A policy is JSON that admins edit. ParsePolicy validates all of it and names the field of
//   every error (`attributes.email.sources[1]: unknown attribute "emial"`); unknown keys are
//   errors, so a typo never silently means "default". Omitted keys take the defaults below,
//   and PolicyToJson writes every setting out, so `get` shows what is in force.
// - Defaults (a connection with no policy works): import and update on, follow `active`, on
//   deactivate disable, on delete disable (reversible; nothing is lost without an admin
//   asking), groups on the fly, keep existing memberships, link by username, priority 0.
//   SCIM: username <- userName; email <- emails[primary eq true].value, then
//   emails[type eq "work"].value, then the first of emails.value; displayName <- displayName,
//   then "{name.givenName} {name.familyName}"; givenName <- name.givenName; familyName <-
//   name.familyName; active <- active (true when absent). LDAP: username <- the connection's
//   username attribute (uid by default), email <- mail, displayName <- displayName, then
//   "{givenName} {sn}", then cn; givenName <- givenName; familyName <- sn; active: none (true).
// - A mapping is a list of sources tried in order (the first with a value wins) and transforms
//   applied in order to each value. A source is a path or {"template": "..."}; a template
//   yields a value only when all its placeholders have one. For a single-valued attribute the
//   first value of a multi-valued source is used.
// - Transform "lower" is Unicode case folding (base FoldCase: "ß" becomes "ss"), the same key
//   the directory compares names with; "regex_replace" replaces every match (RE2
//   GlobalReplace, \1..\9 groups); a transform that leaves a value empty drops it.
// - All regular expressions are RE2 (linear time). Group include/exclude patterns must match
//   the whole source group name (FullMatch; write ".*x.*" for "contains x"); every pattern is
//   case-sensitive unless it starts with (?i).
// - Higher priority wins (priority 10 beats priority 0); ties go to the smaller connection id.
// - Custom attribute names are [A-Za-z][A-Za-z0-9_]{0,63} and may not reuse a built-in name.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "policy/source_path.h"

namespace re2 {
class RE2;
}

namespace idsync::policy {

// ---------- custom attributes (defined per directory) ----------

enum class AttributeType { kString, kBoolean, kInteger, kDateTime };

struct CustomAttributeDef {
  std::string name;
  AttributeType type = AttributeType::kString;
  bool multi_valued = false;
  friend bool operator==(const CustomAttributeDef&, const CustomAttributeDef&) = default;
};

using CustomAttributeDefs = std::vector<CustomAttributeDef>;

// JSON: [{"name": "costCenter", "type": "string", "multi_valued": false}, ...]. kInvalidValue
// naming the element and field (`[1].type: ...`); names unique case-insensitively.
Result<CustomAttributeDefs> ParseCustomAttributeDefs(const Json& json);
Json CustomAttributeDefsToJson(const CustomAttributeDefs& defs);
// Case-insensitive lookup; nullptr if absent.
const CustomAttributeDef* FindCustom(const CustomAttributeDefs& defs, std::string_view name);

// ---------- transforms and mappings ----------

// A compiled RE2 pattern with the text it came from. Shared and immutable: RE2 is thread-safe
// for matching.
struct Regex {
  std::string pattern;
  std::shared_ptr<const re2::RE2> re;
  friend bool operator==(const Regex& a, const Regex& b) { return a.pattern == b.pattern; }
};

struct Lower {
  friend bool operator==(const Lower&, const Lower&) = default;
};
struct StripDomain {  // "alice@example.com" -> "alice"; a value without '@' is unchanged
  friend bool operator==(const StripDomain&, const StripDomain&) = default;
};
struct RegexReplace {
  Regex regex;
  std::string replacement;  // RE2 rewrite: \0 the match, \1..\9 groups, \\ a backslash
  friend bool operator==(const RegexReplace&, const RegexReplace&) = default;
};
// The template's {value} is the value being transformed; other placeholders are source paths.
// Active Directory's userAccountControl (a decimal bit mask) -> "false" when ACCOUNTDISABLE (0x2)
// is set, "true" otherwise; a value that is not a number maps to nothing (a warning).
struct AccountEnabled {
  friend bool operator==(const AccountEnabled&, const AccountEnabled&) = default;
};
using Transform = std::variant<Lower, StripDomain, RegexReplace, Template, AccountEnabled>;

// One source of a mapping: a path, or a template built from paths.
using Source = std::variant<SourcePath, Template>;

struct AttributeMapping {
  std::vector<Source> sources;        // tried in order; empty: the attribute is not mapped
  std::vector<Transform> transforms;  // applied in order to the value of the source that won
  friend bool operator==(const AttributeMapping&, const AttributeMapping&) = default;
};

// The built-in effective attributes, in this order. Everything else is a custom attribute.
inline constexpr std::string_view kBuiltinAttributes[] = {"username",  "email",      "displayName",
                                                          "givenName", "familyName", "active"};
bool IsBuiltinAttribute(std::string_view name);  // case-insensitive

// ---------- the policy ----------

enum class OnDelete { kDisable, kDelete, kKeep };
enum class GroupMode { kOnTheFly, kManual };
enum class Unmapped { kIgnore, kOnTheFly };
enum class LinkKey { kUsername, kEmail, kNone };

struct UserRules {
  bool import_new = true;       // create effective users for source users not yet linked
  bool update_existing = true;  // let this source change values of an existing effective user
  bool follow_active = true;    // the source's `active` (as mapped) can disable the user
  // on_deactivate has one choice today, "disable"; it is kept in the JSON so that the shape
  // does not change when more choices come.
  OnDelete on_delete = OnDelete::kDisable;
  friend bool operator==(const UserRules&, const UserRules&) = default;
};

struct ManualGroupRule {
  std::string source;                // a source group's id (exact) or name (case-insensitive)
  std::vector<std::string> targets;  // local group names
  friend bool operator==(const ManualGroupRule&, const ManualGroupRule&) = default;
};

struct GroupRules {
  // off: source groups are mapped as usual, but only into local groups that already exist (no
  // group is created: miniOrange's "Import Groups" switch); default groups still apply.
  bool import = true;
  GroupMode mode = GroupMode::kOnTheFly;
  // Applied to groups taken on the fly (mode on_the_fly, or unmapped groups in manual mode
  // with unmapped on_the_fly), on the source name, before name_transforms. An empty include
  // list includes everything; exclude wins over include. Manual rules are explicit and are
  // not filtered.
  std::vector<Regex> include;
  std::vector<Regex> exclude;
  std::vector<Transform> name_transforms;  // on-the-fly names only; {value} is the name
  std::vector<ManualGroupRule> manual;
  Unmapped unmapped = Unmapped::kIgnore;
  std::vector<std::string> default_groups_new_users;  // granted once, when the user is created
  std::vector<std::string> default_groups_all_users;  // granted while any source holds the user
  // Whether memberships no source granted (added by an admin, or there before) survive a
  // re-derivation of this user. Memberships a source granted always follow the source.
  bool keep_existing_memberships = true;
  friend bool operator==(const GroupRules&, const GroupRules&) = default;
};

struct Policy {
  SourceKind kind = SourceKind::kScim;
  UserRules users;
  // Effective attribute name (built-in or custom, canonical spelling) -> mapping. Always holds
  // the six built-ins (an unmapped one has empty sources).
  std::map<std::string, AttributeMapping> attributes;
  GroupRules groups;
  std::map<std::string, std::vector<std::string>> entitlements;  // local group -> entitlements
  LinkKey link_key = LinkKey::kUsername;
  int64_t priority = 0;  // higher wins
  friend bool operator==(const Policy&, const Policy&) = default;
};

// What a policy is validated against: the connection's kind and the directory's custom
// attributes. Mappings of undefined custom attributes are rejected.
struct PolicyContext {
  SourceKind kind = SourceKind::kScim;
  std::string ldap_username_attribute = "uid";  // LDAP default for username
  CustomAttributeDefs custom;
};

// The policy a connection has when nobody wrote one (see the top of this file).
Policy DefaultPolicy(const PolicyContext& context = {});

// Validates `json` and fills omitted settings from DefaultPolicy(context). kInvalidValue with
// the field path first in the detail (`groups.include[0]: invalid regular expression: ...`).
// Reports the first error found, in document order of the known keys.
Result<Policy> ParsePolicy(const Json& json, const PolicyContext& context = {});

// The full JSON form (every setting, defaults included); ParsePolicy(PolicyToJson(p)) == p.
Json PolicyToJson(const Policy& policy);

// Names used in JSON and in provenance.
std::string_view OnDeleteName(OnDelete v);
std::string_view LinkKeyName(LinkKey v);
std::string_view AttributeTypeName(AttributeType v);

}  // namespace idsync::policy
