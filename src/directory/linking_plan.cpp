// The linking decision over a compact model (see linking_plan.h).
#include "directory/linking_plan.h"

#include <algorithm>
#include <climits>
#include <map>

#include "directory/derivation.h"
#include "scim/types.h"

namespace idsync::directory {

using scim::ResourceType;

bool LinkingPlan::Before(const SourceKey& a, const SourceKey& b) const {
  auto oa = ordinal.find(a.first), ob = ordinal.find(b.first);
  const int ra = oa == ordinal.end() ? INT_MAX : oa->second;
  const int rb = ob == ordinal.end() ? INT_MAX : ob->second;
  if (ra != rb) return ra < rb;
  return a.second < b.second;
}

Result<bool> IsLinked(store::Transaction& tx, const Scope& scope, int64_t connection,
                      const std::string& source_user_id) {
  auto link = tx.GetLink(connection, source_user_id);
  if (!link) {
    if (link.error().code == ErrorCode::kNotFound) return false;
    return link.error();
  }
  if (link->directory != scope.directory.name) return false;
  auto user = tx.GetEffectiveUser(scope.directory.name, link->effective_user_id);
  if (!user) {
    if (user.error().code == ErrorCode::kNotFound) return false;
    return user.error();
  }
  return true;
}

namespace {

// A stored user as the decision sees it: the link key it will hold (its first present source's
// in SourceBefore order that has one, else its stored key) and its present connections.
struct UserModel {
  std::string id;
  std::string key;
  int best_ordinal = INT_MAX;  // the source the key comes from
  std::string best_source;
  std::vector<bool> present;  // by connection ordinal
};

struct Unlinked {
  int ordinal = 0;
  std::string source_user_id;
  std::string name;
  std::string key;
};

bool Earlier(int ordinal, const std::string& sid, const UserModel& u) {
  return ordinal != u.best_ordinal ? ordinal < u.best_ordinal : sid < u.best_source;
}

}  // namespace

Result<LinkingPlan> PlanLinking(store::Transaction& tx, const Scope& scope) {
  LinkingPlan plan;
  const std::string& dir = scope.directory.name;
  // Connections in SourceBefore order (priority descending, then id).
  std::vector<int64_t> conns;
  for (const auto& [id, info] : scope.connections) conns.push_back(id);
  auto priority = [&](int64_t id) {
    const policy::Policy* p = scope.PolicyOf(id);
    return p ? p->priority : 0;
  };
  std::sort(conns.begin(), conns.end(), [&](int64_t a, int64_t b) {
    if (priority(a) != priority(b)) return priority(a) > priority(b);
    return a < b;
  });
  for (size_t i = 0; i < conns.size(); ++i) plan.ordinal[conns[i]] = static_cast<int>(i);

  // Stored users in store order (pk), the order link-key lookups return them.
  std::vector<UserModel> users;
  std::unordered_map<std::string, uint32_t> rank;
  Status st = tx.ScanEffectiveUsers(dir, [&](const store::EffectiveUserRow& row) {
    rank.emplace(row.id, static_cast<uint32_t>(users.size()));
    UserModel u;
    u.id = row.id;
    u.key = row.link_key;
    u.present.assign(conns.size(), false);
    users.push_back(std::move(u));
    return true;
  });
  if (!st) return st.error();

  // Every source user in the mirrors: linked ones shape their user's model, unlinked present
  // ones are to be decided. Tombstones in the mirror (linked, not mappable) by name.
  std::vector<Unlinked> unlinked;
  std::map<std::pair<int64_t, std::string>, std::vector<std::pair<std::string, uint32_t>>>
      tombstones;
  for (size_t ord = 0; ord < conns.size(); ++ord) {
    const int64_t conn = conns[ord];
    Status failed = Status::Ok();
    st = tx.ScanResources(conn, ResourceType::kUser, [&](const store::StoredResource& r) {
      SourceState s = SourceFromBody(scope, conn, r.id, r.body, {});
      auto link = tx.GetLink(conn, r.id);
      if (!link && link.error().code != ErrorCode::kNotFound) {
        failed = link.error();
        return false;
      }
      std::string name = s.source_name;
      if (name.empty() && link) name = link->source_name;
      int64_t user = -1;
      if (link && link->directory == dir) {
        if (auto it = rank.find(link->effective_user_id); it != rank.end()) user = it->second;
      }
      if (user >= 0) {
        UserModel& u = users[static_cast<size_t>(user)];
        if (s.present) {
          u.present[ord] = true;
          if (!s.link_key.empty() && Earlier(static_cast<int>(ord), r.id, u)) {
            u.key = s.link_key;
            u.best_ordinal = static_cast<int>(ord);
            u.best_source = r.id;
          }
        } else if (!name.empty()) {
          tombstones[{conn, name}].emplace_back(r.id, static_cast<uint32_t>(user));
        }
      } else if (s.present) {
        unlinked.push_back({static_cast<int>(ord), r.id, std::move(name), s.link_key});
      }
      return true;
    });
    if (!st) return st.error();
    if (!failed) return failed.error();
  }
  std::sort(unlinked.begin(), unlinked.end(), [](const Unlinked& a, const Unlinked& b) {
    return a.ordinal != b.ordinal ? a.ordinal < b.ordinal : a.source_user_id < b.source_user_id;
  });

  // Holders of each link key, in store order.
  std::unordered_map<std::string, std::vector<uint32_t>> holders;
  for (uint32_t i = 0; i < users.size(); ++i) {
    if (!users[i].key.empty()) holders[users[i].key].push_back(i);
  }
  // Tombstones of (connection, name): those in the mirror (above) and the links of sources no
  // longer in it, by source user id.
  std::map<std::pair<int64_t, std::string>, bool> completed;
  auto tombstones_of = [&](int64_t conn, const std::string& name)
      -> Result<const std::vector<std::pair<std::string, uint32_t>>*> {
    auto& list = tombstones[{conn, name}];
    if (completed[{conn, name}]) return &list;
    completed[{conn, name}] = true;
    auto gone = tx.FindTombstones(conn, name);
    if (!gone) return gone.error();
    for (const auto& t : *gone) {
      if (t.directory != dir) continue;
      auto it = rank.find(t.effective_user_id);
      if (it == rank.end()) continue;
      auto in_mirror = tx.GetResource(conn, ResourceType::kUser, t.source_user_id);
      if (in_mirror) continue;  // decided by its mapping, above
      if (in_mirror.error().code != ErrorCode::kNotFound) return in_mirror.error();
      list.emplace_back(t.source_user_id, it->second);
    }
    std::sort(list.begin(), list.end());
    return &list;
  };

  // The decision, source by source in SourceBefore order, as PlanDirectory makes it.
  for (auto& s : unlinked) {
    const int64_t conn = conns[static_cast<size_t>(s.ordinal)];
    int64_t target = -1;
    std::string replaced;
    if (!s.name.empty()) {
      auto list = tombstones_of(conn, s.name);
      if (!list) return list.error();
      for (const auto& [sid, u] : **list) {
        if (plan.dropped.count({conn, sid}) || users[u].present[s.ordinal]) continue;
        target = u;
        replaced = sid;
        plan.dropped.insert({conn, sid});
        break;
      }
    }
    if (target < 0 && !s.key.empty()) {
      if (auto h = holders.find(s.key); h != holders.end()) {
        for (uint32_t u : h->second) {
          if (!users[u].present[s.ordinal]) {
            target = u;
            break;
          }
        }
      }
    }
    if (target < 0) {
      // A new user holds no key for the sources after it (see PlanDirectory).
      plan.fresh.push_back(static_cast<uint32_t>(plan.unlinked.size()));
      plan.unlinked.emplace_back(conn, std::move(s.source_user_id));
      continue;
    }
    plan.unlinked.emplace_back(conn, s.source_user_id);
    UserModel& u = users[static_cast<size_t>(target)];
    u.present[s.ordinal] = true;
    if (!s.key.empty() && Earlier(s.ordinal, s.source_user_id, u) && u.key != s.key) {
      if (!u.key.empty()) {
        auto& old = holders[u.key];
        old.erase(std::remove(old.begin(), old.end(), static_cast<uint32_t>(target)), old.end());
      }
      auto& now = holders[s.key];
      now.insert(std::lower_bound(now.begin(), now.end(), static_cast<uint32_t>(target)),
                 static_cast<uint32_t>(target));
      u.key = s.key;
    }
    if (!s.key.empty() && Earlier(s.ordinal, s.source_user_id, u)) {
      u.best_ordinal = s.ordinal;
      u.best_source = s.source_user_id;
    }
    plan.joins_of[u.id].push_back(plan.joins.size());
    plan.joins.push_back({conn, s.source_user_id, s.name, u.id, replaced});
  }
  return plan;
}

Status WriteLinking(store::Transaction& tx, const Scope& scope, const LinkingPlan& plan) {
  const std::string& dir = scope.directory.name;
  for (const auto& j : plan.joins) {
    auto linked = IsLinked(tx, scope, j.connection, j.source_user_id);
    if (!linked) return linked.error();
    if (*linked) continue;
    auto user = tx.GetEffectiveUser(dir, j.user);
    if (!user) {
      if (user.error().code == ErrorCode::kNotFound) continue;
      return user.error();
    }
    if (!j.replaced.empty()) {
      if (Status s = tx.DeleteLink(j.connection, j.replaced); !s) return s;
    }
    store::SourceLink l;
    l.connection_id = j.connection;
    l.source_user_id = j.source_user_id;
    l.directory = dir;
    l.effective_user_id = j.user;
    l.source_name = j.source_name;
    if (Status s = tx.PutLink(l); !s) return s;
  }
  return Status::Ok();
}

}  // namespace idsync::directory
