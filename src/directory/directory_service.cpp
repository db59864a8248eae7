// DirectoryService (see directory_service.h and docs/ARCHITECTURE.md, "Effective directory"):
// the layer-1 hooks, directories, explain and conflicts, hand-granted memberships and the change
// feed. The derivation itself is in derivation.cpp (a few source users, every mirror write) and
// directory_plan.cpp (the whole directory), both writing through writer.cpp.
#include "directory/directory_service.h"

#include <algorithm>
#include <map>
#include <set>

#include "base/strings.h"
#include "directory/derivation.h"
#include "directory/prepared_user.h"
#include "directory/scope.h"
#include "directory/stored_user.h"
#include "directory/streamed_plan.h"
#include "directory/writer.h"

namespace idsync::directory {

using policy::UserState;

DirectoryService::DirectoryService(store::Store& store, const Clock& clock)
    : impl_(std::make_unique<Impl>(store, clock)) {}

DirectoryService::~DirectoryService() = default;

// ---------- layer-1 hooks ----------

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
  // A create prepared before its job (prepared_user.h) is derived at the request's time, the
  // one its prepared row carries.
  const auto* prepared = dynamic_cast<const PreparedUser*>(change.prepared.get());
  auto counts = DeriveSources(*impl_, tx, *scope, sources, std::move(cause),
                              prepared ? prepared->now : impl_->clock.Now(), prepared);
  if (!counts) return counts.error();
  return Status::Ok();
}

