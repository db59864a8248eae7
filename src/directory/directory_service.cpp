// Derivation of the effective directory (see directory_service.h and docs/ARCHITECTURE.md,
// "Effective directory").
//
// One plan, two uses: DeriveUsers() plans the effective users linked to a few source users
// (every SCIM write), PlanDirectory() plans every user of a directory (policy preview/apply).
// Both feed the same WriteUser(), which writes only what differs from the stored row and
// appends one change-feed entry per visible change.
#include "directory/directory_service.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <unordered_map>

#include "base/strings.h"
#include "base/uuid.h"
#include "directory/render.h"
#include "policy/diff.h"
#include "policy/mapping.h"
#include "policy/merge.h"
#include "scim/types.h"

namespace idsync::directory {

using policy::EffectiveUser;
using policy::LinkedSource;
using policy::UserState;
using scim::ResourceType;

namespace {

// ---------- EffectiveUser <-> stored body ----------

policy::MembershipRule RuleFromName(std::string_view name) {
  if (name == "manual") return policy::MembershipRule::kManual;
  if (name == "default_new") return policy::MembershipRule::kDefaultNew;
  if (name == "default_all") return policy::MembershipRule::kDefaultAll;
  if (name == "on_the_fly") return policy::MembershipRule::kOnTheFly;
  return policy::MembershipRule::kExisting;
}

UserState StateFromName(std::string_view name) {
  return name == "disabled" ? UserState::kDisabled : UserState::kActive;
}

// Names of connections by uuid, for provenance that an administrator can read.
using ConnectionNames = std::map<std::string, std::string>;

// FoldCase of the effective e-mail (attributes.email.value), "" when there is none: the
// LDAP server's index for (mail=...) filters (EffectiveUserRow::mail_key).
std::string MailKeyOf(const Json& body) {
  auto attrs = body.find("attributes");
  if (attrs == body.end() || !attrs->is_object()) return "";
  auto email = attrs->find("email");
  if (email == attrs->end() || !email->is_object()) return "";
  auto value = email->find("value");
  if (value == email->end() || !value->is_string()) return "";
  return FoldCase(value->get<std::string>());
}

Json BodyOf(const EffectiveUser& user, const ConnectionNames& names,
            const std::map<std::string, std::string>& group_ids) {
  Json attrs = Json::object();
  for (const auto& [name, v] : user.attributes) {
    auto n = names.find(v.connection_id);
    attrs[name] = {{"value", v.value},
                   {"connection", v.connection_id},
                   {"connection_name", n == names.end() ? "" : n->second},
                   {"source_user", v.source_user_id},
                   {"source", v.source},
                   {"rule", v.rule}};
  }
  Json memberships = Json::array();
  for (const auto& [key, m] : user.memberships) {
    Json grants = Json::array();
    for (const auto& g : m.grants) {
      grants.push_back({{"rule", std::string(policy::MembershipRuleName(g.rule))},
                        {"connection", g.connection_id},
                        {"source_group", g.source_group},
                        {"detail", g.detail}});
    }
    auto gid = group_ids.find(key);
    memberships.push_back({{"group", m.group},
                           {"group_id", gid == group_ids.end() ? "" : gid->second},
                           {"grants", std::move(grants)}});
  }
  Json entitlements = Json::array();
  for (const auto& e : user.entitlements) {
    entitlements.push_back({{"value", e.value}, {"group", e.group}});
  }
  return {{"attributes", std::move(attrs)},
          {"memberships", std::move(memberships)},
          {"entitlements", std::move(entitlements)},
          {"state_reason", user.state_reason},
          {"warnings", user.warnings}};
}

EffectiveUser UserOf(const store::EffectiveUserRow& row) {
  EffectiveUser u;
  u.state = StateFromName(row.state);
  u.state_reason = row.body.value("state_reason", "");
  if (auto a = row.body.find("attributes"); a != row.body.end() && a->is_object()) {
    for (const auto& [name, v] : a->items()) {
      policy::EffectiveValue ev;
      ev.value = v.value("value", Json());
      ev.connection_id = v.value("connection", "");
      ev.source_user_id = v.value("source_user", "");
      ev.source = v.value("source", "");
      ev.rule = v.value("rule", "");
      u.attributes[name] = std::move(ev);
    }
  }
  if (auto m = row.body.find("memberships"); m != row.body.end() && m->is_array()) {
    for (const auto& j : *m) {
      policy::EffectiveMembership em;
      em.group = j.value("group", "");
      for (const auto& g : j.value("grants", Json::array())) {
        em.grants.push_back({RuleFromName(g.value("rule", "")), g.value("connection", ""),
                             g.value("source_group", ""), g.value("detail", "")});
      }
      u.memberships[FoldCase(em.group)] = std::move(em);
    }
  }
  if (auto e = row.body.find("entitlements"); e != row.body.end() && e->is_array()) {
    for (const auto& j : *e) u.entitlements.push_back({j.value("value", ""), j.value("group", "")});
  }
  if (auto w = row.body.find("warnings"); w != row.body.end() && w->is_array()) {
    for (const auto& j : *w) {
      if (j.is_string()) u.warnings.push_back(j.get<std::string>());
    }
  }
  return u;
}

std::string UsernameOf(const EffectiveUser& u) {
  auto it = u.attributes.find("username");
  if (it == u.attributes.end() || !it->second.value.is_string()) return "";
  return it->second.value.get<std::string>();
}

}  // namespace

// ---------- per-transaction context: connections, directories and parsed policies ----------

struct ConnectionInfo {
  store::Connection connection;
  std::shared_ptr<const policy::Policy> policy;
  int64_t policy_version = 0;
};

namespace {

// Everything one derivation needs about a directory: loaded per transaction, or copied from
// Impl::scopes when the configuration generation is the one it was loaded at.
struct Scope {
  store::DirectoryRecord directory;
  std::shared_ptr<const policy::CustomAttributeDefs> custom;
  std::map<int64_t, ConnectionInfo> connections;  // by store id
  std::map<std::string, int64_t> by_uuid;
  ConnectionNames names;  // uuid -> name
  // Policies replacing the stored one for a connection (preview/apply).
  std::map<int64_t, std::shared_ptr<const policy::Policy>> overrides;

