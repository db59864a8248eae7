// Who is in which group, by DN, from a complete group scan (full runs of LdapSync): each user's
// groups are computed as its entry is read, so that a user is written and derived once, with its
// groups, instead of once for its attributes and again when the groups are applied.
#pragma once

#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "sync/ldap/entry.h"
#include "sync/ldap_sync_impl.h"

namespace idsync::sync {

// Every node reachable from `from` along `edges`, itself included, each once: a walk with a
// visited set, so that a cycle (a in b, b in a) ends where it started.
std::vector<size_t> Reachable(size_t from, const std::vector<std::vector<size_t>>& edges);

struct MembershipIndex {
  const std::vector<GroupInfo>* groups = nullptr;
  std::unordered_map<std::string, size_t> by_dn;                       // group DnKey -> index
  std::unordered_map<std::string, std::vector<size_t>> by_member_dn;   // DnKey -> direct groups
  std::unordered_map<std::string, std::vector<size_t>> by_member_uid;  // folded memberUid
  std::vector<std::vector<size_t>> closure;  // per group: itself and every group containing it

  explicit MembershipIndex(const std::vector<GroupInfo>& all);

  // The same membership the incremental path's Flatten gives: groups listing the user's DN,
  // its uid (memberUid) or named in its memberOf, and every group containing those.
  std::set<std::string> GroupsOf(const ldap::LdapEntry& entry, const std::string& username) const;
};

}  // namespace idsync::sync
