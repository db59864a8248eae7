// LdapSync's runs: full and incremental, their lease, guard and history (see ldap_sync.h and
// docs/ARCHITECTURE.md, "LDAP sync"). A run's scans are in ldap_run_scan.cpp, its groups and
// deletions in ldap_run_groups.cpp.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "base/log.h"
#include "base/strings.h"
#include "sync/ldap_change_marks.h"
#include "sync/ldap_entries.h"
#include "sync/ldap_membership_index.h"
#include "sync/ldap_sync_impl.h"

namespace idsync::sync {

using ldap::LdapClient;
using ldap::LdapEntry;
using scim::ResourceType;

namespace {

// The root DSE's supportedCapabilities value naming Active Directory.
constexpr std::string_view kLdapCapActiveDirectory = "1.2.840.113556.1.4.800";

}  // namespace

Json SyncRunToJson(const store::SyncRun& run, const std::string& connection_name) {
  return Json{{"id", run.id},
              {"connection", connection_name},
              {"mode", run.mode},
              {"trigger", run.trigger},
              {"outcome", run.outcome},
              {"started", FormatRfc3339(run.started)},
              {"ended", run.ended ? Json(FormatRfc3339(*run.ended)) : Json(nullptr)},
              {"counts", run.counts},
              {"progress", run.progress},
              {"error", run.error.empty() ? Json(nullptr) : Json(run.error)},
              {"instance", run.owner.empty() ? Json(nullptr) : Json(run.owner)}};
}

Status LdapSync::Impl::RenewLease(store::Transaction& tx, RunContext& rc) {
  const TimePoint now = clock.Now();
  auto held = tx.AcquireSyncLease(rc.connection().id, owner, now, now + kLeaseTtl);
  if (!held) return held.error();
  if (!*held) {
    return MakeError(ErrorCode::kUnavailable,
                     "the run lost its lease to another process (its renewal stalled for "
                     "more than " +
                         std::to_string(kLeaseTtl.count()) + " seconds)");
  }
  return Status::Ok();
}

Status LdapSync::Impl::WriteStep(RunContext& rc,
                                 const std::function<Status(store::Transaction&, Json&)>& body) {
  Json counts;
  Status st = store.Write([&](store::Transaction& tx) -> Status {
    counts = rc.run.counts;
    if (Status s = RenewLease(tx, rc); !s) return s;
    if (Status s = body(tx, counts); !s) return s;
    store::SyncRun r = rc.run;
    r.counts = counts;
    return tx.UpdateSyncRun(r);
  });
  directory.AfterCommit();
  if (st) rc.run.counts = std::move(counts);
  return st;
}

Result<bool> LdapSync::Impl::GuardAllows(RunContext& rc, size_t to_delete) {
  if (to_delete == 0 || rc.options.confirm) return true;
  int64_t total = 0;
  Status st = store.Read([&](store::Transaction& tx) -> Status {
    auto n = tx.CountResources(rc.connection().id, ResourceType::kUser);
    if (!n) return n.error();
    total = *n;
    return Status::Ok();
  });
  if (!st) return st.error();
  const double allowed = rc.config().deprovision_guard * static_cast<double>(total);
  if (static_cast<double>(to_delete) <= allowed) return true;
  char share[32];
  std::snprintf(
      share, sizeof share, "%.1f%%",
      total > 0 ? 100.0 * static_cast<double>(to_delete) / static_cast<double>(total) : 100.0);
  rc.run.outcome = "needs_confirmation";
  rc.run.error = std::to_string(to_delete) + " of " + std::to_string(total) + " users (" + share +
                 ") would be deprovisioned, more than the guard allows (" +
                 std::to_string(static_cast<int>(rc.config().deprovision_guard * 100)) +
                 "%); nothing was deprovisioned. Check the server and the settings, then "
                 "confirm: idsync sync " +
                 rc.connection().name + " --full --confirm";
  rc.run.progress["pending_deletions"] = to_delete;
  return false;
}

Status LdapSync::Impl::ReadRootDse(RunContext& rc) {
  std::string usn;
  ldap::SearchRequest request{"",
                              ldap::SearchScope::kBase,
                              "(objectClass=*)",
                              {"highestCommittedUSN", "supportedCapabilities"},
                              0,
                              false};
  Status st = rc.client->PagedSearch(request, [&](const LdapEntry& e) -> Status {
    usn = e.First("highestCommittedUSN").value_or("");
    if (const auto* caps = e.Find("supportedCapabilities")) {
      rc.active_directory =
          std::find(caps->begin(), caps->end(), kLdapCapActiveDirectory) != caps->end();
    }
    return Status::Ok();
  });
  if (!IsUsn(rc.config())) return Status::Ok();
  if (!st) return MakeError(st.error().code, FailureText(*rc.client, st.error()));
  if (usn.empty() || usn.find_first_not_of("0123456789") != std::string::npos) {
    return MakeError(ErrorCode::kUnavailable,
                     "the server's root DSE has no highestCommittedUSN: uSNChanged needs Active "
                     "Directory; use change_attribute modifyTimestamp");
  }
  rc.usn_mark = usn;
  return Status::Ok();
}

Status LdapSync::Impl::Full(RunContext& rc) {
  const LdapConfig& config = rc.config();
  if (Status s = ReadRootDse(rc); !s) return s;
  // Groups first (few, held in memory): each user is then written with its memberships in
  // the same job, so it is derived once. A failed group scan has written nothing.
  auto groups = ScanGroups(rc, config.ldap.group_filter);
  if (!groups) return groups.error();
  if (Status s = PutGroups(rc, *groups); !s) return s;
  MembershipIndex index(*groups);
  rc.index = &index;
  Status scanned = ScanUsers(rc, config.ldap.user_filter, "users");
  rc.index = nullptr;
  if (!scanned) return scanned;
  // Both scans completed: now, and only now, may anything disappear.
  auto mirror_users = MirrorIds(rc, ResourceType::kUser);
  if (!mirror_users) return mirror_users.error();
  std::vector<std::string> gone_users;
  for (const auto& id : *mirror_users) {
    if (!rc.seen_users.count(id)) gone_users.push_back(id);
  }
  auto allowed = GuardAllows(rc, gone_users.size());
  if (!allowed) return allowed.error();
  if (!*allowed) return Status::Ok();
  auto mirror_groups = MirrorIds(rc, ResourceType::kGroup);
  if (!mirror_groups) return mirror_groups.error();
  std::unordered_set<std::string> seen_groups;
  for (const auto& g : *groups) seen_groups.insert(g.id);
  std::vector<std::string> gone_groups;
  for (const auto& id : *mirror_groups) {
    if (!seen_groups.count(id)) gone_groups.push_back(id);
  }
  if (Status s = DeleteGroups(rc, gone_groups); !s) return s;
  return DeleteUsers(rc, gone_users);
}

Result<std::unordered_set<std::string>> LdapSync::Impl::ScanIds(
    RunContext& rc, const std::string& filter,
    std::unordered_map<std::string, std::vector<std::string>>* member_of) {
  std::unordered_set<std::string> ids;
  const std::string& id_attr = rc.config().ldap.id_attribute;
  std::vector<std::string> attrs = {id_attr};
  if (member_of) attrs.emplace_back("memberOf");
  for (const auto& base : rc.config().ldap.base_dns) {
    ldap::SearchRequest request{base, ldap::SearchScope::kSubtree, filter, attrs, 0, true};
    Status st = rc.client->PagedSearch(request, [&](const LdapEntry& entry) -> Status {
      auto id = ldap::StableId(entry, id_attr);
      if (!id) return Status::Ok();
      ids.insert(*id);
      const auto* groups = member_of ? entry.Find("memberOf") : nullptr;
      if (groups) {
        for (const auto& g : *groups) (*member_of)[DnKey(g)].push_back(*id);
      }
      return Status::Ok();
    });
    if (!st) return MakeError(st.error().code, FailureText(*rc.client, st.error()));
  }
  return ids;
}

Status LdapSync::Impl::Incremental(RunContext& rc) {
  const LdapConfig& config = rc.config();
  const std::string mark = rc.state.value("mark", "");
  if (Status s = ReadRootDse(rc); !s) return s;
  if (Status s = ScanUsers(rc, ChangedFilter(config.ldap.user_filter, config, mark), "users"); !s) {
    return s;
  }
  auto changed_groups = ScanGroups(rc, ChangedFilter(config.ldap.group_filter, config, mark));
  if (!changed_groups) return changed_groups.error();
  std::optional<std::vector<GroupInfo>> all_groups;
  if (!changed_groups->empty() || rc.membership_dirty) {
    // Memberships are flattened over every group, so one changed group (or a user that
    // appeared or moved) means reading all groups: few entries next to the users.
    auto groups = ScanGroups(rc, config.ldap.group_filter);
    if (!groups) return groups.error();
    all_groups = std::move(*groups);
  }
  std::vector<std::string> gone_users, gone_groups;
  // memberOf is a back-link: adding a user to a group changes the group's uSNChanged (or
  // modifyTimestamp), not the user's, so the mirror's copy is stale for every user this run
  // did not read. When memberships are recomputed, every user's memberOf is read again, in
  // the scan that also finds deletions.
  const bool fresh_member_of = all_groups.has_value() && ReadsMemberOf(rc);
  std::unordered_map<std::string, std::vector<std::string>> member_of;
  if (fresh_member_of && config.incremental_deletions != "id_scan") {
    rc.run.progress["phase"] = "member_of";
    auto ids = ScanIds(rc, config.ldap.user_filter, &member_of);
    if (!ids) return ids.error();
  }
  if (config.incremental_deletions == "id_scan") {
    rc.run.progress["phase"] = "id_scan";
    auto ids = ScanIds(rc, config.ldap.user_filter, fresh_member_of ? &member_of : nullptr);
    if (!ids) return ids.error();
    auto mirror_users = MirrorIds(rc, ResourceType::kUser);
    if (!mirror_users) return mirror_users.error();
    for (const auto& id : *mirror_users) {
      if (!ids->count(id)) gone_users.push_back(id);
    }
    std::unordered_set<std::string> group_ids;
    if (all_groups) {
      for (const auto& g : *all_groups) group_ids.insert(g.id);
    } else {
      auto scanned = ScanIds(rc, config.ldap.group_filter);
      if (!scanned) return scanned.error();
      group_ids = std::move(*scanned);
    }
    auto mirror_groups = MirrorIds(rc, ResourceType::kGroup);
    if (!mirror_groups) return mirror_groups.error();
    for (const auto& id : *mirror_groups) {
      if (!group_ids.count(id)) gone_groups.push_back(id);
    }
  }
  auto allowed = GuardAllows(rc, gone_users.size());
  if (!allowed) return allowed.error();
  if (!*allowed) return Status::Ok();
  if (all_groups) {
    if (Status s = LoadUserMaps(rc); !s) return s;
    if (fresh_member_of) {
      // Users of the mirror only (one that entered the scope after the users were read waits
      // for the next run, as it would without memberOf).
      std::unordered_set<std::string> known;
      for (const auto& [dn, id] : rc.user_by_dn) known.insert(id);
      for (auto& [group, ids] : member_of) {
        std::erase_if(ids, [&](const std::string& id) { return !known.count(id); });
      }
      rc.member_of = std::move(member_of);
    }
    if (Status s = ApplyGroups(rc, *all_groups); !s) return s;
  }
  if (Status s = DeleteGroups(rc, gone_groups); !s) return s;
  return DeleteUsers(rc, gone_users);
}

Json LdapSync::Impl::NextState(const RunContext& rc, bool full) {
  Json state = rc.state.is_object() ? rc.state : Json::object();
  state["change_attribute"] = rc.config().change_attribute;
  if (IsUsn(rc.config())) {
    state["mark"] = rc.usn_mark;
  } else {
    // See docs/ARCHITECTURE.md "LDAP sync": never past the run's start minus the clock skew
    // allowance, so an entry changed during the scan after it was read is read again.
    const std::string ceiling = TimeDigits(rc.start - rc.config().clock_skew);
    std::string seen = rc.max_mark.empty() ? ceiling : std::min(rc.max_mark, ceiling);
    std::string prev = full ? std::string() : rc.state.value("mark", "");
    state["mark"] = std::max(prev, seen);
  }
  if (full) state["last_full"] = FormatRfc3339(rc.start);
  state["last_success"] = FormatRfc3339(rc.start);
  return state;
}

namespace {

// Renews a run's lease every kLeaseRenew from a thread of its own while the run lasts (its
// scans can go long without a store write), so that the lease can be short: a run killed with
// its instance blocks the connection for at most kLeaseTtl. A renewal that finds the lease
// taken does nothing more; the run's next write step (RenewLease) fails the run.
class LeaseHeartbeat {
 public:
  LeaseHeartbeat(store::Store& store, const Clock& clock, int64_t connection_id, std::string owner)
      : store_(store), clock_(clock), cid_(connection_id), owner_(std::move(owner)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~LeaseHeartbeat() { Stop(); }
  LeaseHeartbeat(const LeaseHeartbeat&) = delete;
  LeaseHeartbeat& operator=(const LeaseHeartbeat&) = delete;

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, kLeaseRenew, [this] { return stopping_; })) {
      lock.unlock();
      Status st = store_.Write([&](store::Transaction& tx) -> Status {
        const TimePoint now = clock_.Now();
        auto held = tx.AcquireSyncLease(cid_, owner_, now, now + kLeaseTtl);
        if (!held) return held.error();
        return Status::Ok();
      });
      if (!st) {
        log::Warn("sync lease renewal failed",
                  {{"component", "ldap-sync"}, {"detail", st.error().detail}});
      }
      lock.lock();
    }
  }

