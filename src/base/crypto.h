// Secrets: tokens, hashes and constant-time comparison (OpenSSL underneath).
#pragma once

#include <string>
#include <string_view>

namespace idsync {

// `prefix` followed by 256 bits from the CSPRNG in URL-safe base64 without padding, e.g.
// "idsync_scim_3q2-...". The prefix makes leaked tokens recognisable to secret scanners.
std::string NewToken(std::string_view prefix);
// Lower-case hex SHA-256.
std::string Sha256Hex(std::string_view data);
// Compares in time that depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace idsync
