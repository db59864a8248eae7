// Links (provenance) between source users of the mirror and the effective users they make.
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

// A source user (one connection's mirror user) linked to an effective user.
struct SourceLink {
  int64_t connection_id = 0;
  std::string source_user_id;
  std::string directory;
  std::string effective_user_id;
  bool deleted = false;  // tombstone: gone from the mirror, kept until the user's fate is decided
  // FoldCase of the source's own name (SCIM userName, the LDAP username attribute) as last
  // seen: a source user re-created under the same name in the same connection finds its
  // tombstone by it (re-provisioning). "" when unknown (links stored before migration 10).
  std::string source_name;
  friend bool operator==(const SourceLink&, const SourceLink&) = default;
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class LinkArea {
 public:
  virtual ~LinkArea() = default;

  virtual Result<SourceLink> GetLink(int64_t connection_id,
                                     const std::string& source_user_id) = 0;  // kNotFound
  // Inserts or updates by (connection_id, source_user_id).
  virtual Status PutLink(const SourceLink& link) = 0;
  virtual Status DeleteLink(int64_t connection_id, const std::string& source_user_id) = 0;
  virtual Result<std::vector<SourceLink>> LinksOf(const std::string& directory,
                                                  const std::string& effective_user_id) = 0;
  // Every link of a connection (for re-deriving it after a policy change).
  virtual Result<std::vector<SourceLink>> LinksOfConnection(int64_t connection_id) = 0;
  // The tombstones (deleted links) of a connection with this source_name, by source user id.
  virtual Result<std::vector<SourceLink>> FindTombstones(int64_t connection_id,
                                                         const std::string& source_name) = 0;
};

}  // namespace idsync::store