std::shared_ptr<const service::MirrorPreparation> DirectoryService::PrepareCreatedUser(
    const store::Connection& connection, const store::StoredResource& user,
    const std::string& request_id, int64_t generation) {
  return PrepareUser(*impl_, connection, user, request_id, generation);
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
  Writer w(*impl_, tx, s, Json{{"connection", connection.name},
                              {"request_id", actor.request_id},
                              {"actor", actor.name},
                              {"reason", "connection removed"}},
           impl_->clock.Now());
  Status lookup;  // StoredGroups' failed lookup, if any
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
        gone.source_name = l.source_name;
        states.push_back(std::move(gone));
        continue;
      }
      auto st = LoadSource(tx, s, l.connection_id, l.source_user_id, l.source_name);
      if (!st) return st.error();
      states.push_back(std::move(*st));
    }
    PlannedUser plan =
        Merge(s, id, std::move(states), *row, "", StoredGroups(tx, connection.directory, &lookup));
    if (!lookup) return lookup;
    // The removed connection's links go with it (DeleteConnection), never left dangling.
    plan.sources.erase(std::remove_if(plan.sources.begin(), plan.sources.end(),
                                      [&](const SourceState& x) {
                                        return x.connection_id == connection.id;
                                      }),
                       plan.sources.end());
    if (Status st = w.WriteUser(plan, *row); !st) return st;
  }
  // Names given up may let pending users of the other connections in; the removed
  // connection's own sources count as deleted from here on.
  s.overrides.erase(connection.id);
  s.connections.erase(connection.id);
  w.named_tombstones.clear();
  w.vacated.clear();
  if (Status st = RetryPending(tx, s, w); !st) return st;
  if (w.wrote_change) impl_->pending_notify = true;
  return Status::Ok();
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
  // [a-z][a-z0-9_-]{0,62}
  const bool valid =
      !name.empty() && name.size() <= 63 && name[0] >= 'a' && name[0] <= 'z' &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      });
  if (!valid) {
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
  // An apply a killed process left half-done goes first.
  if (auto resumed = ResumeApplies(); !resumed) return resumed.error();
  // The re-derivation the change needs is the batched apply (streamed_plan.h), recorded in the
  // same transaction as the change; outside the steady state (a present source not linked) it
  // starts with the linking decision (phase 0). A
  // change of definitions does not change which source users are present or linked (a policy
  // cannot use an attribute before it is defined, and removing one a policy uses is refused),
  // so the check is made before, outside the writer.
  bool streamable = false;
  bool batched = false;
  Status checked = impl_->store.Read([&](store::Transaction& tx) -> Status {
    if (!tx.KeepsPolicyApplies()) return Status::Ok();
    batched = true;
    if (auto d = tx.GetDirectory(directory); !d) {
      return d.error().code == ErrorCode::kNotFound ? Status::Ok() : Status(d.error());
    }
    auto scope = LoadScope(*impl_, tx, directory);
    if (!scope) return scope.error();
    auto can = Streamable(tx, *scope);
    if (!can) return can.error();
    streamable = *can;
    return Status::Ok();
  });
  if (!checked) return checked.error();
  bool streamed = false;
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
    if (batched) {
      streamed = true;
      Json record = {{"connection", ""},
                     {"connection_id", 0},
                     {"version", 0},
                     {"phase", streamable ? kPhaseStored : kPhaseLink},
                     {"linking", !streamable},
                     {"after", 0},
                     {"cause", cause},
                     {"actor", actor.name},
                     {"request_id", actor.request_id}};
      if (Status s = tx.PutPolicyApply(directory, record); !s) return s;
    } else {
      auto applied = ApplyPlan(*impl_, tx, *scope, cause, 0);
      if (!applied) return applied.error();
    }
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
  if (streamed) {
    if (auto applied = ResumeApplies(); !applied) return applied.error();
  }
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
    // Each entry with its provenance inline, as stored before the shared form (render.h).
    const Json body = WithInlineProvenance(row->body);
    out = {{"directory", directory},
           {"id", row->id},
           {"username", row->username},
           {"state", row->state},
           {"state_reason", row->body.value("state_reason", "")},
           {"attributes", body.value("attributes", Json::object())},
           {"memberships", body.value("memberships", Json::array())},
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
      Json detail = c.detail;
      // The holder's name as it is now (it may have changed case or name since).
      if (auto holder = detail.find("held_by"); holder != detail.end() && holder->is_string()) {
        auto row = tx.GetEffectiveUser(directory, holder->get<std::string>());
        if (row) detail["held_by_username"] = row->username;
      }
      out.push_back({{"connection", it == by_id.end() ? "" : it->second->uuid},
                     {"connection_name", it == by_id.end() ? "" : it->second->name},
                     {"source_user", c.source_user_id},
                     {"username", c.username},
                     {"detail", std::move(detail)},
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
    // The grant changes the stored user, which is then derived again from its sources like any
    // write (MergeUser keeps hand grants while a source keeps existing memberships), so that a
    // re-derivation finds the same user.
    policy::EffectiveUser prev = UserOf(*row);
    const auto is_hand = [](const policy::MembershipGrant& g) {
      return g.rule == policy::MembershipRule::kExisting;
    };
    if (grant) {
      auto& m = prev.memberships[FoldCase(group)];
      if (m.group.empty()) m.group = group;
      if (std::any_of(m.grants.begin(), m.grants.end(), is_hand)) return Status::Ok();
      m.grants.push_back({policy::MembershipRule::kExisting, "", "", "granted by " + actor.name});
    } else {
      auto it = prev.memberships.find(FoldCase(group));
      bool found = false;
      if (it != prev.memberships.end()) {
        auto& grants = it->second.grants;
        auto end = std::remove_if(grants.begin(), grants.end(), is_hand);
        found = end != grants.end();
        grants.erase(end, grants.end());
        if (grants.empty()) prev.memberships.erase(it);
      }
      if (!found) {
        return MakeError(ErrorCode::kNotFound, "user \"" + user + "\" has no membership in \"" +
                                                   group + "\" granted by an administrator");
      }
    }
    store::EffectiveUserRow changed = *row;
    changed.body = BodyOf(prev, scope->names, {});
    auto links = tx.LinksOf(directory, row->id);
    if (!links) return links.error();
    std::vector<SourceState> states;
    for (const auto& l : *links) {
      auto s = LoadSource(tx, *scope, l.connection_id, l.source_user_id, l.source_name);
      if (!s) return s.error();
      states.push_back(std::move(*s));
    }
    Status lookup;
    PlannedUser plan = Merge(*scope, row->id, std::move(states), changed, row->link_key,
                             StoredGroups(tx, directory, &lookup));
    if (!lookup) return lookup;
    if (grant) {
      auto m = plan.user.memberships.find(FoldCase(group));
      if (m == plan.user.memberships.end() ||
          std::none_of(m->second.grants.begin(), m->second.grants.end(), is_hand)) {
        return MakeError(ErrorCode::kInvalidValue,
                         "user \"" + row->username +
                             "\" keeps no membership granted by hand: "
                             "groups.keep_existing_memberships is off in the policy of every "
                             "connection it comes from");
      }
    }
    const std::string what = grant ? "granted" : "revoked";
    Writer w(impl, tx, *scope, Json{{"connection", ""},
                                   {"request_id", actor.request_id},
                                   {"actor", actor.name},
                                   {"reason", "membership " + what}},
             impl.clock.Now());
    if (Status s = w.WriteUser(plan, *row); !s) return s;
    if (Status s = RetryPending(tx, *scope, w); !s) return s;  // a group created
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