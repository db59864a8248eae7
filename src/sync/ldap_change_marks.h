// Change marks of incremental LDAP runs: the high-water mark of `modifyTimestamp` (kept as its
// first 14 digits) or `uSNChanged`, and the filter of entries changed after it. See
// docs/ARCHITECTURE.md, "LDAP sync", "The mark".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/time.h"
#include "sync/ldap_config.h"

namespace idsync::sync {

// The first 14 digits of a GeneralizedTime ("20240102030405Z", maybe with a fraction or an
// offset), or nullopt when `value` is not one.
std::optional<std::string> TimestampDigits(std::string_view value);
// `t` as 14 digits, UTC.
std::string TimeDigits(TimePoint t);
// One second after the 14-digit mark, as GeneralizedTime: entries changed after the mark.
std::string NextSecond(const std::string& digits);
// The filter of entries changed after `mark`, and-ed with `base_filter`.
std::string ChangedFilter(const std::string& base_filter, const LdapConfig& config,
                          const std::string& mark);

}  // namespace idsync::sync
