#include "base/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/result.h"

namespace idsync {

std::string NewToken(std::string_view prefix) {
  unsigned char b[32];
  IDSYNC_CHECK(RAND_bytes(b, sizeof b) == 1);
  // URL-safe base64 without padding: 32 bytes -> 43 characters.
  return std::string(prefix) + Base64Url(std::string_view(reinterpret_cast<char*>(b), sizeof b));
}

std::string Sha256Hex(std::string_view data) {
  // Fetched once: with OpenSSL 3, EVP_sha256() makes every digest look its implementation up
  // in the provider store again (locks and a hash lookup), which was most of the time of
  // hashing a token on every request.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  IDSYNC_CHECK(kSha256 != nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  IDSYNC_CHECK(EVP_Digest(data.data(), data.size(), digest, &len, kSha256, nullptr) == 1);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Base64Url(std::string_view bytes) {
  std::string out = Base64(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::optional<std::string> DecodeBase64Url(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string std_text;
  std_text.reserve(text.size() + 3);
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return std::nullopt;
    std_text.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
  }
  size_t pad = (4 - std_text.size() % 4) % 4;
  std_text.append(pad, '=');
  std::string out(std_text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(std_text.data()),
                          static_cast<int>(std_text.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);  // EVP_DecodeBlock counts padding as zero bytes
  return out;
}

}  // namespace idsync
