// The change feed of each directory: what the read API's consumers follow.
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
#include "store/encoded_body.h"

namespace idsync::store {

// One entry of a directory's change feed. `seq` is global, assigned by the store, strictly
// increasing, never reused (AUTOINCREMENT); a directory's feed is its entries in seq order.
struct ChangeRecord {
  int64_t seq = 0;
  TimePoint time;
  std::string directory;
  std::string type;             // "User" | "Group" | "Membership"
  std::string op;               // "upsert" | "delete" (User, Group); "add" | "remove" (Membership)
  std::string id;               // user or group id; for Membership the group id
  std::string member_id;        // Membership: the user id
  Json resource = nullptr;      // upsert: the read-API representation (without groups/members)
  // AppendChange: `resource` as Store::EncodeBody encoded it before the job was queued
  // (store/encoded_body.h); null, it encodes `resource` itself.
  EncodedBodyPtr encoded_resource;
  Json cause = Json::object();  // {"connection", "request_id", "actor", "reason"}
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class ChangeFeedArea {
 public:
  virtual ~ChangeFeedArea() = default;

  // Appends and returns the assigned seq; 0 on PostgreSQL, which numbers a change after its
  // transaction commits (store/postgres/migrations.cpp, kFeedSequencer).
  virtual Result<int64_t> AppendChange(const ChangeRecord& change) = 0;
  // Entries of the directory with seq > after_seq, in seq order, at most `limit`.
  virtual Result<std::vector<ChangeRecord>> ListChanges(const std::string& directory,
                                                        int64_t after_seq, int64_t limit) = 0;
  // ListChanges restricted to one entry: changes whose id or member is `entry_id` (a user's
  // own changes and its memberships'), by the changes_by_entry / changes_by_member indexes.
  virtual Result<std::vector<ChangeRecord>> ListChangesOf(const std::string& directory,
                                                          const std::string& entry_id,
                                                          int64_t after_seq, int64_t limit) = 0;
  // The highest seq of the directory's feed, 0 if empty.
  virtual Result<int64_t> LastChangeSeq(const std::string& directory) = 0;
};

}  // namespace idsync::store
