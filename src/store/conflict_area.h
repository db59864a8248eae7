// Username conflicts: source users not imported because another one holds their username (one
// record per source user; replaced on put).
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

// A source user that was not imported because another one holds its username.
struct ConflictRecord {
  std::string directory;
  int64_t connection_id = 0;
  std::string source_user_id;
  std::string username;
  Json detail = Json::object();  // policy::Conflict as JSON (who holds the name, why)
  TimePoint time;
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class ConflictArea {
 public:
  virtual ~ConflictArea() = default;

  virtual Status PutConflict(const ConflictRecord& conflict) = 0;
  virtual Status DeleteConflict(int64_t connection_id, const std::string& source_user_id) = 0;
  virtual Result<std::vector<ConflictRecord>> ListConflicts(const std::string& directory) = 0;
};

}  // namespace idsync::store
