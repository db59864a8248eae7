#include "ldap/server/matching.h"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>

#include "base/strings.h"
#include "base/uuid.h"
#include "ldap/protocol/dn.h"

namespace idsync::ldap {
namespace {

// Drops leading and trailing spaces and collapses inner runs of spaces to one.
std::string SqueezeSpaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (c == ' ') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::string FixedWidth(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%020llu", static_cast<unsigned long long>(v));
  return buf;
}

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

std::string PreparePiece(Matching matching, std::string_view piece) {
  // Inner spaces collapse; a piece's own edges keep one space, so " b" still needs a space.
  std::string out;
  bool last_space = false;
  for (char c : piece) {
    if (c == ' ') {
      if (!last_space) out.push_back(' ');
      last_space = true;
    } else {
      out.push_back(c);
      last_space = false;
    }
  }
  return matching == Matching::kCaseExactIa5 ? out : FoldCase(out);
}

}  // namespace

std::optional<int64_t> ParseInteger(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (text.size() > 1 && (text[0] == '0' || (text[0] == '-' && text[1] == '0'))) {
    return std::nullopt;  // RFC 4517: no leading zeros
  }
  return v;
}

std::optional<int64_t> ParseGeneralizedTimeMillis(std::string_view s) {
  int year, month, day, hour, minute = 0, second = 0;
  if (!Digits(s, 0, 4, year) || !Digits(s, 4, 2, month) || !Digits(s, 6, 2, day) ||
      !Digits(s, 8, 2, hour)) {
    return std::nullopt;
  }
  size_t pos = 10;
  if (Digits(s, pos, 2, minute)) {
    pos += 2;
    if (Digits(s, pos, 2, second)) pos += 2;
  }
  int64_t millis = 0;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  int64_t offset_minutes = 0;
  if (pos >= s.size()) return std::nullopt;
  if (s[pos] == 'Z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int sign = s[pos] == '-' ? -1 : 1;
    int oh, om = 0;
    if (!Digits(s, pos + 1, 2, oh)) return std::nullopt;
    pos += 3;
    if (Digits(s, pos, 2, om)) pos += 2;
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  int64_t seconds = static_cast<int64_t>(timegm(&tm)) - offset_minutes * 60;
  return seconds * 1000 + millis;
}

std::optional<TimePoint> ParseGeneralizedTime(std::string_view s) {
  auto millis = ParseGeneralizedTimeMillis(s);
  // TimePoint counts nanoseconds in 64 bits: 1677-09-21 to 2262-04-11. A filter may name any
  // year from 0000 to 9999 (found by the ldap_filter_ber fuzz target: year 4052 overflowed).
  constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 1000000;
  if (!millis || *millis > kLimit || *millis < -kLimit) return std::nullopt;
  return FromUnixMillis(*millis);
}

std::string FormatGeneralizedTime(TimePoint time) {
  std::time_t t = static_cast<std::time_t>(ToUnixMillis(time) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d%H%M%SZ", &tm);
  return buf;
}

std::string FormatAdTime(TimePoint time) {
  std::string s = FormatGeneralizedTime(time);
  s.insert(s.size() - 1, ".0");
  return s;
}

std::optional<std::string> NormalizeValue(Matching matching, std::string_view value) {
  switch (matching) {
    case Matching::kCaseIgnore:
    case Matching::kCaseIgnoreIa5: return FoldCase(SqueezeSpaces(value));
    case Matching::kCaseExactIa5: return SqueezeSpaces(value);
    case Matching::kObjectClass: return AsciiLower(SqueezeSpaces(value));
    case Matching::kDn: {
      // uniqueMember may carry an optional "#'0101'B" uid after the DN; idsync never writes
      // one, and a DN value ending in an escaped '#' keeps its backslash, so cut only "#'...'B".
      std::string_view dn = value;
      if (dn.size() > 3 && dn.back() == 'B' && dn[dn.size() - 2] == '\'') {
        size_t hash = dn.rfind("#'");
        if (hash != std::string_view::npos && (hash == 0 || dn[hash - 1] != '\\')) {
          dn = dn.substr(0, hash);
        }
      }
      auto parsed = ParseDn(dn);
      if (!parsed) return std::nullopt;
      return NormalizeDn(*parsed);
    }
    case Matching::kUuid: {
      std::string lower = AsciiLower(value);
      if (!IsUuid(lower)) return std::nullopt;
      return lower;
    }
    case Matching::kTime: {
      // Milliseconds, not TimePoint: every year 0000-9999 orders correctly.
      auto t = ParseGeneralizedTimeMillis(value);
      if (!t) return std::nullopt;
      return FixedWidth(static_cast<uint64_t>(*t) ^ (uint64_t{1} << 63));
    }
    case Matching::kInteger: {
      auto v = ParseInteger(value);
      if (!v) return std::nullopt;
      return FixedWidth(static_cast<uint64_t>(*v) ^ (uint64_t{1} << 63));
    }
    case Matching::kBoolean: {
      if (value == "TRUE" || value == "FALSE") return std::string(value);
      return std::nullopt;
    }
    case Matching::kOctets: return std::string(value);
  }
  return std::nullopt;
}

bool SubstringsMatch(Matching matching, std::string_view value,
                     const std::optional<std::string>& initial, const std::vector<std::string>& any,
                     const std::optional<std::string>& final_value) {
  if (matching != Matching::kCaseIgnore && matching != Matching::kCaseIgnoreIa5 &&
      matching != Matching::kCaseExactIa5) {
    return false;
  }
  size_t pos = 0;
  if (initial) {
    std::string p = PreparePiece(matching, *initial);
    if (value.substr(0, p.size()) != p) return false;
    pos = p.size();
  }
  for (const auto& piece : any) {
    std::string p = PreparePiece(matching, piece);
    size_t found = value.find(p, pos);
    if (found == std::string_view::npos) return false;
    pos = found + p.size();
  }
  if (final_value) {
    std::string p = PreparePiece(matching, *final_value);
    if (p.size() > value.size() - pos) return false;
    if (value.substr(value.size() - p.size()) != p) return false;
  }
  return true;
}

}  // namespace idsync::ldap
