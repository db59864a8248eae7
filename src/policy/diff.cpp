#include "policy/diff.h"

#include <utility>

#include "base/strings.h"

namespace idsync::policy {
namespace {

bool Present(const UserSnapshot* u) {
  return u && u->state != UserState::kRemoved && u->state != UserState::kNotImported;
}

// FoldCase(group) -> spelling.
std::map<std::string, std::string> FoldedGroups(const UserSnapshot* u) {
  std::map<std::string, std::string> out;
  if (!Present(u)) return out;
  for (const std::string& g : u->groups) out.emplace(FoldCase(g), g);
  return out;
}

Json Truncated(const Json& list, size_t max_items, const std::string& name, Json* parent) {
  if (list.size() <= max_items) return list;
  (*parent)[name + "_truncated"] = true;
  return Json(std::vector<Json>(list.begin(), list.begin() + static_cast<long>(max_items)));
}

}  // namespace

UserSnapshot Snapshot(const EffectiveUser& user) {
  UserSnapshot out;
  out.state = user.state;
  for (const auto& [name, v] : user.attributes) out.attributes[name] = v.value;
  for (const auto& [key, m] : user.memberships) out.groups.insert(m.group);
  return out;
}

DirectoryDiff Diff(const DirectorySnapshot& before, const DirectorySnapshot& after) {
  DirectoryDiff d;
  // Group -> number of members, before and after, for groups_created/groups_emptied.
  std::map<std::string, std::pair<size_t, size_t>> group_members;
  std::map<std::string, std::string> group_spelling;

  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    const std::string* key;
    const UserSnapshot* ub = nullptr;
    const UserSnapshot* ua = nullptr;
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      key = &b->first;
      ub = &b->second;
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      key = &a->first;
      ua = &a->second;
      ++a;
    } else {
      key = &a->first;
      ub = &b->second;
      ua = &a->second;
      ++a;
      ++b;
    }
    const bool was = Present(ub);
    const bool is = Present(ua);
    if (!was && is) d.created.push_back(*key);
    if (was && !is) d.removed.push_back(*key);
    if (was && is) {
      if (ub->state == UserState::kActive && ua->state == UserState::kDisabled) {
        d.disabled.push_back(*key);
      } else if (ub->state == UserState::kDisabled && ua->state == UserState::kActive) {
        d.enabled.push_back(*key);
      }
      UserUpdate update{*key, {}};
      auto x = ub->attributes.begin();
      auto y = ua->attributes.begin();
      while (x != ub->attributes.end() || y != ua->attributes.end()) {
        if (y == ua->attributes.end() || (x != ub->attributes.end() && x->first < y->first)) {
          if (x->first != "active") update.changes.push_back({x->first, x->second, nullptr});
          ++x;
        } else if (x == ub->attributes.end() || y->first < x->first) {
          if (y->first != "active") update.changes.push_back({y->first, nullptr, y->second});
          ++y;
        } else {
          if (x->first != "active" && x->second != y->second) {
            update.changes.push_back({x->first, x->second, y->second});
          }
          ++x;
          ++y;
        }
      }
      if (!update.changes.empty()) d.updated.push_back(std::move(update));
    }

    std::map<std::string, std::string> gb = FoldedGroups(ub);
    std::map<std::string, std::string> ga = FoldedGroups(ua);
    for (const auto& [folded, name] : gb) {
      ++group_members[folded].first;
      group_spelling.emplace(folded, name);
      if (!ga.contains(folded)) d.memberships_removed.push_back({*key, name});
    }
    for (const auto& [folded, name] : ga) {
      ++group_members[folded].second;
      group_spelling.emplace(folded, name);
      if (!gb.contains(folded)) d.memberships_added.push_back({*key, name});
    }
  }
  for (const auto& [folded, counts] : group_members) {
    if (counts.first == 0 && counts.second > 0) d.groups_created.push_back(group_spelling[folded]);
    if (counts.first > 0 && counts.second == 0) d.groups_emptied.push_back(group_spelling[folded]);
  }
  d.counts = DiffCounts{d.created.size(),
                        d.updated.size(),
                        d.disabled.size(),
                        d.enabled.size(),
                        d.removed.size(),
                        d.memberships_added.size(),
                        d.memberships_removed.size(),
                        d.groups_created.size(),
                        d.groups_emptied.size()};
  return d;
}

Json DiffToJson(const DirectoryDiff& diff, size_t max_items) {
  const DiffCounts& c = diff.counts;
  Json out = {{"counts",
               {{"created", c.created},
                {"updated", c.updated},
                {"disabled", c.disabled},
                {"enabled", c.enabled},
                {"removed", c.removed},
                {"memberships_added", c.memberships_added},
                {"memberships_removed", c.memberships_removed},
                {"groups_created", c.groups_created},
                {"groups_emptied", c.groups_emptied}}}};
  auto users = [&](const std::vector<std::string>& list, const std::string& name) {
    out[name] = Truncated(Json(list), max_items, name, &out);
  };
  users(diff.created, "created");
  users(diff.disabled, "disabled");
  users(diff.enabled, "enabled");
  users(diff.removed, "removed");
  users(diff.groups_created, "groups_created");
  users(diff.groups_emptied, "groups_emptied");
  Json updated = Json::array();
  for (size_t i = 0; i < diff.updated.size() && i <= max_items; ++i) {
    Json changes = Json::array();
    for (const AttributeChange& ch : diff.updated[i].changes) {
      changes.push_back({{"attribute", ch.name}, {"before", ch.before}, {"after", ch.after}});
    }
    updated.push_back({{"user", diff.updated[i].user}, {"changes", std::move(changes)}});
  }
  out["updated"] = Truncated(updated, max_items, "updated", &out);
  auto memberships = [&](const std::vector<MembershipChange>& list, const std::string& name) {
    Json j = Json::array();
    for (size_t i = 0; i < list.size() && i <= max_items; ++i) {
      j.push_back({{"user", list[i].user}, {"group", list[i].group}});
    }
    out[name] = Truncated(j, max_items, name, &out);
  };
  memberships(diff.memberships_added, "memberships_added");
  memberships(diff.memberships_removed, "memberships_removed");
  return out;
}

}  // namespace idsync::policy
