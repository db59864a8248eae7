// Several sources, one person: merging the mapped source users linked to one effective user,
// the link key that links them, and the username conflict check for when they are not linked.
// Pure; thread-safe.
//
// Rules (issue #3), with the choices the issue leaves open:
// - Each attribute comes from the highest-priority present source that has a value (priority
//   descending, then connection id, then source user id ascending: deterministic, so a preview
//   and an apply agree). A source with update_existing off offers, for an existing user, only
//   the values it set before; a new user takes its values like any other source's.
// - The user is active while some present source holds it: active as mapped, or any state when
//   that source's follow_active is off. Present sources that all say inactive -> disabled
//   (on_deactivate "disable"); the user keeps its values and memberships, so re-activation
//   restores it.
// - When every linked source is deleted, the on_delete of the highest-priority deleted source
//   decides: disable (values and memberships kept), delete (state removed, nothing kept), keep
//   (everything as it was). Callers keep a tombstone link for a deleted source user until then;
//   a user with no link at all stays exactly as it was.
// - Memberships are the union of what each present source grants (MapGroups). Previous
//   memberships with rule default_new stay (they are granted once); those with rule existing
//   (no source granted them) stay if any present source keeps existing memberships; those a
//   source granted are re-derived, so a membership a source no longer grants disappears.
// - A user no present source may create (import_new off everywhere) is not imported.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/mapping.h"
#include "policy/policy.h"

namespace idsync::policy {

enum class UserState { kActive, kDisabled, kRemoved, kNotImported };
std::string_view UserStateName(UserState state);

// One effective value with its provenance: which connection and source user, which source path
// or template, which policy rule.
struct EffectiveValue {
  Json value;
  std::string connection_id;
  std::string source_user_id;
  std::string source;
  std::string rule;
  friend bool operator==(const EffectiveValue&, const EffectiveValue&) = default;
};

struct MembershipGrant {
  MembershipRule rule = MembershipRule::kOnTheFly;
  std::string connection_id;  // "" for rule existing
  std::string source_group;
  std::string detail;
  bool existing_only = false;  // GroupGrant::existing_only
  friend bool operator==(const MembershipGrant&, const MembershipGrant&) = default;
};

struct EffectiveMembership {
  std::string group;                    // local group name
  std::vector<MembershipGrant> grants;  // every reason it holds
  friend bool operator==(const EffectiveMembership&, const EffectiveMembership&) = default;
};

struct EffectiveUser {
  UserState state = UserState::kActive;
  std::string state_reason;
  std::map<std::string, EffectiveValue> attributes;        // includes "active"
  std::map<std::string, EffectiveMembership> memberships;  // key: FoldCase(group)
  std::vector<Entitlement> entitlements;                   // sorted
  std::vector<std::string> warnings;
  // When every source is deleted: the connection id of the source whose users.on_delete decided
  // the user's fate (the highest-priority deleted source), "" otherwise. Not stored; the
  // derivation names it in the change feed's cause.
  std::string decided_by;

  std::vector<std::string> GroupNames() const;  // in key order
};

// One source user linked to the effective user.
struct LinkedSource {
  std::string connection_id;
  std::string source_user_id;
  const Policy* policy = nullptr;   // not owned; must outlive the call
  bool deleted = false;             // gone from the mirror; a tombstone link
  EffectiveUserValues values;       // MapUser's result; ignored when deleted
  std::vector<SourceGroup> groups;  // the source groups it is in; ignored when deleted
};

// The effective user from its linked sources. `previous` is the stored effective user, or
// nullptr if there is none (a previous user in state removed or not_imported counts as none).
// Every source needs a policy (IDSYNC_CHECK).
// `group_exists` (empty: every group exists) says whether a local group exists already: a
// membership whose every grant is existing_only (groups.import off) is dropped when its group
// does not.
using GroupExists = std::function<bool(const std::string& name)>;
EffectiveUser MergeUser(const std::vector<LinkedSource>& sources, const EffectiveUser* previous,
                        const GroupExists& group_exists = {});

// The key that links source users of different connections into one effective user:
// "username:" + FoldCase(username), or "email:" + FoldCase(email). nullopt when linking is
// "none" or the key attribute has no value. Two connections link only if their policies use the
// same key kind.
std::optional<std::string> ComputeLinkKey(const Policy& policy, const EffectiveUserValues& values);

// Who holds an effective username in a directory.
struct UsernameOwner {
  std::string effective_user_id;
  std::string connection_id;
  std::string source_user_id;
};

struct Conflict {
  std::string username;
  std::string connection_id;  // the source user that was not imported
  std::string source_user_id;
  UsernameOwner existing;  // who keeps the username
  std::string reason;
};

// Whether a source user may take `username` in a directory whose usernames are `owners`
// (key FoldCase(username)). `joining_effective_user_id` is the effective user it links to, or
// nullptr when it is not linked (linking "none", or no match). A conflict means the source user
// is not imported and the conflict is recorded; nothing is overwritten. The owner itself (same
// connection and source user) is no conflict.
std::optional<Conflict> FindUsernameConflict(const std::string& username,
                                             const std::string& connection_id,
                                             const std::string& source_user_id,
                                             const std::string* joining_effective_user_id,
                                             const std::map<std::string, UsernameOwner>& owners);

}  // namespace idsync::policy
