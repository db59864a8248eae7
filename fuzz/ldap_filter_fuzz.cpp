// libFuzzer target for the RFC 4515 filter text parser. Property: rejecting input is fine;
// crashing is not, and neither is a printed filter that does not parse back to the same text
// (parse -> print -> parse -> print is stable).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ldap/protocol/filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto filter = idsync::ldap::ParseFilter(text);
  if (!filter) return 0;
  std::string printed = idsync::ldap::FilterToString(*filter);
  auto again = idsync::ldap::ParseFilter(printed);
  if (!again || idsync::ldap::FilterToString(*again) != printed) __builtin_trap();
  return 0;
}
