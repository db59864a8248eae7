#include "ldap/protocol/paged_results.h"

#include <limits>
#include <string>

#include "ldap/protocol/ber.h"

namespace idsync::ldap {

using internal::BerReader;
using internal::BerWriter;
using internal::DataOf;

std::optional<PagedResults> DecodePagedResults(std::string_view control_value) {
  // realSearchControlValue ::= SEQUENCE { size INTEGER (0..maxInt), cookie OCTET STRING }
  // A copy whose terminating NUL liblber may read past the value's last element (ber.h).
  const std::string bytes(control_value);
  BerReader outer(bytes);
  auto contents = outer.Element(internal::kTagSequence);
  if (!contents || !outer.AtEnd()) return std::nullopt;
  BerReader reader(*contents);
  int32_t size = 0;
  PagedResults paged;
  if (!reader.Int(internal::kTagInteger, &size) || size < 0 ||
      !reader.String(internal::kTagOctetString, &paged.cookie) || !reader.AtEnd()) {
    return std::nullopt;
  }
  paged.size = size;
  return paged;
}

std::string EncodePagedResults(int64_t size_estimate, std::string_view cookie) {
  int64_t clamped = size_estimate < 0 ? 0 : size_estimate;
  if (clamped > std::numeric_limits<int32_t>::max()) clamped = std::numeric_limits<int32_t>::max();
  BerWriter w;
  w.Check(ber_printf(w.get(), "{io}", static_cast<ber_int_t>(clamped), DataOf(cookie),
                     static_cast<ber_len_t>(cookie.size())));
  return w.Finish();
}

}  // namespace idsync::ldap
