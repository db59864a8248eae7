// RFC 4515 filter value escaping, so that a value taken from input (a username typed by an
// administrator, a login name sent by an application) can never change a filter's meaning.
#pragma once

#include <string>
#include <string_view>

namespace idsync::sync::ldap {

// Escapes `value` for use as an assertion value inside an LDAP filter, e.g. the `x` of
// `(uid=x)`. RFC 4515 §3 requires '*', '(', ')', '\' and NUL to be written as `\2a`, `\28`,
// `\29`, `\5c`, `\00`; this also escapes every other byte outside printable ASCII (controls,
// DEL and bytes >= 0x80), which RFC 4515 allows and which keeps invalid UTF-8 from reaching
// the server unescaped. The result matches exactly the octets of `value`. Never fails;
// thread-safe.
std::string EscapeFilterValue(std::string_view value);

}  // namespace idsync::sync::ldap
