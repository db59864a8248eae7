// libFuzzer target for RFC 4514 DN parsing. Property: rejecting input is fine; crashing is not,
// and neither is a parsed DN whose FormatDn does not parse back to the same DN, the same
// NormalizeDn key and the same text, or a DN that is not a suffix of itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ldap/protocol/dn.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace ldap = idsync::ldap;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto dn = ldap::ParseDn(text);
  if (!dn) return 0;
  std::string formatted = ldap::FormatDn(*dn);
  auto again = ldap::ParseDn(formatted);
  if (!again || again->rdns.size() != dn->rdns.size()) __builtin_trap();
  for (size_t i = 0; i < dn->rdns.size(); ++i) {
    if (again->rdns[i].size() != dn->rdns[i].size()) __builtin_trap();
    for (size_t j = 0; j < dn->rdns[i].size(); ++j) {
      if (again->rdns[i][j].type != dn->rdns[i][j].type ||
          again->rdns[i][j].value != dn->rdns[i][j].value) {
        __builtin_trap();
      }
    }
  }
  if (ldap::FormatDn(*again) != formatted) __builtin_trap();
  if (ldap::NormalizeDn(*again) != ldap::NormalizeDn(*dn)) __builtin_trap();
  if (!ldap::IsSuffixOf(*dn, *again)) __builtin_trap();
  return 0;
}
