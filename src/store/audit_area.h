// The audit log: who changed what, through which connection, with which outcome.
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

struct AuditRecord {
  int64_t seq = 0;  // assigned by the store; increasing
  TimePoint time;
  int64_t connection_id = 0;  // 0 when no connection is involved (e.g. failed auth)
  std::string connection_name;
  std::string request_id;
  std::string actor;          // "scim", "cli", "admin:<name>"
  std::string operation;      // "create", "replace", "patch", "delete", "connection.add", ...
  std::string resource_type;  // "User", "Group", "Connection", ""
  std::string resource_id;
  int status = 0;  // HTTP-like status of the outcome
  std::string detail;
};

struct AuditQuery {
  std::optional<int64_t> connection_id;
  std::optional<TimePoint> since;
  int64_t after_seq = 0;
  int64_t limit = 1000;
  // "": any. Otherwise the console's Activity filtered to one resource: records naming it and,
  // when it is an effective user, records naming the source resources linked to it (a SCIM
  // request names the identity provider's resource, not the effective user).
  std::string resource_id;
  std::optional<TimePoint> until;  // records at or before this time
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class AuditArea {
 public:
  virtual ~AuditArea() = default;

  virtual Status AppendAudit(const AuditRecord& record) = 0;
  virtual Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& query) = 0;
};

}  // namespace idsync::store
