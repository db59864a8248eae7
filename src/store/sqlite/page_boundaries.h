// PageBoundaries: where pages of a mirror scope (one connection's users or groups, in pk order)
// start, so that a list at startIndex 600,000 seeks by key instead of stepping over 600,000
// index entries with OFFSET (issue #13 item 4). Shared by the store's read transactions;
// thread-safe. Private to store/sqlite.
//
// A boundary (offset, pk) says: the rows at 0-based positions >= offset are exactly those with
// pk > `pk`. It is recorded with the scope's delete counter (resource_counts.deletes, migration
// 13), read in the same snapshot: new rows always get a pk above every existing one, so only a
// delete can move a row's position, and a boundary is used only in a snapshot whose counter
// equals the one it was recorded with. Read transactions only: a writer sees its own
// uncommitted (and possibly rolled back) deletes.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

namespace idsync::store::sqlite {

class PageBoundaries {
 public:
  // Every kStride-th offset is kept as a checkpoint (bounded by kMaxCheckpoints per scope);
  // other boundaries (where the last pages ended) are kept kMaxRecent per scope, oldest out.
  static constexpr int64_t kStride = 8192;
  static constexpr size_t kMaxCheckpoints = 4096;  // 33 million rows deep
  static constexpr size_t kMaxRecent = 64;
  static constexpr size_t kMaxScopes = 64;

  struct Scope {
    int64_t connection_id = 0;
    int64_t type = 0;
    int64_t deletes = 0;  // resource_counts.deletes in the reader's snapshot
  };
  // "Before the first row": positions >= 0 are the rows with pk > kStart.
  static constexpr int64_t kStart = INT64_MIN;

  // The known boundary closest below or at `offset`: (offset, pk), or (0, kStart).
  std::pair<int64_t, int64_t> Nearest(const Scope& scope, int64_t offset);
  void Remember(const Scope& scope, int64_t offset, int64_t pk);

  // For tests: boundaries held for a scope (checkpoints plus recent).
  size_t Size(int64_t connection_id, int64_t type);

 private:
  struct Entry {
    int64_t deletes = 0;
    std::map<int64_t, int64_t> checkpoints;
    std::map<int64_t, int64_t> recent;
    std::deque<int64_t> recent_order;
    uint64_t used = 0;
  };
  using Key = std::pair<int64_t, int64_t>;
  // The entry for `scope`, reset when the scope's counter moved on; nullptr when the caller's
  // snapshot is older than what the entry holds (then nothing is used or recorded).
  Entry* Find(const Scope& scope, bool create);

  std::mutex mutex_;
  std::map<Key, Entry> scopes_;
  uint64_t tick_ = 0;
};

}  // namespace idsync::store::sqlite
