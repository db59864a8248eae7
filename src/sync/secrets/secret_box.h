// SecretBox: seals secrets (an LDAP bind password) with AES-256-GCM under a key kept in a file
// beside the database, so that the database, its backups and any API that reads connection
// rows never hold a secret in the clear.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace idsync::sync {

// Thread-safe after construction (immutable).
class SecretBox {
 public:
  // The key in `<data_dir>/secret.key`: 32 random bytes, created with O_CREAT|O_EXCL mode 0600
  // on first use. kUnavailable, naming the file, if it cannot be created or read, is not
  // exactly 32 bytes, or is readable by group or others (then it is refused rather than used,
  // because a copied key opens every sealed secret).
  static Result<SecretBox> Open(const std::string& data_dir);
  // For tests: a box with this 32-byte key. kInvalidValue otherwise.
  static Result<SecretBox> FromKey(std::string_view key);

  // "v1." + base64url(nonce 12 | ciphertext | tag 16). `context` (e.g. the connection uuid
  // and secret name) is authenticated data: a sealed value copied to another connection or
  // name does not open. Never fails except on a CSPRNG failure (kInternal).
  Result<std::string> Seal(std::string_view plain, std::string_view context) const;
  // The plain text, or kUnavailable if `sealed` is malformed, was sealed under another key or
  // context, or was altered. The detail never contains any part of the secret.
  Result<std::string> Unseal(std::string_view sealed, std::string_view context) const;

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace idsync::sync
