// The effective directory's groups and their memberships (O(log n) per membership).
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

struct EffectiveGroupRow {
  std::string directory;
  std::string id;
  std::string name;            // display spelling
  std::string name_key;        // FoldCase(name); unique per directory (kUniqueness)
  Json body = Json::object();  // e.g. {"entitlements": [...]}; the directory layer's form
  int64_t version = 0;  // set by the store; increases on member changes too (TouchEffectiveGroup)
  TimePoint created;
  TimePoint last_modified;
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class EffectiveGroupArea {
 public:
  virtual ~EffectiveGroupArea() = default;

  virtual Result<EffectiveGroupRow> GetEffectiveGroup(const std::string& directory,
                                                      const std::string& id) = 0;  // kNotFound
  virtual Result<EffectiveGroupRow> FindEffectiveGroupByName(const std::string& directory,
                                                             const std::string& name_key) = 0;
  virtual Result<EffectiveGroupRow> PutEffectiveGroup(const EffectiveGroupRow& row) = 0;
  // Deletes the group and its memberships. kNotFound.
  virtual Status DeleteEffectiveGroup(const std::string& directory, const std::string& id) = 0;
  // Increases version and sets last_modified (after member-only changes).
  virtual Status TouchEffectiveGroup(const std::string& directory, const std::string& id,
                                     TimePoint when) = 0;
  virtual Result<int64_t> CountEffectiveGroups(const std::string& directory) = 0;
  virtual Result<std::vector<EffectiveGroupRow>> ListEffectiveGroups(const std::string& directory,
                                                                     int64_t offset,
                                                                     int64_t limit) = 0;
  virtual Status ScanEffectiveGroups(
      const std::string& directory, const std::function<bool(const EffectiveGroupRow&)>& visit) = 0;
  // true if added / removed, false if it already was / was not a member.
  virtual Result<bool> AddEffectiveMember(const std::string& directory, const std::string& group_id,
                                          const std::string& user_id) = 0;
  virtual Result<bool> RemoveEffectiveMember(const std::string& directory,
                                             const std::string& group_id,
                                             const std::string& user_id) = 0;
  // User ids, in membership creation order.
  virtual Result<std::vector<std::string>> ListEffectiveMembers(const std::string& directory,
                                                                const std::string& group_id) = 0;
  virtual Result<int64_t> CountEffectiveMembers(const std::string& directory,
                                                const std::string& group_id) = 0;
  // (group id, group name) of the groups the user is a member of, by name.
  virtual Result<std::vector<std::pair<std::string, std::string>>> EffectiveGroupsOf(
      const std::string& directory, const std::string& user_id) = 0;
};

}  // namespace idsync::store
