// Internal to idsync_ldap_protocol: the BER form of a Filter (RFC 4511 §4.5.1), as read inside a
// SearchRequest.
#pragma once

#include <cstddef>

#include "base/result.h"
#include "ldap/protocol/ber.h"
#include "ldap/protocol/filter.h"
#include "ldap/protocol/message.h"

namespace idsync::ldap::internal {

// Reads one Filter element from `reader`. `nodes` counts the filter nodes read so far, across
// calls for one message. kInvalidSyntax on any malformed element, wrong tag, invalid attribute
// description, substrings out of order, and when the limits' depth or node count is exceeded.
Status DecodeFilter(BerReader& reader, const DecodeLimits& limits, size_t depth, size_t* nodes,
                    Filter* out);

}  // namespace idsync::ldap::internal
