// A run's groups and deletions: the users' DN and uid maps, flattened nested memberships, group
// writes, and removing what the server no longer has (see ldap_run.cpp).
#include <algorithm>

#include "base/strings.h"
#include "sync/ldap_entries.h"
#include "sync/ldap_membership_index.h"
#include "sync/ldap_sync_impl.h"

namespace idsync::sync {

using scim::ResourceType;

Status LdapSync::Impl::LoadUserMaps(RunContext& rc) {
  rc.user_by_dn.clear();
  rc.user_by_uid.clear();
  rc.member_of.clear();
  const std::string& username_attr = rc.config().ldap.username_attribute;
  return store.Read([&](store::Transaction& tx) -> Status {
    return tx.ScanResources(rc.connection().id, ResourceType::kUser,
                            [&](const store::StoredResource& r) {
                              rc.user_by_dn[DnKey(r.body.value("dn", ""))] = r.id;
                              std::string name = FirstValue(r.body, username_attr);
                              if (!name.empty()) rc.user_by_uid[FoldCase(name)] = r.id;
                              std::string uid = FirstValue(r.body, "uid");
                              if (!uid.empty()) rc.user_by_uid.emplace(FoldCase(uid), r.id);
                              if (const Json* groups = Values(r.body, "memberOf")) {
                                for (const auto& g : *groups) {
                                  if (g.is_string()) {
                                    rc.member_of[DnKey(g.get<std::string>())].push_back(r.id);
                                  }
                                }
                              }
                              return true;
                            });
  });
}

std::vector<std::set<std::string>> LdapSync::Impl::Flatten(RunContext& rc,
                                                           const std::vector<GroupInfo>& groups) {
  std::unordered_map<std::string, size_t> by_dn;
  for (size_t i = 0; i < groups.size(); ++i) by_dn[DnKey(groups[i].dn)] = i;
  // Each group's direct users, and its member groups (a DN that names a user is not a group).
  std::vector<std::set<std::string>> direct(groups.size());
  std::vector<std::vector<size_t>> children(groups.size());
  for (size_t h = 0; h < groups.size(); ++h) {
    for (const auto& dn : groups[h].member_dns) {
      if (auto u = rc.user_by_dn.find(dn); u != rc.user_by_dn.end()) {
        direct[h].insert(u->second);
      } else if (auto g = by_dn.find(dn); g != by_dn.end()) {
        children[h].push_back(g->second);
      }
    }
    for (const auto& uid : groups[h].member_uids) {
      if (auto u = rc.user_by_uid.find(uid); u != rc.user_by_uid.end()) direct[h].insert(u->second);
    }
    if (auto m = rc.member_of.find(DnKey(groups[h].dn)); m != rc.member_of.end()) {
      direct[h].insert(m->second.begin(), m->second.end());
    }
  }
  std::vector<std::set<std::string>> out(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    for (size_t h : Reachable(i, children)) out[i].insert(direct[h].begin(), direct[h].end());
  }
  return out;
}

Status LdapSync::Impl::ApplyGroups(RunContext& rc, const std::vector<GroupInfo>& groups) {
  auto members = Flatten(rc, groups);
  const size_t step = std::max<size_t>(1, static_cast<size_t>(rc.config().batch_size) / 5);
  for (size_t from = 0; from < groups.size(); from += step) {
    const size_t to = std::min(groups.size(), from + step);
    Status st = WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
      const store::Connection& c = rc.connection();
      std::set<std::string> affected;
      for (size_t i = from; i < to; ++i) {
        const GroupInfo& g = groups[i];
        auto what = PutGroup(tx, c, g);
        if (!what) return what.error();
        if (*what == "created") Bump(counts, "groups_created");
        if (*what == "updated" || *what == "renamed") Bump(counts, "groups_updated");
        auto current = tx.ListMembers(c.id, g.id);
        if (!current) return current.error();
        std::set<std::string> have;
        for (const auto& m : *current) have.insert(m.value);
        bool touched = false;
        for (const auto& id : members[i]) {
          if (have.count(id)) continue;
          auto added = tx.AddMember(c.id, g.id, store::Member{id, "User", ""});
          if (!added) return added.error();
          affected.insert(id);
          touched = true;
          Bump(counts, "memberships_added");
        }
        for (const auto& id : have) {
          if (members[i].count(id)) continue;
          auto removed = tx.RemoveMember(c.id, g.id, id);
          if (!removed) return removed.error();
          affected.insert(id);
          touched = true;
          Bump(counts, "memberships_removed");
        }
        if (*what == "renamed") affected.insert(members[i].begin(), members[i].end());
        if (touched && *what == "unchanged") {
          if (Status s = tx.TouchResource(c.id, ResourceType::kGroup, g.id, clock.Now()); !s) {
            return s;
          }
        }
      }
      return Notify(tx, c, std::move(affected), rc.options.request_id, "sync");
    });
    if (!st) return st;
  }
  return Status::Ok();
}

