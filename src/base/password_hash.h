// Password hashing for credentials a person or an application types: LDAP service accounts
// (issue #10) and, later, the console's admin users (issue #12). Tokens we generate ourselves
// (256 random bits) only need SHA-256 (crypto.h); passwords need a slow, memory-hard hash.
#pragma once

#include <string>
#include <string_view>

namespace idsync {

// argon2id with a fresh random 16-byte salt (OpenSSL RAND_bytes) and OWASP's minimum
// parameters: t=2 passes, m=19,456 KiB (19 MiB), p=1 lane, 32-byte tag. Returns the PHC
// string form ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"), which carries its own
// parameters, so raising them later leaves stored hashes verifiable. Aborts only if the CSPRNG
// or libargon2 fails (no degraded mode for secrets). Costs ~19 MiB and tens of milliseconds:
// callers bound how many run at once. Thread-safe.
std::string HashPassword(std::string_view password);

// True if `password` matches `encoded` (HashPassword's form), compared in constant time by
// libargon2. False for a wrong password and for anything malformed: not argon2id, bad base64,
// or parameters beyond what HashPassword could have written (m > 256 MiB, t > 16, p > 8), which
// are refused before any memory is allocated. Never crashes on input. Thread-safe.
bool VerifyPassword(std::string_view encoded, std::string_view password);

}  // namespace idsync
