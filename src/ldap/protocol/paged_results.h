// RFC 2696 Simple Paged Results control: the value of the control, both directions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace idsync::ldap {

inline constexpr std::string_view kPagedResultsOid = "1.2.840.113556.1.4.319";

// realSearchControlValue ::= SEQUENCE { size INTEGER (0..maxInt), cookie OCTET STRING }.
// In a request `size` is the page size wanted; in a response it is the estimate (0: unknown).
struct PagedResults {
  int64_t size = 0;
  std::string cookie;
};

// Decodes a control value (the bytes inside the control's OCTET STRING). nullopt if it is not
// exactly that SEQUENCE, if size is negative or above 2^31-1, or on trailing bytes.
// Thread-safe.
std::optional<PagedResults> DecodePagedResults(std::string_view control_value);

// The control value a server returns with searchResultDone: the estimate (clamped to
// 0..2^31-1) and the cookie ("" on the last page). Thread-safe.
std::string EncodePagedResults(int64_t size_estimate, std::string_view cookie);

}  // namespace idsync::ldap
