// Sealed (encrypted) secrets of connections, e.g. an LDAP source's bind password.
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

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class SecretArea {
 public:
  virtual ~SecretArea() = default;

  // A sealed (encrypted) secret of the connection, e.g. "bind_password". The store never sees
  // the plain text. Get: kNotFound if none.
  virtual Status PutSecret(int64_t connection_id, const std::string& name,
                           const std::string& sealed) = 0;
  virtual Result<std::string> GetSecret(int64_t connection_id, const std::string& name) = 0;
};

}  // namespace idsync::store
