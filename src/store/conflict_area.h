// Username conflicts: source users not imported because another one holds their username (one
// record per source user; replaced on put).
//
// One area of the store (issue #15): Transaction (store.h) is the composition of all of them.
// Only store back-ends speak SQL; everything else sees this.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"

namespace idsync::store {

// What a pending source user waits for, the keys FindConflicts finds its record by. The
// directory layer computes them (FoldCase is not SQL), so a record stored before they existed
// (SQLite migration 17, PostgreSQL migration 8) has none until it is stored again.
struct ConflictKeys {
  std::string username;     // FoldCase(username): freed when its holder gives it up
  std::string link_key;     // "" for none: taken when a user acquires it
  std::string source_name;  // "" for none: a tombstone of this name in the same connection
};

// A source user that was not imported because another one holds its username.
struct ConflictRecord {
  std::string directory;
  int64_t connection_id = 0;
  std::string source_user_id;
  std::string username;
  Json detail = Json::object();  // policy::Conflict as JSON (who holds the name, why)
  TimePoint time;
  std::optional<ConflictKeys> keys;  // nullopt: stored before conflicts had keys
};

// The records FindConflicts returns: those with any of these keys.
struct ConflictLookup {
  std::set<std::string> usernames;  // folded
  std::set<std::string> link_keys;
  std::set<std::pair<int64_t, std::string>> source_names;  // (connection id, source name)
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class ConflictArea {
 public:
  virtual ~ConflictArea() = default;

  // Stores `conflict`, replacing the record of its (connection, source user). kNotFound if the
  // connection does not exist.
  virtual Status PutConflict(const ConflictRecord& conflict) = 0;
  virtual Status DeleteConflict(int64_t connection_id, const std::string& source_user_id) = 0;
  // Every conflict of `directory`, ordered by (connection id, source user id).
  virtual Result<std::vector<ConflictRecord>> ListConflicts(const std::string& directory) = 0;
  // The conflicts of `directory` with a key in `wanted`, plus every one without keys (stored
  // before they existed: the caller matches those by their detail and stores them again), each
  // once, ordered by (connection id, source user id). One index range per key: a directory's
  // other conflicts are not read.
  virtual Result<std::vector<ConflictRecord>> FindConflicts(const std::string& directory,
                                                            const ConflictLookup& wanted) = 0;
};

}  // namespace idsync::store
