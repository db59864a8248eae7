#include "cli/app.h"

#include <sys/stat.h>

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "sync/ldap_sync.h"
#include "sync/scheduler.h"
#include "sync/secrets/secret_box.h"

namespace idsync::cli {

Result<std::unique_ptr<App>> App::Open(const std::string& data, AppOptions options) {
  struct stat st {};
  if (::stat(data.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kUnavailable, "data folder " + data +
                                                  " does not exist; create it (mkdir -p " + data +
                                                  ") or pass --data DIR");
  }
  std::unique_ptr<store::Store> opened;
  if (!options.store.empty()) {
    auto store = store::postgres::PostgresStore::Open(options.store);
    if (!store) return store.error();
    opened = std::move(*store);
  } else {
    auto store = store::sqlite::SqliteStore::Open(data, {});
    if (!store) return store.error();
    opened = std::move(*store);
  }
  return std::unique_ptr<App>(new App(data, std::move(opened), options));
}

App::App(std::string data, std::unique_ptr<store::Store> store, AppOptions options)
    : data_(std::move(data)),
      clock_(SystemClock::Instance()),
      registry_(scim::schema::Registry::Default()),
      store_(std::move(store)) {
  scim_ = std::make_unique<service::ScimService>(*store_, registry_, clock_);
  connections_ = std::make_unique<service::Connections>(*store_, clock_);
  directories_ = std::make_unique<directory::DirectoryService>(*store_, clock_);
  api_tokens_ = std::make_unique<service::ApiTokens>(*store_, clock_);
  admin_users_ = std::make_unique<service::AdminUsers>(*store_, clock_);
  ldap_accounts_ = std::make_unique<service::LdapAccounts>(*store_, clock_);
  // Layer 1 tells layer 2 of every mirror write (MirrorObserver), and a connection's removal
  // takes its share of the effective directory with it, in the same transaction.
  if (!options.mirror_only) scim_->SetObserver(directories_.get());
  connections_->SetRemovalHook([dirs = directories_.get()](store::Transaction& tx,
                                                           const store::Connection& c,
                                                           const std::string& actor) {
    return dirs->OnConnectionRemoving(tx, c, directory::Actor{actor, ""});
  });
}

App::~App() {
  Close();
}

Result<sync::LdapSync*> App::ldap_sync() {
  if (!ldap_sync_) {
    auto opened = sync::SecretBox::Open(data_);
    if (!opened) return opened.error();
    secrets_ = std::make_unique<sync::SecretBox>(std::move(*opened));
    ldap_sync_ = std::make_unique<sync::LdapSync>(*store_, *directories_, *secrets_, clock_);
  }
  return ldap_sync_.get();
}

Result<sync::SyncScheduler*> App::StartScheduler() {
  if (!scheduler_) {
    auto engine = ldap_sync();
    if (!engine) return engine.error();
    scheduler_ = std::make_unique<sync::SyncScheduler>(**engine, clock_, std::chrono::seconds(1),
                                                       store_.get());
    scheduler_->Start();
  }
  return scheduler_.get();
}

void App::StopScheduler() {
  if (scheduler_) scheduler_->Stop();
}

void App::Close() {
  if (closed_) return;
  closed_ = true;
  StopScheduler();
  store_->Close();
}

}  // namespace idsync::cli
