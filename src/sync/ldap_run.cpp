// LdapSync's runs: full and incremental (see ldap_sync.h and docs/ARCHITECTURE.md, "LDAP sync").
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <thread>

#include "base/strings.h"
#include "sync/ldap_change_marks.h"
#include "sync/ldap_entries.h"
#include "sync/ldap_sync_impl.h"

namespace idsync::sync {

using ldap::LdapClient;
using ldap::LdapEntry;
using scim::ResourceType;

namespace {

// ---------- Active Directory's ranged member values ----------
// AD answers at most MaxValRange values of one attribute per read (1,500 by default): a larger
// group's `member` comes as "member;range=0-1499", and the next window is asked for by name
// ("member;range=1500-2999") until one ends in '*' ("member;range=1500-*").
constexpr std::string_view kLdapCapActiveDirectory = "1.2.840.113556.1.4.800";
constexpr uint64_t kMemberWindow = 1500;

// The upper bound of a "member;range=L-H" attribute name ("1499", or "*" for the last window);
// nullopt for any other name.
std::optional<std::string> MemberRangeEnd(std::string_view name) {
  constexpr std::string_view kPrefix = "member;range=";
  if (!StartsWithIgnoreAsciiCase(name, kPrefix)) return std::nullopt;
  auto dash = name.find('-', kPrefix.size());
  if (dash == std::string_view::npos) return std::nullopt;
  return std::string(name.substr(dash + 1));
}

// A window's numeric upper bound ("1499"); nullopt for anything else.
std::optional<uint64_t> WindowNumber(std::string_view text) {
  uint64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

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
              {"error", run.error.empty() ? Json(nullptr) : Json(run.error)}};
}

// Who is in which group, by DN, from a complete group scan (full runs): each user's groups are
// computed as its entry is read, so that a user is written and derived once, with its groups,
// instead of once for its attributes and again when the groups are applied.
struct MembershipIndex {
  const std::vector<GroupInfo>* groups = nullptr;
  std::unordered_map<std::string, size_t> by_dn;                       // group DnKey -> index
  std::unordered_map<std::string, std::vector<size_t>> by_member_dn;   // DnKey -> direct groups
  std::unordered_map<std::string, std::vector<size_t>> by_member_uid;  // folded memberUid
  std::vector<std::vector<size_t>> closure;  // per group: itself and every group containing it

  explicit MembershipIndex(const std::vector<GroupInfo>& all) : groups(&all) {
    for (size_t i = 0; i < all.size(); ++i) by_dn[DnKey(all[i].dn)] = i;
    std::vector<std::vector<size_t>> parents(all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      for (const auto& dn : all[i].member_dns) {
        if (auto g = by_dn.find(dn); g != by_dn.end()) {
          parents[g->second].push_back(i);
        } else {
          by_member_dn[dn].push_back(i);
        }
      }
      for (const auto& uid : all[i].member_uids) by_member_uid[uid].push_back(i);
    }
    // Ancestors by a walk with a visited set: a cycle (a in b, b in a) ends where it started.
    closure.resize(all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      std::vector<bool> visited(all.size(), false);
      std::vector<size_t> stack = {i};
      while (!stack.empty()) {
        size_t h = stack.back();
        stack.pop_back();
        if (visited[h]) continue;
        visited[h] = true;
        closure[i].push_back(h);
        for (size_t p : parents[h]) stack.push_back(p);
      }
    }
  }

