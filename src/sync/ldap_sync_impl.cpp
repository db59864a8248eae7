#include "sync/ldap_sync_impl.h"

#include <unistd.h>

#include "base/strings.h"
#include "base/uuid.h"
#include "service/connections.h"
#include "sync/ldap_entries.h"

namespace idsync::sync {

using scim::ResourceType;

std::string SecretContext(const store::Connection& c) {
  return "idsync:" + c.uuid + ":" + std::string(kPasswordSecret);
}

Json ZeroCounts() {
  return Json{{"created", 0},
              {"updated", 0},
              {"unchanged", 0},
              {"disabled", 0},
              {"removed", 0},
              {"errors", 0},
              {"groups_created", 0},
              {"groups_updated", 0},
              {"groups_removed", 0},
              {"memberships_added", 0},
              {"memberships_removed", 0}};
}

std::string FailureText(ldap::LdapClient& client, const Error& e) {
  if (auto kind = client.last_failure()) {
    return std::string(ldap::FailureName(*kind)) + ": " + e.detail;
  }
  return e.detail;
}

LdapSync::Impl::Impl(store::Store& s, directory::DirectoryService& d, const SecretBox& b,
                     const Clock& c)
    : store(s), directory(d), secrets(b), clock(c) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  owner = std::string(host) + ":" + std::to_string(getpid()) + ":" + NewUuid().substr(0, 8);
}

std::shared_ptr<std::mutex> LdapSync::Impl::LockFor(int64_t connection_id) {
  std::lock_guard lock(locks_mu);
  auto& m = locks[connection_id];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

Result<Loaded> LdapSync::Impl::Load(const std::string& name, bool with_password) {
  Loaded out;
  std::string sealed;
  Status st = store.Read([&](store::Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName(name);
    if (!c) {
      if (c.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound, "no connection named \"" + name + "\"");
      }
      return c.error();
    }
    out.connection = *c;
    if (c->kind != kLdapKind) return Status::Ok();
    auto secret = tx.GetSecret(c->id, std::string(kPasswordSecret));
    if (secret) {
      sealed = *secret;
    } else if (secret.error().code != ErrorCode::kNotFound) {
      return secret.error();
    }
    return Status::Ok();
  });
  if (!st) return st.error();
  if (out.connection.kind != kLdapKind) {
    return Invalid("connection \"" + name + "\" is of kind " + out.connection.kind + ", not ldap");
  }
  auto config = ParseLdapConfig(out.connection.settings);
  if (!config) return Invalid("stored settings of \"" + name + "\": " + config.error().detail);
  out.config = std::move(*config);
  if (with_password && !sealed.empty()) {
    auto plain = secrets.Unseal(sealed, SecretContext(out.connection));
    if (!plain) return plain.error();
    out.config.ldap.bind_password = std::move(*plain);
  }
  return out;
}

Status LdapSync::Impl::Audit(store::Transaction& tx, const store::Connection& c,
                             const std::string& actor, const std::string& request_id,
                             const std::string& operation, int status, const std::string& detail,
                             const std::string& resource_id) {
  store::AuditRecord a;
  a.time = clock.Now();
  a.connection_id = c.id;
  a.connection_name = c.name;
  a.request_id = request_id;
  a.actor = actor;
  a.operation = operation;
  a.resource_type = resource_id.empty() ? "Connection" : "User";
  a.resource_id = resource_id.empty() ? c.uuid : resource_id;
  a.status = status;
  a.detail = detail;
  return tx.AppendAudit(a);
}

Result<std::string> LdapSync::Impl::PutUser(store::Transaction& tx, const store::Connection& c,
                                            const PendingUser& p, bool* moved) {
  auto existing = tx.GetResource(c.id, ResourceType::kUser, p.id);
  std::string what;
  if (existing) {
    if (existing->body == p.body) return std::string("unchanged");
    what = "updated";
    if (existing->body.value("dn", "") != p.dn) *moved = true;
  } else if (existing.error().code == ErrorCode::kNotFound) {
    what = "created";
    *moved = true;
  } else {
    return existing.error();
  }
  store::StoredResource r;
  r.id = p.id;
  r.type = ResourceType::kUser;
  r.body = p.body;
  r.created = r.last_modified = clock.Now();
  if (existing) r.version = existing->version;  // PutResource's hint: an update
  std::vector<store::IndexEntry> index = {{"dn", DnKey(p.dn)}};
  if (!p.username.empty()) index.push_back({"username", FoldCase(p.username)});
  auto put = tx.PutResource(c.id, r, std::nullopt, index);
  if (!put) return put.error();
  return what;
}

Result<std::string> LdapSync::Impl::PutGroup(store::Transaction& tx, const store::Connection& c,
                                             const GroupInfo& g) {
  Json body = {{"displayName", g.name}, {"dn", g.dn}};
  auto existing = tx.GetResource(c.id, ResourceType::kGroup, g.id);
  std::string what;
  if (existing) {
    if (existing->body == body) return std::string("unchanged");
    what = existing->body.value("displayName", "") != g.name ? "renamed" : "updated";
  } else if (existing.error().code == ErrorCode::kNotFound) {
    what = "created";
  } else {
    return existing.error();
  }
  store::StoredResource r;
  r.id = g.id;
  r.type = ResourceType::kGroup;
  r.body = std::move(body);
  r.created = r.last_modified = clock.Now();
  if (existing) r.version = existing->version;  // PutResource's hint: an update
  auto put = tx.PutResource(c.id, r, std::nullopt, {{"dn", DnKey(g.dn)}});
  if (!put) return put.error();
  return what;
}

Status LdapSync::Impl::Notify(store::Transaction& tx, const store::Connection& c,
                              std::set<std::string> users, const std::string& request_id,
                              const std::string& operation) {
  if (users.empty()) return Status::Ok();
  service::MirrorChange change;
  change.connection = &c;
  change.users = std::move(users);
  change.request_id = request_id;
  change.actor = "sync";
  change.operation = operation;
  return directory.OnMirrorChanged(tx, change);
}

}  // namespace idsync::sync
