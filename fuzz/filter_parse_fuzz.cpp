// libFuzzer target for the filter parser. Property: rejecting input is fine; crashing, or a
// printer whose output does not parse back to the same canonical text, is not.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scim/filter/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ast = idsync::scim::filter::Parse(text);
  if (!ast) return 0;
  std::string printed = idsync::scim::filter::Print(**ast);
  // The canonical text may be longer than the input (bare words gain quotes, escapes grow), so
  // it is re-parsed without the length limit; the depth limit, which guards the stack, stays.
  idsync::scim::filter::ParseLimits relaxed;
  relaxed.max_length = printed.size();
  auto again = idsync::scim::filter::Parse(printed, relaxed);
  if (!again || idsync::scim::filter::Print(**again) != printed) __builtin_trap();
  return 0;
}
