#include "ldap/server/search.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "base/strings.h"
#include "ldap/server/evaluate.h"
#include "ldap/server/matching.h"
#include "ldap/server/search_cursor.h"
#include "ldap/server/search_plan.h"

namespace idsync::ldap {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void FilterAttributes(const Filter& filter, const Schema& schema,
                      std::set<const AttributeType*>& out) {
  if (!filter.attribute.empty()) {
    if (const AttributeType* t = schema.Find(filter.attribute)) out.insert(t);
  }
  for (const auto& c : filter.children) FilterAttributes(c, schema, out);
}

namespace {

// The state of one search request.
class SearchRun {
 public:
  SearchRun(store::Store& store, const Schema& schema, const Tree& tree, const SearchLimits& limits,
            int32_t id, const SearchRequest& request, const DirectoryView& view, bool show_deleted,
            const std::atomic<bool>& abandoned, const Send& send)
      : store_(store),
        schema_(schema),
        tree_(tree),
        limits_(limits),
        id_(id),
        request_(request),
        view_(view),
        ad_(view.settings.profile == Profile::kActiveDirectory),
        show_deleted_(show_deleted && ad_),
        abandoned_(abandoned),
        send_(send),
        plan_(schema, tree, ad_, request.filter) {
    wanted_ = Wanted::FromRequest(request.attributes, schema);
    FilterAttributes(request.filter, schema, needed_);
    needed_.insert(wanted_.named.begin(), wanted_.named.end());
    need_all_ = wanted_.all_user || wanted_.all_operational;
    auto tl = limits.time_limit;
    if (request.time_limit > 0) {
      tl = std::min<std::chrono::milliseconds>(tl, std::chrono::seconds(request.time_limit));
    }
    deadline_ = Clock::now() + tl;
  }

  SearchOutcome Execute(const std::vector<Control>& controls, const std::string& bound_dn);

 private:
  // Per-candidate outcome of Offer.
  enum class Next { kGo, kStop };

  Status Locate(std::vector<int>& phases);
  Next Offer(Result<Entry> entry, int64_t key);
  Next Emit(Entry&& entry);
  bool Flush();
  Next RunPhase(int phase);
  Next Users();
  Next Groups();
  Next Tombstones();
  Next FromLookups(const std::vector<Lookup>& lookups, bool users);
  Next FromFeed(int64_t after_seq, bool users);
  // Reads candidates in chunks, each in its own read transaction, sending after each: `chunk`
  // reads at most limits_.chunk of them, sets `more` when a full chunk came (more may follow)
  // and `stop` when the search must end. Every plan that can be large goes through here.
  using ChunkReader =
      std::function<Status(store::Transaction& tx, EntryBuilder& builder, bool& more, bool& stop)>;
  Next Chunked(const ChunkReader& chunk);
  Next Failed(const Error& error);
  // One user candidate of a keyset scan: skipped (but consumed) when the view hides it. False
  // when the scan must stop (`stop` set).
  bool VisitUser(EntryBuilder& b, int64_t key, const store::EffectiveUserRow& row, bool& stop);

  store::Store& store_;
  const Schema& schema_;
  const Tree& tree_;
  const SearchLimits& limits_;
  int32_t id_;
  const SearchRequest& request_;
  const DirectoryView& view_;
  bool ad_;
  bool show_deleted_;
  const std::atomic<bool>& abandoned_;
  const Send& send_;
  SearchPlan plan_;
  Wanted wanted_;
  std::set<const AttributeType*> needed_;
  bool need_all_ = false;
  Clock::time_point deadline_;

  // Position and limits.
  Cursor cursor_;
  bool paged_ = false;
  int64_t page_size_ = 0;   // paged: entries per page
  int64_t page_sent_ = 0;   // sent in this page
  int64_t size_limit_ = 0;  // 0: none
  bool page_full_ = false;
  std::optional<store::EffectiveUserRow> single_user_;
  std::optional<store::EffectiveGroupRow> single_group_;
  bool tomb_users_ = false, tomb_groups_ = false;

