// Content negotiation between SCIM's media type and plain JSON (RFC 7644 §3.8: "Service
// providers SHOULD support the Accept header "Accept: application/json" for compatibility").
// OneLogin documents that it requires application/json responses; every other client we know
// accepts application/scim+json, which stays the default. Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "http/server.h"

namespace idsync::http {

// Whether an Accept header value prefers application/json to application/scim+json: the
// quality (RFC 9110 §12.5.1, from the most specific matching range: type/subtype, then type/*,
// then */*) of application/json is higher than that of application/scim+json. A tie (absent
// header, */*, application/*, or both listed alike) is not a preference.
bool PrefersPlainJson(std::string_view accept);

// When `response` is application/scim+json and the request's Accept prefers application/json,
// relabels it application/json; the body is unchanged (the two differ only in name). Responses
// of any other type are left alone. SCIM responses get "Vary: Accept" either way.
void NegotiateScimMediaType(const Request& request, Response& response);

}  // namespace idsync::http