  const ConnectionInfo* Find(int64_t id) const {
    auto it = connections.find(id);
    return it == connections.end() ? nullptr : &it->second;
  }
  const policy::Policy* PolicyOf(int64_t id) const {
    if (auto o = overrides.find(id); o != overrides.end()) return o->second.get();
    const ConnectionInfo* c = Find(id);
    return c ? c->policy.get() : nullptr;
  }
};

}  // namespace

struct DirectoryService::Impl {
  store::Store& store;
  const Clock& clock;

  // Parsed policies by (connection id, policy version, directory version): parsing compiles
  // RE2 patterns and source paths, far more than one derivation costs. Filled only from
  // transactions that see committed configuration (`remember`, see SeesCommittedConfig): a
  // version put by a transaction that then rolls back is put again, with another body, by the
  // next change.
  std::mutex cache_mu;
  // (connection, policy version, directory version, the connection's username_attribute: the
  // one connection setting a parsed policy depends on, see ContextOf).
  std::map<std::tuple<int64_t, int64_t, int64_t, std::string>,
           std::shared_ptr<const policy::Policy>>
      policies;
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<const policy::CustomAttributeDefs>>
      customs;

  // The scope of each directory as last loaded, with the configuration generation it was loaded
  // at: every input of a Scope (the directory row, the directory's connections, their policy
  // versions) bumps the generation when it changes (triggers of migrations 3 and 5), so a scope
  // loaded at generation g is right for any transaction that reads g. Saves reading and parsing
  // the directory, every connection and every policy row on each SCIM write.
  std::mutex scope_mu;
  std::map<std::string, std::pair<int64_t, std::shared_ptr<const Scope>>> scopes;

  // Change feed wake-up.
  std::mutex feed_mu;
  std::condition_variable feed_cv;
  uint64_t feed_epoch = 0;
  std::atomic<bool> pending_notify{false};  // set inside write jobs, read after commit

  Impl(store::Store& s, const Clock& c) : store(s), clock(c) {}

  // Whether the configuration `tx` sees is committed: a write transaction that changed it sees a
  // generation above the committed one (nothing else commits while it runs).
  bool SeesCommittedConfig(store::Transaction& tx) {
    auto mine = tx.ConfigGeneration();
    auto committed = store.ConfigGeneration();
    return mine && committed && *mine <= *committed;
  }

  Result<std::shared_ptr<const policy::CustomAttributeDefs>> Custom(
      const store::DirectoryRecord& dir, bool remember) {
    std::lock_guard lock(cache_mu);
    auto key = std::make_pair(dir.name, dir.version);
    if (auto it = customs.find(key); it != customs.end()) return it->second;
    auto defs = policy::ParseCustomAttributeDefs(dir.custom_attributes);
    if (!defs) return defs.error();
    auto ptr = std::make_shared<const policy::CustomAttributeDefs>(std::move(*defs));
    if (remember) customs[key] = ptr;
    return ptr;
  }

  static policy::PolicyContext ContextOf(const store::Connection& c,
                                         const policy::CustomAttributeDefs& custom) {
    policy::PolicyContext ctx;
    ctx.kind = c.kind == "ldap" ? policy::SourceKind::kLdap : policy::SourceKind::kScim;
    if (c.settings.is_object()) {
      std::string attr = c.settings.value("username_attribute", "");
      if (!attr.empty()) ctx.ldap_username_attribute = attr;
    }
    ctx.custom = custom;
    return ctx;
  }

  // The policy in force for `c` (stored or default).
  Result<ConnectionInfo> Info(store::Transaction& tx, const store::Connection& c,
                              const store::DirectoryRecord& dir,
                              const policy::CustomAttributeDefs& custom, bool remember) {
    ConnectionInfo info;
    info.connection = c;
    auto stored = tx.GetPolicy(c.id);
    if (!stored && stored.error().code != ErrorCode::kNotFound) return stored.error();
    info.policy_version = stored ? stored->version : 0;
    auto key = std::make_tuple(
        c.id, info.policy_version, dir.version,
        c.settings.is_object() ? c.settings.value("username_attribute", "") : std::string());
    {
      std::lock_guard lock(cache_mu);
      if (auto it = policies.find(key); it != policies.end()) {
        info.policy = it->second;
        return info;
      }
    }
    policy::PolicyContext ctx = ContextOf(c, custom);
    std::shared_ptr<const policy::Policy> parsed;
    if (stored) {
      auto p = policy::ParsePolicy(stored->body, ctx);
      if (!p) {
        return MakeError(ErrorCode::kInternal, "stored policy of connection \"" + c.name +
                                                   "\" no longer validates: " + p.error().detail);
      }
      parsed = std::make_shared<const policy::Policy>(std::move(*p));
    } else {
      parsed = std::make_shared<const policy::Policy>(policy::DefaultPolicy(ctx));
    }
    if (remember) {
      std::lock_guard lock(cache_mu);
      policies[key] = parsed;
    }
    info.policy = parsed;
    return info;
  }

