// Members of the mirror's groups (one connection each), O(log n) per member.
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

struct Member {
  std::string value;    // id of a user or group of the same connection
  std::string type;     // "User" | "Group"
  std::string display;  // as the client sent it; may be empty
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class MemberArea {
 public:
  virtual ~MemberArea() = default;

  // Returns true if added, false if it was already a member.
  virtual Result<bool> AddMember(int64_t connection_id, const std::string& group_id,
                                 const Member& member) = 0;
  virtual Result<bool> RemoveMember(int64_t connection_id, const std::string& group_id,
                                    const std::string& value) = 0;
  virtual Status ClearMembers(int64_t connection_id, const std::string& group_id) = 0;
  virtual Result<std::vector<Member>> ListMembers(int64_t connection_id,
                                                  const std::string& group_id) = 0;
  virtual Result<int64_t> CountMembers(int64_t connection_id, const std::string& group_id) = 0;
  // Groups of the connection that have `member_value` as a direct member: (group id, displayName).
  virtual Result<std::vector<std::pair<std::string, std::string>>> GroupsOf(
      int64_t connection_id, const std::string& member_value) = 0;
};

}  // namespace idsync::store
