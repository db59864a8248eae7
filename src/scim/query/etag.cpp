#include "scim/query/etag.h"

namespace idsync::scim::query {

namespace {

bool IsOws(char c) {
  return c == ' ' || c == '\t';
}

// The opaque-tag of an entity tag without its W/ prefix and quotes: W/"5" -> 5, "5" -> 5.
std::string_view OpaqueOf(std::string_view tag) {
  if (tag.size() >= 2 && (tag[0] == 'W' || tag[0] == 'w') && tag[1] == '/') tag.remove_prefix(2);
  if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') {
    tag = tag.substr(1, tag.size() - 2);
  }
  return tag;
}

}  // namespace

std::string VersionETag(int64_t version) {
  return "W/\"" + std::to_string(version) + "\"";
}

bool ETagListMatches(std::string_view header, std::string_view etag) {
  const std::string_view want = OpaqueOf(etag);
  size_t i = 0;
  while (i < header.size()) {
    while (i < header.size() && (IsOws(header[i]) || header[i] == ',')) ++i;
    if (i >= header.size()) break;
    // One list member: through the closing quote of a quoted tag, else up to the next comma.
    size_t start = i;
    size_t end;
    size_t quote = header.substr(i, 3).find('"');
    bool quoted =
        quote != std::string_view::npos && (quote == 0 || (quote == 2 && header[i + 1] == '/'));
    if (quoted) {
      size_t close = header.find('"', i + quote + 1);
      if (close == std::string_view::npos) return false;  // unterminated: nothing more to read
      end = close + 1;
    } else {
      end = header.find(',', i);
      if (end == std::string_view::npos) end = header.size();
    }
    std::string_view member = header.substr(start, end - start);
    while (!member.empty() && IsOws(member.back())) member.remove_suffix(1);
    i = end;
    if (member == "*") return true;
    // A quoted member must be followed by OWS and a comma (or the end) to be an entity tag.
    size_t after = i;
    while (after < header.size() && IsOws(header[after])) ++after;
    bool well_ended = after >= header.size() || header[after] == ',';
    if (!well_ended) {
      i = header.find(',', i);  // skip the rest of this malformed member
      if (i == std::string_view::npos) break;
      continue;
    }
    if (member.find('"') != std::string_view::npos && !quoted) continue;  // stray quote
    if (OpaqueOf(member) == want) return true;
  }
  return false;
}

}  // namespace idsync::scim::query
