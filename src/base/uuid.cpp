#include "base/uuid.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>

#include <openssl/rand.h>
#include <pthread.h>

#include "base/result.h"

namespace idsync {

namespace {

std::string Format(const unsigned char (&b)[16]) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[b[i] >> 4]);
    out.push_back(hex[b[i] & 15]);
  }
  return out;
}

// Incremented in a child after fork(): a child must not hand out the random bytes its parent
// had buffered (both would make the same ids).
std::atomic<uint64_t> forks{0};

// 16 random bytes from the CSPRNG, drawn 512 at a time per thread. Each RAND_bytes call costs
// about as much as formatting the UUID (its DRBG's locking and bookkeeping); an id is made for
// every request, resource and effective user, on the store's writer thread too. The bytes are
// the CSPRNG's own output either way.
void RandomId(unsigned char (&b)[16]) {
  static const bool registered = [] {
    return pthread_atfork(nullptr, nullptr, [] { forks.fetch_add(1); }) == 0;
  }();
  (void)registered;
  struct Buffer {
    unsigned char bytes[512];
    size_t used = sizeof bytes;
    uint64_t forks = 0;
  };
  thread_local Buffer buf;
  const uint64_t now = forks.load(std::memory_order_relaxed);
  if (buf.used + sizeof b > sizeof buf.bytes || buf.forks != now) {
    IDSYNC_CHECK(RAND_bytes(buf.bytes, sizeof buf.bytes) == 1);
    buf.used = 0;
    buf.forks = now;
  }
  std::memcpy(b, buf.bytes + buf.used, sizeof b);
  std::memset(buf.bytes + buf.used, 0, sizeof b);  // handed out once
  buf.used += sizeof b;
}

}  // namespace

std::string NewUuid() {
  unsigned char b[16];
  RandomId(b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return Format(b);
}

std::string NewOrderedUuid() {
  unsigned char b[16];
  RandomId(b);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const auto unix_ms = static_cast<uint64_t>(ms);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(unix_ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x70);  // version 7
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 9562 variant
  return Format(b);
}

bool IsUuid(std::string_view t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    char c = t[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace idsync
