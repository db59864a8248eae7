// The whole directory at once: the plan of every effective user from every source user, used by
// the policy preview (nothing written), apply (policy stored, plan written) and re-derivation
// (repair). The plan is written in WriteOrder, and the preview counts the same order, so that
// the preview cannot drift from the apply.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "base/strings.h"
#include "base/uuid.h"
#include "directory/derivation.h"
#include "directory/directory_service.h"
#include "directory/streamed_plan.h"
#include "directory/writer.h"
#include "policy/diff.h"
#include "scim/types.h"

namespace idsync::directory {

using policy::EffectiveUser;
using policy::UserState;
using scim::ResourceType;

namespace {

struct DirectoryPlan {
  std::vector<PlannedUser> users;  // every effective user after the plan: stored, then new
  std::map<std::string, store::EffectiveUserRow> current;  // stored rows by id
  // Tombstones replaced by the same person's new source user (re-provisioning).
  std::vector<std::pair<int64_t, std::string>> dropped_links;
};

using Rows = std::map<std::string, store::EffectiveUserRow>;
using Visit = std::function<void(PlannedUser&, const store::EffectiveUserRow*, bool)>;
std::vector<PlannedUser*> WriteOrder(std::vector<PlannedUser>& users, const Rows& current);
// `visit(user, stored row or null, name refused)` for each user a write of `users` leaves in the
// directory, in WriteOrder, with the username rule WriteUser applies (a new user whose name is
// held is not imported, so not visited; a renamed one keeps its name: refused).
void VisitWritten(std::vector<PlannedUser>& users, const Rows& current, const Visit& visit);

// Plans every effective user of the directory from every source user of its connections, by
// the rules the incremental path (derivation.cpp, DeriveRound) applies one write at a time:
// linked sources stay with their user; an unlinked present source re-provisions the user of
// its connection's tombstone of the same name, else joins the first user holding its link key
// that holds no present source of its connection, else becomes a new user.
Result<DirectoryPlan> PlanDirectory(store::Transaction& tx, const Scope& scope) {
  DirectoryPlan plan;
  const std::string& dir = scope.directory.name;
  std::vector<std::string> stored;  // ids in store order (pk), as link-key lookups return them
  Status st = tx.ScanEffectiveUsers(dir, [&](const store::EffectiveUserRow& row) {
    stored.push_back(row.id);
    plan.current.emplace(row.id, row);
    return true;
  });
  if (!st) return st.error();
  // Every source user (present ones from the mirrors, tombstones from the links).
  std::vector<SourceState> all;
  std::map<std::pair<int64_t, std::string>, store::SourceLink> links;
  for (const auto& [conn_id, info] : scope.connections) {
    auto conn_links = tx.LinksOfConnection(conn_id);
    if (!conn_links) return conn_links.error();
    for (auto& l : *conn_links) links[{conn_id, l.source_user_id}] = std::move(l);
    // Source groups per user, from the groups' member rows (one pass, not one query per user).
    std::unordered_map<std::string, std::vector<policy::SourceGroup>> groups_of;
    std::vector<std::pair<std::string, std::string>> groups;
    st = tx.ScanResources(conn_id, ResourceType::kGroup, [&](const store::StoredResource& g) {
      groups.emplace_back(g.id, g.body.value("displayName", ""));
      return true;
    });
    if (!st) return st.error();
    for (const auto& [gid, name] : groups) {
      auto members = tx.ListMembers(conn_id, gid);
      if (!members) return members.error();
      for (const auto& m : *members) groups_of[m.value].push_back({gid, name});
    }
    std::set<std::string> seen;
    st = tx.ScanResources(conn_id, ResourceType::kUser, [&](const store::StoredResource& r) {
      seen.insert(r.id);
      // In group creation order, as GroupsOf returns them (the incremental path), so that
      // both paths build identical grant lists.
      std::vector<policy::SourceGroup> of;
      if (auto it = groups_of.find(r.id); it != groups_of.end()) of = it->second;
      SourceState s = SourceFromBody(scope, conn_id, r.id, r.body, std::move(of));
      if (!s.present) s.groups.clear();
      if (auto l = links.find({conn_id, r.id}); s.source_name.empty() && l != links.end()) {
        s.source_name = l->second.source_name;
      }
      all.push_back(std::move(s));
      return true;
    });
    if (!st) return st.error();
    for (auto it = links.lower_bound({conn_id, ""}); it != links.end() && it->first.first == conn_id;
         ++it) {
      if (seen.count(it->second.source_user_id)) continue;
      SourceState gone;
      gone.connection_id = conn_id;
      gone.source_user_id = it->second.source_user_id;
      gone.source_name = it->second.source_name;
      all.push_back(std::move(gone));
    }
  }
  std::sort(all.begin(), all.end(),
            [&](const SourceState& a, const SourceState& b) { return SourceBefore(scope, a, b); });

  // Linked sources stay with their user (links are sticky).
  std::map<std::string, std::vector<SourceState>> by_user;
  std::vector<SourceState> unlinked;
  std::map<std::pair<int64_t, std::string>, std::vector<std::pair<std::string, std::string>>>
      tombstones;  // (connection, source name) -> (source user id, user id), by source user id
  for (auto& s : all) {
    auto l = links.find({s.connection_id, s.source_user_id});
    if (l != links.end() && plan.current.count(l->second.effective_user_id)) {
      const std::string& id = l->second.effective_user_id;
      if (!s.present && !s.source_name.empty()) {
        tombstones[{s.connection_id, s.source_name}].emplace_back(s.source_user_id, id);
      }
      by_user[id].push_back(std::move(s));
    } else if (s.present) {
      unlinked.push_back(std::move(s));
    }
  }
  for (auto& [k, list] : tombstones) std::sort(list.begin(), list.end());
  auto holds_present = [&](const std::string& id, int64_t conn) {
    auto it = by_user.find(id);
    if (it == by_user.end()) return false;
    for (const auto& s : it->second) {
      if (s.present && s.connection_id == conn) return true;
    }
    return false;
  };
  // The link key each stored user will hold (its first present source's in SourceBefore order;
  // a user with none keeps its stored key, see Merge), indexed in store order.
  std::vector<std::string> order = stored;
  std::map<std::string, size_t> rank;
  for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
  std::map<std::string, std::string> key_of;
  std::map<std::string, std::set<std::pair<size_t, std::string>>> holders;
  auto rekey = [&](const std::string& id) {
    std::string key;
    auto& sources = by_user[id];
    std::sort(sources.begin(), sources.end(), [&](const SourceState& a, const SourceState& b) {
      return SourceBefore(scope, a, b);
    });
    for (const auto& s : sources) {
      if (s.present && !s.link_key.empty()) {
        key = s.link_key;
        break;
      }
    }
    if (key.empty()) {
      if (auto row = plan.current.find(id); row != plan.current.end()) key = row->second.link_key;
    }
    auto old = key_of.find(id);
    if (old != key_of.end()) {
      if (old->second == key) return;
      holders[old->second].erase({rank[id], id});
    }
    key_of[id] = key;
    if (!key.empty()) holders[key].insert({rank[id], id});
  };
  for (const auto& id : stored) rekey(id);

  std::set<std::pair<int64_t, std::string>> replaced;
  for (auto& s : unlinked) {
    std::string target;
    if (!s.source_name.empty()) {
      auto t = tombstones.find({s.connection_id, s.source_name});
      for (size_t i = 0; t != tombstones.end() && i < t->second.size(); ++i) {
        const auto& [sid, id] = t->second[i];
        if (replaced.count({s.connection_id, sid}) || holds_present(id, s.connection_id)) continue;
        target = id;
        replaced.insert({s.connection_id, sid});
        plan.dropped_links.emplace_back(s.connection_id, sid);
        break;
      }
    }
    if (target.empty() && !s.link_key.empty()) {
      if (auto h = holders.find(s.link_key); h != holders.end()) {
        for (const auto& [r, id] : h->second) {
          if (!holds_present(id, s.connection_id)) {
            target = id;
            break;
          }
        }
      }
    }
    if (target.empty()) {
      // A new user: linking joins sources to users that exist, so it holds no key for the
      // sources after it (live, the first of them is written before the next arrives, and a
      // pending source that its key then admits is retried: RetryPending).
      target = NewOrderedUuid();
      order.push_back(target);
      by_user[target].push_back(std::move(s));
      continue;
    }
    by_user[target].push_back(std::move(s));
    rekey(target);
  }
  for (const auto& [conn, sid] : replaced) {
    for (auto& [id, sources] : by_user) {
      sources.erase(std::remove_if(sources.begin(), sources.end(),
                                   [&, c = conn, i = sid](const SourceState& x) {
                                     return x.connection_id == c && x.source_user_id == i;
                                   }),
                    sources.end());
    }
  }

  // groups.import off grants only into groups that exist: those stored, and those this plan's
  // other grants create (a first pass finds them). Only the grants of users the write leaves in
  // the directory create a group: not those of users removed or not imported, nor of new users
  // whose username is held (pending, as live: a conflict creates no group, see VisitWritten).
  bool existing_only = false;
  for (const auto& [id, info] : scope.connections) {
    const policy::Policy* pol = scope.PolicyOf(id);
    existing_only = existing_only || (pol && !pol->groups.import);
  }
  policy::GroupExists exists;
  Status lookup;  // StoredGroups' failed lookup, if any
  if (existing_only) {
    std::set<std::string> created;
    std::vector<PlannedUser> first;
    for (const auto& id : order) {
      auto row = plan.current.find(id);
      std::optional<store::EffectiveUserRow> prev;
      if (row != plan.current.end()) prev = row->second;
      auto it = by_user.find(id);
      if (it == by_user.end()) {
        first.push_back(Merge(scope, id, {}, prev, prev ? prev->link_key : "", {}));
        continue;
      }
      first.push_back(Merge(scope, id, it->second, prev, "", {}));
    }
    VisitWritten(first, plan.current, [&](PlannedUser& u, const store::EffectiveUserRow*, bool) {
      for (const auto& [key, m] : u.user.memberships) {
        for (const auto& g : m.grants) {
          if (!g.existing_only) created.insert(key);
        }
      }
    });
    exists = [stored_groups = StoredGroups(tx, dir, &lookup), created](const std::string& name) {
      return created.count(FoldCase(name)) > 0 || stored_groups(name);
    };
  }
  for (const auto& id : order) {
    auto row = plan.current.find(id);
    std::optional<store::EffectiveUserRow> prev;
    if (row != plan.current.end()) prev = row->second;
    auto it = by_user.find(id);
    if (it == by_user.end()) {
      // Stored users that no source links any more stay as they are (see MergeUser).
      plan.users.push_back(Merge(scope, id, {}, prev, prev ? prev->link_key : "", exists));
      continue;
    }
    plan.users.push_back(Merge(scope, id, std::move(it->second), prev, "", exists));
  }
  if (!lookup) return lookup.error();
  return plan;
}

policy::DirectorySnapshot SnapshotOf(const std::map<std::string, store::EffectiveUserRow>& rows) {
  policy::DirectorySnapshot snap;
  for (const auto& [id, row] : rows) snap[id] = policy::Snapshot(UserOf(row));
  return snap;
}

// The order in which a plan's users are written, and so previewed: users leaving first, then
// users keeping their stored username, then the rest. A name's holder never changes hands, and a
// name given up in the same plan is free for the user who takes it. One function for both, so
// the preview cannot drift from the apply.
std::vector<PlannedUser*> WriteOrder(std::vector<PlannedUser>& users, const Rows& current) {
  std::vector<PlannedUser*> order;
  for (auto& u : users) order.push_back(&u);
  auto rank = [&](const PlannedUser* u) {
    if (u->user.state == UserState::kRemoved || u->user.state == UserState::kNotImported) return 0;
    auto row = current.find(u->id);
    if (row != current.end() && row->second.username_key == FoldCase(UsernameOf(u->user))) {
      return 1;
    }
    return 2;
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const PlannedUser* a, const PlannedUser* b) { return rank(a) < rank(b); });
  return order;
}

std::vector<PlannedUser*> WriteOrder(DirectoryPlan& plan) {
  return WriteOrder(plan.users, plan.current);
}

void VisitWritten(std::vector<PlannedUser>& users, const Rows& current, const Visit& visit) {
  std::map<std::string, std::string> owner;  // FoldCase(username) -> id
  for (PlannedUser* u : WriteOrder(users, current)) {
    if (u->user.state == UserState::kRemoved || u->user.state == UserState::kNotImported) continue;
    std::string key = FoldCase(UsernameOf(u->user));
    auto row = current.find(u->id);
    const store::EffectiveUserRow* stored = row == current.end() ? nullptr : &row->second;
    if (auto o = owner.find(key); o != owner.end() && o->second != u->id) {
      if (!stored) continue;  // not imported
      owner[stored->username_key] = u->id;
      visit(*u, stored, true);
      continue;
    }
    owner[key] = u->id;
    visit(*u, stored, false);
  }
}

// What the plan would leave, with the username rule applied as WriteUser applies it (a new
// user whose name is held is not imported; a renamed one keeps its name), in WriteOrder.
policy::DirectorySnapshot SnapshotOf(DirectoryPlan& plan, int64_t* conflicts) {
  policy::DirectorySnapshot snap;
  int64_t admitted = 0, candidates = 0;
  for (const auto& u : plan.users) {
    const UserState st = u.user.state;
    if (st != UserState::kRemoved && st != UserState::kNotImported) ++candidates;
  }
  VisitWritten(plan.users, plan.current,
               [&](PlannedUser& u, const store::EffectiveUserRow* row, bool refused) {
                 ++admitted;
                 if (refused) {
                   ++*conflicts;
                   // The plan itself stays as planned: WriteUser applies the same rule, and
                   // records the refused rename as a conflict.
                   policy::EffectiveUser kept = u.user;
                   kept.attributes["username"].value = row->username;
                   snap[u.id] = policy::Snapshot(kept);
                   return;
                 }
                 snap[u.id] = policy::Snapshot(u.user);
               });
  *conflicts += candidates - admitted;  // new users not imported
  return snap;
}

}  // namespace

