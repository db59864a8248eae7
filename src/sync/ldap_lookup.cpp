// One user read from the LDAP server: `ldap test` (writes nothing) and sync on login (refreshes
// that one user).
#include <set>

#include "base/strings.h"
#include "policy/mapping.h"
#include "policy/policy.h"
#include "sync/ldap/filter_escape.h"
#include "sync/ldap_entries.h"
#include "sync/ldap_sync_impl.h"

namespace idsync::sync {

using ldap::LdapClient;
using ldap::LdapEntry;
using scim::ResourceType;

namespace {

std::string Parenthesized(const std::string& f) {
  return !f.empty() && f.front() == '(' ? f : "(" + f + ")";
}

// The groups `user` belongs to, read from the server: groups naming it (member, uniqueMember,
// memberUid), groups in its memberOf, and every group containing those, at any depth.
Result<std::vector<GroupInfo>> GroupsOfEntry(LdapClient& client, const LdapConfig& config,
                                             const LdapEntry& user) {
  std::vector<GroupInfo> out;
  std::set<std::string> seen;         // DnKey
  std::vector<std::string> frontier;  // filters still to run
  const std::string group_filter = Parenthesized(config.ldap.group_filter);
  auto by_member = [&](const std::string& dn, const std::string& uid) {
    std::string f = "(|(member=" + ldap::EscapeFilterValue(dn) +
                    ")(uniqueMember=" + ldap::EscapeFilterValue(dn) + ")";
    if (!uid.empty()) f += "(memberUid=" + ldap::EscapeFilterValue(uid) + ")";
    return "(&" + group_filter + f + "))";
  };
  std::vector<std::string> attrs = {"cn", config.ldap.id_attribute};
  auto take = [&](const LdapEntry& e) -> Status {
    if (!seen.insert(DnKey(e.dn)).second) return Status::Ok();
    auto id = ldap::StableId(e, config.ldap.id_attribute);
    if (!id) return Status::Ok();
    GroupInfo g;
    g.id = *id;
    g.dn = e.dn;
    g.name = e.First("cn").value_or(e.dn);
    out.push_back(std::move(g));
    return Status::Ok();
  };
  std::string uid =
      user.First("uid").value_or(user.First(config.ldap.username_attribute).value_or(""));
  frontier.push_back(by_member(user.dn, uid));
  if (const auto* member_of = user.Find("memberOf")) {
    for (const auto& dn : *member_of) {
      ldap::SearchRequest request{dn, ldap::SearchScope::kBase, group_filter, attrs, 0, false};
      Status st = client.PagedSearch(request, take);
      if (!st && client.last_failure() != ldap::LdapFailure::kBaseDnNotFound) return st.error();
    }
  }
  size_t expanded = 0;
  while (!frontier.empty()) {
    std::string filter = frontier.back();
    frontier.pop_back();
    for (const auto& base : config.ldap.base_dns) {
      ldap::SearchRequest request{base, ldap::SearchScope::kSubtree, filter, attrs, 0, true};
      if (Status st = client.PagedSearch(request, take); !st) return st.error();
    }
    // Parents of the groups found so far (nested groups; `seen` ends cycles).
    for (; expanded < out.size(); ++expanded) frontier.push_back(by_member(out[expanded].dn, ""));
  }
  return out;
}

// Searches every base DN with `filter`, one entry at most (a page of 1, stopped at the first
// entry): a filter the server rejects, or a base DN it cannot search, fails here before the
// first sync does.
Status ProbeFilter(LdapClient& client, const LdapConfig& config, const std::string& filter) {
  static constexpr std::string_view kEnough = "idsync: one entry is enough";
  for (const auto& base : config.ldap.base_dns) {
    ldap::SearchRequest request{base, ldap::SearchScope::kSubtree, filter, {"1.1"}, 1, true};
    Status st = client.PagedSearch(request, [](const LdapEntry&) -> Status {
      return MakeError(ErrorCode::kInternal, std::string(kEnough));
    });
    if (!st && st.error().detail != kEnough) return st;
    if (!st) return Status::Ok();  // found one: the filter works
  }
  return Status::Ok();
}

Json MappedValuesJson(const policy::EffectiveUserValues& values) {
  Json out = Json::object();
  for (const auto& [name, v] : values.values) {
    out[name] = Json{{"value", v.value}, {"source", v.source}, {"rule", v.rule}};
  }
  return out;
}

}  // namespace

Result<Json> LdapSync::Test(const std::string& name, const std::optional<std::string>& username) {
  auto loaded = impl_->Load(name, true);
  if (!loaded) return loaded.error();
  auto fail = [](std::string_view kind, const std::string& message) {
    return Json{{"ok", false}, {"failure", kind}, {"message", message}, {"user", nullptr}};
  };
  auto client = LdapClient::Connect(loaded->config.ldap);
  if (!client) return fail("invalid_settings", client.error().detail);
  if (Status st = client->TestConnection(); !st) {
    auto kind = client->last_failure().value_or(ldap::LdapFailure::kOther);
    return fail(ldap::FailureName(kind), st.error().detail);
  }
  for (const auto& [key, filter] :
       {std::pair<const char*, std::string>{"user_filter", loaded->config.ldap.user_filter},
        {"group_filter", loaded->config.ldap.group_filter}}) {
    if (Status st = ProbeFilter(*client, loaded->config, filter); !st) {
      auto kind = client->last_failure().value_or(ldap::LdapFailure::kOther);
      return fail(ldap::FailureName(kind), std::string(key) + ": " + st.error().detail);
    }
  }
  Json out = {{"ok", true},
              {"failure", nullptr},
              {"message", "bound to " + loaded->config.ldap.url +
                              ", read every base DN and searched with both filters"},
              {"user", nullptr}};
  if (!username) return out;
  auto found = client->FindUser(*username);
  if (!found) {
    auto kind = client->last_failure().value_or(ldap::LdapFailure::kOther);
    return fail(ldap::FailureName(kind), found.error().detail);
  }
  if (!*found) {
    out["message"] = "connection works; no user with " + loaded->config.ldap.username_attribute +
                     "=" + *username + " matches the user filter";
    return out;
  }
  const LdapEntry& entry = **found;
  Json user = {{"entry", RawEntry(entry)}};
  auto id = ldap::StableId(entry, loaded->config.ldap.id_attribute);
  Json body = EntryBody(entry, loaded->config);
  user["source_user"] = body;
  user["id"] = id ? Json(*id) : Json(nullptr);
  if (!id) user["warning"] = id.error().detail;
  auto groups = GroupsOfEntry(*client, loaded->config, entry);
  if (!groups) {
    auto kind = client->last_failure().value_or(ldap::LdapFailure::kOther);
    return fail(ldap::FailureName(kind), groups.error().detail);
  }
  Json source_groups = Json::array();
  std::vector<policy::SourceGroup> sg;
  for (const auto& g : *groups) {
    source_groups.push_back(Json{{"id", g.id}, {"name", g.name}, {"dn", g.dn}});
    sg.push_back({g.id, g.name});
  }
  user["source_groups"] = source_groups;
  // The connection's policy as the derivation would use it; read only.
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto dir = tx.GetDirectory(loaded->connection.directory);
    if (!dir) return dir.error();
    auto custom = policy::ParseCustomAttributeDefs(dir->custom_attributes);
    if (!custom) return custom.error();
    policy::PolicyContext ctx;
    ctx.kind = policy::SourceKind::kLdap;
    ctx.ldap_username_attribute = loaded->config.ldap.username_attribute;
    ctx.custom = *custom;
    policy::Policy pol = policy::DefaultPolicy(ctx);
    if (auto stored = tx.GetPolicy(loaded->connection.id)) {
      auto parsed = policy::ParsePolicy(stored->body, ctx);
      if (!parsed) return parsed.error();
      pol = std::move(*parsed);
    } else if (stored.error().code != ErrorCode::kNotFound) {
      return stored.error();
    }
    Json mapped_input = body;
    mapped_input["id"] = id ? *id : std::string();
    auto values = policy::MapUser(pol, mapped_input, *custom);
    if (!values) {
      user["effective"] = nullptr;
      user["not_imported"] = values.error().detail;
    } else {
      user["effective"] = MappedValuesJson(*values);
      if (!values->warnings.empty()) user["warnings"] = StringList(values->warnings);
    }
    auto mapped = policy::MapGroups(pol, sg, true);
    Json local = Json::array();
    for (const auto& [key, g] : mapped.groups) local.push_back(g.name);
    user["groups"] = local;
    user["groups_ignored"] = StringList(mapped.ignored);
    return Status::Ok();
  });
  if (!st) return st.error();
  out["user"] = std::move(user);
  out["message"] = "connection works; found " + entry.dn;
  return out;
}

