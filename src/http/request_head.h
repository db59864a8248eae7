// Checks of a request head that RFC 9110/9112 require and that Boost.Beast's parser does not
// make (Beast 1.74 unfolds obsolete line folding silently and accepts any number of Host
// fields). Pure functions over text, so they are unit-tested without sockets; server.cpp applies
// them to every request before a handler sees it. Each returns an empty string when the head is
// acceptable, otherwise the reason, which becomes the detail of the 400/415 response.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace idsync::http {

// `head` is the request line and the field lines, each ending in CRLF, without the blank line
// that ends the head. A field line starting with SP or HTAB is obsolete line folding (RFC 9112
// §5.2) or whitespace before the first field (§2.2); both are refused rather than unfolded or
// skipped, since an intermediary may read them differently (request smuggling). A field line
// without a colon is not a field (§5.1).
std::string HeadLineProblem(std::string_view head);

// RFC 9112 §3.2: an HTTP/1.1 request needs exactly one Host field, any request at most one, and
// its value must be a uri-host with an optional port (it may be empty).
std::string HostProblem(int version, const std::vector<std::string_view>& host_values);

// RFC 9110 §8.4: the content codings of a request body. The server decodes none, so anything
// but "identity" (or an empty value) is unsupported; the answer is 415 with
// "Accept-Encoding: identity" (§12.5.3). Every Content-Encoding field counts.
std::string ContentCodingProblem(const std::vector<std::string_view>& content_encodings);

}  // namespace idsync::http
