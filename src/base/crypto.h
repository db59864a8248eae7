// Secrets: tokens, hashes and constant-time comparison (OpenSSL underneath).
#pragma once

#include <optional>
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

// RFC 4648 base64: standard alphabet with padding, and URL-safe without padding (OpenSSL).
std::string Base64(std::string_view bytes);
std::string Base64Url(std::string_view bytes);
// nullopt if `text` is not unpadded URL-safe base64.
std::optional<std::string> DecodeBase64Url(std::string_view text);

}  // namespace idsync