Result<Json> LdapSync::LoginSync(const std::string& name, const std::string& username,
                                 const directory::Actor& actor) {
  Impl& m = *impl_;
  auto loaded = m.Load(name, true);
  if (!loaded) return loaded.error();
  if (!loaded->connection.enabled) {
    return Invalid("connection \"" + name + "\" is disabled");
  }
  if (username.empty()) return Invalid("username: required");
  auto client = LdapClient::Connect(loaded->config.ldap);
  if (!client) return client.error();
  auto found = client->FindUser(username);
  if (!found) {
    // Two entries for one username is a data problem (409), not a server to retry (503).
    const bool ambiguous = client->last_failure() == ldap::LdapFailure::kAmbiguous;
    return MakeError(ambiguous ? ErrorCode::kConflict : ErrorCode::kUnavailable,
                     FailureText(*client, found.error()));
  }
  if (!*found) {
    return MakeError(ErrorCode::kNotFound, "the LDAP server has no user with " +
                                               loaded->config.ldap.username_attribute + "=" +
                                               username + " matching the user filter");
  }
  const LdapEntry& entry = **found;
  auto id = ldap::StableId(entry, loaded->config.ldap.id_attribute);
  if (!id) return id.error();
  auto groups = GroupsOfEntry(*client, loaded->config, entry);
  if (!groups) return MakeError(ErrorCode::kUnavailable, FailureText(*client, groups.error()));
  PendingUser p;
  p.id = *id;
  p.body = EntryBody(entry, loaded->config);
  p.dn = entry.dn;
  p.username = entry.First(loaded->config.ldap.username_attribute).value_or("");
  const store::Connection& c = loaded->connection;
  std::string mirror;
  Status st = m.store.Write([&](store::Transaction& tx) -> Status {
    bool moved = false;
    auto what = m.PutUser(tx, c, p, &moved);
    if (!what) return what.error();
    mirror = *what;
    std::set<std::string> want;
    std::set<std::string> notify = {p.id};
    bool membership_changed = false;
    for (const auto& g : *groups) {
      auto put = m.PutGroup(tx, c, g);
      if (!put) return put.error();
      want.insert(g.id);
      if (*put == "renamed") {  // every member's effective groups follow the new name
        auto members = tx.ListMembers(c.id, g.id);
        if (!members) return members.error();
        for (const auto& member : *members) notify.insert(member.value);
      }
    }
    auto have = tx.GroupsOf(c.id, p.id);
    if (!have) return have.error();
    std::set<std::string> had;
    for (const auto& [gid, gname] : *have) had.insert(gid);
    for (const auto& gid : want) {
      if (had.count(gid)) continue;
      auto added = tx.AddMember(c.id, gid, store::Member{p.id, "User", ""});
      if (!added) return added.error();
      if (Status s = tx.TouchResource(c.id, ResourceType::kGroup, gid, m.clock.Now()); !s) return s;
      membership_changed = true;
    }
    for (const auto& gid : had) {
      if (want.count(gid)) continue;
      auto removed = tx.RemoveMember(c.id, gid, p.id);
      if (!removed) return removed.error();
      if (Status s = tx.TouchResource(c.id, ResourceType::kGroup, gid, m.clock.Now()); !s) return s;
      membership_changed = true;
    }
    if (mirror != "unchanged" || membership_changed || notify.size() > 1) {
      if (Status s = m.Notify(tx, c, std::move(notify), actor.request_id, "login"); !s) return s;
    }
    return m.Audit(tx, c, actor.name, actor.request_id, "sync.login", 200,
                   "mirror " + mirror + (membership_changed ? ", memberships changed" : ""), p.id);
  });
  m.directory.AfterCommit();
  if (!st) return st.error();
  Json out = {
      {"connection", c.name}, {"source_user", p.id}, {"mirror", mirror}, {"effective", nullptr}};
  std::string effective_id, directory_name;
  Status read = m.store.Read([&](store::Transaction& tx) -> Status {
    auto link = tx.GetLink(c.id, p.id);
    if (link && !link->deleted) {
      effective_id = link->effective_user_id;
      directory_name = link->directory;
    }
    return Status::Ok();
  });
  if (!read) return read.error();
  if (effective_id.empty()) {
    out["warning"] =
        "the policy did not import this user (see idsync conflicts, or the policy's "
        "import_new and username mapping)";
    return out;
  }
  auto explained = m.directory.Explain(directory_name, effective_id);
  if (!explained) return explained.error();
  out["effective"] = std::move(*explained);
  return out;
}

}  // namespace idsync::sync
