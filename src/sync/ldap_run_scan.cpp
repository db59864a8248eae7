// A run's scans (full or incremental): user entries read page by page and written in batches,
// and group entries with Active Directory's ranged member values (see ldap_run.cpp).
#include <charconv>

#include "base/strings.h"
#include "sync/ldap_change_marks.h"
#include "sync/ldap_entries.h"
#include "sync/ldap_sync_impl.h"

#include "sync/ldap_membership_index.h"

namespace idsync::sync {

using ldap::LdapEntry;
using scim::ResourceType;

namespace {

// ---------- Active Directory's ranged member values ----------
// AD answers at most MaxValRange values of one attribute per read (1,500 by default): a larger
// group's `member` comes as "member;range=0-1499", and the next window is asked for by name
// ("member;range=1500-2999") until one ends in '*' ("member;range=1500-*").
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

std::optional<std::string> LdapSync::Impl::ReadEntryId(RunContext& rc, const LdapEntry& entry) {
  ++rc.entries_read;
  auto id = ldap::StableId(entry, rc.config().ldap.id_attribute);
  if (!id) {
    Bump(rc.run.counts, "errors");
    if (rc.entry_errors.size() < 5) rc.entry_errors.push_back(id.error().detail);
    return std::nullopt;
  }
  NoteMark(rc, entry);
  return std::move(*id);
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
          auto id = ReadEntryId(rc, entry);
          if (!id) return Status::Ok();
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
      auto id = ReadEntryId(rc, entry);
      if (!id) return Status::Ok();
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

}  // namespace idsync::sync
