#include "http/metrics.h"

#include <mutex>

#include <fmt/format.h>

namespace idsync::http {
namespace {

// Prometheus label values escape backslash, double quote and newline.
std::string EscapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

ServerMetrics::RouteStats& ServerMetrics::StatsFor(std::string_view route) {
  {
    std::shared_lock lock(mu_);
    auto it = routes_.find(route);
    if (it != routes_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  auto it = routes_.find(route);
  if (it == routes_.end()) {
    it = routes_.emplace(std::string(route), std::make_unique<RouteStats>()).first;
  }
  return *it->second;
}

void ServerMetrics::Observe(std::string_view route, int status, double seconds) {
  if (route.empty()) route = "other";
  if (status < 100 || status > 599) status = 500;
  RouteStats& stats = StatsFor(route);
  stats.by_status[static_cast<size_t>(status - 100)].fetch_add(1, std::memory_order_relaxed);
  size_t bucket = 0;
  while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
  stats.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  stats.count.fetch_add(1, std::memory_order_relaxed);
  stats.sum_ns.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

std::string ServerMetrics::Render() const {
  std::string out;
  std::shared_lock lock(mu_);

  out += "# HELP idsync_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE idsync_http_requests_total counter\n";
  for (const auto& [route, stats] : routes_) {
    std::string label = EscapeLabel(route);
    for (size_t i = 0; i < stats->by_status.size(); ++i) {
      uint64_t n = stats->by_status[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += fmt::format("idsync_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", label,
                         i + 100, n);
    }
  }

  out +=
      "# HELP idsync_http_request_duration_seconds Time from a complete request to its "
      "written response.\n";
  out += "# TYPE idsync_http_request_duration_seconds histogram\n";
  for (const auto& [route, stats] : routes_) {
    std::string label = EscapeLabel(route);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += stats->buckets[i].load(std::memory_order_relaxed);
      out +=
          fmt::format("idsync_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                      label, kBuckets[i], cumulative);
    }
    cumulative += stats->buckets[kBuckets.size()].load(std::memory_order_relaxed);
    // Count is the +Inf bucket so that the exposition is self-consistent even while
    // Observe() runs concurrently on other threads.
    out +=
        fmt::format("idsync_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                    label, cumulative);
    out += fmt::format("idsync_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", label,
                       static_cast<double>(stats->sum_ns.load(std::memory_order_relaxed)) / 1e9);
    out += fmt::format("idsync_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", label,
                       cumulative);
  }

  out += "# HELP idsync_http_open_connections HTTP connections currently open.\n";
  out += "# TYPE idsync_http_open_connections gauge\n";
  out += fmt::format("idsync_http_open_connections {}\n",
                     open_connections.load(std::memory_order_relaxed));
  return out;
}

}  // namespace idsync::http
