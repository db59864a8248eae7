// Connection and token management: the use cases behind `idsync connection ...` (and later the
// admin API). Every change is one store transaction with its audit record.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "store/store.h"

namespace idsync::service {

// Token prefixes make leaked secrets recognisable to scanners (and to people).
inline constexpr std::string_view kScimTokenPrefix = "idsync_scim_";

struct NewConnection {
  store::Connection connection;
  std::string token;  // shown once; only its hash is stored
};

struct RotatedToken {
  std::string token;
  std::optional<TimePoint> old_expires;  // when the previous tokens stop working
};

// Thread-safe (all state is in the store).
class Connections {
 public:
  Connections(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Runs inside the removal's transaction, before the connection and its mirror are deleted
  // (layer 2 re-derives the users the connection's sources held). Set once before use.
  using RemovalHook = std::function<Status(store::Transaction&, const store::Connection&,
                                           const std::string& actor)>;
  void SetRemovalHook(RemovalHook hook) { removal_hook_ = std::move(hook); }

  // kInvalidValue if the name is empty, too long or has characters other than letters, digits,
  // '.', '-' and '_'; or if `directory` is not a known directory; kUniqueness if taken.
  Result<NewConnection> Add(const std::string& name, const std::string& directory,
                            const std::string& actor);
  Result<std::vector<store::Connection>> List();
  Result<store::Connection> Get(const std::string& name);  // kNotFound names the connection
  Status SetEnabled(const std::string& name, bool enabled, const std::string& actor);
  Status Remove(const std::string& name, const std::string& actor);
  // New token; previous tokens expire after `keep_old_for` (0: at once).
  Result<RotatedToken> RotateToken(const std::string& name, std::chrono::seconds keep_old_for,
                                   const std::string& actor);

  // The connection a bearer token belongs to, if the token is valid now and the connection is
  // enabled. kUnauthorized otherwise (the detail never says which part was wrong).
  // `generation`: when given, set to the committed configuration generation the check was made
  // at (Store::ConfigGeneration), for the request's later use.
  Result<store::Connection> Authenticate(std::string_view token, int64_t* generation = nullptr);

 private:
  Status Audit(store::Transaction& tx, const store::Connection& c, const std::string& actor,
               const std::string& operation, int status, const std::string& detail);

  store::Store& store_;
  const Clock& clock_;
  RemovalHook removal_hook_;

  // Successful authentications by token hash, valid while the store's configuration generation
  // is unchanged (any change to any connection or token, from any process, clears it).
  struct CachedAuth {
    store::Connection connection;
    std::optional<TimePoint> expires;
  };
  std::mutex cache_mutex_;
  int64_t cache_generation_ = -1;
  std::unordered_map<std::string, CachedAuth> cache_;
};

// Names of connections (and of admin and read tokens): 1-64 letters, digits, '.', '-', '_'.
bool ValidConnectionName(const std::string& name);

// "30s", "10m", "1h", "2d" -> seconds; kInvalidValue otherwise.
Result<std::chrono::seconds> ParseDuration(std::string_view text);

}  // namespace idsync::service
