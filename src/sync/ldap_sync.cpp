// LdapSync's connection administration (add, bind password) and the scheduler's due runs.
#include "sync/ldap_sync.h"

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
    return impl_->Audit(tx, created, actor, "", "connection.add", 201,
                        "ldap " + DescribeForLog(config->ldap));
  });
  if (!st) return st.error();
  return created;
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
