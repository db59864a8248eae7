// libFuzzer target for the PATCH path parser. Property: rejecting input is fine; crashing is
// not, and neither is a printed path that does not parse back to the same canonical text, or a
// parse that differs when run twice (the parser is a pure function).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "scim/filter/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace filter = idsync::scim::filter;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto path = filter::ParsePatchPath(text);
  auto same = filter::ParsePatchPath(text);
  if (static_cast<bool>(path) != static_cast<bool>(same)) __builtin_trap();
  if (!path) return 0;
  std::string printed = filter::Print(*path);
  if (filter::Print(*same) != printed) __builtin_trap();
  // A path never loses its attribute name, and the bracket filter is a well-formed filter.
  if (path->attr.attr.empty()) __builtin_trap();
  // The canonical text may be longer than the input (a balanced or-chain prints its
  // parentheses): the length limit guards client input, so the round trip does not apply it
  // (a 4,083-byte path printed past 4,096 characters, campaign of 2026-12-05).
  filter::ParseLimits printed_limits;
  printed_limits.max_length = printed.size() + 1;
  if (path->filter && !filter::Parse(filter::Print(*path->filter), printed_limits)) {
    __builtin_trap();
  }
  auto again = filter::ParsePatchPath(printed, printed_limits);
  if (!again || filter::Print(*again) != printed) __builtin_trap();
  return 0;
}
