// The object graph every `idsync` command runs on, built in one place (issue #13 item 10): the
// store (the data folder's SQLite, or PostgreSQL with --store), the services over it, the mirror's observer (the effective directory),
// the connection-removal hook, the LDAP sync engine and, for `serve`, its scheduler. `serve`
// and every administrative command open an App, so a command changes the data exactly as the
// server would (a `connection remove` from the command line cleans the effective directory
// through the same hook as one from the admin API).
//
// Lifetime: the App owns everything; destroying it (or Close) stops the scheduler, waiting for
// runs in progress, then closes the store. Members are built in dependency order and destroyed
// in reverse.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "base/time.h"
#include "directory/directory_service.h"
#include "scim/schema/registry.h"
#include "service/admin_users.h"
#include "service/api_tokens.h"
#include "service/connections.h"
#include "service/ldap_accounts.h"
#include "service/scim_service.h"
#include "store/store.h"

namespace idsync::sync {
class LdapSync;
class SecretBox;
class SyncScheduler;
}  // namespace idsync::sync

namespace idsync::cli {

struct AppOptions {
  // `serve --bench-mirror-only`: SCIM writes skip the effective directory (benchmark baseline).
  bool mirror_only = false;
  // `--store postgresql://...`: the shared PostgreSQL database instead of SQLite in the data
  // folder (which still holds local files: the sealed-secret key, backups).
  std::string store;
};

class App {
 public:
  // Opens the store (options.store's PostgreSQL database, else SQLite in the data folder `data`,
  // which must exist either way) and builds the services.
  static Result<std::unique_ptr<App>> Open(const std::string& data, AppOptions options = {});
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  const std::string& data() const { return data_; }
  store::Store& store() { return *store_; }
  const Clock& clock() const { return clock_; }
  const scim::schema::Registry& registry() const { return registry_; }
  service::ScimService& scim() { return *scim_; }
  service::Connections& connections() { return *connections_; }
  directory::DirectoryService& directories() { return *directories_; }
  service::ApiTokens& api_tokens() { return *api_tokens_; }
  service::AdminUsers& admin_users() { return *admin_users_; }
  service::LdapAccounts& ldap_accounts() { return *ldap_accounts_; }

  // The LDAP sync engine; opens the data folder's sealed-secret key on first use (commands that
  // never touch LDAP connections never need it).
  Result<sync::LdapSync*> ldap_sync();
  // For `serve`: the scheduler over the engine, started on first call.
  Result<sync::SyncScheduler*> StartScheduler();
  // Stops the scheduler (waiting for runs in progress); idempotent.
  void StopScheduler();
  // The scheduler once started, else null (for /metrics).
  sync::SyncScheduler* scheduler() { return scheduler_.get(); }

  // Stops the scheduler and closes the store; idempotent. The services must not be used after.
  void Close();

 private:
  App(std::string data, std::unique_ptr<store::Store> store, AppOptions options);

  const std::string data_;
  const Clock& clock_;
  const scim::schema::Registry& registry_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<service::ScimService> scim_;
  std::unique_ptr<service::Connections> connections_;
  std::unique_ptr<directory::DirectoryService> directories_;
  std::unique_ptr<service::ApiTokens> api_tokens_;
  std::unique_ptr<service::AdminUsers> admin_users_;
  std::unique_ptr<service::LdapAccounts> ldap_accounts_;
  std::unique_ptr<sync::SecretBox> secrets_;
  std::unique_ptr<sync::LdapSync> ldap_sync_;
  std::unique_ptr<sync::SyncScheduler> scheduler_;
  bool closed_ = false;
};

}  // namespace idsync::cli
