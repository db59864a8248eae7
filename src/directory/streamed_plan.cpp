// The whole-directory plan, streamed: preview and batched apply (see streamed_plan.h).
#include "directory/streamed_plan.h"

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "base/uuid.h"
#include "directory/stored_user.h"
#include "scim/types.h"

namespace idsync::directory {

using policy::UserState;
using scim::ResourceType;

Result<bool> Streamable(store::Transaction& tx, const Scope& scope) {
  const std::string& dir = scope.directory.name;
  for (const auto& [conn_id, info] : scope.connections) {
    bool linked_all = true;
    Status failed = Status::Ok();
    Status st = tx.ScanResources(conn_id, ResourceType::kUser, [&](const store::StoredResource& r) {
      SourceState s = SourceFromBody(scope, conn_id, r.id, r.body, {});
      if (!s.present) return true;
      auto link = tx.GetLink(conn_id, r.id);
      if (!link) {
        if (link.error().code != ErrorCode::kNotFound) failed = link.error();
        linked_all = false;
        return false;
      }
      if (link->directory != dir) {
        linked_all = false;
        return false;
      }
      auto user = tx.GetEffectiveUser(dir, link->effective_user_id);
      if (!user) {
        if (user.error().code != ErrorCode::kNotFound) failed = user.error();
        linked_all = false;
        return false;
      }
      return true;
    });
    if (!st) return st.error();
    if (!failed) return failed.error();
    if (!linked_all) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------- DiffTally

Status DiffTally::Touch(store::Transaction& tx, const std::string& directory,
                        const std::string& group, int64_t delta) {
  std::string key = FoldCase(group);
  auto it = groups_.find(key);
  if (it == groups_.end()) {
    GroupTally t;
    t.name = group;
    auto g = tx.FindEffectiveGroupByName(directory, key);
    if (g) {
      auto n = tx.CountEffectiveMembers(directory, g->id);
      if (!n) return n.error();
      t.before = *n;
    } else if (g.error().code != ErrorCode::kNotFound) {
      return g.error();
    }
    it = groups_.emplace(key, std::move(t)).first;
  }
  it->second.net += delta;
  return Status::Ok();
}

Status DiffTally::Add(store::Transaction& tx, const std::string& directory, const std::string& id,
                      const std::optional<policy::UserSnapshot>& before,
                      const std::optional<policy::UserSnapshot>& after) {
  policy::DirectorySnapshot b, a;
  if (before) b[id] = *before;
  if (after) a[id] = *after;
  policy::DirectoryDiff d = policy::Diff(b, a);
  auto& c = diff_.counts;
  c.created += d.counts.created;
  c.updated += d.counts.updated;
  c.disabled += d.counts.disabled;
  c.enabled += d.counts.enabled;
  c.removed += d.counts.removed;
  c.memberships_added += d.counts.memberships_added;
  c.memberships_removed += d.counts.memberships_removed;
  auto keep = [&](auto& into, auto& from) {
    for (auto& x : from) {
      if (into.size() > max_items_) break;
      into.push_back(std::move(x));
    }
  };
  keep(diff_.created, d.created);
  keep(diff_.disabled, d.disabled);
  keep(diff_.enabled, d.enabled);
  keep(diff_.removed, d.removed);
  keep(diff_.updated, d.updated);
  for (const auto& m : d.memberships_added) {
    if (Status s = Touch(tx, directory, m.group, +1); !s) return s;
  }
  for (const auto& m : d.memberships_removed) {
    if (Status s = Touch(tx, directory, m.group, -1); !s) return s;
  }
  keep(diff_.memberships_added, d.memberships_added);
  keep(diff_.memberships_removed, d.memberships_removed);
  return Status::Ok();
}

Json DiffTally::ToJson() const {
  policy::DirectoryDiff out = diff_;
  for (const auto& [key, t] : groups_) {
    if (t.before == 0 && t.net > 0) {
      ++out.counts.groups_created;
      if (out.groups_created.size() <= max_items_) out.groups_created.push_back(t.name);
    } else if (t.before > 0 && t.before + t.net <= 0) {
      ++out.counts.groups_emptied;
      if (out.groups_emptied.size() <= max_items_) out.groups_emptied.push_back(t.name);
    }
  }
  // Sorted as policy::Diff sorts them (by user key), within the sample.
  std::sort(out.created.begin(), out.created.end());
  std::sort(out.disabled.begin(), out.disabled.end());
  std::sort(out.enabled.begin(), out.enabled.end());
  std::sort(out.removed.begin(), out.removed.end());
  std::sort(out.updated.begin(), out.updated.end(),
            [](const auto& x, const auto& y) { return x.user < y.user; });
  auto by_user = [](const policy::MembershipChange& x, const policy::MembershipChange& y) {
    return std::tie(x.user, x.group) < std::tie(y.user, y.group);
  };
  std::sort(out.memberships_added.begin(), out.memberships_added.end(), by_user);
  std::sort(out.memberships_removed.begin(), out.memberships_removed.end(), by_user);
  Json j = policy::DiffToJson(out, max_items_);
  j["conflicts"] = conflicts;
  return j;
}

Json DiffTally::Save() const {
  const auto& c = diff_.counts;
  Json groups = Json::object();
  for (const auto& [key, t] : groups_) groups[key] = {t.name, t.before, t.net};
  return {{"created", c.created},
          {"updated", c.updated},
          {"disabled", c.disabled},
          {"enabled", c.enabled},
          {"removed", c.removed},
          {"memberships_added", c.memberships_added},
          {"memberships_removed", c.memberships_removed},
          {"conflicts", conflicts},
          {"groups", std::move(groups)}};
}

Status DiffTally::Load(const Json& saved) {
  if (!saved.is_object()) return Status::Ok();  // nothing yet
  try {
    auto& c = diff_.counts;
    c.created = saved.value("created", size_t{0});
    c.updated = saved.value("updated", size_t{0});
    c.disabled = saved.value("disabled", size_t{0});
    c.enabled = saved.value("enabled", size_t{0});
    c.removed = saved.value("removed", size_t{0});
    c.memberships_added = saved.value("memberships_added", size_t{0});
    c.memberships_removed = saved.value("memberships_removed", size_t{0});
    conflicts = saved.value("conflicts", int64_t{0});
    if (auto g = saved.find("groups"); g != saved.end() && g->is_object()) {
      for (const auto& [key, t] : g->items()) {
        groups_[key] = {t.at(0).get<std::string>(), t.at(1).get<int64_t>(),
                        t.at(2).get<int64_t>()};
      }
    }
  } catch (const Json::exception& e) {
    return MakeError(ErrorCode::kInternal,
                     std::string("policy apply record: bad counts: ") + e.what());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------- one user

std::optional<policy::UserSnapshot> SnapshotOfRow(const store::EffectiveUserRow& row) {
  return policy::Snapshot(UserOf(row));
}

Result<PlannedUser> PlanStoredUser(store::Transaction& tx, const Scope& scope,
                                   const store::EffectiveUserRow& row,
                                   const policy::GroupExists& exists,
                                   const LinkingPlan* linking) {
  auto links = tx.LinksOf(scope.directory.name, row.id);
  if (!links) return links.error();
  std::vector<SourceState> sources;
  for (const auto& l : *links) {
    // As PlanDirectory: the sources of the directory's connections (a removed connection's
    // links are gone with it).
    if (!scope.Find(l.connection_id)) continue;
    if (linking && linking->dropped.count({l.connection_id, l.source_user_id})) continue;
    auto s = LoadSource(tx, scope, l.connection_id, l.source_user_id, l.source_name);
    if (!s) return s.error();
    sources.push_back(std::move(*s));
  }
  if (linking) {
    if (auto j = linking->joins_of.find(row.id); j != linking->joins_of.end()) {
      for (size_t i : j->second) {
        const auto& join = linking->joins[i];
        auto s = LoadSource(tx, scope, join.connection, join.source_user_id, join.source_name);
        if (!s) return s.error();
        sources.push_back(std::move(*s));
      }
    }
  }
  std::optional<store::EffectiveUserRow> prev = row;
  if (sources.empty()) return Merge(scope, row.id, {}, prev, row.link_key, exists);
  return Merge(scope, row.id, std::move(sources), prev, "", exists);
}

Result<std::optional<PlannedUser>> PlanNewUser(store::Transaction& tx, const Scope& scope,
                                               int64_t connection, const std::string& source,
                                               const policy::GroupExists& exists) {
  auto s = LoadSource(tx, scope, connection, source, "");
  if (!s) return s.error();
  if (!s->present) return std::optional<PlannedUser>();
  std::vector<SourceState> sources;
  sources.push_back(std::move(*s));
  return std::optional<PlannedUser>(
      Merge(scope, NewOrderedUuid(), std::move(sources), std::nullopt, "", exists));
}

namespace {

bool Gone(const PlannedUser& u) {
  return u.user.state == UserState::kRemoved || u.user.state == UserState::kNotImported;
}

// WriteUser's username rule over WriteOrder's last rank, in the order the batches write it: the
// renamed stored users (`renamed`, in creation order), then the new users (in SourceBefore
// order). A user is refused the name an earlier one of this rank holds (took, or kept when
// refused), a stored user keeps, or a renamed user not written yet still holds (WriteUser finds
// it in the store; the last batch's RetryAllPending then gives it the name, as the whole plan's
// RetryPending does, and that write is in "applied", not in the counts); a name held by a user
// leaving, or renamed earlier to another name, is free. `visit(user, row, refused)`:
// row null for a new user; a refused new user is not imported, a new user that is Gone is
// visited with refused false (its caller decides).
using RankVisit =
    std::function<Status(PlannedUser&, const store::EffectiveUserRow*, bool refused)>;
Status WalkLastRank(store::Transaction& tx, const Scope& scope, const policy::GroupExists& exists,
                    const LinkingPlan* linking, const std::vector<std::string>& renamed,
                    const std::set<std::string>& renamed_ids, const std::set<std::string>& leaving,
                    const LinkingPlan* sources, bool every_unlinked, const RankVisit& visit) {
  const std::string& dir = scope.directory.name;
  // FoldCase(username) claimed by a user of this rank. Each user asks once, before it claims, so
  // a claim found is another user's.
  std::unordered_set<std::string> claimed;
  std::unordered_set<std::string> written;  // renamed users visited
  auto refused_name = [&](const std::string& id, const std::string& key) -> Result<bool> {
    if (claimed.count(key)) return true;
    auto holder = tx.FindEffectiveUserByUsername(dir, key);
    if (holder) {
      if (holder->id == id || leaving.count(holder->id)) return false;
      // A renamed holder written already gave the name up (or kept it: claimed, above).
      return !(renamed_ids.count(holder->id) && written.count(holder->id));
    }
    if (holder.error().code != ErrorCode::kNotFound) return holder.error();
    return false;
  };
  for (const auto& id : renamed) {
    auto row = tx.GetEffectiveUser(dir, id);
    if (!row) return row.error();
    auto u = PlanStoredUser(tx, scope, *row, exists, linking);
    if (!u) return u.error();
    const std::string key = FoldCase(UsernameOf(u->user));
    auto refused = refused_name(id, key);
    if (!refused) return refused.error();
    claimed.insert(*refused ? row->username_key : key);
    written.insert(id);
    if (Status s = visit(*u, &*row, *refused); !s) return s;
  }
  if (!sources) return Status::Ok();
  const size_t n = every_unlinked ? sources->unlinked.size() : sources->fresh.size();
  for (size_t i = 0; i < n; ++i) {
    const auto& [conn, sid] = sources->unlinked[every_unlinked ? i : sources->fresh[i]];
    auto u = PlanNewUser(tx, scope, conn, sid, exists);
    if (!u) return u.error();
    if (!*u) continue;
    PlannedUser& nu = **u;
    bool refused = false;
    if (!Gone(nu)) {
      const std::string key = FoldCase(UsernameOf(nu.user));
      auto r = refused_name(nu.id, key);
      if (!r) return r.error();
      refused = *r;
      if (!refused) claimed.insert(key);
    }
    if (Status s = visit(nu, nullptr, refused); !s) return s;
  }
  return Status::Ok();
}

}  // namespace

int WriteRank(const PlannedUser& u, const store::EffectiveUserRow& row) {
  if (u.user.state == UserState::kRemoved || u.user.state == UserState::kNotImported) return 0;
  return row.username_key == FoldCase(UsernameOf(u.user)) ? 1 : 2;
}

Status PlannedGroups(store::Transaction& tx, const Scope& scope, std::set<std::string>* created,
                     bool* needed, const LinkingPlan* linking, bool joins_written) {
  *needed = false;
  for (const auto& [id, info] : scope.connections) {
    const policy::Policy* pol = scope.PolicyOf(id);
    *needed = *needed || (pol && !pol->groups.import);
  }
  if (!*needed) return Status::Ok();
  const LinkingPlan* overlay = linking && !joins_written ? linking : nullptr;
  const bool fresh = linking && !linking->unlinked.empty();
  auto grants = [&](const PlannedUser& u) {
    for (const auto& [key, m] : u.user.memberships) {
      for (const auto& g : m.grants) {
        if (!g.existing_only) created->insert(key);
      }
    }
  };
  // As PlanDirectory's first pass: the grants of every user the write leaves in the directory
  // (every stored user not leaving: VisitWritten visits refused renames too; the new users
  // admitted by the username rule).
  std::vector<std::string> renamed;
  std::set<std::string> renamed_ids, leaving;
  int64_t after = 0;
  for (;;) {
    auto page = tx.EffectiveUsersAfter(scope.directory.name, after, kPreviewPage);
    if (!page) return page.error();
    for (const auto& [pos, row] : *page) {
      auto u = PlanStoredUser(tx, scope, row, {}, overlay);
      if (!u) return u.error();
      const int rank = WriteRank(*u, row);
      if (rank == 0) {
        if (fresh) leaving.insert(row.id);
        continue;
      }
      grants(*u);
      if (rank == 2 && fresh) {
        renamed.push_back(row.id);
        renamed_ids.insert(row.id);
      }
    }
    if (static_cast<int64_t>(page->size()) < kPreviewPage) break;
    after = page->back().first;
  }
  if (!fresh) return Status::Ok();
  return WalkLastRank(tx, scope, {}, overlay, renamed, renamed_ids, leaving, linking, joins_written,
                      [&](PlannedUser& u, const store::EffectiveUserRow* row, bool refused) {
                        if (!row && !refused && !Gone(u)) grants(u);
                        return Status::Ok();
                      });
}

policy::GroupExists ExistsWith(store::Transaction& tx, const Scope& scope,
                               const std::set<std::string>* created, Status* failed) {
  if (!created) return {};
  return
      [created, stored = StoredGroups(tx, scope.directory.name, failed)](const std::string& name) {
        return created->count(FoldCase(name)) > 0 || stored(name);
      };
}

// ---------------------------------------------------------------------------- preview

Result<Json> StreamPreview(store::Transaction& tx, const Scope& scope, size_t max_items,
                           const LinkingPlan* linking) {
  const std::string& dir = scope.directory.name;
  if (linking && linking->Empty()) linking = nullptr;
  std::set<std::string> created;
  bool needed = false;
  if (Status s = PlannedGroups(tx, scope, &created, &needed, linking); !s) return s.error();
  Status lookup;  // StoredGroups' failed lookup, if any
  policy::GroupExists exists = ExistsWith(tx, scope, needed ? &created : nullptr, &lookup);
  DiffTally tally(max_items);
  // Pass 1 (WriteOrder ranks 0 and 1): counted at once. Renamed users (rank 2) are counted in
  // pass 2, in the same order, with VisitWritten's username rule, then the new users.
  std::vector<std::string> renamed;
  std::set<std::string> renamed_ids, leaving;
  int64_t after = 0;
  for (;;) {
    auto page = tx.EffectiveUsersAfter(dir, after, kPreviewPage);
    if (!page) return page.error();
    for (const auto& [pos, row] : *page) {
      auto u = PlanStoredUser(tx, scope, row, exists, linking);
      if (!u) return u.error();
      const int rank = WriteRank(*u, row);
      if (rank == 2) {
        renamed.push_back(row.id);
        renamed_ids.insert(row.id);
        continue;
      }
      if (rank == 0) leaving.insert(row.id);
      std::optional<policy::UserSnapshot> out;
      if (rank == 1) out = policy::Snapshot(u->user);
      if (Status s = tally.Add(tx, dir, row.id, SnapshotOfRow(row), out); !s) return s.error();
    }
    if (static_cast<int64_t>(page->size()) < kPreviewPage) break;
    after = page->back().first;
  }
  Status st = WalkLastRank(
      tx, scope, exists, linking, renamed, renamed_ids, leaving,
      linking, /*every_unlinked=*/false,
      [&](PlannedUser& u, const store::EffectiveUserRow* row, bool refused) -> Status {
        if (!row) {
          // A new user: WriteUser records a conflict for its source when it is not imported,
          // by the username rule or by the policy.
          if (refused || Gone(u)) {
            ++tally.conflicts;
            return Status::Ok();
          }
          return tally.Add(tx, dir, u.id, std::nullopt, policy::Snapshot(u.user));
        }
        policy::EffectiveUser out = u.user;
        if (refused) {
          ++tally.conflicts;
          out.attributes["username"].value = row->username;
        }
        return tally.Add(tx, dir, row->id, SnapshotOfRow(*row), policy::Snapshot(out));
      });
  if (!st) return st.error();
  if (!lookup) return lookup.error();
  return tally.ToJson();
}

// ---------------------------------------------------------------------------- apply

WriteCounts CountsFromJson(const Json& j) {
  WriteCounts c;
  if (!j.is_object()) return c;
  c.created = j.value("created", int64_t{0});
  c.updated = j.value("updated", int64_t{0});
  c.disabled = j.value("disabled", int64_t{0});
  c.enabled = j.value("enabled", int64_t{0});
  c.removed = j.value("removed", int64_t{0});
  c.memberships_added = j.value("memberships_added", int64_t{0});
  c.memberships_removed = j.value("memberships_removed", int64_t{0});
  c.conflicts = j.value("conflicts", int64_t{0});
  return c;
}

void AddCounts(WriteCounts& into, const WriteCounts& c) {
  into.created += c.created;
  into.updated += c.updated;
  into.disabled += c.disabled;
  into.enabled += c.enabled;
  into.removed += c.removed;
  into.memberships_added += c.memberships_added;
  into.memberships_removed += c.memberships_removed;
  into.conflicts += c.conflicts;
}

namespace {

// Reads the member count of each group a write of `u` over `row` (null: a new user) changes,
// before the write (DiffTally: a group's "before" is read at its first change).
Status PrimeGroups(store::Transaction& tx, const std::string& dir, DiffTally& tally,
                   const PlannedUser& u, const store::EffectiveUserRow* row) {
  std::set<std::string> was, will;
  if (row) {
    if (auto b = SnapshotOfRow(*row)) was = b->groups;
  }
  if (!Gone(u)) will = policy::Snapshot(u.user).groups;
  for (const auto& g : was) {
    if (!will.count(g)) {
      if (Status s = tally.Prime(tx, dir, g); !s) return s;
    }
  }
  for (const auto& g : will) {
    if (!was.count(g)) {
      if (Status s = tally.Prime(tx, dir, g); !s) return s;
    }
  }
  return Status::Ok();
}

// Phase 3: the next `batch` unlinked sources after the record's cursor, each a new user.
Status NewUsersBatch(store::Transaction& tx, const Scope& scope, const policy::GroupExists& exists,
                     const LinkingPlan& linking, Json& record, DiffTally& tally, Writer& w,
                     int64_t batch) {
  const std::string& dir = scope.directory.name;
  const auto& all = linking.unlinked;
  auto it = all.begin();
  if (auto c = record.find("source"); c != record.end() && c->is_array() && c->size() == 2) {
    LinkingPlan::SourceKey cursor{c->at(0).get<int64_t>(), c->at(1).get<std::string>()};
    it = std::upper_bound(all.begin(), all.end(), cursor,
                          [&](const auto& a, const auto& b) { return linking.Before(a, b); });
  }
  std::vector<PlannedUser> todo;
  int64_t taken = 0;
  for (; it != all.end() && taken < batch; ++it, ++taken) {
    // Linked since the decision (a SCIM write, RetryPending): the live rules placed it.
    auto linked = IsLinked(tx, scope, it->first, it->second);
    if (!linked) return linked.error();
    if (*linked) continue;
    auto u = PlanNewUser(tx, scope, it->first, it->second, exists);
    if (!u) return u.error();
    if (*u) todo.push_back(std::move(**u));
  }
  for (const auto& u : todo) {
    if (Status s = PrimeGroups(tx, dir, tally, u, nullptr); !s) return s;
  }
  const int64_t conflicts_before = w.counts.conflicts;
  for (auto& u : todo) {
    if (Status s = w.WriteUser(u, std::nullopt); !s) return s;
    std::optional<policy::UserSnapshot> out;
    auto now = tx.GetEffectiveUser(dir, u.id);
    if (now) {
      out = SnapshotOfRow(*now);
    } else if (now.error().code != ErrorCode::kNotFound) {
      return now.error();
    }
    if (Status s = tally.Add(tx, dir, u.id, std::nullopt, out); !s) return s;
  }
  tally.conflicts += w.counts.conflicts - conflicts_before;
  if (it == all.end()) {
    record["phase"] = kPhaseDone;
    record.erase("source");
  } else {
    const auto& last = *(it - 1);
    record["source"] = Json::array({last.first, last.second});
  }
  return Status::Ok();
}

}  // namespace

Status ApplyBatch(DirectoryService::Impl& impl, store::Transaction& tx, const Scope& scope,
                  const std::set<std::string>* created, const LinkingPlan* linking, Json& record,
                  DiffTally& tally, WriteCounts& applied, int64_t batch) {
  const std::string& dir = scope.directory.name;
  const int phase = record.value("phase", kPhaseStored);
  const bool with_linking = record.value("linking", false);  // phase 3 follows phase 2
  if ((phase == kPhaseLink || phase == kPhaseNew) && !linking) {
    return MakeError(ErrorCode::kInternal, "policy apply record: phase " +
                                               std::to_string(phase) +
                                               " without its linking decision");
  }
  if (phase == kPhaseLink) {
    // The decision, all of it in one transaction: links only, no merge (see ARCHITECTURE).
    if (Status s = WriteLinking(tx, scope, *linking); !s) return s;
    record["phase"] = kPhaseStored;
    record["after"] = 0;
    record["tally"] = tally.Save();
    record["applied"] = CountsJson(applied);
    return Status::Ok();
  }
  Status lookup;  // StoredGroups' failed lookup, if any: fails the batch
  policy::GroupExists exists = ExistsWith(tx, scope, created, &lookup);
  Writer w(impl, tx, scope, record.value("cause", Json::object()), impl.clock.Now());
  if (phase == kPhaseNew) {
    if (Status s = NewUsersBatch(tx, scope, exists, *linking, record, tally, w, batch); !s) {
      return s;
    }
    if (!lookup) return lookup;
    // After the last write, as the whole plan: what all the writes made possible for the
    // sources still pending (the batches before did not retry).
    if (record.value("phase", kPhaseNew) == kPhaseDone) {
      if (Status s = RetryAllPending(tx, scope, w); !s) return s;
    }
    if (w.wrote_change) impl.pending_notify = true;
    AddCounts(applied, w.counts);
    record["tally"] = tally.Save();
    record["applied"] = CountsJson(applied);
    return Status::Ok();
  }
  const int64_t after = record.value("after", int64_t{0});
  auto page = tx.EffectiveUsersAfter(dir, after, batch);
  if (!page) return page.error();
  // This batch's users of the phase's ranks, leaving ones first (WriteOrder).
  std::vector<std::pair<int, std::pair<PlannedUser, const store::EffectiveUserRow*>>> todo;
  for (const auto& [pos, row] : *page) {
    auto u = PlanStoredUser(tx, scope, row, exists);
    if (!u) return u.error();
    const int rank = WriteRank(*u, row);
    if ((phase == kPhaseStored && rank == 2) || (phase == kPhaseRenamed && rank != 2)) continue;
    todo.push_back({rank, {std::move(*u), &row}});
  }
  if (!lookup) return lookup;
  std::stable_sort(todo.begin(), todo.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [rank, item] : todo) {
    if (Status s = PrimeGroups(tx, dir, tally, item.first, item.second); !s) return s;
  }
  const int64_t conflicts_before = w.counts.conflicts;
  for (auto& [rank, item] : todo) {
    auto& [u, row] = item;
    std::optional<store::EffectiveUserRow> prev = *row;
    if (Status s = w.WriteUser(u, prev); !s) return s;
    std::optional<policy::UserSnapshot> out;
    auto now = tx.GetEffectiveUser(dir, row->id);
    if (now) {
      out = SnapshotOfRow(*now);
    } else if (now.error().code != ErrorCode::kNotFound) {
      return now.error();
    }
    if (Status s = tally.Add(tx, dir, row->id, SnapshotOfRow(*row), out); !s) return s;
  }
  tally.conflicts += w.counts.conflicts - conflicts_before;
  if (static_cast<int64_t>(page->size()) < batch) {
    int next = phase + 1;
    if (next == kPhaseNew && !with_linking) next = kPhaseDone;
    record["phase"] = next;
    record["after"] = 0;
  } else {
    record["after"] = page->back().first;
  }
  // What the writes made possible for pending source users: once, after the last write, as
  // the whole plan retries (a pending source retried after an early batch would take a name
  // before a renamed user of a later batch asks for it, which the preview cannot count).
  if (record.value("phase", phase) == kPhaseDone) {
    if (Status s = RetryAllPending(tx, scope, w); !s) return s;
  }
  if (w.wrote_change) impl.pending_notify = true;
  AddCounts(applied, w.counts);
  record["tally"] = tally.Save();
  record["applied"] = CountsJson(applied);
  return Status::Ok();
}

}  // namespace idsync::directory