  store::Store& store_;
  const Clock& clock_;
  const int64_t cid_;
  const std::string owner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// A run that succeeded, changed nothing and skipped nothing.
bool IsIdle(const store::SyncRun& run) {
  if (run.outcome != "succeeded" || !run.error.empty()) return false;
  for (auto it = run.counts.begin(); it != run.counts.end(); ++it) {
    if (it.key() != "unchanged" && it->is_number_integer() && it->get<int64_t>() != 0) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<store::SyncRun> LdapSync::Run(const std::string& name, const RunOptions& options) {
  Impl& m = *impl_;
  auto loaded = m.Load(name, true);
  if (!loaded) return loaded.error();
  if (!loaded->connection.enabled) {
    return Invalid("connection \"" + name + "\" is disabled; enable it to sync");
  }
  auto lock_ptr = m.LockFor(loaded->connection.id);
  std::lock_guard in_process(*lock_ptr);  // runs of this process wait their turn

  const int64_t cid = loaded->connection.id;
  const auto deadline = std::chrono::steady_clock::now() + options.wait_for_lease;
  while (true) {
    bool held = false;
    Status st = m.store.Write([&](store::Transaction& tx) -> Status {
      const TimePoint now = m.clock.Now();
      auto got = tx.AcquireSyncLease(cid, m.owner, now, now + kLeaseTtl);
      if (!got) return got.error();
      held = *got;
      return Status::Ok();
    });
    if (!st) return st.error();
    if (held) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      return MakeError(ErrorCode::kUnavailable,
                       "connection \"" + name + "\" is being synced by another process; try later");
    }
    std::this_thread::sleep_for(kLeasePoll);
  }

  LeaseHeartbeat heartbeat(m.store, m.clock, cid, m.owner);
  RunContext rc;
  rc.loaded = std::move(*loaded);
  rc.options = options;
  rc.start = m.clock.Now();
  Status setup = m.store.Write([&](store::Transaction& tx) -> Status {
    auto abandoned = tx.AbandonSyncRuns(cid, m.owner, rc.start);
    if (!abandoned) return abandoned.error();
    auto state = tx.GetSyncState(cid);
    if (!state) return state.error();
    rc.state = *state;
    const bool can_increment =
        rc.state.contains("mark") &&
        rc.state.value("change_attribute", "") == rc.config().change_attribute;
    rc.run.connection_id = cid;
    rc.run.mode = options.full || !can_increment ? "full" : "incremental";
    rc.run.trigger = options.trigger;
    rc.run.outcome = "running";
    rc.run.started = rc.start;
    rc.run.counts = ZeroCounts();
    rc.run.progress = Json{{"phase", "connecting"}, {"entries_read", 0}, {"total", nullptr}};
    rc.run.owner = m.owner;
    auto id = tx.InsertSyncRun(rc.run);
    if (!id) return id.error();
    rc.run.id = *id;
    return Status::Ok();
  });
  if (!setup) {
    heartbeat.Stop();
    (void)m.store.Write([&](store::Transaction& tx) { return tx.ReleaseSyncLease(cid, m.owner); });
    return setup.error();
  }
  if (options.on_started) options.on_started(rc.run.id);

  const bool full = rc.run.mode == "full";
  Status result = Status::Ok();
  try {
    auto client = LdapClient::Connect(rc.config().ldap);
    if (!client) {
      result = client.error();
    } else {
      rc.client = std::make_unique<LdapClient>(std::move(*client));
      result = full ? m.Full(rc) : m.Incremental(rc);
    }
  } catch (const std::exception& e) {
    result = MakeError(ErrorCode::kInternal, std::string("unexpected failure: ") + e.what());
  }
  rc.client.reset();
  heartbeat.Stop();  // the write below releases the lease

  rc.run.ended = m.clock.Now();
  if (!result) {
    rc.run.outcome = "failed";
    rc.run.error = result.error().detail +
                   " (nothing was deprovisioned; the mirror keeps its last complete state)";
  } else if (rc.run.outcome == "running") {
    rc.run.outcome = "succeeded";
    if (!rc.entry_errors.empty()) {
      std::string text = "entries skipped: ";
      for (size_t i = 0; i < rc.entry_errors.size(); ++i) {
        text += (i ? "; " : "") + rc.entry_errors[i];
      }
      rc.run.error = text;
    }
  }
  rc.run.progress["phase"] = "done";
  rc.run.progress["entries_read"] = rc.entries_read;
  Status done = m.store.Write([&](store::Transaction& tx) -> Status {
    if (Status s = tx.UpdateSyncRun(rc.run); !s) return s;
    if (rc.run.outcome == "succeeded") {
      if (Status s = tx.PutSyncState(cid, m.NextState(rc, full)); !s) return s;
    }
    if (Status s = tx.ReleaseSyncLease(cid, m.owner); !s) return s;
    const int status = rc.run.outcome == "succeeded"            ? 200
                       : rc.run.outcome == "needs_confirmation" ? 409
                                                                : 503;
    // A scheduled run that changed nothing is in the run history only: every 15 minutes an
    // audit record saying "nothing happened" would bury the records that matter.
    if (options.trigger == "schedule" && IsIdle(rc.run)) return Status::Ok();
    return m.Audit(tx, rc.connection(), options.trigger, options.request_id, "sync." + rc.run.mode,
                   status,
                   "run " + std::to_string(rc.run.id) + ": " + rc.run.outcome +
                       (rc.run.error.empty() ? "" : ": " + rc.run.error));
  });
  m.directory.AfterCommit();
  if (!done) return done.error();
  return rc.run;
}

Result<std::vector<store::SyncRun>> LdapSync::Runs(const std::string& name, int64_t limit) {
  auto loaded = impl_->Load(name, false);
  if (!loaded) return loaded.error();
  std::vector<store::SyncRun> runs;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto list = tx.ListSyncRuns(loaded->connection.id, limit);
    if (!list) return list.error();
    runs = std::move(*list);
    return Status::Ok();
  });
  if (!st) return st.error();
  return runs;
}

}  // namespace idsync::sync