// What went wrong, independent of HTTP. http/scim maps each code to a status and scimType
// (RFC 7644 §3.12) in a switch without default, so -Wswitch catches omissions.
#pragma once

#include <string>

namespace idsync {

enum class ErrorCode {
  kInvalidSyntax,     // body is not the shape the schema asks for, or not JSON
  kInvalidFilter,     // filter or attribute expression rejected
  kTooMany,           // a query would return more results than the server will compute
  kInvalidPath,       // PATCH path malformed
  kNoTarget,          // PATCH path matched nothing
  kInvalidValue,      // wrong type, missing required value, not a canonical value
  kMutability,        // write to a readOnly or immutable attribute
  kUniqueness,        // userName/displayName already taken
  kConflict,          // the data contradicts itself (two LDAP entries for one username)
  kInvalidVersion,    // unsupported protocol version
  kSensitive,         // request would put sensitive data in a URI
  kNotFound,          // no resource with that id in the scope
  kVersionMismatch,   // If-Match differs from meta.version
  kNotModified,       // If-None-Match equals meta.version (GET only)
  kPayloadTooLarge,   // request body or Bulk exceeds a declared limit
  kUnauthorized,      // missing or wrong credential
  kForbidden,         // credential valid but not allowed (disabled connection)
  kNotImplemented,    // e.g. /Me
  kRateLimited,       // too many requests; retry later
  kUnavailable,       // database or LDAP server unreachable; retryable
  kInternal           // a bug, or a third-party failure we did not foresee
};

struct Error {
  ErrorCode code;
  std::string detail;  // goes to the client: no SQL, no stack, no secrets
};

}  // namespace idsync
