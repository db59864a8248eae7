// JSON values and the strict parser every untrusted body goes through.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/result.h"

namespace idsync {

using Json = nlohmann::json;

struct JsonLimits {
  size_t max_depth = 64;        // nesting of objects and arrays
  size_t max_string = 1 << 20;  // bytes in one string
};

// Parses `text` as one JSON value. Rejects (kInvalidSyntax, with the reason in words):
// invalid UTF-8 and lone surrogates, duplicate object keys, nesting deeper than
// limits.max_depth, numbers that do not fit an int64 or a finite double, trailing data.
Result<Json> ParseJsonStrict(std::string_view text, const JsonLimits& limits = {});

// The member `key` of `object` without copying it, or a null value when `object` is not an
// object or has no such member. Where Json::value(key, default) would copy a large member only
// to read it.
const Json& MemberOrNull(const Json& object, std::string_view key);
// The member `key` of `object`, or nullptr when `object` is not an object or has no such
// member (where a member holding null differs from a missing one).
const Json* FindMember(const Json& object, std::string_view key);

// Parses JSON that this server wrote itself (stored bodies, DumpJson's output) into the same
// value Json::parse makes of it, about three times faster: small texts through simdjson, others
// (and any text simdjson refuses) through nlohmann. Returns a discarded value when the text is
// not JSON, as Json::parse(text, nullptr, false) does. Not for untrusted input: that goes
// through ParseJsonStrict, whose limits this does not apply.
Json ParseStoredJson(std::string_view text);

// Serializes compactly; invalid UTF-8 in strings (cannot come from ParseJsonStrict) is replaced.
std::string DumpJson(const Json& value);

// Appends `text` to `out` as a JSON string, quotes included, exactly as DumpJson writes a string
// (the same escapes; each invalid UTF-8 sequence replaced by one U+FFFD), without building a
// Json value: for the log lines written on every request.
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace idsync
