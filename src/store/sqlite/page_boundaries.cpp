// PageBoundaries (page_boundaries.h): a small bounded map of page starts per mirror scope.
#include "store/sqlite/page_boundaries.h"

#include <iterator>

namespace idsync::store::sqlite {

PageBoundaries::Entry* PageBoundaries::Find(const Scope& scope, bool create) {
  Key key{scope.connection_id, scope.type};
  auto it = scopes_.find(key);
  if (it == scopes_.end()) {
    if (!create) return nullptr;
    if (scopes_.size() >= kMaxScopes) {
      auto oldest = scopes_.begin();
      for (auto s = scopes_.begin(); s != scopes_.end(); ++s)
        if (s->second.used < oldest->second.used) oldest = s;
      scopes_.erase(oldest);
    }
    it = scopes_.emplace(key, Entry{}).first;
    it->second.deletes = scope.deletes;
  }
  Entry& entry = it->second;
  if (entry.deletes > scope.deletes) return nullptr;  // an older snapshot: leave it alone
  if (entry.deletes < scope.deletes) entry = Entry{scope.deletes, {}, {}, {}, 0};
  entry.used = ++tick_;
  return &entry;
}

std::pair<int64_t, int64_t> PageBoundaries::Nearest(const Scope& scope, int64_t offset) {
  std::pair<int64_t, int64_t> best{0, kStart};
  std::lock_guard lock(mutex_);
  Entry* entry = Find(scope, /*create=*/false);
  if (!entry) return best;
  for (const auto* map : {&entry->checkpoints, &entry->recent}) {
    auto it = map->upper_bound(offset);
    if (it == map->begin()) continue;
    it = std::prev(it);
    if (it->first > best.first) best = *it;
  }
  return best;
}

void PageBoundaries::Remember(const Scope& scope, int64_t offset, int64_t pk) {
  if (offset <= 0) return;
  std::lock_guard lock(mutex_);
  Entry* entry = Find(scope, /*create=*/true);
  if (!entry) return;
  if (offset % kStride == 0) {
    if (entry->checkpoints.size() < kMaxCheckpoints) entry->checkpoints[offset] = pk;
    return;
  }
  if (entry->recent.emplace(offset, pk).second) {
    entry->recent_order.push_back(offset);
    if (entry->recent_order.size() > kMaxRecent) {
      entry->recent.erase(entry->recent_order.front());
      entry->recent_order.pop_front();
    }
  }
}

size_t PageBoundaries::Size(int64_t connection_id, int64_t type) {
  std::lock_guard lock(mutex_);
  auto it = scopes_.find(Key{connection_id, type});
  if (it == scopes_.end()) return 0;
  return it->second.checkpoints.size() + it->second.recent.size();
}

}  // namespace idsync::store::sqlite
