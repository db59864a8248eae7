// Internal to idsync_ldap_protocol: a bounded liblber reader and writer. Not installed with the
// public headers' contracts; only this library's .cpp files and its tests include it.
//
// Every constructed element is read through its own BerReader over exactly its contents, so that
// liblber can never read past the element it is in (an inner length that runs over its parent is
// a decoding error, not a read into the next element), and "nothing left" is checked exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <lber.h>

namespace idsync::ldap::internal {

// BER tags as liblber reports them (the identifier octet).
inline constexpr ber_tag_t kTagBoolean = 0x01;
inline constexpr ber_tag_t kTagInteger = 0x02;
inline constexpr ber_tag_t kTagOctetString = 0x04;
inline constexpr ber_tag_t kTagEnumerated = 0x0a;
inline constexpr ber_tag_t kTagSequence = 0x30;
inline constexpr ber_tag_t kTagSet = 0x31;

// [n] context-specific, primitive and constructed; [APPLICATION n] likewise.
constexpr ber_tag_t ContextPrimitive(unsigned n) {
  return 0x80 | n;
}
constexpr ber_tag_t ContextConstructed(unsigned n) {
  return 0xa0 | n;
}
constexpr ber_tag_t ApplicationPrimitive(unsigned n) {
  return 0x40 | n;
}
constexpr ber_tag_t ApplicationConstructed(unsigned n) {
  return 0x60 | n;
}

// Reads elements one after the other from `bytes`, which must outlive the reader. Reads never
// copy more than an element's own contents. Not thread-safe; cheap to create (one small
// allocation by liblber).
//
// `bytes` must be followed by one readable byte: after each element it consumes, liblber reads
// the byte after it as the next tag (`ber->ber_tag = *ber->ber_ptr` in ber_skip_element and the
// getters), one past the end when the element is the buffer's last. So every reader on bytes
// from outside (DecodeRequest, DecodePagedResults) reads a std::string copy, whose terminating
// NUL is that byte, and nested readers view into it. A fuzzer found the read: a message ending
// where its buffer's page ended crashed the server.
class BerReader {
 public:
  explicit BerReader(std::string_view bytes);
  ~BerReader();
  BerReader(const BerReader&) = delete;
  BerReader& operator=(const BerReader&) = delete;

  // True when every byte has been consumed.
  bool AtEnd();
  // The next element's tag without consuming it; LBER_DEFAULT at the end, or when the next
  // element's header is malformed or its length runs past the end.
  ber_tag_t PeekTag();

  // Each of these consumes the next element only if it has `tag` and is well formed, and returns
  // false (consuming nothing useful: the caller gives up) otherwise.

  // Any element: its contents, pointing into `bytes`.
  std::optional<std::string_view> Element(ber_tag_t tag);
  // OCTET STRING-like primitive: its contents copied.
  bool String(ber_tag_t tag, std::string* out);
  // INTEGER or ENUMERATED of 1 to 4 content octets.
  bool Int(ber_tag_t tag, int32_t* out);
  // BOOLEAN of exactly one octet (0 false, anything else true, as BER says).
  bool Bool(ber_tag_t tag, bool* out);
  // NULL: zero content octets.
  bool Null(ber_tag_t tag);

 private:
  // The next element's tag and content length, and that it lies inside [begin_, end_).
  bool Peek(ber_tag_t tag, ber_len_t* length);

  BerElement* ber_;
  const char* begin_;
  const char* end_;
};

// Owns a liblber element opened for writing (DER); Finish() returns the bytes written.
class BerWriter {
 public:
  BerWriter();
  ~BerWriter();
  BerWriter(const BerWriter&) = delete;
  BerWriter& operator=(const BerWriter&) = delete;

  BerElement* get() { return ber_; }
  // Aborts (IDSYNC_CHECK) if liblber reported a failure, which only happens when out of memory.
  void Check(int rc);
  std::string Finish();

 private:
  BerElement* ber_;
};

// liblber's 'o' format wants a non-null pointer even for zero bytes.
inline const char* DataOf(std::string_view s) {
  return s.empty() ? "" : s.data();
}

}  // namespace idsync::ldap::internal