  std::vector<std::string> pending_;
  SearchOutcome outcome_;
};

bool SearchRun::Flush() {
  for (auto& m : pending_) {
    if (abandoned_.load() || !send_(std::move(m))) {
      pending_.clear();
      outcome_.stopped = true;
      return false;
    }
  }
  pending_.clear();
  return !abandoned_.load();
}

SearchRun::Next SearchRun::Emit(Entry&& entry) {
  const int64_t total = cursor_.sent + page_sent_;
  if (size_limit_ > 0 && total >= size_limit_) {
    outcome_.result = {kSizeLimitExceeded, "",
                       "more entries match than the size limit (" + std::to_string(size_limit_) +
                           ") allows; use the paged results control to read them all"};
    return Next::kStop;
  }
  // The values move into the selection (Select(Entry&&) leaves entry.dn as it is).
  const std::vector<Attribute> selected = Select(std::move(entry), wanted_, view_.settings.profile);
  pending_.push_back(EncodeSearchEntry(id_, entry.dn, selected, request_.types_only));
  ++page_sent_;
  ++outcome_.entries;
  if (paged_ && page_sent_ >= page_size_) page_full_ = true;
  return Next::kGo;
}

SearchRun::Next SearchRun::Offer(Result<Entry> entry, int64_t key) {
  if (!entry) {
    outcome_.result = {kOperationsError, "",
                       "the directory could not be read: " + entry.error().detail};
    return Next::kStop;
  }
  if (Clock::now() > deadline_) {
    outcome_.result = {kTimeLimitExceeded, "", "the search took longer than its time limit"};
    return Next::kStop;
  }
  cursor_.key = key;
  if (Matches(request_.filter, *entry, schema_)) return Emit(std::move(*entry));
  return Next::kGo;
}

SearchRun::Next SearchRun::Failed(const Error& error) {
  outcome_.result = {kOperationsError, "", "the directory could not be read: " + error.detail};
  return Next::kStop;
}

SearchRun::Next SearchRun::Chunked(const ChunkReader& chunk) {
  while (true) {
    bool more = false, stop = false;
    Status read = store_.Read([&](store::Transaction& tx) -> Status {
      EntryBuilder b(tx, schema_, tree_, view_, needed_, need_all_, wanted_.all_operational);
      return chunk(tx, b, more, stop);
    });
    if (!read) return Failed(read.error());
    if (!Flush()) return Next::kStop;
    if (stop || outcome_.result.code != kSuccess) return Next::kStop;
    if (!more) return Next::kGo;
  }
}

bool SearchRun::VisitUser(EntryBuilder& b, int64_t key, const store::EffectiveUserRow& row,
                          bool& stop) {
  if (page_full_) return stop = true, false;
  if (!b.Visible(row)) {
    cursor_.key = key;
    return true;
  }
  if (Offer(b.User(row), key) == Next::kStop) return stop = true, false;
  return true;
}

SearchRun::Next SearchRun::FromLookups(const std::vector<Lookup>& lookups, bool users) {
  if (lookups.size() == 1 && lookups[0].kind == Lookup::kMembersOf) {
    // The members of one group, by user pk, in chunks.
    auto dn = ParseDn(lookups[0].value);
    if (!dn) return Next::kGo;
    auto loc = tree_.Locate(*dn);
    if (loc.kind != Tree::Location::kGroup || !EqualsFolded(loc.directory, view_.name)) {
      return Next::kGo;
    }
    const std::string want = NormalizeDn(*dn);
    return Chunked([&](store::Transaction& tx, EntryBuilder& b, bool& more, bool& stop) {
      auto named = FindGroupNamed(tx, view_.name, loc.value);
      if (!named) return Status(named.error());
      if (!*named) return Status::Ok();
      auto gdn = ParseDn(tree_.GroupDn(view_.name, (*named)->name));
      if (!gdn || NormalizeDn(*gdn) != want) return Status::Ok();
      int64_t seen = 0;
      Status s = tx.Ldap().MembersAfter(view_.name, (*named)->id, cursor_.key, limits_.chunk,
                                        [&](int64_t pk, const store::EffectiveUserRow& row) {
                                          ++seen;
                                          return VisitUser(b, pk, row, stop);
                                        });
      more = !stop && seen == limits_.chunk;
      return s;
    });
  }
  // Small lookups: resolve all, order by id, continue by position.
  bool stop = false;
  Status read = store_.Read([&](store::Transaction& tx) -> Status {
    std::map<std::string, store::EffectiveUserRow> user_rows;
    std::map<std::string, store::EffectiveGroupRow> group_rows;
    auto keep_user = [&](Result<store::EffectiveUserRow> r) -> Status {
      if (r) {
        user_rows.emplace(r->id, std::move(*r));
        return Status::Ok();
      }
      return r.error().code == ErrorCode::kNotFound ? Status::Ok() : Status(r.error());
    };
    auto keep_group = [&](Result<store::EffectiveGroupRow> r) -> Status {
      if (r) {
        group_rows.emplace(r->id, std::move(*r));
        return Status::Ok();
      }
      return r.error().code == ErrorCode::kNotFound ? Status::Ok() : Status(r.error());
    };
    for (const auto& l : lookups) {
      Status s = Status::Ok();
      switch (l.kind) {
        case Lookup::kUsername: {
          auto rows = tx.Ldap().FindUsersByLdapName(
              view_.name, *NormalizeValue(Matching::kCaseIgnore, l.value));
          if (!rows) return rows.error();
          for (auto& r : *rows) user_rows.emplace(r.id, std::move(r));
          break;
        }
        case Lookup::kUserId: s = keep_user(tx.GetEffectiveUser(view_.name, l.value)); break;
        case Lookup::kMail: {
          auto rows = tx.Ldap().FindUsersByMail(view_.name, FoldCase(l.value));
          if (!rows) return rows.error();
          for (auto& r : *rows) user_rows.emplace(r.id, std::move(r));
          break;
        }
        case Lookup::kGroupName: {
          auto rows = tx.Ldap().FindGroupsByLdapName(
              view_.name, *NormalizeValue(Matching::kCaseIgnore, l.value));
          if (!rows) return rows.error();
          for (auto& r : *rows) group_rows.emplace(r.id, std::move(r));
          break;
        }
        case Lookup::kGroupId: s = keep_group(tx.GetEffectiveGroup(view_.name, l.value)); break;
        case Lookup::kGroupsOfUser: {
          auto dn = ParseDn(l.value);
          if (!dn) break;
          auto loc = tree_.Locate(*dn);
          if (loc.kind != Tree::Location::kUser || !EqualsFolded(loc.directory, view_.name)) break;
          auto user = FindUserNamed(tx, view_.name, loc.value);
          if (!user) return user.error();
          if (!*user) break;
          auto groups = tx.EffectiveGroupsOf(view_.name, (*user)->id);
          if (!groups) return groups.error();
          for (const auto& [gid, name] : *groups) {
            s = keep_group(tx.GetEffectiveGroup(view_.name, gid));
            if (!s) break;
          }
          break;
        }
        case Lookup::kMembersOf: break;
      }
      if (!s) return s;
    }
    EntryBuilder b(tx, schema_, tree_, view_, needed_, need_all_, wanted_.all_operational);
    int64_t pos = 0;
    if (users) {
      for (const auto& [id, row] : user_rows) {
        if (++pos <= cursor_.key) continue;
        if (page_full_) return stop = true, Status::Ok();
        if (!b.Visible(row)) {
          cursor_.key = pos;
          continue;
        }
        if (Offer(b.User(row), pos) == Next::kStop) return stop = true, Status::Ok();
      }
    } else {
      for (const auto& [id, row] : group_rows) {
        if (++pos <= cursor_.key) continue;
        if (page_full_) return stop = true, Status::Ok();
        if (Offer(b.Group(row), pos) == Next::kStop) return stop = true, Status::Ok();
      }
    }
    return Status::Ok();
  });
  if (!read) return Failed(read.error());
  if (!Flush()) return Next::kStop;
  return stop ? Next::kStop : Next::kGo;
}

SearchRun::Next SearchRun::FromFeed(int64_t after_seq, bool users) {
  int64_t from = std::max(cursor_.key, after_seq);
  return Chunked([&](store::Transaction& tx, EntryBuilder& b, bool& more, bool& stop) -> Status {
    auto keys = tx.Ldap().ChangeKeysAfter(view_.name, from, limits_.chunk);
    if (!keys) return keys.error();
    more = static_cast<int64_t>(keys->size()) == limits_.chunk;
    for (const auto& k : *keys) {
      if (page_full_) return stop = true, Status::Ok();
      from = k.seq;
      cursor_.key = k.seq;  // consumed, whatever follows
      const bool relevant =
          users ? k.type == "User" : (k.type == "Group" || k.type == "Membership");
      if (!relevant) continue;
      auto usn = tx.Ldap().UsnOf(view_.name, k.id);
      if (!usn) return usn.error();
      if (usn->changed != k.seq) continue;  // the entry comes again at its newest change
      if (users) {
        auto row = tx.GetEffectiveUser(view_.name, k.id);
        if (!row) {
          if (row.error().code != ErrorCode::kNotFound) return row.error();
          continue;  // deleted: a tombstone, if anything
        }
        if (!VisitUser(b, k.seq, *row, stop)) return Status::Ok();
      } else {
        auto row = tx.GetEffectiveGroup(view_.name, k.id);
        if (!row) {
          if (row.error().code != ErrorCode::kNotFound) return row.error();
          continue;
        }
        if (Offer(b.Group(*row), k.seq) == Next::kStop) return stop = true, Status::Ok();
      }
    }
    return Status::Ok();
  });
}

SearchRun::Next SearchRun::Users() {
  if (plan_.Excluded(true)) return Next::kGo;
  if (auto after_seq = plan_.FeedStart()) return FromFeed(*after_seq, true);
  if (auto lookups = plan_.Lookups(true)) return FromLookups(*lookups, true);
  return Chunked([&](store::Transaction& tx, EntryBuilder& b, bool& more, bool& stop) {
    int64_t seen = 0;
    Status s = tx.Ldap().UsersAfter(view_.name, cursor_.key, limits_.chunk,
                                    [&](int64_t pk, const store::EffectiveUserRow& row) {
                                      ++seen;
                                      return VisitUser(b, pk, row, stop);
                                    });
    more = !stop && seen == limits_.chunk;
    return s;
  });
}

SearchRun::Next SearchRun::Groups() {
  if (plan_.Excluded(false)) return Next::kGo;
  if (auto after_seq = plan_.FeedStart()) return FromFeed(*after_seq, false);
  if (auto lookups = plan_.Lookups(false)) return FromLookups(*lookups, false);
  return Chunked([&](store::Transaction& tx, EntryBuilder& b, bool& more, bool& stop) {
    int64_t seen = 0;
    Status s = tx.Ldap().GroupsAfter(view_.name, cursor_.key, limits_.chunk,
                                     [&](int64_t pk, const store::EffectiveGroupRow& row) {
                                       ++seen;
                                       if (page_full_) return stop = true, false;
                                       if (Offer(b.Group(row), pk) == Next::kStop) {
                                         return stop = true, false;
                                       }
                                       return true;
                                     });
    more = !stop && seen == limits_.chunk;
    return s;
  });
}

SearchRun::Next SearchRun::Tombstones() {
  if (!show_deleted_) return Next::kGo;
  const bool users = tomb_users_ && !plan_.Excluded(true);
  const bool groups = tomb_groups_ && !plan_.Excluded(false);
  if (!users && !groups) return Next::kGo;
  int64_t from = std::max(cursor_.key, plan_.FeedStart().value_or(0));
  const TimePoint oldest =
      SystemClock::Instance().Now() - std::chrono::hours(24 * view_.settings.tombstone_days);
  return Chunked([&](store::Transaction& tx, EntryBuilder& b, bool& more, bool& stop) -> Status {
    auto keys = tx.Ldap().ChangeKeysAfter(view_.name, from, limits_.chunk);
    if (!keys) return keys.error();
    more = static_cast<int64_t>(keys->size()) == limits_.chunk;
    for (const auto& k : *keys) {
      if (page_full_) return stop = true, Status::Ok();
      from = k.seq;
      cursor_.key = k.seq;
      const bool user = k.type == "User";
      if (!(user ? users : (groups && k.type == "Group")) || k.time < oldest) continue;
      auto usn = tx.Ldap().UsnOf(view_.name, k.id);
      if (!usn) return usn.error();
      if (usn->changed != k.seq) continue;
      Json resource = Json::object();
      if (user) {
        auto row = tx.GetEffectiveUser(view_.name, k.id);
        if (row) {
          if (b.Visible(*row)) continue;  // live
          resource["userName"] = row->username;
        } else if (row.error().code != ErrorCode::kNotFound) {
          return row.error();
        } else if (k.op != "delete") {
          continue;
        }
      } else {
        auto row = tx.GetEffectiveGroup(view_.name, k.id);
        if (row) continue;
        if (row.error().code != ErrorCode::kNotFound) return row.error();
        if (k.op != "delete") continue;
      }
      if (resource.empty()) {
        auto last = tx.Ldap().LastResourceOf(view_.name, k.id);
        if (last) {
          resource = *last;
        } else if (last.error().code != ErrorCode::kNotFound) {
          return last.error();
        }
      }
      if (Offer(b.Tombstone(k.type, k.id, resource, k.seq, k.time), k.seq) == Next::kStop) {
        return stop = true, Status::Ok();
      }
    }
    return Status::Ok();
  });
}

SearchRun::Next SearchRun::RunPhase(int phase) {
  auto fixed = [&](Entry e) {
    if (cursor_.key >= 1) return Next::kGo;  // sent on an earlier page
    if (page_full_) return Next::kStop;
    Next n = Offer(std::move(e), 1);
    Flush();
    return n;
  };
  switch (phase) {
    case kContextEntry:
    case kPeopleOu:
    case kGroupsOu: {
      Entry e;
      Status built = store_.Read([&](store::Transaction& tx) -> Status {
        EntryBuilder b(tx, schema_, tree_, view_, needed_, need_all_, wanted_.all_operational);
        e = phase == kContextEntry ? b.Context()
                                   : b.OrganizationalUnit(phase == kPeopleOu ? "people" : "groups");
        return Status::Ok();
      });
      if (!built) return Offer(built.error(), 1);
      return fixed(std::move(e));
    }
    case kSingle: {
      if (cursor_.key >= 1) return Next::kGo;
      if (page_full_) return Next::kStop;
      Next n = Next::kGo;
      Status read = store_.Read([&](store::Transaction& tx) -> Status {
        EntryBuilder b(tx, schema_, tree_, view_, needed_, need_all_, wanted_.all_operational);
        n = single_user_ ? Offer(b.User(*single_user_), 1) : Offer(b.Group(*single_group_), 1);
        return Status::Ok();
      });
      if (!read) return Offer(read.error(), 1);
      Flush();
      return n;
    }
    case kUsers: return Users();
    case kGroups: return Groups();
    case kTombstones: return Tombstones();
  }
  return Next::kGo;
}

Status SearchRun::Locate(std::vector<int>& phases) {
  auto fail = [&](int code, std::string matched, std::string message) {
    outcome_.result = {code, std::move(matched), std::move(message)};
    return MakeError(ErrorCode::kNotFound, "");
  };
  auto dn = ParseDn(request_.base);
  if (!dn) return fail(kInvalidDnSyntax, "", "the base DN is not a valid DN: " + dn.error().detail);
  auto loc = tree_.Locate(*dn);
  const bool in_dir = !loc.directory.empty() && EqualsFolded(loc.directory, view_.name);
  const std::string missing = "no such entry: " + request_.base;
  const Scope scope = request_.scope;
  auto by_scope = [&](std::vector<int> base, std::vector<int> one, std::vector<int> sub) {
    switch (scope) {
      case Scope::kBase: phases = std::move(base); break;
      case Scope::kOneLevel: phases = std::move(one); break;
      case Scope::kSubtree:
        phases = base;
        phases.insert(phases.end(), sub.begin(), sub.end());
        break;
      case Scope::kSubordinates: phases = std::move(sub); break;
    }
  };
  switch (loc.kind) {
    case Tree::Location::kContext:
      if (!in_dir) return fail(kNoSuchObject, "", missing);
      tomb_users_ = tomb_groups_ = true;
      by_scope({kContextEntry}, {kPeopleOu, kGroupsOu},
               {kPeopleOu, kGroupsOu, kUsers, kGroups, kTombstones});
      return Status::Ok();
    case Tree::Location::kPeople:
      if (!in_dir) return fail(kNoSuchObject, "", missing);
      tomb_users_ = true;
      by_scope({kPeopleOu}, {kUsers, kTombstones}, {kUsers, kTombstones});
      return Status::Ok();
    case Tree::Location::kGroups:
      if (!in_dir) return fail(kNoSuchObject, "", missing);
      tomb_groups_ = true;
      by_scope({kGroupsOu}, {kGroups, kTombstones}, {kGroups, kTombstones});
      return Status::Ok();
    case Tree::Location::kUser:
    case Tree::Location::kGroup: {
      if (!in_dir) return fail(kNoSuchObject, "", missing);
      const bool user = loc.kind == Tree::Location::kUser;
      const std::string want = NormalizeDn(*dn);
      Status read = store_.Read([&](store::Transaction& tx) -> Status {
        if (user) {
          auto named = FindUserNamed(tx, view_.name, loc.value);
          if (!named) return named.error();
          if (!*named) return Status::Ok();
          auto& row = *named;
          auto got = ParseDn(tree_.UserDn(view_.name, row->username));
          if (got && NormalizeDn(*got) == want &&
              (row->state == "active" || view_.settings.show_disabled)) {
            single_user_ = std::move(*row);
          }
        } else {
          auto named = FindGroupNamed(tx, view_.name, loc.value);
          if (!named) return named.error();
          if (!*named) return Status::Ok();
          auto& row = *named;
          auto got = ParseDn(tree_.GroupDn(view_.name, row->name));
          if (got && NormalizeDn(*got) == want) single_group_ = std::move(*row);
        }
        return Status::Ok();
      });
      if (!read && read.error().code != ErrorCode::kNotFound) {
        return fail(kOperationsError, "",
                    "the directory could not be read: " + read.error().detail);
      }
      if (!single_user_ && !single_group_) {
        return fail(kNoSuchObject, user ? tree_.PeopleDn(view_.name) : tree_.GroupsDn(view_.name),
                    missing);
      }
      by_scope({kSingle}, {}, {});
      return Status::Ok();
    }
    default: {
      // Below an entry that exists? Name the closest one (RFC 4511 matchedDN).
      std::string matched;
      if (!loc.directory.empty() && in_dir) matched = tree_.ContextDn(view_.name);
      return fail(kNoSuchObject, matched, missing);
    }
  }
}

SearchOutcome SearchRun::Execute(const std::vector<Control>& controls,
                                 const std::string& bound_dn) {
  std::optional<PagedResults> paged;
  for (const auto& c : controls) {
    if (c.oid == kPagedResultsOid) {
      paged = DecodePagedResults(c.value.value_or(""));
      if (!paged) {
        outcome_.result = {kProtocolError, "", "the paged results control value is malformed"};
        return outcome_;
      }
    }
  }
  std::string fp_text = request_.base + '\n' + std::to_string(static_cast<int>(request_.scope)) +
                        '\n' + FilterToString(request_.filter) + '\n' +
                        (request_.types_only ? "1" : "0") + '\n' + bound_dn + '\n' +
                        (show_deleted_ ? "1" : "0");
  for (const auto& a : request_.attributes) fp_text += '\n' + a;
  const uint64_t fingerprint = std::hash<std::string>()(fp_text);

  if (paged) {
    paged_ = true;
    if (!paged->cookie.empty()) {
      auto cursor = DecodeCookie(paged->cookie, fingerprint);
      if (!cursor) {
        outcome_.result = {kUnwillingToPerform, "",
                           "the paged results cookie does not belong to this search (same base, "
                           "scope, filter, attributes and bind are required)"};
        return outcome_;
      }
      cursor_ = *cursor;
    }
    if (paged->size <= 0) {  // RFC 2696: size 0 ends the paged search
      outcome_.controls.push_back(
          {std::string(kPagedResultsOid), false, EncodePagedResults(0, "")});
      return outcome_;
    }
    page_size_ =
        std::min<int64_t>(paged->size, limits_.size_limit > 0 ? limits_.size_limit : paged->size);
    size_limit_ = request_.size_limit;
  } else {
    size_limit_ = limits_.size_limit;
    if (request_.size_limit > 0 && (size_limit_ <= 0 || request_.size_limit < size_limit_)) {
      size_limit_ = request_.size_limit;
    }
  }

  std::vector<int> phases;
  if (!Locate(phases)) return outcome_;
  const int start_phase = cursor_.phase;
  for (int phase : phases) {
    if (phase < start_phase) continue;
    if (phase != cursor_.phase) {
      cursor_.phase = phase;
      cursor_.key = 0;
    }
    Next next = RunPhase(phase);
    if (outcome_.stopped) return outcome_;
    if (next == Next::kStop || page_full_ || outcome_.result.code != kSuccess) break;
  }
  if (!Flush()) return outcome_;
  if (paged_) {
    std::string cookie;
    if (page_full_ && outcome_.result.code == kSuccess) {
      Cursor next = cursor_;
      next.sent += page_sent_;
      cookie = EncodeCookie(next, fingerprint);
    }
    outcome_.controls.push_back(
        {std::string(kPagedResultsOid), false, EncodePagedResults(0, cookie)});
  }
  return outcome_;
}

}  // namespace

DirectorySearch::DirectorySearch(store::Store& store, const Schema& schema, const Tree& tree,
                                 const SearchLimits& limits)
    : store_(store), schema_(schema), tree_(tree), limits_(limits) {}

SearchOutcome DirectorySearch::Run(int32_t message_id, const SearchRequest& request,
                                   const std::vector<Control>& controls, const DirectoryView& view,
                                   const std::string& bound_dn, const std::atomic<bool>& abandoned,
                                   const Send& send) {
  bool show_deleted = false;
  for (const auto& c : controls) {
    if (c.oid == kShowDeletedOid) show_deleted = true;
  }
  SearchRun run(store_, schema_, tree_, limits_, message_id, request, view, show_deleted, abandoned,
                send);
  return run.Execute(controls, bound_dn);
}

Result<std::optional<Entry>> DirectorySearch::EntryAt(
    const Dn& dn, const DirectoryView& view, const std::set<const AttributeType*>& needed) {
  auto loc = tree_.Locate(dn);
  if (loc.directory.empty() || !EqualsFolded(loc.directory, view.name)) {
    return std::optional<Entry>();
  }
  const std::string want = NormalizeDn(dn);
  std::optional<Entry> out;
  Status read = store_.Read([&](store::Transaction& tx) -> Status {
    EntryBuilder b(tx, schema_, tree_, view, needed, false);
    switch (loc.kind) {
      case Tree::Location::kContext: out = b.Context(); return Status::Ok();
      case Tree::Location::kPeople: out = b.OrganizationalUnit("people"); return Status::Ok();
      case Tree::Location::kGroups: out = b.OrganizationalUnit("groups"); return Status::Ok();
      case Tree::Location::kUser: {
        auto named = FindUserNamed(tx, view.name, loc.value);
        if (!named) return named.error();
        if (!*named) return Status::Ok();
        auto& row = *named;
        auto own = ParseDn(tree_.UserDn(view.name, row->username));
        if (!own || NormalizeDn(*own) != want || !b.Visible(*row)) return Status::Ok();
        auto e = b.User(*row);
        if (!e) return e.error();
        out = std::move(*e);
        return Status::Ok();
      }
      case Tree::Location::kGroup: {
        auto named = FindGroupNamed(tx, view.name, loc.value);
        if (!named) return named.error();
        if (!*named) return Status::Ok();
        auto& row = *named;
        auto own = ParseDn(tree_.GroupDn(view.name, row->name));
        if (!own || NormalizeDn(*own) != want) return Status::Ok();
        auto e = b.Group(*row);
        if (!e) return e.error();
        out = std::move(*e);
        return Status::Ok();
      }
      default: return Status::Ok();
    }
  });
  if (!read) return read.error();
  return out;
}

}  // namespace idsync::ldap
