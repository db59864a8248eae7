#include "http/console/browser_rules.h"

#include "base/strings.h"

namespace idsync::http::console {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string WithoutTrailingSlash(std::string_view url) {
  std::string out(url);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace

bool SecureContext(const Request& request, std::string_view public_url) {
  return request.tls || AsciiLower(public_url).rfind("https://", 0) == 0;
}

std::string_view SessionCookieName(bool secure) {
  return secure ? "__Host-idsync_session" : "idsync_session";
}

std::string SessionSetCookie(std::string_view id, bool secure) {
  return std::string(SessionCookieName(secure)) + "=" + std::string(id) +
         "; Path=/; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

std::string ClearSessionCookie(bool secure) {
  return std::string(SessionCookieName(secure)) +
         "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

std::optional<std::string> CookieValue(const Request& request, std::string_view name) {
  for (const auto& [header, value] : request.headers) {
    if (header != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = Trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (Trim(pair.substr(0, eq)) == name) return std::string(Trim(pair.substr(eq + 1)));
    }
  }
  return std::nullopt;
}

std::optional<std::string> SessionIdOf(const Request& request, std::string_view public_url) {
  auto id = CookieValue(request, SessionCookieName(SecureContext(request, public_url)));
  if (!id || id->empty()) return std::nullopt;
  return id;
}

bool SameOrigin(const Request& request, std::string_view public_url) {
  auto origin = request.Header("origin");
  if (!origin) {
    auto site = request.Header("sec-fetch-site");
    return site && *site == "same-origin";
  }
  const std::string given = AsciiLower(WithoutTrailingSlash(*origin));
  if (auto host = request.Header("host"); host && !host->empty()) {
    const std::string own =
        AsciiLower(std::string(request.tls ? "https://" : "http://") + std::string(*host));
    if (given == own) return true;
  }
  return !public_url.empty() && given == AsciiLower(WithoutTrailingSlash(public_url));
}

void AddSecurityHeaders(Response& response) {
  response.SetHeader("Content-Security-Policy",
                     "default-src 'none'; script-src 'self'; style-src 'self'; "
                     "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                     "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  response.SetHeader("X-Content-Type-Options", "nosniff");
  response.SetHeader("Referrer-Policy", "no-referrer");
  response.SetHeader("X-Frame-Options", "DENY");
  response.SetHeader("Cross-Origin-Opener-Policy", "same-origin");
}

}  // namespace idsync::http::console
