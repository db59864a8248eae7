// Planning effective users from their source users (see derivation.h).
#include "directory/derivation.h"

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "base/uuid.h"
#include "directory/prepared_user.h"
#include "directory/writer.h"
#include "scim/types.h"

namespace idsync::directory {

using policy::EffectiveUser;
using policy::LinkedSource;
using policy::UserState;
using scim::ResourceType;

namespace {

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

}  // namespace

std::string SourceNameOf(const Scope& scope, int64_t connection_id, const Json& body) {
  const ConnectionInfo* c = scope.Find(connection_id);
  if (!c) return "";
  const Json* value = nullptr;
  if (c->connection.kind == "ldap") {
    std::string attr = c->connection.settings.is_object()
                           ? c->connection.settings.value("username_attribute", "")
                           : std::string();
    if (attr.empty()) attr = policy::PolicyContext{}.ldap_username_attribute;
    for (const auto& [name, v] : body.items()) {
      if (EqualsIgnoreAsciiCase(name, attr)) {
        value = v.is_array() && !v.empty() ? &v.front() : &v;
        break;
      }
    }
  } else if (auto it = body.find("userName"); it != body.end()) {
    value = &*it;
  }
  return value && value->is_string() ? FoldCase(value->get<std::string>()) : "";
}

SourceState SourceFromBody(const Scope& scope, int64_t connection_id,
                           const std::string& source_user_id, Json body,
                           std::vector<policy::SourceGroup> groups) {
  SourceState s;
  s.connection_id = connection_id;
  s.source_user_id = source_user_id;
  s.source_name = SourceNameOf(scope, connection_id, body);
  const policy::Policy* pol = scope.PolicyOf(connection_id);
  if (!pol) return s;  // the connection is gone: the source counts as deleted
  body["id"] = source_user_id;
  auto values = policy::MapUser(*pol, body, *scope.custom);
  if (!values) {
    s.warning = values.error().detail;
    return s;  // no username: not importable, counts as absent
  }
  s.values = std::move(*values);
  s.present = true;
  if (auto key = policy::ComputeLinkKey(*pol, s.values)) s.link_key = *key;
  s.groups = std::move(groups);
  return s;
}

Result<SourceState> LoadSource(store::Transaction& tx, const Scope& scope, int64_t connection_id,
                               const std::string& source_user_id, const std::string& known_name) {
  SourceState gone;
  gone.connection_id = connection_id;
  gone.source_user_id = source_user_id;
  gone.source_name = known_name;
  if (!scope.PolicyOf(connection_id)) return gone;  // the connection is gone: deleted
  auto r = tx.GetResource(connection_id, ResourceType::kUser, source_user_id);
  if (!r) {
    if (r.error().code == ErrorCode::kNotFound) return gone;
    return r.error();
  }
  std::vector<policy::SourceGroup> groups;
  auto member_of = tx.GroupsOf(connection_id, source_user_id);
  if (!member_of) return member_of.error();
  for (auto& [gid, name] : *member_of) groups.push_back({gid, name});
  SourceState s =
      SourceFromBody(scope, connection_id, source_user_id, std::move(r->body), std::move(groups));
  if (s.source_name.empty()) s.source_name = known_name;
  if (!s.present) s.groups.clear();
  return s;
}

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

policy::GroupExists StoredGroups(store::Transaction& tx, const std::string& directory,
                                 Status* failed) {
  return [&tx, directory, failed](const std::string& name) {
    auto group = tx.FindEffectiveGroupByName(directory, FoldCase(name));
    if (group) return true;
    if (group.error().code == ErrorCode::kNotFound) return false;
    if (*failed) *failed = group.error();
    return true;
  };
}

PlannedUser Merge(const Scope& scope, std::string id, std::vector<SourceState> sources,
                  const std::optional<store::EffectiveUserRow>& previous, std::string link_key,
                  const policy::GroupExists& group_exists) {
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
    plan.user = policy::MergeUser(linked, prev ? &*prev : nullptr, group_exists);
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


namespace {

// Whether effective user `id` holds a present source of `connection` other than `except`.
Result<bool> HoldsPresentSourceOf(store::Transaction& tx, const std::string& directory,
                                  const std::string& id, int64_t connection,
                                  const std::string& except) {
  auto links = tx.LinksOf(directory, id);
  if (!links) return links.error();
  for (const auto& l : *links) {
    if (l.connection_id == connection && !l.deleted && l.source_user_id != except) return true;
  }
  return false;
}

// Where an unlinked, present source goes (docs/ARCHITECTURE.md, "Linking"): the user it joins
// ("" for a new user) and the tombstone it replaces ("" for none).
struct JoinTarget {
  std::string user;
  std::string replaced;  // source user id of the same connection's tombstone
};

Result<JoinTarget> FindJoinTarget(store::Transaction& tx, const Scope& scope,
                                  const SourceState& s) {
  const std::string& dir = scope.directory.name;
  // 1. Re-provisioning: the same name in the same connection is the same person, deleted and
  //    created again (a re-hire; an identity provider that deletes on unassign).
  if (!s.source_name.empty()) {
    auto tombstones = tx.FindTombstones(s.connection_id, s.source_name);
    if (!tombstones) return tombstones.error();
    for (const auto& t : *tombstones) {
      if (t.directory != dir || t.source_user_id == s.source_user_id) continue;
      auto row = tx.GetEffectiveUser(dir, t.effective_user_id);
      if (!row) {
        if (row.error().code == ErrorCode::kNotFound) continue;
        return row.error();
      }
      auto holds = HoldsPresentSourceOf(tx, dir, row->id, s.connection_id, s.source_user_id);
      if (!holds) return holds.error();
      if (!*holds) return JoinTarget{row->id, t.source_user_id};
    }
  }
  // 2. Linking joins sources of different connections only: two source users of one connection
  //    are two people, whatever their keys.
  if (!s.link_key.empty()) {
    auto holders = tx.FindEffectiveUsersByLinkKey(dir, s.link_key);
    if (!holders) return holders.error();
    for (const auto& h : *holders) {
      auto holds = HoldsPresentSourceOf(tx, dir, h.id, s.connection_id, s.source_user_id);
      if (!holds) return holds.error();
      if (!*holds) return JoinTarget{h.id, ""};
    }
  }
  return JoinTarget{};
}

// One round: links each source (a linked one stays where it is; an unlinked one joins per
// FindJoinTarget or becomes a new user) and writes every user that gained or lost a source.
Status DeriveRound(store::Transaction& tx, const Scope& scope, Writer& w,
                   const std::vector<std::pair<int64_t, std::string>>& sources) {
  const std::string& dir = scope.directory.name;
  std::set<std::string> touched;  // effective user ids to re-merge
  std::vector<SourceState> fresh;  // sources of new users, one user each
  // What the first pass read, for the second: nothing here changes the mirror, and a user's
  // effective row changes only when WriteUser writes that user, after its last read.
  std::map<std::pair<int64_t, std::string>, SourceState> loaded;
  std::map<std::string, store::EffectiveUserRow> rows;
  // A create prepared on the scope this job uses (prepared_user.h): its source state and, when
  // it becomes a new user, its plan are what this job would compute.
  const PreparedUser* prepared =
      w.prepared && w.prepared->generation == scope.generation ? w.prepared : nullptr;
  auto is_prepared = [&](int64_t conn, const std::string& sid) {
    return prepared && prepared->connection_id == conn && prepared->source_user_id == sid;
  };
  for (const auto& [conn, sid] : sources) {
    auto link = tx.GetLink(conn, sid);
    if (!link && link.error().code != ErrorCode::kNotFound) return link.error();
    auto state = !link && is_prepared(conn, sid)
                     ? Result<SourceState>(prepared->source)
                     : LoadSource(tx, scope, conn, sid, link ? link->source_name : "");
    if (!state) return state.error();
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
    if (!current.empty() && link && !link->deleted && !state->present) {
      // Deleted now: a source of the same name may re-provision its user, and a source of the
      // same connection may link to it (RetryPending).
      if (!state->source_name.empty()) w.named_tombstones.emplace(conn, state->source_name);
      w.vacated.emplace(conn, current);
    }
    if (!current.empty()) {
      // Links are sticky: a linked source stays with its user whatever its key becomes.
      loaded.emplace(std::make_pair(conn, sid), std::move(*state));
      touched.insert(current);
      continue;
    }
    if (link) {
      if (Status s = tx.DeleteLink(conn, sid); !s) return s;  // its user is gone
    }
    if (!state->present) {
      if (Status s = tx.DeleteConflict(conn, sid); !s) return s;
      continue;
    }
    auto target = FindJoinTarget(tx, scope, *state);
    if (!target) return target.error();
    if (target->user.empty()) {
      fresh.push_back(std::move(*state));
      continue;
    }
    if (!target->replaced.empty()) {
      if (Status s = tx.DeleteLink(conn, target->replaced); !s) return s;
    }
    store::SourceLink l;
    l.connection_id = conn;
    l.source_user_id = sid;
    l.directory = dir;
    l.effective_user_id = target->user;
    l.source_name = state->source_name;
    if (Status s = tx.PutLink(l); !s) return s;
    loaded.emplace(std::make_pair(conn, sid), std::move(*state));
    touched.insert(target->user);
  }
  Status lookup;  // StoredGroups' failed lookup, if any
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
      auto st = LoadSource(tx, scope, l.connection_id, l.source_user_id, l.source_name);
      if (!st) return st.error();
      states.push_back(std::move(*st));
    }
    // One optional for both, moved from the row: each `*row` made a copy of it (body and all).
    const std::optional<store::EffectiveUserRow> previous(std::move(*row));
    PlannedUser plan =
        Merge(scope, id, std::move(states), previous, "", StoredGroups(tx, dir, &lookup));
    if (!lookup) return lookup;
    plan.stored_links = std::move(*links);
    if (Status s = w.WriteUser(plan, previous); !s) return s;
  }
  // New users in the order a re-derivation creates them, so that the same one wins a name.
  std::sort(fresh.begin(), fresh.end(),
            [&](const SourceState& a, const SourceState& b) { return SourceBefore(scope, a, b); });
  for (auto& s : fresh) {
    if (is_prepared(s.connection_id, s.source_user_id)) {
      PlannedUser plan = prepared->plan;
      plan.prepared = prepared;
      if (Status st = w.WriteUser(plan, std::nullopt); !st) return st;
      continue;
    }
    std::vector<SourceState> one;
    one.push_back(std::move(s));
    PlannedUser plan = Merge(scope, NewOrderedUuid(), std::move(one), std::nullopt, "",
                             StoredGroups(tx, dir, &lookup));
    if (!lookup) return lookup;
    if (Status st = w.WriteUser(plan, std::nullopt); !st) return st;
  }
  return Status::Ok();
}

// The pending source users (conflicts: not imported, or a rename refused) that what `w` wrote
// may now let in: a username given up, a link key or a tombstone name that appeared, a user that
// lost its present source of their connection. Renames refused first, then new users, each in
// SourceBefore order, as a re-derivation orders them. Reads only the conflicts with those keys
// (and those stored before conflicts had keys, which it stores again with theirs).
Result<std::vector<std::pair<int64_t, std::string>>> PendingToRetry(
    store::Transaction& tx, const Scope& scope, const Writer& w,
    std::set<std::pair<int64_t, std::string>>& retried) {
  std::vector<std::pair<int64_t, std::string>> out;
  if (w.freed_usernames.empty() && w.acquired_keys.empty() && w.named_tombstones.empty() &&
      w.vacated.empty()) {
    return out;
  }
  const std::string& dir = scope.directory.name;
  store::ConflictLookup wanted;
  wanted.usernames = w.freed_usernames;
  wanted.link_keys = w.acquired_keys;
  wanted.source_names = w.named_tombstones;
  // A user that lost its present source of a connection: FindJoinTarget may now join a pending
  // source of that connection to it by any of its tombstones there (an older one too: until now
  // the present source barred it), or by its link key as stored after this write.
  for (const auto& [conn, id] : w.vacated) {
    auto row = tx.GetEffectiveUser(dir, id);
    if (!row) {
      if (row.error().code == ErrorCode::kNotFound) continue;  // removed: its name is freed
      return row.error();
    }
    if (!row->link_key.empty()) wanted.link_keys.insert(row->link_key);
    auto links = tx.LinksOf(dir, id);
    if (!links) return links.error();
    for (const auto& l : *links) {
      if (l.connection_id == conn && l.deleted && !l.source_name.empty()) {
        wanted.source_names.emplace(conn, l.source_name);
      }
    }
  }
  auto conflicts = tx.FindConflicts(dir, wanted);
  if (!conflicts) return conflicts.error();
  std::vector<SourceState> renames, fresh;
  for (auto& c : *conflicts) {
    if (!c.keys) {
      // Stored before conflicts had keys: matched by its detail, and stored again with its
      // keys, once, so that the next write finds it by them.
      c.keys = ConflictKeysOf(c);
      if (Status s = tx.PutConflict(c); !s) return s.error();
    }
    const store::ConflictKeys& k = *c.keys;
    const bool match =
        wanted.usernames.count(k.username) ||
        (!k.link_key.empty() && wanted.link_keys.count(k.link_key)) ||
        (!k.source_name.empty() && wanted.source_names.count({c.connection_id, k.source_name}));
    if (!match || !retried.insert({c.connection_id, c.source_user_id}).second) continue;
    SourceState s;
    s.connection_id = c.connection_id;
    s.source_user_id = c.source_user_id;
    (c.detail.value("rename", false) ? renames : fresh).push_back(std::move(s));
  }
  auto order = [&](const SourceState& a, const SourceState& b) {
    return SourceBefore(scope, a, b);
  };
  std::sort(renames.begin(), renames.end(), order);
  std::sort(fresh.begin(), fresh.end(), order);
  for (const auto* list : {&renames, &fresh}) {
    for (const auto& s : *list) out.emplace_back(s.connection_id, s.source_user_id);
  }
  return out;
}

// The source users of groups.import-off connections whose source groups map to a local group
// in `created` (folded names): the memberships their earlier derivation dropped now hold.
Result<std::vector<std::pair<int64_t, std::string>>> AdmittedByNewGroups(
    store::Transaction& tx, const Scope& scope, const std::set<std::string>& created,
    std::set<std::pair<int64_t, std::string>>& admitted) {
  std::vector<std::pair<int64_t, std::string>> out;
  if (created.empty()) return out;
  for (const auto& [conn, info] : scope.connections) {
    const policy::Policy* pol = scope.PolicyOf(conn);
    if (!pol || pol->groups.import) continue;
    std::vector<policy::SourceGroup> groups;
    Status st = tx.ScanResources(conn, ResourceType::kGroup, [&](const store::StoredResource& g) {
      groups.push_back({g.id, g.body.value("displayName", "")});
      return true;
    });
    if (!st) return st.error();
    for (const auto& g : groups) {
      policy::MappedGroups mapped = policy::MapGroups(*pol, {g}, false);
      bool hit = false;
      for (const auto& [key, local] : mapped.groups) hit = hit || created.count(key);
      if (!hit) continue;
      auto members = tx.ListMembers(conn, g.id);
      if (!members) return members.error();
      for (const auto& m : *members) {
        if (admitted.insert({conn, m.value}).second) out.emplace_back(conn, m.value);
      }
    }
  }
  return out;
}

}  // namespace

