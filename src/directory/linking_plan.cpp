// The linking decision over a compact model (see linking_plan.h).
#include "directory/linking_plan.h"

#include <algorithm>
#include <climits>
#include <deque>
#include <map>
#include <string_view>

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
// About 200 bytes a user (id, key, its entry in the id index, the connection bits).
struct UserModel {
  std::string id;
  std::string key;
  int best_ordinal = INT_MAX;  // the connection of the source the key comes from
};

struct Unlinked {
  int ordinal = 0;
  std::string source_user_id;
  std::string name;
  std::string key;
};

// Present connections of each user, a bit per connection ordinal.
class Bits {
 public:
  explicit Bits(size_t connections) : words_((connections + 63) / 64) {}
  void Add() { bits_.resize(bits_.size() + words_, 0); }
  bool Get(size_t user, size_t ord) const {
    return (bits_[user * words_ + ord / 64] >> (ord % 64)) & 1U;
  }
  void Set(size_t user, size_t ord) {
    bits_[user * words_ + ord / 64] |= uint64_t{1} << (ord % 64);
  }

 private:
  size_t words_;
  std::vector<uint64_t> bits_;
};

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

  // Stored users in store order (pk), the order link-key lookups return them. A deque, so that
  // the index's keys (views of the ids) stay valid as it grows.
  std::deque<UserModel> users;
  std::unordered_map<std::string_view, uint32_t> rank;
  Bits present(conns.size());
  Status st = tx.ScanEffectiveUsers(dir, [&](const store::EffectiveUserRow& row) {
    UserModel u;
    u.id = row.id;
    u.key = row.link_key;
    users.push_back(std::move(u));
    present.Add();
    rank.emplace(users.back().id, static_cast<uint32_t>(users.size() - 1));
    return true;
  });
  if (!st) return st.error();

  // The key a user takes from its sources of connection `ord`, when it has two present ones
  // there (rare: linking never joins a second one; a source made mappable again can be): the
  // first by source id, read again from the links.
  auto key_within = [&](uint32_t user, int64_t conn) -> Result<std::string> {
    auto links = tx.LinksOf(dir, users[user].id);
    if (!links) return links.error();
    std::string best_sid, key;
    for (const auto& l : *links) {
      if (l.connection_id != conn) continue;
      auto s = LoadSource(tx, scope, conn, l.source_user_id, l.source_name);
      if (!s) return s.error();
      if (!s->present || s->link_key.empty()) continue;
      if (best_sid.empty() || l.source_user_id < best_sid) {
        best_sid = l.source_user_id;
        key = s->link_key;
      }
    }
    return key;
  };

  // Every source user in the mirrors, connection by connection in SourceBefore order: linked
  // ones shape their user's model, unlinked present ones are to be decided. Tombstones in the
  // mirror (linked, not mappable) by name.
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
        const auto i = static_cast<uint32_t>(user);
        UserModel& u = users[i];
        if (s.present) {
          const bool second = present.Get(i, ord);
          present.Set(i, ord);
          if (!s.link_key.empty()) {
            // Connections come in SourceBefore order: an earlier one's key stays.
            if (u.best_ordinal > static_cast<int>(ord)) {
              u.key = s.link_key;
              u.best_ordinal = static_cast<int>(ord);
            } else if (second && u.best_ordinal == static_cast<int>(ord)) {
              auto key = key_within(i, conn);
              if (!key) {
                failed = key.error();
                return false;
              }
              u.key = std::move(*key);
            }
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

  // Holders of each link key an unlinked source carries, in store order: a join moves its user
  // to the joining source's key, so no other key is ever looked up.
  std::unordered_map<std::string, std::vector<uint32_t>> holders;
  for (const auto& s : unlinked) {
    if (!s.key.empty()) holders.emplace(s.key, std::vector<uint32_t>());
  }
  for (uint32_t i = 0; i < users.size(); ++i) {
    auto h = holders.find(users[i].key);
    if (h != holders.end()) {
      h->second.push_back(i);
    } else {
      std::string().swap(users[i].key);  // never looked up
    }
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
        if (plan.dropped.count({conn, sid}) || present.Get(u, s.ordinal)) continue;
        target = u;
        replaced = sid;
        plan.dropped.insert({conn, sid});
        break;
      }
    }
    if (target < 0 && !s.key.empty()) {
      if (auto h = holders.find(s.key); h != holders.end()) {
        for (uint32_t u : h->second) {
          if (!present.Get(u, s.ordinal)) {
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
    present.Set(static_cast<size_t>(target), static_cast<size_t>(s.ordinal));
    // The joining source comes from a connection the user holds no present source of, so its
    // order against the user's key source is by connection alone.
    if (!s.key.empty() && s.ordinal < u.best_ordinal) {
      if (!u.key.empty()) {
        auto& old = holders[u.key];
        old.erase(std::remove(old.begin(), old.end(), static_cast<uint32_t>(target)), old.end());
      }
      auto& now = holders[s.key];
      now.insert(std::lower_bound(now.begin(), now.end(), static_cast<uint32_t>(target)),
                 static_cast<uint32_t>(target));
      u.key = s.key;
      u.best_ordinal = s.ordinal;
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
