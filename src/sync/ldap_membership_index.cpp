// MembershipIndex: see ldap_membership_index.h.
#include "sync/ldap_membership_index.h"

#include "base/strings.h"
#include "sync/ldap_entries.h"

namespace idsync::sync {

using ldap::LdapEntry;

std::vector<size_t> Reachable(size_t from, const std::vector<std::vector<size_t>>& edges) {
  std::vector<size_t> out;
  std::vector<bool> visited(edges.size(), false);
  std::vector<size_t> stack = {from};
  while (!stack.empty()) {
    size_t h = stack.back();
    stack.pop_back();
    if (visited[h]) continue;
    visited[h] = true;
    out.push_back(h);
    for (size_t next : edges[h]) stack.push_back(next);
  }
  return out;
}

MembershipIndex::MembershipIndex(const std::vector<GroupInfo>& all) : groups(&all) {
  for (size_t i = 0; i < all.size(); ++i) by_dn[DnKey(all[i].dn)] = i;
  std::vector<std::vector<size_t>> parents(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    for (const auto& dn : all[i].member_dns) {
      if (auto g = by_dn.find(dn); g != by_dn.end()) {
        parents[g->second].push_back(i);
      } else {
        by_member_dn[dn].push_back(i);
      }
    }
    for (const auto& uid : all[i].member_uids) by_member_uid[uid].push_back(i);
  }
  closure.resize(all.size());
  for (size_t i = 0; i < all.size(); ++i) closure[i] = Reachable(i, parents);
}

std::set<std::string> MembershipIndex::GroupsOf(const LdapEntry& entry, const std::string& username) const {
  std::vector<size_t> direct;
  auto add = [&](const std::vector<size_t>* list) {
    if (list) direct.insert(direct.end(), list->begin(), list->end());
  };
  auto find = [](const auto& map, const std::string& key) {
    auto it = map.find(key);
    return it == map.end() ? nullptr : &it->second;
  };
  add(find(by_member_dn, DnKey(entry.dn)));
  std::set<std::string> uids;
  if (!username.empty()) uids.insert(FoldCase(username));
  if (auto uid = entry.First("uid")) uids.insert(FoldCase(*uid));
  for (const auto& uid : uids) add(find(by_member_uid, uid));
  if (const auto* member_of = entry.Find("memberOf")) {
    for (const auto& dn : *member_of) {
      if (auto g = by_dn.find(DnKey(dn)); g != by_dn.end()) direct.push_back(g->second);
    }
  }
  std::set<std::string> out;
  for (size_t d : direct) {
    for (size_t g : closure[d]) out.insert((*groups)[g].id);
  }
  return out;
}

}  // namespace idsync::sync
