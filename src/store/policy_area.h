// Directories (their custom attribute definitions) and the versioned policy of each connection
// (issue #3).
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

struct DirectoryRecord {
  std::string name;
  Json custom_attributes = Json::array();  // policy::CustomAttributeDefsToJson form
  int64_t version = 0;                     // set by the store: previous + 1 on every put
  TimePoint created;
};

// One version of a connection's policy. Versions start at 1 and increase by one per put.
struct PolicyVersion {
  int64_t connection_id = 0;
  int64_t version = 0;  // assigned by PutPolicy
  Json body = Json::object();
  TimePoint time;
  std::string actor;    // "cli", "admin:<token name>"
  std::string comment;  // what changed, in words (e.g. the preview counts)
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class PolicyArea {
 public:
  virtual ~PolicyArea() = default;

  virtual Result<std::vector<DirectoryRecord>> ListDirectories() = 0;
  virtual Result<DirectoryRecord> GetDirectory(const std::string& name) = 0;  // kNotFound
  // Inserts or updates by name; returns the stored record (version assigned).
  virtual Result<DirectoryRecord> PutDirectory(const DirectoryRecord& record) = 0;
  // The newest policy version of the connection; kNotFound if none was ever put.
  virtual Result<PolicyVersion> GetPolicy(int64_t connection_id) = 0;
  // Appends a version (previous + 1, or 1) and returns it as stored.
  virtual Result<PolicyVersion> PutPolicy(const PolicyVersion& policy) = 0;
  virtual Result<std::vector<PolicyVersion>> ListPolicyVersions(int64_t connection_id) = 0;

  // The record of a policy apply in progress on a directory (src/directory/streamed_apply.cpp
  // reads and writes its JSON; the store keeps it opaque): which version is being applied and
  // the key of the last user of the last committed batch, so that an apply killed half-way is
  // resumed. One per directory. kNotFound when none is in progress.
  // Default bodies: a store that has not implemented them cannot run a batched apply (the
  // directory layer then applies in one transaction, as before).
  virtual Result<Json> GetPolicyApply(const std::string& directory) {
    return MakeError(ErrorCode::kNotFound,
                     "policy apply records are not implemented for this store (" + directory +
                         ")");
  }
  // Inserts or replaces.
  virtual Status PutPolicyApply(const std::string& directory, const Json& record) {
    (void)record;
    return MakeError(ErrorCode::kInternal,
                     "policy apply records are not implemented for this store (" + directory +
                         ")");
  }
  virtual Status DeletePolicyApply(const std::string& directory) {
    return MakeError(ErrorCode::kInternal,
                     "policy apply records are not implemented for this store (" + directory +
                         ")");
  }
  // Whether this store keeps apply records (the three methods above).
  virtual bool KeepsPolicyApplies() const { return false; }
};

}  // namespace idsync::store
