#include "http/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace idsync::http {

RateLimiter::RateLimiter(double rate_per_second, double burst, size_t max_keys)
    : rate_(rate_per_second), burst_(std::max(1.0, burst)), max_keys_(max_keys) {}

void RateLimiter::SetRate(double rate_per_second, double burst) {
  std::lock_guard lock(mu_);
  rate_.store(rate_per_second, std::memory_order_relaxed);
  burst_ = std::max(1.0, burst);
  for (auto& [key, bucket] : buckets_) bucket.tokens = std::min(bucket.tokens, burst_);
}

bool RateLimiter::Allow(const std::string& key, int64_t& retry_after, Clock::time_point now) {
  if (rate_.load(std::memory_order_relaxed) <= 0) return true;
  std::lock_guard lock(mu_);
  const double rate = rate_.load(std::memory_order_relaxed);
  if (rate <= 0) return true;
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    // Buckets that would be full by now can go: forgetting them changes no decision.
    MakeRoomForNewKey(buckets_, max_keys_, [&](const auto& kv) {
      double idle = std::chrono::duration<double>(now - kv.second.updated).count();
      return kv.second.tokens + idle * rate >= burst_;
    });
    it = buckets_.emplace(key, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed > 0) {
    b.tokens = std::min(burst_, b.tokens + elapsed * rate);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  retry_after = std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - b.tokens) / rate)));
  return false;
}

}  // namespace idsync::http