  void Notify() {
    {
      std::lock_guard lock(feed_mu);
      ++feed_epoch;
    }
    feed_cv.notify_all();
  }
};

namespace {

Result<Scope> LoadScope(DirectoryService::Impl& impl, store::Transaction& tx,
                        const std::string& directory) {
  // Read inside the transaction, so that the scope matches what this transaction sees even when
  // another process changes the configuration meanwhile.
  auto generation = tx.ConfigGeneration();
  if (!generation) return generation.error();
  std::shared_ptr<const Scope> cached;
  {
    std::lock_guard lock(impl.scope_mu);
    auto it = impl.scopes.find(directory);
    if (it != impl.scopes.end() && it->second.first == *generation) cached = it->second.second;
  }
  if (cached) return *cached;  // a copy: the caller may add overrides
  // Only a generation that some commit produced is cached. A write transaction that changed the
  // configuration itself reads a higher, uncommitted value; if it rolls back, the next change
  // commits that same value with another configuration. Nothing else can commit while a write
  // transaction runs, so "not above the committed value" means "committed".
  auto committed = impl.store.ConfigGeneration();
  const bool remember = committed && *generation <= *committed;
  Scope scope;
  auto dir = tx.GetDirectory(directory);
  if (!dir) return dir.error();
  scope.directory = std::move(*dir);
  auto custom = impl.Custom(scope.directory, remember);
  if (!custom) return custom.error();
  scope.custom = *custom;
  auto conns = tx.ListConnections();
  if (!conns) return conns.error();
  for (const auto& c : *conns) {
    if (c.directory != directory) continue;
    auto info = impl.Info(tx, c, scope.directory, *scope.custom, remember);
    if (!info) return info.error();
    scope.by_uuid[c.uuid] = c.id;
    scope.names[c.uuid] = c.name;
    scope.connections[c.id] = std::move(*info);
  }
  if (remember) {
    std::lock_guard lock(impl.scope_mu);
    impl.scopes[directory] = {*generation, std::make_shared<const Scope>(scope)};
  }
  return scope;
}

// One source user as the derivation sees it.
struct SourceState {
  int64_t connection_id = 0;
  std::string source_user_id;
  bool present = false;   // in the mirror and mappable
  std::string link_key;   // "" when none
  policy::EffectiveUserValues values;
  std::vector<policy::SourceGroup> groups;
  std::string warning;    // why a present source is not mappable
};

Result<SourceState> LoadSource(store::Transaction& tx, const Scope& scope, int64_t connection_id,
                               const std::string& source_user_id) {
  SourceState s;
  s.connection_id = connection_id;
  s.source_user_id = source_user_id;
  const policy::Policy* pol = scope.PolicyOf(connection_id);
  if (!pol) return s;  // the connection is gone: the source counts as deleted
  auto r = tx.GetResource(connection_id, ResourceType::kUser, source_user_id);
  if (!r) {
    if (r.error().code == ErrorCode::kNotFound) return s;
    return r.error();
  }
  Json body = std::move(r->body);
  body["id"] = source_user_id;
  auto values = policy::MapUser(*pol, body, *scope.custom);
  if (!values) {
    s.warning = values.error().detail;
    return s;  // no username: not importable, counts as absent
  }
  s.values = std::move(*values);
  s.present = true;
  if (auto key = policy::ComputeLinkKey(*pol, s.values)) s.link_key = *key;
  auto groups = tx.GroupsOf(connection_id, source_user_id);
  if (!groups) return groups.error();
  for (auto& [gid, name] : *groups) s.groups.push_back({gid, name});
  return s;
}

LinkedSource ToLinked(const Scope& scope, const SourceState& s) {
  LinkedSource l;
  const ConnectionInfo* c = scope.Find(s.connection_id);
  l.connection_id = c ? c->connection.uuid : std::to_string(s.connection_id);
  l.source_user_id = s.source_user_id;
  l.policy = scope.PolicyOf(s.connection_id);
  l.deleted = !s.present;
  if (s.present) {
    l.values = s.values;
    l.groups = s.groups;
  }
  return l;
}

// The planned state of one effective user.
struct PlannedUser {
  std::string id;
  std::vector<SourceState> sources;  // linked after the plan (tombstones included)
  EffectiveUser user;                // MergeUser's result
  std::string link_key;
  bool had_row = false;
};

// Counts of what WriteUser did, in DiffCounts terms.
struct WriteCounts {
  int64_t created = 0, updated = 0, disabled = 0, enabled = 0, removed = 0;
  int64_t memberships_added = 0, memberships_removed = 0, conflicts = 0;
};

struct Writer {
  DirectoryService::Impl& impl;
  store::Transaction& tx;
  const Scope& scope;
  Json cause;
  TimePoint now;
  WriteCounts counts;
  bool wrote_change = false;

  Status Change(const std::string& type, const std::string& op, const std::string& id,
                const std::string& member, Json resource) {
    store::ChangeRecord c;
    c.time = now;
    c.directory = scope.directory.name;
    c.type = type;
    c.op = op;
    c.id = id;
    c.member_id = member;
    c.resource = std::move(resource);
    c.cause = cause;
    auto seq = tx.AppendChange(c);
    if (!seq) return seq.error();
    wrote_change = true;
    return Status::Ok();
  }

  // The effective group named `name` (created when missing), its id.
  Result<std::string> GroupId(const std::string& name) {
    const std::string key = FoldCase(name);
    auto g = tx.FindEffectiveGroupByName(scope.directory.name, key);
    if (g) return g->id;
    if (g.error().code != ErrorCode::kNotFound) return g.error();
    store::EffectiveGroupRow row;
    row.directory = scope.directory.name;
    row.id = NewUuid();
    row.name = name;
    row.name_key = key;
    row.body = Json::object();
    row.created = row.last_modified = now;
    auto put = tx.PutEffectiveGroup(row);
    if (!put) return put.error();
    if (Status s = Change("Group", "upsert", put->id, "", RenderGroupCore(*put)); !s) return s.error();
    return put->id;
  }

  Status RecordConflict(const SourceState& s, const std::string& username,
                        const store::EffectiveUserRow& owner, const std::string& reason) {
    const ConnectionInfo* c = scope.Find(s.connection_id);
    store::ConflictRecord rec;
    rec.directory = scope.directory.name;
    rec.connection_id = s.connection_id;
    rec.source_user_id = s.source_user_id;
    rec.username = username;
    rec.time = now;
    rec.detail = {{"connection", c ? c->connection.name : ""},
                  {"held_by", owner.id},
                  {"held_by_username", owner.username},
                  {"reason", reason}};
    ++counts.conflicts;
    return tx.PutConflict(rec);
  }

