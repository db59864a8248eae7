// What one derivation needs about a directory (its record, custom attributes, connections and
// their parsed policies: a Scope), and DirectoryService::Impl, which caches scopes and parsed
// policies across transactions. Internal to the directory layer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "directory/directory_service.h"
#include "directory/stored_user.h"
#include "policy/mapping.h"
#include "policy/policy.h"
#include "store/store.h"

namespace idsync::directory {

// ---------- per-transaction context: connections, directories and parsed policies ----------

struct ConnectionInfo {
  store::Connection connection;
  std::shared_ptr<const policy::Policy> policy;
  int64_t policy_version = 0;
};

// Everything one derivation needs about a directory: loaded per transaction, or copied from
// Impl::scopes when the configuration generation is the one it was loaded at.
struct Scope {
  int64_t generation = 0;  // the configuration generation it was loaded at
  store::DirectoryRecord directory;
  std::shared_ptr<const policy::CustomAttributeDefs> custom;
  std::map<int64_t, ConnectionInfo> connections;  // by store id
  std::map<std::string, int64_t> by_uuid;
  ConnectionNames names;  // uuid -> name
  // Policies replacing the stored one for a connection (preview/apply).
  std::map<int64_t, std::shared_ptr<const policy::Policy>> overrides;

  const ConnectionInfo* Find(int64_t id) const {
    auto it = connections.find(id);
    return it == connections.end() ? nullptr : &it->second;
  }
  const policy::Policy* PolicyOf(int64_t id) const {
    if (auto o = overrides.find(id); o != overrides.end()) return o->second.get();
    const ConnectionInfo* c = Find(id);
    return c ? c->policy.get() : nullptr;
  }
};

struct DirectoryService::Impl {
  store::Store& store;
  const Clock& clock;

  // Parsed policies by (connection id, policy version, directory version): parsing compiles
  // RE2 patterns and source paths, far more than one derivation costs. Filled only from
  // transactions that see committed configuration (`remember`, see SeesCommittedConfig): a
  // version put by a transaction that then rolls back is put again, with another body, by the
  // next change.
  std::mutex cache_mu;
  // (connection, policy version, directory version, the connection's username_attribute: the
  // one connection setting a parsed policy depends on, see ContextOf).
  std::map<std::tuple<int64_t, int64_t, int64_t, std::string>,
           std::shared_ptr<const policy::Policy>>
      policies;
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<const policy::CustomAttributeDefs>>
      customs;

  // The scope of each directory as last loaded, with the configuration generation it was loaded
  // at: every input of a Scope (the directory row, the directory's connections, their policy
  // versions) bumps the generation when it changes (triggers of migrations 3 and 5), so a scope
  // loaded at generation g is right for any transaction that reads g. Saves reading and parsing
  // the directory, every connection and every policy row on each SCIM write.
  std::mutex scope_mu;
  std::map<std::string, std::pair<int64_t, std::shared_ptr<const Scope>>> scopes;

  // Change feed wake-up.
  std::mutex feed_mu;
  std::condition_variable feed_cv;
  uint64_t feed_epoch = 0;
  std::atomic<bool> pending_notify{false};  // set inside write jobs, read after commit

  Impl(store::Store& s, const Clock& c) : store(s), clock(c) {}

  // Whether the configuration `tx` sees is committed: a write transaction that changed it sees a
  // generation above the committed one (nothing else commits while it runs).
  bool SeesCommittedConfig(store::Transaction& tx) {
    auto mine = tx.ConfigGeneration();
    auto committed = store.ConfigGeneration();
    return mine && committed && *mine <= *committed;
  }

  Result<std::shared_ptr<const policy::CustomAttributeDefs>> Custom(
      const store::DirectoryRecord& dir, bool remember) {
    std::lock_guard lock(cache_mu);
    auto key = std::make_pair(dir.name, dir.version);
    if (auto it = customs.find(key); it != customs.end()) return it->second;
    auto defs = policy::ParseCustomAttributeDefs(dir.custom_attributes);
    if (!defs) return defs.error();
    auto ptr = std::make_shared<const policy::CustomAttributeDefs>(std::move(*defs));
    if (remember) customs[key] = ptr;
    return ptr;
  }

  static policy::PolicyContext ContextOf(const store::Connection& c,
                                         const policy::CustomAttributeDefs& custom) {
    policy::PolicyContext ctx;
    ctx.kind = c.kind == "ldap" ? policy::SourceKind::kLdap : policy::SourceKind::kScim;
    if (c.settings.is_object()) {
      std::string attr = c.settings.value("username_attribute", "");
      if (!attr.empty()) ctx.ldap_username_attribute = attr;
    }
    ctx.custom = custom;
    return ctx;
  }

  // The policy in force for `c` (stored or default).
  Result<ConnectionInfo> Info(store::Transaction& tx, const store::Connection& c,
                              const store::DirectoryRecord& dir,
                              const policy::CustomAttributeDefs& custom, bool remember) {
    ConnectionInfo info;
    info.connection = c;
    auto stored = tx.GetPolicy(c.id);
    if (!stored && stored.error().code != ErrorCode::kNotFound) return stored.error();
    info.policy_version = stored ? stored->version : 0;
    auto key = std::make_tuple(
        c.id, info.policy_version, dir.version,
        c.settings.is_object() ? c.settings.value("username_attribute", "") : std::string());
    {
      std::lock_guard lock(cache_mu);
      if (auto it = policies.find(key); it != policies.end()) {
        info.policy = it->second;
        return info;
      }
    }
    policy::PolicyContext ctx = ContextOf(c, custom);
    std::shared_ptr<const policy::Policy> parsed;
    if (stored) {
      auto p = policy::ParsePolicy(stored->body, ctx);
      if (!p) {
        return MakeError(ErrorCode::kInternal, "stored policy of connection \"" + c.name +
                                                   "\" no longer validates: " + p.error().detail);
      }
      parsed = std::make_shared<const policy::Policy>(std::move(*p));
    } else {
      parsed = std::make_shared<const policy::Policy>(policy::DefaultPolicy(ctx));
    }
    if (remember) {
      std::lock_guard lock(cache_mu);
      policies[key] = parsed;
    }
    info.policy = parsed;
    return info;
  }

  void Notify() {
    {
      std::lock_guard lock(feed_mu);
      ++feed_epoch;
    }
    feed_cv.notify_all();
  }
};

// The scope of `directory` cached for configuration `generation`; nullptr when the cache holds
// none for it.
std::shared_ptr<const Scope> CachedScope(DirectoryService::Impl& impl, const std::string& directory,
                                         int64_t generation);

// The scope of `directory` as `tx` sees it (cached per configuration generation).
Result<Scope> LoadScope(DirectoryService::Impl& impl, store::Transaction& tx,
                        const std::string& directory);

}  // namespace idsync::directory