Result<WriteCounts> DeriveSources(DirectoryService::Impl& impl, store::Transaction& tx,
                                  const Scope& scope,
                                  const std::vector<std::pair<int64_t, std::string>>& sources,
                                  Json cause, TimePoint now, const PreparedUser* prepared) {
  Writer w(impl, tx, scope, std::move(cause), now);
  w.prepared = prepared;
  if (Status s = DeriveRound(tx, scope, w, sources); !s) return s.error();
  if (Status s = RetryPending(tx, scope, w); !s) return s.error();
  if (w.wrote_change) impl.pending_notify = true;
  return w.counts;
}

Status RetryAllPending(store::Transaction& tx, const Scope& scope, Writer& w) {
  auto conflicts = tx.ListConflicts(scope.directory.name);
  if (!conflicts) return conflicts.error();
  std::vector<std::pair<int64_t, std::string>> sources;
  for (const auto& c : *conflicts) {
    if (scope.Find(c.connection_id)) sources.emplace_back(c.connection_id, c.source_user_id);
  }
  std::sort(sources.begin(), sources.end());
  sources.erase(std::unique(sources.begin(), sources.end()), sources.end());
  if (!sources.empty()) {
    if (Status s = DeriveRound(tx, scope, w, sources); !s) return s;
  }
  return RetryPending(tx, scope, w);
}