  // Provenance of the request: every value and membership that is new or changed in this write
  // records the request (and time) that produced it; unchanged ones keep their earlier stamp.
  void StampRequests(Json& body, const Json* previous) {
    const std::string request = cause.value("request_id", "");
    const std::string time = FormatRfc3339(now);
    auto stamp = [&](Json& entry, const Json* before, const std::vector<const char*>& same) {
      bool unchanged = before && before->is_object();
      for (const char* k : same) {
        if (!unchanged) break;
        unchanged = before->value(k, Json()) == entry.value(k, Json());
      }
      if (unchanged && before->contains("request_id")) {
        entry["request_id"] = (*before)["request_id"];
        entry["time"] = before->value("time", "");
      } else {
        entry["request_id"] = request;
        entry["time"] = time;
      }
    };
    const Json none = Json::object();
    const Json& prev_attrs = previous ? previous->value("attributes", none) : none;
    for (auto& [name, entry] : body["attributes"].items()) {
      auto it = prev_attrs.find(name);
      stamp(entry, it == prev_attrs.end() ? nullptr : &*it,
            {"value", "connection", "source_user", "source", "rule"});
    }
    std::map<std::string, const Json*> prev_groups;
    Json prev_members = previous ? previous->value("memberships", Json::array()) : Json::array();
    for (const auto& m : prev_members) prev_groups[m.value("group_id", "")] = &m;
    for (auto& m : body["memberships"]) {
      auto it = prev_groups.find(m.value("group_id", ""));
      stamp(m, it == prev_groups.end() ? nullptr : it->second, {"grants"});
    }
  }

