#include "policy/merge.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "base/strings.h"

namespace idsync::policy {
namespace {

bool Before(const LinkedSource* a, const LinkedSource* b) {
  return std::make_tuple(-a->policy->priority, a->connection_id, a->source_user_id) <
         std::make_tuple(-b->policy->priority, b->connection_id, b->source_user_id);
}

bool Holds(const LinkedSource& s) {
  return !s.policy->users.follow_active || s.values.active();
}

void Grant(EffectiveUser* user, const std::string& group, MembershipGrant grant) {
  EffectiveMembership& m = user->memberships[FoldCase(group)];
  if (m.group.empty()) m.group = group;
  if (std::find(m.grants.begin(), m.grants.end(), grant) == m.grants.end()) {
    m.grants.push_back(std::move(grant));
  }
}

}  // namespace

std::string_view UserStateName(UserState state) {
  switch (state) {
    case UserState::kActive: return "active";
    case UserState::kDisabled: return "disabled";
    case UserState::kRemoved: return "removed";
    case UserState::kNotImported: return "not_imported";
  }
  return "active";
}

std::vector<std::string> EffectiveUser::GroupNames() const {
  std::vector<std::string> out;
  for (const auto& [key, m] : memberships) out.push_back(m.group);
  return out;
}

EffectiveUser MergeUser(const std::vector<LinkedSource>& sources, const EffectiveUser* previous,
                        const GroupExists& group_exists) {
  std::vector<const LinkedSource*> present;
  std::vector<const LinkedSource*> deleted;
  for (const LinkedSource& s : sources) {
    IDSYNC_CHECK(s.policy != nullptr);
    (s.deleted ? deleted : present).push_back(&s);
  }
  std::sort(present.begin(), present.end(), Before);
  std::sort(deleted.begin(), deleted.end(), Before);
  if (previous &&
      (previous->state == UserState::kRemoved || previous->state == UserState::kNotImported)) {
    previous = nullptr;
  }
  const bool is_new = previous == nullptr;

  EffectiveUser out;
  if (present.empty()) {
    if (!previous) {
      out.state = UserState::kNotImported;
      out.state_reason = "no present source user";
      return out;
    }
    if (deleted.empty()) {
      // No link left at all (tombstones purged after "keep"): nothing can change the user.
      out = *previous;
      return out;
    }
    // Every source let go: the highest-priority deleted source's on_delete decides, whatever
    // the order in which the sources left (docs/ARCHITECTURE.md, "Several sources leaving").
    const LinkedSource& last = *deleted.front();
    const std::string who = "connection " + last.connection_id;
    switch (last.policy->users.on_delete) {
      case OnDelete::kDelete:
        out.state = UserState::kRemoved;
        out.state_reason = "deleted in every source; users.on_delete is delete (" + who + ")";
        out.decided_by = last.connection_id;
        return out;
      case OnDelete::kDisable:
        out = *previous;
        out.state = UserState::kDisabled;
        out.state_reason = "deleted in every source; users.on_delete is disable (" + who + ")";
        out.attributes["active"] = EffectiveValue{false, last.connection_id, last.source_user_id,
                                                  "deleted", "users.on_delete"};
        out.decided_by = last.connection_id;
        return out;
      case OnDelete::kKeep:
        out = *previous;
        out.state_reason = "deleted in every source; users.on_delete is keep (" + who + ")";
        out.decided_by = last.connection_id;
        return out;
    }
  }

  if (is_new) {
    bool may_create = std::any_of(present.begin(), present.end(), [](const LinkedSource* s) {
      return s->policy->users.import_new;
    });
    if (!may_create) {
      out.state = UserState::kNotImported;
      out.state_reason = "users.import_new is off for every linked connection";
      return out;
    }
  }

  // Active state.
  const LinkedSource* holder = nullptr;
  for (const LinkedSource* s : present) {
    if (Holds(*s)) {
      holder = s;
      break;
    }
  }
  if (holder) {
    out.state = UserState::kActive;
    const MappedValue* a = holder->values.Find("active");
    bool followed = holder->policy->users.follow_active;
    out.attributes["active"] = EffectiveValue{true, holder->connection_id, holder->source_user_id,
                                              followed && a ? a->source : "users.follow_active",
                                              followed && a ? a->rule : "users.follow_active"};
  } else {
    const LinkedSource& top = *present.front();
    out.state = UserState::kDisabled;
    out.state_reason = "inactive in every source; users.on_deactivate is disable";
    const MappedValue* a = top.values.Find("active");
    out.attributes["active"] = EffectiveValue{false, top.connection_id, top.source_user_id,
                                              a ? a->source : "active", "users.on_deactivate"};
  }

  // Attributes: per name, the first source in priority order that offers a value.
  std::set<std::string> names;
  for (const LinkedSource* s : present) {
    for (const auto& [name, v] : s->values.values) names.insert(name);
    for (const std::string& w : s->values.warnings) {
      out.warnings.push_back("connection " + s->connection_id + ": " + w);
    }
  }
  if (previous) {
    for (const auto& [name, v] : previous->attributes) names.insert(name);
  }
  names.erase("active");
  for (const std::string& name : names) {
    for (const LinkedSource* s : present) {
      if (!is_new && !s->policy->users.update_existing) {
        // update_existing off: this source may only keep what it set before.
        auto prev = previous->attributes.find(name);
        if (prev != previous->attributes.end() && prev->second.connection_id == s->connection_id &&
            prev->second.source_user_id == s->source_user_id) {
          out.attributes[name] = prev->second;
          break;
        }
        continue;
      }
      if (const MappedValue* v = s->values.Find(name)) {
        out.attributes[name] =
            EffectiveValue{v->value, s->connection_id, s->source_user_id, v->source, v->rule};
        break;
      }
    }
  }

  // Memberships.
  bool keep_existing = false;
  for (const LinkedSource* s : present) {
    keep_existing = keep_existing || s->policy->groups.keep_existing_memberships;
    MappedGroups mapped = MapGroups(*s->policy, s->groups, is_new);
    for (const auto& [key, group] : mapped.groups) {
      for (const GroupGrant& g : group.grants) {
        Grant(&out, group.name,
              MembershipGrant{g.rule, s->connection_id, g.source_group, g.detail,
                              g.existing_only});
      }
    }
    for (const std::string& w : mapped.warnings) {
      out.warnings.push_back("connection " + s->connection_id + ": " + w);
    }
  }
  if (previous) {
    for (const auto& [key, m] : previous->memberships) {
      for (const MembershipGrant& g : m.grants) {
        if (g.rule == MembershipRule::kDefaultNew ||
            (g.rule == MembershipRule::kExisting && keep_existing)) {
          Grant(&out, m.group, g);
        }
      }
    }
  }

  if (group_exists) {
    for (auto it = out.memberships.begin(); it != out.memberships.end();) {
      const auto& grants = it->second.grants;
      const bool only_existing =
          std::all_of(grants.begin(), grants.end(),
                      [](const MembershipGrant& g) { return g.existing_only; });
      if (only_existing && !group_exists(it->second.group)) {
        it = out.memberships.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Entitlements: every present source's table over the final groups.
  std::vector<std::string> groups = out.GroupNames();
  for (const LinkedSource* s : present) {
    for (Entitlement& e : DeriveEntitlements(s->policy->entitlements, groups)) {
      out.entitlements.push_back(std::move(e));
    }
  }
  std::sort(out.entitlements.begin(), out.entitlements.end());
  out.entitlements.erase(std::unique(out.entitlements.begin(), out.entitlements.end()),
                         out.entitlements.end());
  return out;
}

std::optional<std::string> ComputeLinkKey(const Policy& policy, const EffectiveUserValues& values) {
  switch (policy.link_key) {
    case LinkKey::kUsername: {
      std::string u = values.username();
      if (u.empty()) return std::nullopt;
      return "username:" + FoldCase(u);
    }
    case LinkKey::kEmail: {
      std::string e = values.email();
      if (e.empty()) return std::nullopt;
      return "email:" + FoldCase(e);
    }
    case LinkKey::kNone: return std::nullopt;
  }
  return std::nullopt;
}

std::optional<Conflict> FindUsernameConflict(const std::string& username,
                                             const std::string& connection_id,
                                             const std::string& source_user_id,
                                             const std::string* joining_effective_user_id,
                                             const std::map<std::string, UsernameOwner>& owners) {
  auto it = owners.find(FoldCase(username));
  if (it == owners.end()) return std::nullopt;
  const UsernameOwner& owner = it->second;
  if (joining_effective_user_id) {
    if (owner.effective_user_id == *joining_effective_user_id) return std::nullopt;
  } else if (owner.connection_id == connection_id && owner.source_user_id == source_user_id) {
    return std::nullopt;
  }
  Conflict c;
  c.username = username;
  c.connection_id = connection_id;
  c.source_user_id = source_user_id;
  c.existing = owner;
  c.reason = "username " + DoubleQuoted(username) + " is already held by connection " +
             owner.connection_id + " (source user " + owner.source_user_id +
             "); the source user of connection " + connection_id + " is not imported";
  return c;
}

}  // namespace idsync::policy
