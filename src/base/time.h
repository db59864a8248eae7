// Clock and RFC 3339 timestamps. All SCIM timestamps are UTC with millisecond precision.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace idsync {

using TimePoint = std::chrono::system_clock::time_point;

// Injected wherever time matters so tests can control it. Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static const SystemClock& Instance();
};

// "2026-11-23T05:06:47.123Z"
std::string FormatRfc3339(TimePoint t);
// Accepts RFC 3339 / xsd:dateTime with 'Z' or a numeric offset, optional fraction.
std::optional<TimePoint> ParseRfc3339(std::string_view text);
int64_t ToUnixMillis(TimePoint t);
TimePoint FromUnixMillis(int64_t ms);

}  // namespace idsync
