#include "base/password_hash.h"

#include <charconv>
#include <cstdint>
#include <string>

#include <argon2.h>
#include <openssl/rand.h>

#include "base/result.h"

namespace idsync {

namespace {

// OWASP Password Storage Cheat Sheet, argon2id minimum configuration.
constexpr uint32_t kPasses = 2;
constexpr uint32_t kMemoryKiB = 19456;
constexpr uint32_t kLanes = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kTagBytes = 32;

// Limits on what VerifyPassword accepts from an encoded string: argon2 allocates m KiB before
// it compares anything, so a corrupt or hostile `m=` must not reach it.
constexpr uint32_t kMaxMemoryKiB = 256 * 1024;
constexpr uint32_t kMaxPasses = 16;
constexpr uint32_t kMaxLanes = 8;

// Reads "<key>=<digits>" at the start of `text` and moves past it. False if absent.
bool ReadParam(std::string_view& text, std::string_view key, uint32_t& value) {
  if (text.substr(0, key.size()) != key || text.size() <= key.size() || text[key.size()] != '=') {
    return false;
  }
  text.remove_prefix(key.size() + 1);
  const char* end = text.data() + text.size();
  auto [next, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || next == text.data()) return false;
  text.remove_prefix(static_cast<size_t>(next - text.data()));
  return true;
}

// "$argon2id$v=19$m=M,t=T,p=P$..." with M, T, P within our limits.
bool ParamsWithinLimits(std::string_view encoded) {
  constexpr std::string_view kPrefix = "$argon2id$v=19$";
  if (encoded.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view rest = encoded.substr(kPrefix.size());
  uint32_t m = 0, t = 0, p = 0;
  if (!ReadParam(rest, "m", m) || rest.empty() || rest[0] != ',') return false;
  rest.remove_prefix(1);
  if (!ReadParam(rest, "t", t) || rest.empty() || rest[0] != ',') return false;
  rest.remove_prefix(1);
  if (!ReadParam(rest, "p", p) || rest.empty() || rest[0] != '$') return false;
  return m >= 8 && m <= kMaxMemoryKiB && t >= 1 && t <= kMaxPasses && p >= 1 && p <= kMaxLanes;
}

}  // namespace

std::string HashPassword(std::string_view password) {
  unsigned char salt[kSaltBytes];
  IDSYNC_CHECK(RAND_bytes(salt, sizeof salt) == 1);
  std::string encoded(
      argon2_encodedlen(kPasses, kMemoryKiB, kLanes, kSaltBytes, kTagBytes, Argon2_id), '\0');
  const int rc =
      argon2id_hash_encoded(kPasses, kMemoryKiB, kLanes, password.data(), password.size(), salt,
                            sizeof salt, kTagBytes, encoded.data(), encoded.size());
  IDSYNC_CHECK(rc == ARGON2_OK);
  encoded.resize(encoded.find('\0'));  // argon2_encodedlen counts the terminator
  return encoded;
}

bool VerifyPassword(std::string_view encoded, std::string_view password) {
  if (!ParamsWithinLimits(encoded)) return false;
  if (encoded.find('\0') != std::string_view::npos) return false;
  const std::string terminated(encoded);  // libargon2 reads a C string
  return argon2id_verify(terminated.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace idsync
