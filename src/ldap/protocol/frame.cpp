#include "ldap/protocol/frame.h"

#include <cstdint>

namespace idsync::ldap {

Frame PeekFrame(std::string_view buffer, size_t max_message_bytes) {
  // X.690 §8.1.2-8.1.3, for the one tag and length an LDAPMessage starts with. liblber's own
  // reader would want the whole element first; this is what lets the server refuse a 2 GB
  // length before buffering anything.
  Frame frame;
  if (buffer.empty()) return frame;
  if (static_cast<unsigned char>(buffer[0]) != 0x30) {
    frame.status = Frame::kMalformed;
    return frame;
  }
  if (buffer.size() < 2) return frame;
  auto first = static_cast<unsigned char>(buffer[1]);
  size_t header = 2;
  uint64_t length = first;
  if (first & 0x80) {
    size_t octets = first & 0x7f;
    // 0x80 is the indefinite form, which RFC 4511 §5.1 forbids; more than 4 octets would
    // announce a message of 4 GB or more.
    if (octets == 0 || octets > 4) {
      frame.status = Frame::kMalformed;
      return frame;
    }
    if (buffer.size() < 2 + octets) return frame;
    length = 0;
    for (size_t i = 0; i < octets; ++i) {
      length = (length << 8) | static_cast<unsigned char>(buffer[2 + i]);
    }
    header += octets;
  }
  uint64_t total = header + length;
  frame.total_bytes = static_cast<size_t>(total);
  if (total > max_message_bytes) {
    frame.status = Frame::kTooLarge;
  } else if (buffer.size() >= total) {
    frame.status = Frame::kComplete;
  }
  return frame;
}

}  // namespace idsync::ldap
