#include "sync/ldap_change_marks.h"

#include <cstdio>
#include <ctime>

namespace idsync::sync {

// ---------- change marks ----------
// modifyTimestamp is GeneralizedTime ("20240102030405Z", maybe with a fraction or an offset
// from slapd/AD: both send UTC with 'Z'). The mark is kept as its first 14 digits.
std::optional<std::string> TimestampDigits(std::string_view value) {
  if (value.size() < 15) return std::nullopt;
  for (size_t i = 0; i < 14; ++i) {
    if (value[i] < '0' || value[i] > '9') return std::nullopt;
  }
  return std::string(value.substr(0, 14));
}

std::string TimeDigits(TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// One second after the 14-digit mark, as GeneralizedTime: entries changed after the mark.
std::string NextSecond(const std::string& digits) {
  std::tm tm{};
  tm.tm_year = std::stoi(digits.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(digits.substr(4, 2)) - 1;
  tm.tm_mday = std::stoi(digits.substr(6, 2));
  tm.tm_hour = std::stoi(digits.substr(8, 2));
  tm.tm_min = std::stoi(digits.substr(10, 2));
  tm.tm_sec = std::stoi(digits.substr(12, 2)) + 1;
  std::time_t secs = timegm(&tm);
  return TimeDigits(std::chrono::system_clock::from_time_t(secs)) + "Z";
}

// The filter of entries changed after `mark`, and-ed with `base_filter`.
std::string ChangedFilter(const std::string& base_filter, const LdapConfig& config,
                          const std::string& mark) {
  std::string from;
  if (IsUsn(config)) {
    from = std::to_string(std::stoll(mark) + 1);
  } else {
    from = NextSecond(mark);
  }
  std::string f = base_filter;
  if (f.empty() || f.front() != '(') f = "(" + f + ")";
  return "(&" + f + "(" + config.change_attribute + ">=" + from + "))";
}

}  // namespace idsync::sync
