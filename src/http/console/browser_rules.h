// The browser-facing rules of the admin console (issue #12), in one place: the session cookie
// (name, attributes, parsing), the same-origin check that guards state-changing requests, and
// the security headers every console response carries. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/server.h"

namespace idsync::http::console {

// Whether the browser reaches us over HTTPS: the connection is TLS, or the configured public
// URL is https (TLS ends at a reverse proxy in front of us).
bool SecureContext(const Request& request, std::string_view public_url);

// "__Host-idsync_session" in a secure context (the prefix makes the browser refuse the cookie
// unless it is Secure, Path=/ and has no Domain, so no sibling host can set or shadow it);
// "idsync_session" over plain HTTP, where browsers refuse both the prefix and Secure.
std::string_view SessionCookieName(bool secure);

// Set-Cookie for a new session: HttpOnly (scripts never see the id), SameSite=Strict (the
// browser sends it on no cross-site request at all), Path=/ (the console and /api/v1), Secure
// in a secure context. No Max-Age: it ends with the browser, and the server ends it earlier
// (idle timeout, lifetime).
std::string SessionSetCookie(std::string_view id, bool secure);
// Set-Cookie that makes the browser drop the cookie (logout).
std::string ClearSessionCookie(bool secure);

// The value of the cookie `name` in the request's Cookie header (RFC 6265 §5.4 syntax:
// "a=1; b=2"); nullopt if absent.
std::optional<std::string> CookieValue(const Request& request, std::string_view name);

// The session id this request presents under the name its context expects; nullopt if none.
std::optional<std::string> SessionIdOf(const Request& request, std::string_view public_url);

// True if a state-changing request comes from the console's own origin: its Origin header is
// the origin the request was sent to (scheme and Host) or the public URL's; without Origin,
// Sec-Fetch-Site must be "same-origin". Neither header: false (every browser that runs the
// console sends Origin on POST, PUT and DELETE; scripts use bearer tokens, not sessions).
bool SameOrigin(const Request& request, std::string_view public_url);

// The headers every console response carries (see docs/ARCHITECTURE.md "Admin console"):
// Content-Security-Policy (scripts, styles and connections from our origin only, no inline
// script or style, no eval, no framing), X-Content-Type-Options, Referrer-Policy,
// X-Frame-Options for browsers without frame-ancestors, Cross-Origin-Opener-Policy.
void AddSecurityHeaders(Response& response);

}  // namespace idsync::http::console
