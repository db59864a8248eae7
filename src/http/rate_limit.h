// Token-bucket rate limits keyed by a string (a connection id, a client address).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace idsync::http {

// Keeps a table of per-client state (keyed by address, connection, token) within `max_keys`
// before a new key goes in: first drops the entries for which `forgettable(entry)` says no
// decision depends on them any more; if live entries still fill it, starts over. Starting
// over fails open for a moment but never lets a client rotating keys exhaust memory.
template <typename Table, typename Forgettable>
void MakeRoomForNewKey(Table& table, size_t max_keys, Forgettable forgettable) {
  if (table.size() < max_keys) return;
  std::erase_if(table, forgettable);
  if (table.size() >= max_keys) table.clear();
}

// Thread-safe. Each key has a bucket of `burst` tokens refilled at `rate_per_second`; a request
// takes one token. Memory is bounded: past `max_keys` buckets, full (idle) buckets are dropped,
// so an attacker rotating addresses cannot grow the map without limit.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // rate_per_second == 0 disables the limiter (Allow always succeeds).
  RateLimiter(double rate_per_second, double burst, size_t max_keys = 100000);

  // True if the request may proceed. Otherwise false and `retry_after` is the whole number of
  // seconds (at least 1) until a token is available.
  bool Allow(const std::string& key, int64_t& retry_after, Clock::time_point now = Clock::now());

  bool enabled() const { return rate_.load(std::memory_order_relaxed) > 0; }

  // A new rate and burst, from the next request on (configuration reload). Buckets keep their
  // tokens, capped at the new burst.
  void SetRate(double rate_per_second, double burst);

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  std::atomic<double> rate_;  // also read without mu_, to skip a disabled limiter
  double burst_;              // guarded by mu_
  size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace idsync::http
