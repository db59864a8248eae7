// The server's Prometheus metrics (text exposition format 0.0.4). Internal to src/http: other
// modules see only the Metrics interface declared in server.h.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "http/server.h"

namespace idsync::http {

// Requests by route and status, latency histogram by route, open connections.
// Thread-safe. The hot path (Observe) takes a shared lock for a map lookup and then only
// touches atomics; the exclusive lock is taken once per new route.
class ServerMetrics final : public Metrics {
 public:
  // Upper bounds of the latency histogram, in seconds.
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  // `route` empty is recorded as "other". `status` outside 100..599 is recorded as 500.
  void Observe(std::string_view route, int status, double seconds);

  std::string Render() const override;

  // Connections currently open (accepted and not yet destroyed). The server also uses it to
  // enforce max_connections.
  std::atomic<int64_t> open_connections{0};

 private:
  struct RouteStats {
    std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets{};  // last: +Inf only
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_ns{0};
    std::array<std::atomic<uint64_t>, 500> by_status{};  // index: status - 100
  };

  RouteStats& StatsFor(std::string_view route);

  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<RouteStats>, std::less<>> routes_;
};

}  // namespace idsync::http