  // The same membership the incremental path's Flatten gives: groups listing the user's DN,
  // its uid (memberUid) or named in its memberOf, and every group containing those.
  std::set<std::string> GroupsOf(const LdapEntry& entry, const std::string& username) const {
    std::vector<size_t> direct;
    auto add = [&](const std::vector<size_t>* list) {
      if (list) direct.insert(direct.end(), list->begin(), list->end());
    };
    auto find = [](const auto& map, const std::string& key) {
      auto it = map.find(key);
      return it == map.end() ? nullptr : &it->second;
    };
    add(find(by_member_dn, DnKey(entry.dn)));
    std::set<std::string> uids;
    if (!username.empty()) uids.insert(FoldCase(username));
    if (auto uid = entry.First("uid")) uids.insert(FoldCase(*uid));
    for (const auto& uid : uids) add(find(by_member_uid, uid));
    if (const auto* member_of = entry.Find("memberOf")) {
      for (const auto& dn : *member_of) {
        if (auto g = by_dn.find(DnKey(dn)); g != by_dn.end()) direct.push_back(g->second);
      }
    }
    std::set<std::string> out;
    for (size_t d : direct) {
      for (size_t g : closure[d]) out.insert((*groups)[g].id);
    }
    return out;
  }
};

Status LdapSync::Impl::RenewLease(store::Transaction& tx, RunContext& rc) {
  const TimePoint now = clock.Now();
  auto held = tx.AcquireSyncLease(rc.connection().id, owner, now, now + kLeaseTtl);
  if (!held) return held.error();
  if (!*held) {
    return MakeError(ErrorCode::kUnavailable,
                     "the run lost its lease to another process (a store write stalled for "
                     "more than 10 minutes)");
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

Status LdapSync::Impl::FlushUsers(RunContext& rc, std::vector<PendingUser>& batch) {
  if (batch.empty()) return Status::Ok();
  bool moved = false;
  Status st = WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
    moved = false;
    std::set<std::string> changed;
    const store::Connection& c = rc.connection();
    for (const auto& p : batch) {
      auto what = PutUser(tx, c, p, &moved);
      if (!what) return what.error();
      Bump(counts, what->c_str());
      if (*what != "unchanged") changed.insert(p.id);
      if (!p.groups) continue;
      auto have = tx.GroupsOf(c.id, p.id);
      if (!have) return have.error();
      std::set<std::string> had;
      for (const auto& [gid, gname] : *have) had.insert(gid);
      for (const auto& gid : *p.groups) {
        if (had.count(gid)) continue;
        auto added = tx.AddMember(c.id, gid, store::Member{p.id, "User", ""});
        if (!added) return added.error();
        if (Status s = tx.TouchResource(c.id, ResourceType::kGroup, gid, clock.Now()); !s) {
          return s;
        }
        changed.insert(p.id);
        Bump(counts, "memberships_added");
      }
      for (const auto& gid : had) {
        if (p.groups->count(gid)) continue;
        auto removed = tx.RemoveMember(c.id, gid, p.id);
        if (!removed) return removed.error();
        if (Status s = tx.TouchResource(c.id, ResourceType::kGroup, gid, clock.Now()); !s) {
          return s;
        }
        changed.insert(p.id);
        Bump(counts, "memberships_removed");
      }
    }
    return Notify(tx, rc.connection(), std::move(changed), rc.options.request_id, "sync");
  });
  if (st && moved) rc.membership_dirty = true;
  batch.clear();
  return st;
}

void LdapSync::Impl::NoteMark(RunContext& rc, const LdapEntry& entry) {
  if (IsUsn(rc.config())) return;
  if (auto v = entry.First(rc.config().change_attribute)) {
    if (auto digits = TimestampDigits(*v); digits && *digits > rc.max_mark) rc.max_mark = *digits;
  }
}

bool LdapSync::Impl::ReadsMemberOf(RunContext& rc) {
  for (const auto& a : rc.client->AttributesToRead()) {
    if (a == "*" || EqualsIgnoreAsciiCase(a, "memberOf")) return true;
  }
  return false;
}

std::vector<std::string> LdapSync::Impl::UserAttributes(RunContext& rc) {
  std::vector<std::string> attrs = rc.client->AttributesToRead();
  attrs.push_back(rc.config().change_attribute);
  return attrs;
}

Status LdapSync::Impl::ScanUsers(RunContext& rc, const std::string& filter, const char* phase) {
  const LdapConfig& config = rc.config();
  std::vector<PendingUser> batch;
  rc.run.progress["phase"] = phase;
  for (const auto& base : config.ldap.base_dns) {
    ldap::SearchRequest request{base, ldap::SearchScope::kSubtree, filter, UserAttributes(rc), 0,
                                true};
    Status flushed = Status::Ok();
    Status st = rc.client->PagedSearch(
        request,
        [&](const LdapEntry& entry) -> Status {
          ++rc.entries_read;
          auto id = ldap::StableId(entry, config.ldap.id_attribute);
          if (!id) {
            Bump(rc.run.counts, "errors");
            if (rc.entry_errors.size() < 5) rc.entry_errors.push_back(id.error().detail);
            return Status::Ok();
          }
          NoteMark(rc, entry);
          PendingUser p;
          p.id = *id;
          p.body = EntryBody(entry, config);
          p.dn = entry.dn;
          p.username = entry.First(config.ldap.username_attribute).value_or("");
          rc.seen_users.insert(p.id);
          rc.user_by_dn[DnKey(p.dn)] = p.id;
          if (!p.username.empty()) rc.user_by_uid[FoldCase(p.username)] = p.id;
          if (auto uid = entry.First("uid")) rc.user_by_uid.emplace(FoldCase(*uid), p.id);
          if (const auto* groups = entry.Find("memberOf")) {
            for (const auto& g : *groups) rc.member_of[DnKey(g)].push_back(p.id);
          }
          if (rc.index) p.groups = rc.index->GroupsOf(entry, p.username);
          batch.push_back(std::move(p));
          if (static_cast<int>(batch.size()) >= config.batch_size) {
            rc.run.progress["entries_read"] = rc.entries_read;
            flushed = FlushUsers(rc, batch);
            if (!flushed) return flushed;
          }
          return Status::Ok();
        },
        [&](const ldap::SearchProgress& progress) {
          rc.run.progress["entries_read"] = rc.entries_read;
          if (progress.server_estimate && *progress.server_estimate > 0) {
            rc.run.progress["total"] = *progress.server_estimate;
          }
        });
    if (!flushed) return flushed;
    if (!st) return MakeError(st.error().code, FailureText(*rc.client, st.error()));
  }
  rc.run.progress["entries_read"] = rc.entries_read;
  return FlushUsers(rc, batch);
}

Result<std::vector<GroupInfo>> LdapSync::Impl::ScanGroups(RunContext& rc,
                                                          const std::string& filter) {
  const LdapConfig& config = rc.config();
  std::vector<GroupInfo> groups;
  rc.run.progress["phase"] = "groups";
  // On AD the first window of member values is asked for by name (see MemberRangeEnd), so
  // that a large group is read the same way whatever the server's MaxValRange.
  std::vector<std::string> attrs = {"cn",
                                    rc.active_directory
                                        ? "member;range=0-" + std::to_string(kMemberWindow - 1)
                                        : std::string("member"),
                                    "uniqueMember",
                                    "memberUid",
                                    config.ldap.id_attribute,
                                    config.change_attribute};
  std::vector<std::pair<size_t, std::string>> windowed;  // group index, end of its first window
  for (const auto& base : config.ldap.base_dns) {
    ldap::SearchRequest request{base, ldap::SearchScope::kSubtree, filter, attrs, 0, true};
    Status st = rc.client->PagedSearch(request, [&](const LdapEntry& entry) -> Status {
      ++rc.entries_read;
      auto id = ldap::StableId(entry, config.ldap.id_attribute);
      if (!id) {
        Bump(rc.run.counts, "errors");
        if (rc.entry_errors.size() < 5) rc.entry_errors.push_back(id.error().detail);
        return Status::Ok();
      }
      NoteMark(rc, entry);
      GroupInfo g;
      g.id = *id;
      g.dn = entry.dn;
      g.name = entry.First("cn").value_or(entry.dn);
      for (const char* attr : {"member", "uniqueMember"}) {
        if (const auto* values = entry.Find(attr)) {
          for (const auto& v : *values) g.member_dns.push_back(DnKey(UniqueMemberDn(v)));
        }
      }
      if (const auto* values = entry.Find("memberUid")) {
        for (const auto& v : *values) g.member_uids.push_back(FoldCase(v));
      }
      for (const auto& [name, values] : entry.attributes) {
        auto end = MemberRangeEnd(name);
        if (!end) continue;
        for (const auto& v : values) g.member_dns.push_back(DnKey(v));
        if (*end != "*") windowed.emplace_back(groups.size(), *end);
      }
      groups.push_back(std::move(g));
      return Status::Ok();
    });
    if (!st) return MakeError(st.error().code, FailureText(*rc.client, st.error()));
  }
  // The following windows, after the scan (one connection, one search at a time).
  for (const auto& [i, end] : windowed) {
    if (Status s = ReadMemberWindows(rc, groups[i].dn, end, &groups[i].member_dns); !s) {
      return s.error();
    }
  }
  rc.run.progress["entries_read"] = rc.entries_read;
  return groups;
}

Status LdapSync::Impl::ReadMemberWindows(RunContext& rc, const std::string& dn, std::string end,
                                         std::vector<std::string>* out) {
  auto cut_short = [&](const std::string& why) -> Status {
    return MakeError(ErrorCode::kUnavailable,
                     "group '" + dn + "': " + why + "; its members cannot be read completely");
  };
  while (end != "*") {
    const auto last = WindowNumber(end);
    if (!last) return cut_short("the server answered a window ending at '" + end + "'");
    const std::string range =
        "member;range=" + std::to_string(*last + 1) + "-" + std::to_string(*last + kMemberWindow);
    ldap::SearchRequest request;
    request.base = dn;
    request.scope = ldap::SearchScope::kBase;
    request.attributes = {range};
    request.paged = false;
    std::optional<std::string> next;
    Status st = rc.client->PagedSearch(request, [&](const LdapEntry& entry) -> Status {
      for (const auto& [name, values] : entry.attributes) {
        auto e = MemberRangeEnd(name);
        if (!e) continue;
        next = *e;
        for (const auto& v : values) out->push_back(DnKey(v));
      }
      return Status::Ok();
    });
    if (!st) return MakeError(st.error().code, FailureText(*rc.client, st.error()));
    if (!next) break;  // nothing after `last`: the group shrank while it was read
    if (*next != "*") {
      const auto n = WindowNumber(*next);
      if (!n || *n <= *last) {
        return cut_short("the server answered " + range + " with a window ending at '" + *next +
                         "'");
      }
    }
    end = *next;
  }
  return Status::Ok();
}

Status LdapSync::Impl::LoadUserMaps(RunContext& rc) {
  rc.user_by_dn.clear();
  rc.user_by_uid.clear();
  rc.member_of.clear();
  const std::string& username_attr = rc.config().ldap.username_attribute;
  return store.Read([&](store::Transaction& tx) -> Status {
    return tx.ScanResources(rc.connection().id, ResourceType::kUser,
                            [&](const store::StoredResource& r) {
                              rc.user_by_dn[DnKey(r.body.value("dn", ""))] = r.id;
                              std::string name = FirstValue(r.body, username_attr);
                              if (!name.empty()) rc.user_by_uid[FoldCase(name)] = r.id;
                              std::string uid = FirstValue(r.body, "uid");
                              if (!uid.empty()) rc.user_by_uid.emplace(FoldCase(uid), r.id);
                              if (const Json* groups = Values(r.body, "memberOf")) {
                                for (const auto& g : *groups) {
                                  if (g.is_string()) {
                                    rc.member_of[DnKey(g.get<std::string>())].push_back(r.id);
                                  }
                                }
                              }
                              return true;
                            });
  });
}

std::vector<std::set<std::string>> LdapSync::Impl::Flatten(RunContext& rc,
                                                           const std::vector<GroupInfo>& groups) {
  std::unordered_map<std::string, size_t> by_dn;
  for (size_t i = 0; i < groups.size(); ++i) by_dn[DnKey(groups[i].dn)] = i;
  std::vector<std::set<std::string>> out(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    std::vector<bool> visited(groups.size(), false);
    std::vector<size_t> stack = {i};
    while (!stack.empty()) {
      size_t h = stack.back();
      stack.pop_back();
      if (visited[h]) continue;
      visited[h] = true;
      for (const auto& dn : groups[h].member_dns) {
        if (auto u = rc.user_by_dn.find(dn); u != rc.user_by_dn.end()) {
          out[i].insert(u->second);
        } else if (auto g = by_dn.find(dn); g != by_dn.end()) {
          stack.push_back(g->second);
        }
      }
      for (const auto& uid : groups[h].member_uids) {
        if (auto u = rc.user_by_uid.find(uid); u != rc.user_by_uid.end()) {
          out[i].insert(u->second);
        }
      }
      if (auto m = rc.member_of.find(DnKey(groups[h].dn)); m != rc.member_of.end()) {
        out[i].insert(m->second.begin(), m->second.end());
      }
    }
  }
  return out;
}

Status LdapSync::Impl::ApplyGroups(RunContext& rc, const std::vector<GroupInfo>& groups) {
  auto members = Flatten(rc, groups);
  const size_t step = std::max<size_t>(1, static_cast<size_t>(rc.config().batch_size) / 5);
  for (size_t from = 0; from < groups.size(); from += step) {
    const size_t to = std::min(groups.size(), from + step);
    Status st = WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
      const store::Connection& c = rc.connection();
      std::set<std::string> affected;
      for (size_t i = from; i < to; ++i) {
        const GroupInfo& g = groups[i];
        auto what = PutGroup(tx, c, g);
        if (!what) return what.error();
        if (*what == "created") Bump(counts, "groups_created");
        if (*what == "updated" || *what == "renamed") Bump(counts, "groups_updated");
        auto current = tx.ListMembers(c.id, g.id);
        if (!current) return current.error();
        std::set<std::string> have;
        for (const auto& m : *current) have.insert(m.value);
        bool touched = false;
        for (const auto& id : members[i]) {
          if (have.count(id)) continue;
          auto added = tx.AddMember(c.id, g.id, store::Member{id, "User", ""});
          if (!added) return added.error();
          affected.insert(id);
          touched = true;
          Bump(counts, "memberships_added");
        }
        for (const auto& id : have) {
          if (members[i].count(id)) continue;
          auto removed = tx.RemoveMember(c.id, g.id, id);
          if (!removed) return removed.error();
          affected.insert(id);
          touched = true;
          Bump(counts, "memberships_removed");
        }
        if (*what == "renamed") affected.insert(members[i].begin(), members[i].end());
        if (touched && *what == "unchanged") {
          if (Status s = tx.TouchResource(c.id, ResourceType::kGroup, g.id, clock.Now()); !s) {
            return s;
          }
        }
      }
      return Notify(tx, c, std::move(affected), rc.options.request_id, "sync");
    });
    if (!st) return st;
  }
  return Status::Ok();
}

