// The whole directory at once: the plan of every effective user from every source user, used by
// the policy preview (nothing written), apply (policy stored, plan written) and re-derivation
// (repair). The plan is written in WriteOrder, and the preview counts the same order, so that
// the preview cannot drift from the apply.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "base/strings.h"
#include "base/uuid.h"
#include "directory/derivation.h"
#include "directory/directory_service.h"
#include "directory/writer.h"
#include "policy/diff.h"
#include "scim/types.h"

namespace idsync::directory {

using policy::EffectiveUser;
using policy::UserState;
using scim::ResourceType;

namespace {

struct DirectoryPlan {
  std::vector<PlannedUser> users;  // every effective user after the plan
  std::map<std::string, store::EffectiveUserRow> current;  // stored rows by id
};

// Plans every effective user of the directory from every source user of its connections.
Result<DirectoryPlan> PlanDirectory(store::Transaction& tx, const Scope& scope) {
  DirectoryPlan plan;
  const std::string& dir = scope.directory.name;
  Status st = tx.ScanEffectiveUsers(dir, [&](const store::EffectiveUserRow& row) {
    plan.current.emplace(row.id, row);
    return true;
  });
  if (!st) return st.error();
  std::map<std::string, std::string> key_owner;  // link key -> stored user id
  for (const auto& [id, row] : plan.current) {
    if (!row.link_key.empty()) key_owner.emplace(row.link_key, id);
  }
  // Every source user (present ones from the mirrors, tombstones from the links).
  std::vector<SourceState> all;
  std::map<std::pair<int64_t, std::string>, std::string> linked;  // source -> effective id
  for (const auto& [conn_id, info] : scope.connections) {
    auto links = tx.LinksOfConnection(conn_id);
    if (!links) return links.error();
    for (const auto& l : *links) linked[{conn_id, l.source_user_id}] = l.effective_user_id;
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
    const policy::Policy* pol = scope.PolicyOf(conn_id);
    std::set<std::string> seen;
    st = tx.ScanResources(conn_id, ResourceType::kUser, [&](const store::StoredResource& r) {
      SourceState s;
      s.connection_id = conn_id;
      s.source_user_id = r.id;
      seen.insert(r.id);
      Json body = r.body;
      body["id"] = r.id;
      auto values = policy::MapUser(*pol, body, *scope.custom);
      if (values) {
        s.values = std::move(*values);
        s.present = true;
        if (auto key = policy::ComputeLinkKey(*pol, s.values)) s.link_key = *key;
        // In group creation order, as GroupsOf returns them (the incremental path), so that
        // both paths build identical grant lists.
        auto it = groups_of.find(r.id);
        if (it != groups_of.end()) s.groups = it->second;
      }
      all.push_back(std::move(s));
      return true;
    });
    if (!st) return st.error();
    for (const auto& l : *links) {
      if (seen.count(l.source_user_id)) continue;
      SourceState gone;
      gone.connection_id = conn_id;
      gone.source_user_id = l.source_user_id;
      all.push_back(std::move(gone));
    }
  }
  std::sort(all.begin(), all.end(),
            [&](const SourceState& a, const SourceState& b) { return SourceBefore(scope, a, b); });
  // Group sources into effective users: by link key; tombstones and key-less sources by their
  // current link; new groups get new ids.
  std::map<std::string, std::vector<SourceState>> by_user;
  std::map<std::string, std::string> key_user;  // link key -> effective id in this plan
  std::set<std::string> claimed;                // effective ids taken by some key group
  for (auto& s : all) {
    auto lk = linked.find({s.connection_id, s.source_user_id});
    std::string current = lk == linked.end() ? "" : lk->second;
    if (!current.empty() && !plan.current.count(current)) current.clear();
    std::string id;
    if (s.present && !s.link_key.empty()) {
      auto k = key_user.find(s.link_key);
      if (k != key_user.end()) {
        id = k->second;
      } else {
        if (auto o = key_owner.find(s.link_key); o != key_owner.end() && !claimed.count(o->second)) {
          id = o->second;
        } else if (!current.empty() && !claimed.count(current)) {
          id = current;
        } else {
          id = NewUuid();
        }
        key_user[s.link_key] = id;
        claimed.insert(id);
      }
    } else if (!current.empty()) {
      id = current;
    } else if (s.present) {
      id = NewUuid();
    } else {
      continue;
    }
    by_user[id].push_back(std::move(s));
  }
  for (auto& [id, sources] : by_user) {
    auto row = plan.current.find(id);
    std::optional<store::EffectiveUserRow> prev;
    if (row != plan.current.end()) prev = row->second;
    plan.users.push_back(Merge(scope, id, std::move(sources), prev, ""));
  }
  // Stored users that no source links any more stay as they are (see MergeUser).
  for (const auto& [id, row] : plan.current) {
    if (by_user.count(id)) continue;
    plan.users.push_back(Merge(scope, id, {}, row, row.link_key));
  }
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
std::vector<PlannedUser*> WriteOrder(DirectoryPlan& plan) {
  std::vector<PlannedUser*> order;
  for (auto& u : plan.users) order.push_back(&u);
  auto rank = [&](const PlannedUser* u) {
    if (u->user.state == UserState::kRemoved || u->user.state == UserState::kNotImported) return 0;
    auto row = plan.current.find(u->id);
    if (row != plan.current.end() && row->second.username_key == FoldCase(UsernameOf(u->user))) {
      return 1;
    }
    return 2;
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const PlannedUser* a, const PlannedUser* b) { return rank(a) < rank(b); });
  return order;
}

// What the plan would leave, with the username rule applied as WriteUser applies it (a new
// user whose name is held is not imported; a renamed one keeps its name), in WriteOrder.
policy::DirectorySnapshot SnapshotOf(DirectoryPlan& plan, int64_t* conflicts) {
  policy::DirectorySnapshot snap;
  std::map<std::string, std::string> owner;  // FoldCase(username) -> id
  for (PlannedUser* u : WriteOrder(plan)) {
    if (u->user.state == UserState::kRemoved || u->user.state == UserState::kNotImported) continue;
    std::string key = FoldCase(UsernameOf(u->user));
    auto row = plan.current.find(u->id);
    if (auto o = owner.find(key); o != owner.end() && o->second != u->id) {
      ++*conflicts;
      if (row == plan.current.end()) continue;  // not imported
      u->user.attributes["username"].value = row->second.username;
      key = row->second.username_key;
    }
    owner[key] = u->id;
    snap[u->id] = policy::Snapshot(u->user);
  }
  return snap;
}

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

}  // namespace

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
  Writer w{impl, tx, scope, cause, impl.clock.Now(), {}, false};
  for (PlannedUser* u : WriteOrder(*plan)) {
    auto row = plan->current.find(u->id);
    std::optional<store::EffectiveUserRow> prev;
    if (row != plan->current.end()) prev = row->second;
    if (Status s = w.WriteUser(*u, prev); !s) return s.error();
  }
  if (w.wrote_change) impl.pending_notify = true;
  out["applied"] = CountsJson(w.counts);
  return out;
}