  // Writes `plan` over the stored row `previous` (nullopt: none). Links, memberships, row,
  // change-feed entries.
  Status WriteUser(PlannedUser& plan, const std::optional<store::EffectiveUserRow>& previous) {
    const std::string& dir = scope.directory.name;
    EffectiveUser& user = plan.user;
    const bool gone = user.state == UserState::kRemoved || user.state == UserState::kNotImported;

    // Username uniqueness: nothing is silently overwritten.
    std::string username = UsernameOf(user);
    if (!gone) {
      const std::string key = FoldCase(username);
      // A user whose stored row holds the key owns it (unique per directory; only this user's
      // own write changes its row), so the owner's row need not be read and parsed again.
      const bool holds_key = previous && previous->id == plan.id && previous->username_key == key;
      Result<store::EffectiveUserRow> owner =
          holds_key ? Result<store::EffectiveUserRow>(MakeError(ErrorCode::kNotFound, ""))
                    : tx.FindEffectiveUserByUsername(dir, key);
      if (!owner && owner.error().code != ErrorCode::kNotFound) return owner.error();
      if (owner && owner->id != plan.id) {
        // The source whose value won the username is the one in conflict.
        const auto& won = user.attributes["username"];
        const SourceState* culprit = nullptr;
        for (const auto& s : plan.sources) {
          const ConnectionInfo* c = scope.Find(s.connection_id);
          if (c && c->connection.uuid == won.connection_id && s.source_user_id == won.source_user_id) {
            culprit = &s;
          }
        }
        if (!previous) {
          // A new user: not imported; its sources stay unlinked until the name is free.
          for (const auto& s : plan.sources) {
            if (!s.present) continue;
            if (Status st = RecordConflict(s, username, *owner,
                                           "username already held by another effective user");
                !st) {
              return st;
            }
          }
          return Status::Ok();
        }
        // An existing user renamed onto a taken name keeps its previous username.
        if (culprit) {
          if (Status st = RecordConflict(*culprit, username, *owner,
                                         "rename refused: username already held by another "
                                         "effective user; the previous username is kept");
              !st) {
            return st;
          }
        }
        auto prev_user = UserOf(*previous);
        user.attributes["username"] = prev_user.attributes["username"];
        username = previous->username;
      }
    }
    // Conflicts resolved for the sources now linked.
    if (!gone) {
      for (const auto& s : plan.sources) {
        if (Status st = tx.DeleteConflict(s.connection_id, s.source_user_id); !st) return st;
      }
    }

    if (gone) {
      if (previous) {
        // Memberships first, so the feed says which ones ended.
        auto groups = tx.EffectiveGroupsOf(dir, plan.id);
        if (!groups) return groups.error();
        for (const auto& [gid, name] : *groups) {
          if (Status s = Change("Membership", "remove", gid, plan.id, nullptr); !s) return s;
          ++counts.memberships_removed;
        }
        if (Status s = tx.DeleteEffectiveUser(dir, plan.id); !s) return s;
        if (Status s = Change("User", "delete", plan.id, "", nullptr); !s) return s;
        ++counts.removed;
      }
      for (const auto& s : plan.sources) {
        if (Status st = tx.DeleteLink(s.connection_id, s.source_user_id); !st) return st;
      }
      return Status::Ok();
    }

    // Memberships: effective groups by folded name.
    std::map<std::string, std::string> group_ids;  // FoldCase(name) -> id
    std::set<std::string> before, after;
    if (previous) {
      auto groups = tx.EffectiveGroupsOf(dir, plan.id);
      if (!groups) return groups.error();
      for (const auto& [gid, name] : *groups) before.insert(gid);
    }
    for (const auto& [key, m] : user.memberships) {
      auto gid = GroupId(m.group);
      if (!gid) return gid.error();
      group_ids[key] = *gid;
      after.insert(*gid);
    }

    store::EffectiveUserRow row;
    row.directory = dir;
    row.id = plan.id;
    row.username = username;
    row.username_key = FoldCase(username);
    row.link_key = plan.link_key;
    row.state = user.state == UserState::kDisabled ? "disabled" : "active";
    row.body = BodyOf(user, scope.names, group_ids);
    StampRequests(row.body, previous ? &previous->body : nullptr);
    row.mail_key = MailKeyOf(row.body);
    row.created = previous ? previous->created : now;
    row.last_modified = now;
    // mail_key too: a row stored before migration 8 reads "" and gets its key on its next
    // derivation even when nothing else changed.
    const bool changed = !previous || previous->body != row.body || previous->state != row.state ||
                         previous->username != row.username || previous->link_key != row.link_key ||
                         previous->mail_key != row.mail_key;
    if (changed) {
      auto put = tx.PutEffectiveUser(row);
      if (!put) return put.error();
      Json core = RenderUserCore(*put);
      if (!previous || RenderUserCore(*previous) != core) {
        if (Status s = Change("User", "upsert", plan.id, "", std::move(core)); !s) return s;
      }
      if (!previous) {
        ++counts.created;
      } else {
        if (previous->state != row.state) ++(row.state == "disabled" ? counts.disabled : counts.enabled);
        Json a = previous->body.value("attributes", Json::object());
        Json b = row.body.value("attributes", Json::object());
        a.erase("active");
        b.erase("active");
        for (auto* j : {&a, &b}) {
          for (auto& [k, v] : j->items()) v = v.value("value", Json());
        }
        if (a != b) ++counts.updated;
      }
    }
    for (const auto& gid : after) {
      if (before.count(gid)) continue;
      auto added = tx.AddEffectiveMember(dir, gid, plan.id);
      if (!added) return added.error();
      if (*added) {
        if (Status s = tx.TouchEffectiveGroup(dir, gid, now); !s) return s;
        if (Status s = Change("Membership", "add", gid, plan.id, nullptr); !s) return s;
        ++counts.memberships_added;
      }
    }
    for (const auto& gid : before) {
      if (after.count(gid)) continue;
      auto removed = tx.RemoveEffectiveMember(dir, gid, plan.id);
      if (!removed) return removed.error();
      if (*removed) {
        if (Status s = tx.TouchEffectiveGroup(dir, gid, now); !s) return s;
        if (Status s = Change("Membership", "remove", gid, plan.id, nullptr); !s) return s;
        ++counts.memberships_removed;
      }
    }
    for (const auto& s : plan.sources) {
      store::SourceLink link;
      link.connection_id = s.connection_id;
      link.source_user_id = s.source_user_id;
      link.directory = dir;
      link.effective_user_id = plan.id;
      link.deleted = !s.present;
      if (Status st = tx.PutLink(link); !st) return st;
    }
    return Status::Ok();
  }
};

// Orders sources as MergeUser does (priority descending, then connection, then source id), so
// that the first source of a new user is the one that decides.
bool SourceBefore(const Scope& scope, const SourceState& a, const SourceState& b) {
  const policy::Policy* pa = scope.PolicyOf(a.connection_id);
  const policy::Policy* pb = scope.PolicyOf(b.connection_id);
  int64_t qa = pa ? pa->priority : 0, qb = pb ? pb->priority : 0;
  if (qa != qb) return qa > qb;
  if (a.connection_id != b.connection_id) return a.connection_id < b.connection_id;
  return a.source_user_id < b.source_user_id;
}

PlannedUser Merge(const Scope& scope, std::string id, std::vector<SourceState> sources,
                  const std::optional<store::EffectiveUserRow>& previous, std::string link_key) {
  PlannedUser plan;
  plan.id = std::move(id);
  std::sort(sources.begin(), sources.end(),
            [&](const SourceState& a, const SourceState& b) { return SourceBefore(scope, a, b); });
  plan.sources = std::move(sources);
  std::vector<LinkedSource> linked;
  for (const auto& s : plan.sources) {
    if (scope.PolicyOf(s.connection_id)) linked.push_back(ToLinked(scope, s));
  }
  std::optional<EffectiveUser> prev;
  if (previous) prev = UserOf(*previous);
  plan.had_row = previous.has_value();
  if (linked.empty()) {
    // No source at all (e.g. its connection was removed with on_delete unknown): as MergeUser
    // says, a user with no link stays exactly as it was.
    if (prev) plan.user = *prev;
    else plan.user.state = UserState::kNotImported;
  } else {
    plan.user = policy::MergeUser(linked, prev ? &*prev : nullptr);
  }
  plan.link_key = std::move(link_key);
  if (plan.link_key.empty()) {
    for (const auto& s : plan.sources) {
      if (s.present && !s.link_key.empty()) {
        plan.link_key = s.link_key;
        break;
      }
    }
  }
  return plan;
}

}  // namespace

// ---------- DirectoryService ----------

DirectoryService::DirectoryService(store::Store& store, const Clock& clock)
    : impl_(std::make_unique<Impl>(store, clock)) {}

DirectoryService::~DirectoryService() = default;

namespace {

// Re-derives the effective users touched by `sources` (connection id, source user id) of one
// directory: each source is (re)linked by its link key, and every effective user that gains or
// loses a source is merged again and written.
Result<WriteCounts> DeriveSources(DirectoryService::Impl& impl, store::Transaction& tx,
                                  const Scope& scope,
                                  const std::vector<std::pair<int64_t, std::string>>& sources,
                                  Json cause, TimePoint now) {
  Writer w{impl, tx, scope, std::move(cause), now, {}, false};
  const std::string& dir = scope.directory.name;
  std::set<std::string> touched;                 // effective user ids to re-merge
  std::map<std::string, std::string> new_users;  // link key or source -> new effective id
  std::map<std::string, std::vector<SourceState>> new_sources;  // new effective id -> sources
  // What the first pass read, for the second: nothing here changes the mirror, and a user's
  // effective row changes only when WriteUser writes that user, after its last read.
  std::map<std::pair<int64_t, std::string>, SourceState> loaded;
  std::map<std::string, store::EffectiveUserRow> rows;
  for (const auto& [conn, sid] : sources) {
    auto state = LoadSource(tx, scope, conn, sid);
    if (!state) return state.error();
    loaded.emplace(std::make_pair(conn, sid), *state);
    auto link = tx.GetLink(conn, sid);
    if (!link && link.error().code != ErrorCode::kNotFound) return link.error();
    std::string current = link ? link->effective_user_id : "";
    if (!current.empty() && !rows.count(current)) {
      auto row = tx.GetEffectiveUser(dir, current);
      if (!row && row.error().code != ErrorCode::kNotFound) return row.error();
      if (row) {
        rows.emplace(current, std::move(*row));
      } else {
        current.clear();
      }
    }
    std::string target = current;
    if (state->present && !state->link_key.empty()) {
      // Joins the effective user that holds its link key, unless it is already linked to it.
      auto holders = tx.FindEffectiveUsersByLinkKey(dir, state->link_key);
      if (!holders) return holders.error();
      bool stays = false;
      for (const auto& h : *holders) stays |= h.id == current;
      if (!stays && !holders->empty()) target = holders->front().id;
    }
    if (!current.empty() && target != current) {
      // Moves to another effective user: the old one loses this source.
      if (Status s = tx.DeleteLink(conn, sid); !s) return s.error();
      touched.insert(current);
    }
    if (target.empty()) {
      if (!state->present) {
        if (link) {
          if (Status s = tx.DeleteLink(conn, sid); !s) return s.error();
        }
        (void)tx.DeleteConflict(conn, sid);
        continue;
      }
      const std::string group_key =
          state->link_key.empty() ? std::to_string(conn) + "/" + sid : state->link_key;
      auto& id = new_users[group_key];
      if (id.empty()) id = NewUuid();
      new_sources[id].push_back(std::move(*state));
      continue;
    }
    if (target != current || !link) {
      store::SourceLink l;
      l.connection_id = conn;
      l.source_user_id = sid;
      l.directory = dir;
      l.effective_user_id = target;
      l.deleted = !state->present;
      if (Status s = tx.PutLink(l); !s) return s.error();
    }
    touched.insert(target);
  }
  for (const auto& id : touched) {
    Result<store::EffectiveUserRow> row = MakeError(ErrorCode::kNotFound, "");
    if (auto it = rows.find(id); it != rows.end()) {
      row = std::move(it->second);
      rows.erase(it);
    } else {
      row = tx.GetEffectiveUser(dir, id);
    }
    if (!row && row.error().code != ErrorCode::kNotFound) return row.error();
    if (!row) continue;
    auto links = tx.LinksOf(dir, id);
    if (!links) return links.error();
    std::vector<SourceState> states;
    for (const auto& l : *links) {
      auto it = loaded.find(std::make_pair(l.connection_id, l.source_user_id));
      if (it != loaded.end()) {
        states.push_back(std::move(it->second));
        loaded.erase(it);
        continue;
      }
      auto st = LoadSource(tx, scope, l.connection_id, l.source_user_id);
      if (!st) return st.error();
      states.push_back(std::move(*st));
    }
    PlannedUser plan = Merge(scope, id, std::move(states), *row, "");
    if (Status s = w.WriteUser(plan, *row); !s) return s.error();
  }
  for (auto& [id, states] : new_sources) {
    PlannedUser plan = Merge(scope, id, std::move(states), std::nullopt, "");
    if (Status s = w.WriteUser(plan, std::nullopt); !s) return s.error();
  }
  if (w.wrote_change) impl.pending_notify = true;
  return w.counts;
}

Json CountsJson(const WriteCounts& c) {
  return {{"created", c.created},
          {"updated", c.updated},
          {"disabled", c.disabled},
          {"enabled", c.enabled},
          {"removed", c.removed},
          {"memberships_added", c.memberships_added},
          {"memberships_removed", c.memberships_removed},
          {"conflicts", c.conflicts}};
}

}  // namespace

Status DirectoryService::OnMirrorChanged(store::Transaction& tx,
                                         const service::MirrorChange& change) {
  if (!change.connection || change.users.empty()) return Status::Ok();
  auto scope = LoadScope(*impl_, tx, change.connection->directory);
  if (!scope) return scope.error();
  std::vector<std::pair<int64_t, std::string>> sources;
  for (const auto& id : change.users) sources.emplace_back(change.connection->id, id);
  Json cause = {{"connection", change.connection->name},
                {"request_id", change.request_id},
                {"actor", change.actor},
                {"reason", (change.connection->kind == "ldap" ? "ldap " : "scim ") +
                               change.operation}};
  auto counts = DeriveSources(*impl_, tx, *scope, sources, std::move(cause), impl_->clock.Now());
  if (!counts) return counts.error();
  return Status::Ok();
}

void DirectoryService::AfterCommit() {
  if (impl_->pending_notify.exchange(false)) impl_->Notify();
}

Status DirectoryService::OnConnectionRemoving(store::Transaction& tx,
                                              const store::Connection& connection,
                                              const Actor& actor) {
  auto scope = LoadScope(*impl_, tx, connection.directory);
  if (!scope) return scope.error();
  auto links = tx.LinksOfConnection(connection.id);
  if (!links) return links.error();
  if (links->empty()) return Status::Ok();
  // The connection's sources count as deleted: drop it from the scope (its policy's on_delete
  // still decides, so keep the policy as an override).
  Scope& s = *scope;
  auto it = s.connections.find(connection.id);
  if (it != s.connections.end()) s.overrides[connection.id] = it->second.policy;
  std::set<std::string> users;
  for (const auto& l : *links) {
    store::SourceLink dead = l;
    dead.deleted = true;
    if (Status st = tx.PutLink(dead); !st) return st;
    users.insert(l.effective_user_id);
  }
  Writer w{*impl_, tx, s, Json{{"connection", connection.name},
                              {"request_id", actor.request_id},
                              {"actor", actor.name},
                              {"reason", "connection removed"}},
           impl_->clock.Now(), {}, false};
  for (const auto& id : users) {
    auto row = tx.GetEffectiveUser(connection.directory, id);
    if (!row) {
      if (row.error().code == ErrorCode::kNotFound) continue;
      return row.error();
    }
    auto all = tx.LinksOf(connection.directory, id);
    if (!all) return all.error();
    std::vector<SourceState> states;
    for (const auto& l : *all) {
      if (l.connection_id == connection.id) {
        SourceState gone;
        gone.connection_id = l.connection_id;
        gone.source_user_id = l.source_user_id;
        states.push_back(std::move(gone));
        continue;
      }
      auto st = LoadSource(tx, s, l.connection_id, l.source_user_id);
      if (!st) return st.error();
      states.push_back(std::move(*st));
    }
    PlannedUser plan = Merge(s, id, std::move(states), *row, "");
    // The removed connection's links go with it (DeleteConnection), never left dangling.
    plan.sources.erase(std::remove_if(plan.sources.begin(), plan.sources.end(),
                                      [&](const SourceState& x) {
                                        return x.connection_id == connection.id;
                                      }),
                       plan.sources.end());
    if (Status st = w.WriteUser(plan, *row); !st) return st;
  }
  if (w.wrote_change) impl_->pending_notify = true;
  return Status::Ok();
}

// ---------- whole directory: plan, preview, apply ----------

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

namespace {

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

}  // namespace

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

// ---------- directories ----------

Result<std::vector<store::DirectoryRecord>> DirectoryService::ListDirectories() {
  std::vector<store::DirectoryRecord> out;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto d = tx.ListDirectories();
    if (!d) return d.error();
    out = std::move(*d);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<store::DirectoryRecord> DirectoryService::GetDirectory(const std::string& name) {
  store::DirectoryRecord out;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto d = tx.GetDirectory(name);
    if (!d) {
      if (d.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound, "no directory named \"" + name + "\"");
      }
      return d.error();
    }
    out = std::move(*d);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<store::DirectoryRecord> DirectoryService::CreateDirectory(const std::string& name,
                                                                 const Actor& actor) {
  static const std::regex kName("[a-z][a-z0-9_-]{0,62}");
  if (!std::regex_match(name, kName)) {
    return MakeError(ErrorCode::kInvalidValue,
                     "directory name \"" + name +
                         "\": use 1-63 lower-case letters, digits, '-' or '_', starting with a "
                         "letter");
  }
  store::DirectoryRecord out;
  Status st = impl_->store.Write([&](store::Transaction& tx) -> Status {
    auto existing = tx.GetDirectory(name);
    if (existing) return MakeError(ErrorCode::kUniqueness, "directory \"" + name + "\" exists");
    if (existing.error().code != ErrorCode::kNotFound) return existing.error();
    store::DirectoryRecord rec;
    rec.name = name;
    rec.custom_attributes = Json::array();
    rec.created = impl_->clock.Now();
    auto put = tx.PutDirectory(rec);
    if (!put) return put.error();
    out = *put;
    store::AuditRecord a;
    a.time = rec.created;
    a.request_id = actor.request_id;
    a.actor = actor.name;
    a.operation = "directory.create";
    a.resource_type = "Directory";
    a.resource_id = name;
    a.status = 201;
    return tx.AppendAudit(a);
  });
  if (!st) return st.error();
  return out;
}

Result<store::DirectoryRecord> DirectoryService::SetCustomAttributes(const std::string& directory,
                                                                     const Json& defs,
                                                                     const Actor& actor) {
  auto parsed = policy::ParseCustomAttributeDefs(defs);
  if (!parsed) return parsed.error();
  store::DirectoryRecord out;
  Status st = impl_->store.Write([&](store::Transaction& tx) -> Status {
    auto d = tx.GetDirectory(directory);
    if (!d) {
      if (d.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound, "no directory named \"" + directory + "\"");
      }
      return d.error();
    }
    // Every stored policy of the directory must still validate without the removed ones.
    auto conns = tx.ListConnections();
    if (!conns) return conns.error();
    for (const auto& c : *conns) {
      if (c.directory != directory) continue;
      auto p = tx.GetPolicy(c.id);
      if (!p) {
        if (p.error().code == ErrorCode::kNotFound) continue;
        return p.error();
      }
      auto ok = policy::ParsePolicy(p->body, Impl::ContextOf(c, *parsed));
      if (!ok) {
        return MakeError(ErrorCode::kInvalidValue, "the policy of connection \"" + c.name +
                                                   "\" would no longer validate: " +
                                                   ok.error().detail);
      }
    }
    store::DirectoryRecord rec = *d;
    rec.custom_attributes = policy::CustomAttributeDefsToJson(*parsed);
    auto put = tx.PutDirectory(rec);
    if (!put) return put.error();
    out = *put;
    auto scope = LoadScope(*impl_, tx, directory);
    if (!scope) return scope.error();
    Json cause = {{"connection", ""},
                  {"request_id", actor.request_id},
                  {"actor", actor.name},
                  {"reason", "custom attributes changed"}};
    auto applied = ApplyPlan(*impl_, tx, *scope, cause, 0);
    if (!applied) return applied.error();
    store::AuditRecord a;
    a.time = impl_->clock.Now();
    a.request_id = actor.request_id;
    a.actor = actor.name;
    a.operation = "directory.custom-attributes";
    a.resource_type = "Directory";
    a.resource_id = directory;
    a.status = 200;
    a.detail = rec.custom_attributes.dump();
    return tx.AppendAudit(a);
  });
  if (!st) return st.error();
  AfterCommit();
  return out;
}

// ---------- explain, conflicts ----------

namespace {

Result<store::EffectiveUserRow> FindUser(store::Transaction& tx, const std::string& directory,
                                         const std::string& user) {
  auto row = tx.GetEffectiveUser(directory, user);
  if (!row && row.error().code == ErrorCode::kNotFound) {
    row = tx.FindEffectiveUserByUsername(directory, FoldCase(user));
  }
  if (!row && row.error().code == ErrorCode::kNotFound) {
    return MakeError(ErrorCode::kNotFound, "no user \"" + user + "\" in directory \"" + directory +
                                               "\" (by id or username)");
  }
  return row;
}

}  // namespace


Result<Json> DirectoryService::Explain(const std::string& directory, const std::string& user) {
  Json out;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto row = FindUser(tx, directory, user);
    if (!row) {
      if (row.error().code == ErrorCode::kNotFound && !tx.GetDirectory(directory)) {
        return MakeError(ErrorCode::kNotFound, "no directory named \"" + directory + "\"");
      }
      return row.error();
    }
    auto scope = LoadScope(*impl_, tx, directory);
    if (!scope) return scope.error();
    auto links = tx.LinksOf(directory, row->id);
    if (!links) return links.error();
    Json sources = Json::array();
    for (const auto& l : *links) {
      const ConnectionInfo* c = scope->Find(l.connection_id);
      sources.push_back({{"connection", c ? c->connection.uuid : ""},
                         {"connection_name", c ? c->connection.name : ""},
                         {"source_user", l.source_user_id},
                         {"deleted", l.deleted},
                         {"priority", c ? c->policy->priority : 0}});
    }
    out = {{"directory", directory},
           {"id", row->id},
           {"username", row->username},
           {"state", row->state},
           {"state_reason", row->body.value("state_reason", "")},
           {"attributes", row->body.value("attributes", Json::object())},
           {"memberships", row->body.value("memberships", Json::array())},
           {"entitlements", row->body.value("entitlements", Json::array())},
           {"sources", std::move(sources)},
           {"warnings", row->body.value("warnings", Json::array())},
           {"created", FormatRfc3339(row->created)},
           {"last_modified", FormatRfc3339(row->last_modified)}};
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<Json> DirectoryService::Conflicts(const std::string& directory) {
  Json out = Json::array();
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto d = tx.GetDirectory(directory);
    if (!d) return MakeError(ErrorCode::kNotFound, "no directory named \"" + directory + "\"");
    auto list = tx.ListConflicts(directory);
    if (!list) return list.error();
    auto conns = tx.ListConnections();
    if (!conns) return conns.error();
    std::map<int64_t, const store::Connection*> by_id;
    for (const auto& c : *conns) by_id[c.id] = &c;
    for (const auto& c : *list) {
      auto it = by_id.find(c.connection_id);
      out.push_back({{"connection", it == by_id.end() ? "" : it->second->uuid},
                     {"connection_name", it == by_id.end() ? "" : it->second->name},
                     {"source_user", c.source_user_id},
                     {"username", c.username},
                     {"detail", c.detail},
                     {"time", FormatRfc3339(c.time)}});
    }
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

// ---------- memberships granted by an administrator ----------

namespace {

// Adds (grant) or removes (revoke) the administrator's grant of `group` to `user` and writes the
// result like any derivation: memberships, provenance, change feed, plus an audit record.
Result<std::string> ChangeHandGrant(DirectoryService::Impl& impl, const std::string& directory,
                                    const std::string& user, const std::string& group,
                                    const Actor& actor, bool grant) {
  std::string id;
  Status st = impl.store.Write([&](store::Transaction& tx) -> Status {
    auto scope = LoadScope(impl, tx, directory);
    if (!scope) return scope.error();
    auto row = FindUser(tx, directory, user);
    if (!row) return row.error();
    id = row->id;
    PlannedUser plan;
    plan.id = row->id;
    plan.user = UserOf(*row);
    plan.link_key = row->link_key;
    const auto is_hand = [](const policy::MembershipGrant& g) {
      return g.rule == policy::MembershipRule::kExisting;
    };
    if (grant) {
      auto& m = plan.user.memberships[FoldCase(group)];
      if (m.group.empty()) m.group = group;
      if (std::any_of(m.grants.begin(), m.grants.end(), is_hand)) return Status::Ok();
      m.grants.push_back({policy::MembershipRule::kExisting, "", "", "granted by " + actor.name});
    } else {
      auto it = plan.user.memberships.find(FoldCase(group));
      bool found = false;
      if (it != plan.user.memberships.end()) {
        auto& grants = it->second.grants;
        auto end = std::remove_if(grants.begin(), grants.end(), is_hand);
        found = end != grants.end();
        grants.erase(end, grants.end());
        if (grants.empty()) plan.user.memberships.erase(it);
      }
      if (!found) {
        return MakeError(ErrorCode::kNotFound, "user \"" + user + "\" has no membership in \"" +
                                                   group + "\" granted by an administrator");
      }
    }
    const std::string what = grant ? "granted" : "revoked";
    Writer w{impl, tx, *scope, Json{{"connection", ""},
                                   {"request_id", actor.request_id},
                                   {"actor", actor.name},
                                   {"reason", "membership " + what}},
             impl.clock.Now(), {}, false};
    if (Status s = w.WriteUser(plan, *row); !s) return s;
    if (w.wrote_change) impl.pending_notify = true;
    store::AuditRecord a;
    a.time = w.now;
    a.request_id = actor.request_id;
    a.actor = actor.name;
    a.operation = grant ? "membership.grant" : "membership.revoke";
    a.resource_type = "User";
    a.resource_id = row->id;
    a.status = 200;
    a.detail = directory + ": " + group;
    return tx.AppendAudit(a);
  });
  if (!st) return st.error();
  return id;
}

}  // namespace

Result<Json> DirectoryService::GrantMembership(const std::string& directory,
                                               const std::string& user, const std::string& group,
                                               const Actor& actor) {
  if (group.empty() || group.size() > 256) {
    return MakeError(ErrorCode::kInvalidValue, "group name must have 1 to 256 characters");
  }
  auto id = ChangeHandGrant(*impl_, directory, user, group, actor, true);
  if (!id) return id.error();
  AfterCommit();
  return Explain(directory, *id);
}

Result<Json> DirectoryService::RevokeMembership(const std::string& directory,
                                                const std::string& user, const std::string& group,
                                                const Actor& actor) {
  auto id = ChangeHandGrant(*impl_, directory, user, group, actor, false);
  if (!id) return id.error();
  AfterCommit();
  return Explain(directory, *id);
}

// ---------- change feed ----------

Result<std::vector<store::ChangeRecord>> DirectoryService::Changes(const std::string& directory,
                                                                   int64_t after, int64_t limit,
                                                                   std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  bool checked_directory = false;
  while (true) {
    uint64_t epoch;
    {
      std::lock_guard lock(impl_->feed_mu);
      epoch = impl_->feed_epoch;
    }
    std::vector<store::ChangeRecord> out;
    Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
      if (!checked_directory) {
        auto d = tx.GetDirectory(directory);
        if (!d) {
          if (d.error().code == ErrorCode::kNotFound) {
            return MakeError(ErrorCode::kNotFound, "no directory named \"" + directory + "\"");
          }
          return d.error();
        }
      }
      auto list = tx.ListChanges(directory, after, limit);
      if (!list) return list.error();
      out = std::move(*list);
      return Status::Ok();
    });
    if (!st) return st.error();
    checked_directory = true;
    if (!out.empty()) return out;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return out;
    // Woken by this process's commits; other processes' (the CLI) are seen within 500 ms.
    std::unique_lock lock(impl_->feed_mu);
    impl_->feed_cv.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(500)),
                              [&] { return impl_->feed_epoch != epoch; });
  }
}

void DirectoryService::WakeAll() { impl_->Notify(); }

Json ChangeToJson(const store::ChangeRecord& c) {
  Json out = {{"seq", c.seq},
              {"time", FormatRfc3339(c.time)},
              {"type", c.type},
              {"op", c.op},
              {"id", c.id}};
  if (c.type == "Membership") out["member"] = c.member_id;
  if (!c.resource.is_null()) out["resource"] = c.resource;
  out["cause"] = c.cause;
  return out;
}

}  // namespace idsync::directory