Result<std::vector<std::string>> LdapSync::Impl::MirrorIds(RunContext& rc, ResourceType type) {
  std::vector<std::string> ids;
  constexpr int64_t kPage = 5000;
  Status st = store.Read([&](store::Transaction& tx) -> Status {
    for (int64_t offset = 0;; offset += kPage) {
      auto page = tx.ListResourcesText(rc.connection().id, type, offset, kPage);
      if (!page) return page.error();
      for (const auto& r : *page) ids.push_back(r.id);
      if (static_cast<int64_t>(page->size()) < kPage) return Status::Ok();
    }
  });
  if (!st) return st.error();
  return ids;
}

Status LdapSync::Impl::DeleteGroups(RunContext& rc, const std::vector<std::string>& ids) {
  if (ids.empty()) return Status::Ok();
  return WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
    const store::Connection& c = rc.connection();
    std::set<std::string> affected;
    for (const auto& id : ids) {
      auto current = tx.ListMembers(c.id, id);
      if (!current) return current.error();
      for (const auto& m : *current) affected.insert(m.value);
      if (Status s = tx.DeleteResource(c.id, ResourceType::kGroup, id); !s) return s;
      Bump(counts, "groups_removed");
      // The group's memberships go with it: counted like any other membership removed.
      Bump(counts, "memberships_removed", static_cast<int64_t>(current->size()));
    }
    return Notify(tx, c, std::move(affected), rc.options.request_id, "sync");
  });
}