namespace {

// Paths of the settings that differ between two full policy JSON forms ("groups.mode",
// "attributes.email.sources"), for the version's "what changed".
void ChangedPaths(const Json& a, const Json& b, const std::string& path,
                  std::vector<std::string>& out) {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& [k, v] : b.items()) keys.insert(k);
    for (const auto& k : keys) {
      std::string sub = path.empty() ? k : path + "." + k;
      auto ia = a.find(k);
      auto ib = b.find(k);
      if (ia == a.end() || ib == b.end()) {
        out.push_back(sub);
      } else {
        ChangedPaths(*ia, *ib, sub, out);
      }
    }
    return;
  }
  if (a != b) out.push_back(path);
}

std::string DescribeChange(const Json& before, const Json& after) {
  std::vector<std::string> paths;
  ChangedPaths(before, after, "", paths);
  if (paths.empty()) return "no setting changed";
  std::string out = "changed: ";
  for (size_t i = 0; i < paths.size() && i < 20; ++i) out += (i ? ", " : "") + paths[i];
  if (paths.size() > 20) out += ", and " + std::to_string(paths.size() - 20) + " more";
  return out;
}

}  // namespace

Result<Json> DirectoryService::ApplyPolicy(const std::string& connection, const Json& policy,
                                           const Actor& actor) {
  store::Connection conn;
  auto dir = DirectoryOfConnection(impl_->store, connection, &conn);
  if (!dir) return dir.error();
  Json out;
  Status st = impl_->store.Write([&](store::Transaction& tx) -> Status {
    auto d = tx.GetDirectory(*dir);
    if (!d) return d.error();
    const bool remember = impl_->SeesCommittedConfig(tx);
    auto custom = impl_->Custom(*d, remember);
    if (!custom) return custom.error();
    auto parsed = policy::ParsePolicy(policy, Impl::ContextOf(conn, **custom));
    if (!parsed) return parsed.error();
    store::PolicyVersion v;
    v.connection_id = conn.id;
    v.body = policy::PolicyToJson(*parsed);
    v.time = impl_->clock.Now();
    v.actor = actor.name;
    // What changed, against the policy in force before (stored, or the defaults).
    auto before = impl_->Info(tx, conn, *d, **custom, remember);
    if (!before) return before.error();
    v.comment = DescribeChange(policy::PolicyToJson(*before->policy), v.body) +
                (before->policy_version == 0
                     ? " (from the defaults)"
                     : " (from version " + std::to_string(before->policy_version) + ")");
    auto stored = tx.PutPolicy(v);
    if (!stored) return stored.error();
    auto scope = LoadScope(*impl_, tx, *dir);
    if (!scope) return scope.error();
    Json cause = {{"connection", conn.name},
                  {"request_id", actor.request_id},
                  {"actor", actor.name},
                  {"reason", "policy version " + std::to_string(stored->version) + " applied"}};
    auto applied = ApplyPlan(*impl_, tx, *scope, cause, 100);
    if (!applied) return applied.error();
    out = std::move(*applied);
    out["version"] = stored->version;
    store::AuditRecord a;
    a.time = v.time;
    a.connection_id = conn.id;
    a.connection_name = conn.name;
    a.request_id = actor.request_id;
    a.actor = actor.name;
    a.operation = "policy.apply";
    a.resource_type = "Policy";
    a.resource_id = std::to_string(stored->version);
    a.status = 200;
    a.detail = out["counts"].dump();
    return tx.AppendAudit(a);
  });
  if (!st) return st.error();
  AfterCommit();
  return out;
}

Result<Json> DirectoryService::Rederive(const std::string& directory, const Actor& actor) {
  Json out;
  Status st = impl_->store.Write([&](store::Transaction& tx) -> Status {
    auto scope = LoadScope(*impl_, tx, directory);
    if (!scope) return scope.error();
    Json cause = {{"connection", ""},
                  {"request_id", actor.request_id},
                  {"actor", actor.name},
                  {"reason", "directory re-derived"}};
    auto applied = ApplyPlan(*impl_, tx, *scope, cause, 100);
    if (!applied) return applied.error();
    out = std::move(*applied);
    return Status::Ok();
  });
  if (!st) return st.error();
  AfterCommit();
  return out;
}

}  // namespace idsync::directory
