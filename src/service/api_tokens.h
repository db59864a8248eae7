// Admin-API and read-API credentials (`idsync admin-token add NAME`,
// `idsync read-token add NAME --directory D`). Like connection tokens: 256-bit random, shown
// once, stored as SHA-256, compared in constant time. Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "store/store.h"

namespace idsync::service {

inline constexpr std::string_view kAdminTokenPrefix = "idsync_admin_";
inline constexpr std::string_view kReadTokenPrefix = "idsync_read_";

struct NewApiToken {
  store::ApiToken token;
  std::string secret;  // shown once
};

class ApiTokens {
 public:
  ApiTokens(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // kind "admin" (directory must be empty) or "read" (directory must exist). kInvalidValue for
  // a bad name (as connection names) or directory; kUniqueness if the name is taken. Audited.
  Result<NewApiToken> Add(const std::string& name, const std::string& kind,
                          const std::string& directory, const std::string& actor);
  Result<std::vector<store::ApiToken>> List();
  Status Remove(const std::string& name, const std::string& actor);  // kNotFound
  // The token a bearer secret belongs to; kUnauthorized otherwise. Cached per hash and
  // revalidated against Store::ConfigGeneration (a removed token stops working at once).
  Result<store::ApiToken> Authenticate(std::string_view secret);

 private:
  store::Store& store_;
  const Clock& clock_;
  std::mutex mutex_;
  int64_t generation_ = -1;
  std::unordered_map<std::string, store::ApiToken> cache_;
};

}  // namespace idsync::service
