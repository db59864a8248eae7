#include "sync/secrets/secret_box.h"

#include <cerrno>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/crypto.h"

namespace idsync::sync {

namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr std::string_view kVersion = "v1.";

Error Unavailable(std::string detail) {
  return MakeError(ErrorCode::kUnavailable, std::move(detail));
}

bool DecodeInto(std::string_view text, std::string* out) {
  auto decoded = DecodeBase64Url(text);
  if (!decoded) return false;
  *out = std::move(*decoded);
  return true;
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

Result<SecretBox> SecretBox::FromKey(std::string_view key) {
  if (key.size() != kKeyBytes) return MakeError(ErrorCode::kInvalidValue, "key must be 32 bytes");
  return SecretBox(std::string(key));
}

Result<SecretBox> SecretBox::Open(const std::string& data_dir) {
  const std::string path = data_dir + "/secret.key";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    unsigned char key[kKeyBytes];
    if (RAND_bytes(key, sizeof key) != 1) return Unavailable("no random bytes for " + path);
    int out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out >= 0) {
      bool ok = ::write(out, key, sizeof key) == static_cast<ssize_t>(sizeof key);
      ok &= ::fsync(out) == 0;
      ::close(out);
      OPENSSL_cleanse(key, sizeof key);
      if (!ok) {
        ::unlink(path.c_str());
        return Unavailable("cannot write the secret key " + path);
      }
    } else if (errno != EEXIST) {  // EEXIST: another process created it first; read theirs
      OPENSSL_cleanse(key, sizeof key);
      return Unavailable("cannot create the secret key " + path + ": " + std::strerror(errno));
    }
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    return Unavailable("cannot read the secret key " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
    ::close(fd);
    return Unavailable("secret key " + path +
                       " is readable by group or others; chmod 600 it (and consider it leaked)");
  }
  std::string key(kKeyBytes + 1, '\0');
  ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(kKeyBytes)) {
    return Unavailable("secret key " + path + " must hold exactly 32 bytes");
  }
  key.resize(kKeyBytes);
  return SecretBox(std::move(key));
}

Result<std::string> SecretBox::Seal(std::string_view plain, std::string_view context) const {
  std::string out(kNonceBytes + plain.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  // A random 96-bit nonce per seal: secrets are sealed rarely (a password change), far below
  // the 2^32 seals per key at which random GCM nonces become a concern (NIST SP 800-38D 8.3).
  if (RAND_bytes(nonce, kNonceBytes) != 1) {
    return MakeError(ErrorCode::kInternal, "no random bytes for a nonce");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* ct = nonce + kNonceBytes;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key_), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(context),
                        static_cast<int>(context.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ct, &len, Bytes(plain), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, ct + plain.size()) != 1) {
    return MakeError(ErrorCode::kInternal, "AES-256-GCM sealing failed");
  }
  std::string sealed = std::string(kVersion) + Base64Url(out);
  OPENSSL_cleanse(out.data(), out.size());
  return sealed;
}

Result<std::string> SecretBox::Unseal(std::string_view sealed, std::string_view context) const {
  const Error bad = Unavailable(
      "a stored secret does not open with this data folder's secret.key (altered, or sealed "
      "under another key); set it again");
  if (sealed.substr(0, kVersion.size()) != kVersion) return bad;
  std::string raw;
  if (!DecodeInto(sealed.substr(kVersion.size()), &raw) ||
      raw.size() < kNonceBytes + kTagBytes) {
    return bad;
  }
  const size_t n = raw.size() - kNonceBytes - kTagBytes;
  const auto* nonce = Bytes(raw);
  const auto* ct = nonce + kNonceBytes;
  std::string tag = raw.substr(kNonceBytes + n);
  std::string plain(n, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* pt = reinterpret_cast<unsigned char*>(plain.data());
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key_), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(context),
                        static_cast<int>(context.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), pt, &len, ct, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), pt + len, &len) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return bad;
  }
  return plain;
}

}  // namespace idsync::sync