Result<std::string> DirectoryOfConnection(store::Store& store, const std::string& name,
                                          store::Connection* out) {
  std::string dir;
  Status st = store.Read([&](store::Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName(name);
    if (!c) {
      if (c.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound, "no connection named \"" + name + "\"");
      }
      return c.error();
    }
    *out = *c;
    dir = c->directory;
    return Status::Ok();
  });
  if (!st) return st.error();
  return dir;
}


Result<Json> DirectoryService::ValidatePolicy(const std::string& connection, const Json& policy) {
  store::Connection conn;
  auto dir = DirectoryOfConnection(impl_->store, connection, &conn);
  if (!dir) return dir.error();
  Json out;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto d = tx.GetDirectory(*dir);
    if (!d) return d.error();
    auto custom = impl_->Custom(*d, impl_->SeesCommittedConfig(tx));
    if (!custom) return custom.error();
    auto parsed = policy::ParsePolicy(policy, Impl::ContextOf(conn, **custom));
    if (!parsed) return parsed.error();
    out = policy::PolicyToJson(*parsed);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<Json> DirectoryService::GetPolicy(const std::string& connection) {
  store::Connection conn;
  auto dir = DirectoryOfConnection(impl_->store, connection, &conn);
  if (!dir) return dir.error();
  Json out;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto d = tx.GetDirectory(*dir);
    if (!d) return d.error();
    const bool remember = impl_->SeesCommittedConfig(tx);
    auto custom = impl_->Custom(*d, remember);
    if (!custom) return custom.error();
    auto info = impl_->Info(tx, conn, *d, **custom, remember);
    if (!info) return info.error();
    out = {{"connection", conn.name},
           {"directory", conn.directory},
           {"version", info->policy_version},
           {"policy", policy::PolicyToJson(*info->policy)}};
    auto stored = tx.GetPolicy(conn.id);
    if (stored) {
      out["time"] = FormatRfc3339(stored->time);
      out["actor"] = stored->actor;
    }
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<Json> DirectoryService::PolicyVersions(const std::string& connection) {
  store::Connection conn;
  auto dir = DirectoryOfConnection(impl_->store, connection, &conn);
  if (!dir) return dir.error();
  Json out = Json::array();
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto versions = tx.ListPolicyVersions(conn.id);
    if (!versions) return versions.error();
    std::sort(versions->begin(), versions->end(),
              [](const auto& a, const auto& b) { return a.version > b.version; });
    for (const auto& v : *versions) {
      out.push_back({{"version", v.version},
                     {"time", FormatRfc3339(v.time)},
                     {"actor", v.actor},
                     {"comment", v.comment},
                     {"policy", v.body}});
    }
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

namespace {

// Preview counts in the JSON shape of policy::DiffToJson's "counts", plus conflicts.
Json PreviewOf(const policy::DirectorySnapshot& before, const policy::DirectorySnapshot& after,
               int64_t conflicts, size_t max_items) {
  policy::DirectoryDiff diff = policy::Diff(before, after);
  Json out = policy::DiffToJson(diff, max_items);
  out["conflicts"] = conflicts;
  return out;
}

}  // namespace

Result<Json> DirectoryService::PreviewPolicy(const std::string& connection, const Json& policy,
                                             const PreviewOptions& options) {
  store::Connection conn;
  auto dir = DirectoryOfConnection(impl_->store, connection, &conn);
  if (!dir) return dir.error();
  Json out;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto scope = LoadScope(*impl_, tx, *dir);
    if (!scope) return scope.error();
    auto parsed = policy::ParsePolicy(policy, Impl::ContextOf(conn, *scope->custom));
    if (!parsed) return parsed.error();
    scope->overrides[conn.id] = std::make_shared<const policy::Policy>(std::move(*parsed));
    if (tx.KeepsPolicyApplies()) {
      // Streamed: in the steady state the users page by page; otherwise the linking decision
      // over a compact model first (its model costs memory per stored user: only when needed).
      auto streamable = Streamable(tx, *scope);
      if (!streamable) return streamable.error();
      std::optional<LinkingPlan> linking;
      if (!*streamable) {
        auto plan = PlanLinking(tx, *scope);
        if (!plan) return plan.error();
        linking = std::move(*plan);
      }
      auto preview = StreamPreview(tx, *scope, options.max_items, linking ? &*linking : nullptr);
      if (!preview) return preview.error();
      out = std::move(*preview);
      return Status::Ok();
    }
    auto plan = PlanDirectory(tx, *scope);
    if (!plan) return plan.error();
    int64_t conflicts = 0;
    policy::DirectorySnapshot after = SnapshotOf(*plan, &conflicts);
    out = PreviewOf(SnapshotOf(plan->current), after, conflicts, options.max_items);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<Json> ApplyPlan(DirectoryService::Impl& impl, store::Transaction& tx, Scope& scope,
                       const Json& cause, size_t max_items) {
  auto plan = PlanDirectory(tx, scope);
  if (!plan) return plan.error();
  int64_t conflicts = 0;
  policy::DirectorySnapshot before = SnapshotOf(plan->current);
  policy::DirectorySnapshot after = SnapshotOf(*plan, &conflicts);
  Json out = PreviewOf(before, after, conflicts, max_items);
  Writer w(impl, tx, scope, cause, impl.clock.Now());
  for (const auto& [conn, sid] : plan->dropped_links) {
    if (Status s = tx.DeleteLink(conn, sid); !s) return s.error();
  }
  for (PlannedUser* u : WriteOrder(*plan)) {
    auto row = plan->current.find(u->id);
    std::optional<store::EffectiveUserRow> prev;
    if (row != plan->current.end()) prev = row->second;
    if (Status s = w.WriteUser(*u, prev); !s) return s.error();
  }
  // A name given up by a user written after the one that wanted it: that one's rename was
  // refused when it was written; it is retried now, as a live write would retry it.
  if (Status s = RetryPending(tx, scope, w); !s) return s.error();
  if (w.wrote_change) impl.pending_notify = true;
  out["applied"] = CountsJson(w.counts);
  return out;
}

}  // namespace idsync::directory