Status RetryPending(store::Transaction& tx, const Scope& scope, Writer& w) {
  // Each round lets in what the previous one made possible; a source is retried once per
  // write, so this ends.
  // A source may be retried again in a later round (a name it wanted freed only then); a
  // retry that changes nothing raises no event, so the rounds end.
  std::set<std::pair<int64_t, std::string>> admitted;
  for (int round = 0; round < 64; ++round) {
    std::set<std::pair<int64_t, std::string>> retried;
    auto next = PendingToRetry(tx, scope, w, retried);
    if (!next) return next.error();
    auto more = AdmittedByNewGroups(tx, scope, w.created_groups, admitted);
    if (!more) return more.error();
    next->insert(next->end(), more->begin(), more->end());
    w.freed_usernames.clear();
    w.acquired_keys.clear();
    w.named_tombstones.clear();
    w.vacated.clear();
    w.created_groups.clear();
    if (next->empty()) break;
    std::set<std::pair<int64_t, std::string>> seen;
    next->erase(std::remove_if(next->begin(), next->end(),
                               [&](const auto& s) { return !seen.insert(s).second; }),
                next->end());
    if (Status s = DeriveRound(tx, scope, w, *next); !s) return s;
  }
  return Status::Ok();
}

}  // namespace idsync::directory
