// Admin-API and read-API tokens.
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

// An admin-API or read-API credential. Like connection tokens, only the hash is stored.
struct ApiToken {
  int64_t id = 0;
  std::string name;       // unique among API tokens
  std::string kind;       // "admin" | "read"
  std::string directory;  // read tokens: the directory they may read; "" for admin
  std::string hash;       // Sha256Hex of the token
  TimePoint created;
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class ApiTokenArea {
 public:
  virtual ~ApiTokenArea() = default;

  virtual Result<ApiToken> CreateApiToken(const ApiToken& token) = 0;  // kUniqueness on name
  virtual Result<ApiToken> FindApiToken(const std::string& hash) = 0;  // kNotFound
  virtual Result<std::vector<ApiToken>> ListApiTokens() = 0;
  virtual Status DeleteApiToken(const std::string& name) = 0;  // kNotFound
};

}  // namespace idsync::store
