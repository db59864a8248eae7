// Preview of a policy change: the difference between two effective directory snapshots (before
// and after re-deriving), as lists and counts. Pure; thread-safe.
//
// A user in state removed or not_imported is absent. A user absent before and present after is
// created (whatever its state); present before and absent after is removed. disabled/enabled
// count state changes of users present in both; updated counts users whose attribute values
// changed ("active" is reported as disabled/enabled instead); a user can be both updated and
// disabled. Memberships of created and removed users count as added and removed. Group names
// compare case-insensitively (FoldCase), values exactly (the mapping normalises them).
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/json.h"
#include "policy/merge.h"

namespace idsync::policy {

struct UserSnapshot {
  UserState state = UserState::kActive;
  std::map<std::string, Json> attributes;  // without provenance
  std::set<std::string> groups;            // local group names
};

// Effective user key (e.g. its id in the effective directory) -> its snapshot.
using DirectorySnapshot = std::map<std::string, UserSnapshot>;

UserSnapshot Snapshot(const EffectiveUser& user);

struct AttributeChange {
  std::string name;
  Json before;  // null: absent
  Json after;   // null: absent
};

struct UserUpdate {
  std::string user;
  std::vector<AttributeChange> changes;  // by attribute name
};

struct MembershipChange {
  std::string user;
  std::string group;
  friend bool operator==(const MembershipChange&, const MembershipChange&) = default;
};

struct DiffCounts {
  size_t created = 0;
  size_t updated = 0;
  size_t disabled = 0;
  size_t enabled = 0;
  size_t removed = 0;
  size_t memberships_added = 0;
  size_t memberships_removed = 0;
  size_t groups_created = 0;  // local groups with members after and none before
  size_t groups_emptied = 0;  // local groups with members before and none after
  friend bool operator==(const DiffCounts&, const DiffCounts&) = default;
};

struct DirectoryDiff {
  std::vector<std::string> created, disabled, enabled, removed;  // user keys, sorted
  std::vector<UserUpdate> updated;
  std::vector<MembershipChange> memberships_added, memberships_removed;
  std::vector<std::string> groups_created, groups_emptied;
  DiffCounts counts;

  bool empty() const { return counts == DiffCounts{}; }
};

// O((|before| + |after|) log) over the users, plus their attributes and groups.
DirectoryDiff Diff(const DirectorySnapshot& before, const DirectorySnapshot& after);

// {"counts": {...}, "created": [...], "updated": [{"user", "changes": [{"attribute", "before",
// "after"}]}], ...}. Each list holds at most `max_items` entries (the counts are always
// complete) and has "<list>_truncated": true when cut, so a preview of 100,000 users stays small.
Json DiffToJson(const DirectoryDiff& diff, size_t max_items = 100);

}  // namespace idsync::policy
