// Connections (one identity provider or LDAP source each) and their bearer tokens.
//
// One area of the store (issue #15): Transaction (store.h) is the composition of all of them.
// Only store back-ends speak SQL; everything else sees this.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"

namespace idsync::store {

struct Connection {
  int64_t id = 0;         // store-internal key
  std::string uuid;       // public id
  std::string name;       // unique, chosen by the administrator
  std::string directory;  // "users" | "customers" | ...
  std::string kind;       // "scim" (later "ldap")
  bool enabled = true;
  TimePoint created;
  Json settings = Json::object();
};

struct Token {
  int64_t id = 0;
  int64_t connection_id = 0;
  std::string hash;  // Sha256Hex of the token; the token itself is never stored
  TimePoint created;
  std::optional<TimePoint> expires;  // set on the old token during a rotation overlap
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class ConnectionArea {
 public:
  virtual ~ConnectionArea() = default;

  virtual Result<Connection> CreateConnection(Connection connection) = 0;  // kUniqueness on name
  virtual Result<Connection> GetConnection(int64_t id) = 0;                // kNotFound
  virtual Result<Connection> GetConnectionByName(const std::string& name) = 0;  // kNotFound
  virtual Result<std::vector<Connection>> ListConnections() = 0;
  virtual Status UpdateConnection(const Connection& connection) = 0;  // enabled, settings
  // Removes the connection, its tokens and its whole mirror.
  virtual Status DeleteConnection(int64_t id) = 0;
  virtual Status AddToken(const Token& token) = 0;
  // Sets `expires` on all tokens of the connection that do not already expire earlier.
  virtual Status ExpireTokens(int64_t connection_id, TimePoint expires) = 0;
  // The token with this hash, whatever its expiry (the caller checks). kNotFound.
  virtual Result<Token> FindToken(const std::string& hash) = 0;
  virtual Result<std::vector<Token>> ListTokens(int64_t connection_id) = 0;
};

}  // namespace idsync::store
