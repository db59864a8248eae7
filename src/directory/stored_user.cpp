// The stored form of an effective user (see stored_user.h).
#include "directory/stored_user.h"

#include "base/strings.h"

namespace idsync::directory {

using policy::EffectiveUser;
using policy::UserState;

namespace {

// ---------- EffectiveUser <-> stored body ----------

policy::MembershipRule RuleFromName(std::string_view name) {
  if (name == "manual") return policy::MembershipRule::kManual;
  if (name == "default_new") return policy::MembershipRule::kDefaultNew;
  if (name == "default_all") return policy::MembershipRule::kDefaultAll;
  if (name == "on_the_fly") return policy::MembershipRule::kOnTheFly;
  return policy::MembershipRule::kExisting;
}

UserState StateFromName(std::string_view name) {
  return name == "disabled" ? UserState::kDisabled : UserState::kActive;
}

}  // namespace

// FoldCase of the effective e-mail (attributes.email.value), "" when there is none: the
// LDAP server's index for (mail=...) filters (EffectiveUserRow::mail_key).
std::string MailKeyOf(const Json& body) {
  auto attrs = body.find("attributes");
  if (attrs == body.end() || !attrs->is_object()) return "";
  auto email = attrs->find("email");
  if (email == attrs->end() || !email->is_object()) return "";
  auto value = email->find("value");
  if (value == email->end() || !value->is_string()) return "";
  return FoldCase(value->get<std::string>());
}

Json BodyOf(const EffectiveUser& user, const ConnectionNames& names,
            const std::map<std::string, std::string>& group_ids) {
  Json attrs = Json::object();
  for (const auto& [name, v] : user.attributes) {
    auto n = names.find(v.connection_id);
    attrs[name] = {{"value", v.value},
                   {"connection", v.connection_id},
                   {"connection_name", n == names.end() ? "" : n->second},
                   {"source_user", v.source_user_id},
                   {"source", v.source},
                   {"rule", v.rule}};
  }
  Json memberships = Json::array();
  for (const auto& [key, m] : user.memberships) {
    Json grants = Json::array();
    for (const auto& g : m.grants) {
      Json grant = {{"rule", std::string(policy::MembershipRuleName(g.rule))},
                    {"connection", g.connection_id},
                    {"source_group", g.source_group},
                    {"detail", g.detail}};
      if (g.existing_only) grant["existing_only"] = true;
      grants.push_back(std::move(grant));
    }
    auto gid = group_ids.find(key);
    memberships.push_back({{"group", m.group},
                           {"group_id", gid == group_ids.end() ? "" : gid->second},
                           {"grants", std::move(grants)}});
  }
  Json entitlements = Json::array();
  for (const auto& e : user.entitlements) {
    entitlements.push_back({{"value", e.value}, {"group", e.group}});
  }
  return {{"attributes", std::move(attrs)},
          {"memberships", std::move(memberships)},
          {"entitlements", std::move(entitlements)},
          {"state_reason", user.state_reason},
          {"warnings", user.warnings}};
}

EffectiveUser UserOf(const store::EffectiveUserRow& row) {
  EffectiveUser u;
  u.state = StateFromName(row.state);
  u.state_reason = row.body.value("state_reason", "");
  if (auto a = row.body.find("attributes"); a != row.body.end() && a->is_object()) {
    for (const auto& [name, v] : a->items()) {
      policy::EffectiveValue ev;
      ev.value = v.value("value", Json());
      ev.connection_id = v.value("connection", "");
      ev.source_user_id = v.value("source_user", "");
      ev.source = v.value("source", "");
      ev.rule = v.value("rule", "");
      u.attributes[name] = std::move(ev);
    }
  }
  if (auto m = row.body.find("memberships"); m != row.body.end() && m->is_array()) {
    for (const auto& j : *m) {
      policy::EffectiveMembership em;
      em.group = j.value("group", "");
      for (const auto& g : j.value("grants", Json::array())) {
        em.grants.push_back({RuleFromName(g.value("rule", "")), g.value("connection", ""),
                             g.value("source_group", ""), g.value("detail", ""),
                             g.value("existing_only", false)});
      }
      u.memberships[FoldCase(em.group)] = std::move(em);
    }
  }
  if (auto e = row.body.find("entitlements"); e != row.body.end() && e->is_array()) {
    for (const auto& j : *e) u.entitlements.push_back({j.value("value", ""), j.value("group", "")});
  }
  if (auto w = row.body.find("warnings"); w != row.body.end() && w->is_array()) {
    for (const auto& j : *w) {
      if (j.is_string()) u.warnings.push_back(j.get<std::string>());
    }
  }
  return u;
}

std::string UsernameOf(const EffectiveUser& u) {
  auto it = u.attributes.find("username");
  if (it == u.attributes.end() || !it->second.value.is_string()) return "";
  return it->second.value.get<std::string>();
}

}  // namespace idsync::directory
