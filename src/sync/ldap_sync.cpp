// LdapSync's connection administration (add, bind password) and the scheduler's due runs.
#include "sync/ldap_sync.h"

#include <algorithm>
#include <set>

#include "base/uuid.h"
#include "service/connections.h"
#include "sync/ldap_sync_impl.h"

namespace idsync::sync {

LdapSync::LdapSync(store::Store& store, directory::DirectoryService& directory,
                   const SecretBox& secrets, const Clock& clock)
    : impl_(std::make_unique<Impl>(store, directory, secrets, clock)) {}

LdapSync::~LdapSync() = default;

Result<store::Connection> LdapSync::AddConnection(const std::string& name,
                                                  const std::string& directory,
                                                  const Json& settings, const std::string& password,
                                                  const std::string& actor) {
  if (!service::ValidConnectionName(name)) {
    return Invalid("connection name \"" + name +
                   "\" is not valid: use 1-64 letters, digits, '.', '-' or '_'");
  }
  auto config = ParseLdapConfig(settings);
  if (!config) return config.error();
  if (Status s = CheckForSave(*config); !s) return s.error();
  if (!config->ldap.bind_dn.empty() && password.empty()) {
    return Invalid(
        "bind_password: required with a bind DN (an empty password would be an "
        "unauthenticated bind)");
  }
  store::Connection created;
  Status st = impl_->store.Write([&](store::Transaction& tx) -> Status {
    if (auto d = tx.GetDirectory(directory); !d) {
      if (d.error().code != ErrorCode::kNotFound) return d.error();
      return Invalid("unknown directory \"" + directory + "\"");
    }
    store::Connection c;
    c.uuid = NewUuid();
    c.name = name;
    c.directory = directory;
    c.kind = std::string(kLdapKind);
    c.enabled = true;
    c.created = impl_->clock.Now();
    c.settings = LdapConfigToJson(*config);
    auto made = tx.CreateConnection(c);
    if (!made) return made.error();
    created = *made;
    if (!password.empty()) {
      auto sealed = impl_->secrets.Seal(password, SecretContext(created));
      if (!sealed) return sealed.error();
      if (Status s = tx.PutSecret(created.id, std::string(kPasswordSecret), *sealed); !s) return s;
    }
    ldap::LdapSettings described = config->ldap;  // the log says whether a password is set
    described.bind_password = password.empty() ? "" : "x";
    return impl_->Audit(tx, created, actor, "", "connection.add", 201,
                        "ldap " + DescribeForLog(described));
  });
  if (!st) return st.error();
  return created;
}

namespace {

// Settings whose change alters which entries a run reads or how they are keyed: the next run
// after such a change is full.
bool ChangesScope(const std::string& key) {
  static const std::set<std::string> kScope = {
      "url",        "bind_dn",      "base_dns",           "user_filter",     "group_filter",
      "attributes", "id_attribute", "username_attribute", "change_attribute"};
  return kScope.count(key) > 0;
}

std::string AuditValue(const Json& v) {
  return v.is_string() ? "\"" + v.get<std::string>() + "\"" : v.dump();
}

}  // namespace

Result<LdapSync::Update> LdapSync::UpdateConnection(const std::string& name, const Json& changes,
                                                    const std::string& actor,
                                                    const std::string& request_id) {
  if (!changes.is_object()) return Invalid("settings must be a JSON object");
  Update out;
  Status st = impl_->store.Write([&](store::Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName(name);
    if (!c) {
      if (c.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound, "no connection named \"" + name + "\"");
      }
      return c.error();
    }
    if (c->kind != kLdapKind) {
      return Invalid("connection \"" + name + "\" is of kind " + c->kind +
                     ", not ldap: it has no settings to change");
    }
    auto old_config = ParseLdapConfig(c->settings);
    if (!old_config) return old_config.error();
    const Json before = LdapConfigToJson(*old_config);
    Json merged = before;
    for (auto it = changes.begin(); it != changes.end(); ++it) {
      if (it->is_null()) {
        merged.erase(it.key());
      } else {
        merged[it.key()] = *it;
      }
    }
    auto config = ParseLdapConfig(merged);
    if (!config) return config.error();
    if (Status s = CheckForSave(*config); !s) return s;
    const Json after = LdapConfigToJson(*config);
    std::string detail;
    bool scope = false;
    for (auto it = after.begin(); it != after.end(); ++it) {
      if (before.contains(it.key()) && before[it.key()] == *it) continue;
      out.changed.push_back(it.key());
      scope = scope || ChangesScope(it.key());
      detail += (detail.empty() ? "" : "; ") + it.key() + ": " +
                AuditValue(before.value(it.key(), Json())) + " -> " + AuditValue(*it);
    }
    out.connection = *c;
    if (out.changed.empty()) return Status::Ok();
    if (!config->ldap.bind_dn.empty()) {
      auto secret = tx.GetSecret(c->id, std::string(kPasswordSecret));
      if (!secret) {
        if (secret.error().code != ErrorCode::kNotFound) return secret.error();
        return Invalid(
            "bind_dn: the connection has no bind password; set one first (idsync ldap "
            "set-password " +
            name + ")");
      }
    }
    out.connection.settings = after;
    if (Status s = tx.UpdateConnection(out.connection); !s) return s;
    if (scope) {  // entries that came into scope are read by a full run
      auto state = tx.GetSyncState(c->id);
      if (!state) return state.error();
      if (state->is_object() && state->contains("mark")) {
        Json next = *state;
        next.erase("mark");
        if (Status s = tx.PutSyncState(c->id, next); !s) return s;
        detail += " (the next run is full)";
      }
    }
    return impl_->Audit(tx, out.connection, actor, request_id, "connection.update", 200, detail);
  });
  if (!st) return st.error();
  std::sort(out.changed.begin(), out.changed.end());
  return out;
}

Status LdapSync::SetPassword(const std::string& name, const std::string& password,
                             const std::string& actor) {
  auto loaded = impl_->Load(name, false);
  if (!loaded) return loaded.error();
  if (password.empty()) return Invalid("bind_password: must not be empty");
  auto sealed = impl_->secrets.Seal(password, SecretContext(loaded->connection));
  if (!sealed) return sealed.error();
  return impl_->store.Write([&](store::Transaction& tx) -> Status {
    if (Status s = tx.PutSecret(loaded->connection.id, std::string(kPasswordSecret), *sealed); !s) {
      return s;
    }
    return impl_->Audit(tx, loaded->connection, actor, "", "connection.set_password", 200, "");
  });
}

Result<std::vector<LdapSync::Due>> LdapSync::DueRuns(TimePoint now) {
  std::vector<Due> due;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto all = tx.ListConnections();
    if (!all) return all.error();
    for (const auto& c : *all) {
      if (c.kind != kLdapKind || !c.enabled) continue;
      auto config = ParseLdapConfig(c.settings);
      if (!config || config->schedule.count() == 0) continue;
      auto runs = tx.ListSyncRuns(c.id, 1);
      if (!runs) return runs.error();
      if (!runs->empty() && now - runs->front().started < config->schedule) continue;
      auto state = tx.GetSyncState(c.id);
      if (!state) return state.error();
      bool full = !state->contains("mark");
      auto last_full = ParseRfc3339(state->value("last_full", ""));
      if (!last_full || now - *last_full >= config->full_every) full = true;
      due.push_back({c.name, full});
    }
    return Status::Ok();
  });
  if (!st) return st.error();
  return due;
}

}  // namespace idsync::sync
