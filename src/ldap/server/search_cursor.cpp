#include "ldap/server/search_cursor.h"

#include <vector>

#include "ldap/server/matching.h"

namespace idsync::ldap {

std::string EncodeCookie(const Cursor& c, uint64_t fingerprint) {
  return "idsync1:" + std::to_string(c.phase) + ":" + std::to_string(c.key) + ":" +
         std::to_string(c.sent) + ":" + std::to_string(fingerprint);
}

std::optional<Cursor> DecodeCookie(std::string_view cookie, uint64_t fingerprint) {
  if (cookie.substr(0, 8) != "idsync1:") return std::nullopt;
  cookie.remove_prefix(8);
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t colon = cookie.find(':', start);
    parts.emplace_back(cookie.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() != 4 || parts[3] != std::to_string(fingerprint)) return std::nullopt;
  auto phase = ParseInteger(parts[0]);
  auto key = ParseInteger(parts[1]);
  auto sent = ParseInteger(parts[2]);
  if (!phase || !key || !sent || *phase < 0 || *phase >= kPhaseCount || *sent < 0) {
    return std::nullopt;
  }
  return Cursor{static_cast<int>(*phase), *key, *sent};
}

}  // namespace idsync::ldap
