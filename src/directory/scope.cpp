// Loading a directory's Scope (see scope.h).
#include "directory/scope.h"

namespace idsync::directory {

std::shared_ptr<const Scope> CachedScope(DirectoryService::Impl& impl, const std::string& directory,
                                         int64_t generation) {
  std::lock_guard lock(impl.scope_mu);
  auto it = impl.scopes.find(directory);
  if (it == impl.scopes.end() || it->second.first != generation) return nullptr;
  return it->second.second;
}

Result<Scope> LoadScope(DirectoryService::Impl& impl, store::Transaction& tx,
                        const std::string& directory) {
  // Read inside the transaction, so that the scope matches what this transaction sees even when
  // another process changes the configuration meanwhile.
  auto generation = tx.ConfigGeneration();
  if (!generation) return generation.error();
  if (auto cached = CachedScope(impl, directory, *generation)) {
    return *cached;  // a copy: the caller may add overrides
  }
  // Only a generation that some commit produced is cached. A write transaction that changed the
  // configuration itself reads a higher, uncommitted value; if it rolls back, the next change
  // commits that same value with another configuration. Nothing else can commit while a write
  // transaction runs, so "not above the committed value" means "committed".
  auto committed = impl.store.ConfigGeneration();
  const bool remember = committed && *generation <= *committed;
  Scope scope;
  scope.generation = *generation;
  auto dir = tx.GetDirectory(directory);
  if (!dir) return dir.error();
  scope.directory = std::move(*dir);
  auto custom = impl.Custom(scope.directory, remember);
  if (!custom) return custom.error();
  scope.custom = *custom;
  auto conns = tx.ListConnections();
  if (!conns) return conns.error();
  for (const auto& c : *conns) {
    if (c.directory != directory) continue;
    auto info = impl.Info(tx, c, scope.directory, *scope.custom, remember);
    if (!info) return info.error();
    scope.by_uuid[c.uuid] = c.id;
    scope.names[c.uuid] = c.name;
    scope.connections[c.id] = std::move(*info);
  }
  if (remember) {
    std::lock_guard lock(impl.scope_mu);
    impl.scopes[directory] = {*generation, std::make_shared<const Scope>(scope)};
  }
  return scope;
}

}  // namespace idsync::directory
