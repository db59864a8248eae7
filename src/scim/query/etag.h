// Entity tags of SCIM resources (RFC 7644 §3.14), shared by the mirror (service/scim_service,
// If-Match on writes) and both GET paths (the SCIM API and the read API, If-None-Match).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace idsync::scim::query {

// The ETag of a stored version: W/"<version>". Weak, because the JSON text is not promised
// byte for byte (attribute order, projection); the version changes with every change.
std::string VersionETag(int64_t version);

// True if an If-Match or If-None-Match field value `header` names `etag` (RFC 9110 §13.1.1,
// §13.1.2): "*" matches; otherwise `header` is a comma-separated list of entity tags, each
// compared with `etag` by weak comparison (§8.8.3.2: the W/ prefixes are ignored and the
// opaque-tags compared byte for byte; commas inside a quoted tag belong to the tag). A list
// member that is not an entity tag matches nothing, and parsing resumes after the next comma.
// Leniency kept from the mirror: a bare version without quotes (5, W/5) is taken as "5".
//
// SCIM uses weak ETags with If-Match too (RFC 7644 §3.14), so If-Match uses this weak
// comparison as well, not §13.1.1's strong one, which no weak tag could ever pass.
bool ETagListMatches(std::string_view header, std::string_view etag);

}  // namespace idsync::scim::query
