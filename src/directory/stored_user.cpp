// The stored form of an effective user (see stored_user.h).
#include "directory/stored_user.h"

#include <vector>

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
  Json body = Json::object();
  Json& attrs = body["attributes"] = Json::object();
  Json& origins = body["origins"] = Json::array();
  // Each distinct (connection, source user) once, in the order the attributes (by name) first
  // name it: a user has one to a few sources and a dozen or more attributes. The order makes
  // the same user the same body, so an unchanged user is not written again.
  std::vector<const policy::EffectiveValue*> seen;
  for (const auto& [name, v] : user.attributes) {
    size_t origin = 0;
    while (origin < seen.size() && (seen[origin]->connection_id != v.connection_id ||
                                    seen[origin]->source_user_id != v.source_user_id)) {
      ++origin;
    }
    if (origin == seen.size()) {
      seen.push_back(&v);
      auto n = names.find(v.connection_id);
      Json o = Json::object();
      o["connection"] = v.connection_id;
      o["connection_name"] = n == names.end() ? "" : n->second;
      o["source_user"] = v.source_user_id;
      origins.push_back(std::move(o));
    }
    // Members one by one: an initializer list copies each pair through a temporary array.
    Json entry = Json::object();
    entry["value"] = v.value;
    entry["origin"] = origin;
    entry["source"] = v.source;
    entry["rule"] = v.rule;
    attrs.emplace(name, std::move(entry));
  }
  Json& memberships = body["memberships"] = Json::array();
  for (const auto& [key, m] : user.memberships) {
    Json grants = Json::array();
    for (const auto& g : m.grants) {
      Json grant = Json::object();
      grant["rule"] = std::string(policy::MembershipRuleName(g.rule));
      grant["connection"] = g.connection_id;
      grant["source_group"] = g.source_group;
      grant["detail"] = g.detail;
      if (g.existing_only) grant["existing_only"] = true;
      grants.push_back(std::move(grant));
    }
    auto gid = group_ids.find(key);
    Json membership = Json::object();
    membership["group"] = m.group;
    membership["group_id"] = gid == group_ids.end() ? "" : gid->second;
    membership["grants"] = std::move(grants);
    memberships.push_back(std::move(membership));
  }
  Json& entitlements = body["entitlements"] = Json::array();
  for (const auto& e : user.entitlements) {
    Json entitlement = Json::object();
    entitlement["value"] = e.value;
    entitlement["group"] = e.group;
    entitlements.push_back(std::move(entitlement));
  }
  body["state_reason"] = user.state_reason;
  body["warnings"] = user.warnings;
  return body;
}

namespace {

// The row of body[table] that the index `i` (an entry's "origin" or "stamp") names; null for an
// index the table does not have.
const Json* TableRow(const Json& body, const Json& i, std::string_view table) {
  if (!i.is_number_integer() || i.get<int64_t>() < 0) return nullptr;
  const Json& rows = MemberOrNull(body, table);
  const auto n = i.get<uint64_t>();
  if (!rows.is_array() || n >= rows.size() || !rows[n].is_object()) return nullptr;
  return &rows[n];
}

std::string TextOf(const Json* v) {
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

EntryProvenance ProvenanceOf(const Json& body, const Json& entry) {
  EntryProvenance p{nullptr, nullptr, nullptr, nullptr, nullptr};
  if (!entry.is_object()) return p;
  // The shared form names a row of a table; the inline form has the members itself.
  const Json* origin = &entry;
  if (const Json* i = FindMember(entry, "origin")) origin = TableRow(body, *i, "origins");
  const Json* stamp = &entry;
  if (const Json* i = FindMember(entry, "stamp")) stamp = TableRow(body, *i, "stamps");
  if (origin != nullptr) {
    p.connection = FindMember(*origin, "connection");
    p.connection_name = FindMember(*origin, "connection_name");
    p.source_user = FindMember(*origin, "source_user");
  }
  if (stamp != nullptr) {
    p.request_id = FindMember(*stamp, "request_id");
    p.time = FindMember(*stamp, "time");
  }
  return p;
}

Json WithInlineProvenance(const Json& body) {
  Json out = body;
  if (!out.is_object()) return out;
  auto inline_entry = [&](Json& entry) {
    const bool origin = entry.contains("origin");
    const bool stamp = entry.contains("stamp");
    if (!origin && !stamp) return;
    const EntryProvenance p = ProvenanceOf(body, entry);
    if (origin) {
      entry.erase("origin");
      entry["connection"] = p.connection ? *p.connection : Json("");
      entry["connection_name"] = p.connection_name ? *p.connection_name : Json("");
      entry["source_user"] = p.source_user ? *p.source_user : Json("");
    }
    if (stamp) {
      entry.erase("stamp");
      entry["request_id"] = p.request_id ? *p.request_id : Json("");
      entry["time"] = p.time ? *p.time : Json("");
    }
  };
  if (auto a = out.find("attributes"); a != out.end() && a->is_object()) {
    for (auto& [name, entry] : a->items()) inline_entry(entry);
  }
  if (auto m = out.find("memberships"); m != out.end() && m->is_array()) {
    for (auto& entry : *m) inline_entry(entry);
  }
  out.erase("origins");
  out.erase("stamps");
  return out;
}

EffectiveUser UserOf(const store::EffectiveUserRow& row) {
  EffectiveUser u;
  u.state = StateFromName(row.state);
  u.state_reason = row.body.value("state_reason", "");
  if (auto a = row.body.find("attributes"); a != row.body.end() && a->is_object()) {
    for (const auto& [name, v] : a->items()) {
      const EntryProvenance p = ProvenanceOf(row.body, v);
      policy::EffectiveValue ev;
      ev.value = v.value("value", Json());
      ev.connection_id = TextOf(p.connection);
      ev.source_user_id = TextOf(p.source_user);
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