Status LdapSync::Impl::DeleteUsers(RunContext& rc, const std::vector<std::string>& ids) {
  rc.run.progress["phase"] = "deletions";
  const size_t step = static_cast<size_t>(rc.config().batch_size);
  for (size_t from = 0; from < ids.size(); from += step) {
    const size_t to = std::min(ids.size(), from + step);
    Status st = WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
      const store::Connection& c = rc.connection();
      std::set<std::string> gone(ids.begin() + static_cast<std::ptrdiff_t>(from),
                                 ids.begin() + static_cast<std::ptrdiff_t>(to));
      for (const auto& id : gone) {
        if (Status s = tx.DeleteResource(c.id, ResourceType::kUser, id);
            !s && s.error().code != ErrorCode::kNotFound) {
          return s;
        }
      }
      if (Status s = Notify(tx, c, gone, rc.options.request_id, "delete"); !s) return s;
      for (const auto& id : gone) {
        bool disabled = false;
        if (auto link = tx.GetLink(c.id, id)) {
          if (auto user = tx.GetEffectiveUser(link->directory, link->effective_user_id)) {
            disabled = user->state == "disabled";
          }
        }
        Bump(counts, disabled ? "disabled" : "removed");
      }
      return Status::Ok();
    });
    if (!st) return st;
  }
  return Status::Ok();
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

Status LdapSync::Impl::PutGroups(RunContext& rc, const std::vector<GroupInfo>& groups) {
  const size_t step = static_cast<size_t>(rc.config().batch_size);
  for (size_t from = 0; from < groups.size(); from += step) {
    const size_t to = std::min(groups.size(), from + step);
    Status st = WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
      const store::Connection& c = rc.connection();
      std::set<std::string> affected;
      for (size_t i = from; i < to; ++i) {
        auto what = PutGroup(tx, c, groups[i]);
        if (!what) return what.error();
        if (*what == "created") Bump(counts, "groups_created");
        if (*what == "updated" || *what == "renamed") Bump(counts, "groups_updated");
        if (*what == "renamed") {
          auto members = tx.ListMembers(c.id, groups[i].id);
          if (!members) return members.error();
          for (const auto& m : *members) affected.insert(m.value);
        }
      }
      return Notify(tx, c, std::move(affected), rc.options.request_id, "sync");
    });
    if (!st) return st;
  }
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