Result<std::vector<std::string>> LdapSync::Impl::MirrorIds(RunContext& rc, ResourceType type) {
  std::vector<std::string> ids;
  constexpr int64_t kPage = 5000;
  Status st = store.Read([&](store::Transaction& tx) -> Status {
    for (int64_t offset = 0;; offset += kPage) {
      auto page = tx.ListResourcesText(rc.connection().id, type, offset, kPage);
      if (!page) return page.error();
      for (const auto& r : *page) ids.push_back(r.id);
      if (static_cast<int64_t>(page->size()) < kPage) return Status::Ok();
    }
  });
  if (!st) return st.error();
  return ids;
}

Status LdapSync::Impl::DeleteGroups(RunContext& rc, const std::vector<std::string>& ids) {
  if (ids.empty()) return Status::Ok();
  return WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
    const store::Connection& c = rc.connection();
    std::set<std::string> affected;
    for (const auto& id : ids) {
      auto current = tx.ListMembers(c.id, id);
      if (!current) return current.error();
      for (const auto& m : *current) affected.insert(m.value);
      if (Status s = tx.DeleteResource(c.id, ResourceType::kGroup, id); !s) return s;
      Bump(counts, "groups_removed");
      // The group's memberships go with it: counted like any other membership removed.
      Bump(counts, "memberships_removed", static_cast<int64_t>(current->size()));
    }
    return Notify(tx, c, std::move(affected), rc.options.request_id, "sync");
  });
}

Status LdapSync::Impl::DeleteUsers(RunContext& rc, const std::vector<std::string>& ids) {
  rc.run.progress["phase"] = "deletions";
  const size_t step = static_cast<size_t>(rc.config().batch_size);
  for (size_t from = 0; from < ids.size(); from += step) {
    const size_t to = std::min(ids.size(), from + step);
    Status st = WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
      const store::Connection& c = rc.connection();
      std::set<std::string> gone(ids.begin() + static_cast<std::ptrdiff_t>(from),
                                 ids.begin() + static_cast<std::ptrdiff_t>(to));
      for (const auto& id : gone) {
        if (Status s = tx.DeleteResource(c.id, ResourceType::kUser, id);
            !s && s.error().code != ErrorCode::kNotFound) {
          return s;
        }
      }
      if (Status s = Notify(tx, c, gone, rc.options.request_id, "delete"); !s) return s;
      for (const auto& id : gone) {
        bool disabled = false;
        if (auto link = tx.GetLink(c.id, id)) {
          if (auto user = tx.GetEffectiveUser(link->directory, link->effective_user_id)) {
            disabled = user->state == "disabled";
          }
        }
        Bump(counts, disabled ? "disabled" : "removed");
      }
      return Status::Ok();
    });
    if (!st) return st;
  }
  return Status::Ok();
}

Status LdapSync::Impl::PutGroups(RunContext& rc, const std::vector<GroupInfo>& groups) {
  const size_t step = static_cast<size_t>(rc.config().batch_size);
  for (size_t from = 0; from < groups.size(); from += step) {
    const size_t to = std::min(groups.size(), from + step);
    Status st = WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
      const store::Connection& c = rc.connection();
      std::set<std::string> affected;
      for (size_t i = from; i < to; ++i) {
        auto what = PutGroup(tx, c, groups[i]);
        if (!what) return what.error();
        if (*what == "created") Bump(counts, "groups_created");
        if (*what == "updated" || *what == "renamed") Bump(counts, "groups_updated");
        if (*what == "renamed") {
          auto members = tx.ListMembers(c.id, groups[i].id);
          if (!members) return members.error();
          for (const auto& m : *members) affected.insert(m.value);
        }
      }
      return Notify(tx, c, std::move(affected), rc.options.request_id, "sync");
    });
    if (!st) return st;
  }
  return Status::Ok();
}

}  // namespace idsync::sync
