// Planning effective users from their source users (see derivation.h).
#include "directory/derivation.h"

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "base/uuid.h"
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

}  // namespace idsync::directory
