// Outer framing of LDAPMessages on a stream: how many bytes the next message takes, read from
// its tag and length alone so that the server can refuse an oversized message before buffering
// its body. The only BER the project reads by hand; everything inside a message goes through
// liblber (message.h).
#pragma once

#include <cstddef>
#include <string_view>

namespace idsync::ldap {

struct Frame {
  enum Status {
    kNeedMore,  // the header (tag and length) or the body is not complete yet
    kComplete,  // buffer holds at least one whole message of total_bytes
    kTooLarge,  // the declared message is longer than the cap: disconnect
    kMalformed  // not a SEQUENCE (0x30), indefinite length, or more than 4 length octets
  } status = kNeedMore;
  // Header plus body, set for kComplete and kTooLarge (for kNeedMore once the header is read).
  size_t total_bytes = 0;
};

// Reads the outer SEQUENCE tag (0x30) and its definite length (short form, or long form with 1
// to 4 length octets) at the start of `buffer`. kTooLarge is decided from the length alone,
// before the body arrives, when header + body > max_message_bytes. Never allocates; thread-safe.
Frame PeekFrame(std::string_view buffer, size_t max_message_bytes);

}  // namespace idsync::ldap
