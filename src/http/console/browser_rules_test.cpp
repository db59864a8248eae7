#include "http/console/browser_rules.h"

#include <gtest/gtest.h>

namespace idsync::http::console {
namespace {

Request WithHeaders(std::vector<std::pair<std::string, std::string>> headers, bool tls = false) {
  Request r;
  r.method = "POST";
  r.headers = std::move(headers);
  r.tls = tls;
  return r;
}

TEST(SessionCookie, HostPrefixAndSecureOnlyInASecureContext) {
  EXPECT_EQ(SessionSetCookie("abc", true),
            "__Host-idsync_session=abc; Path=/; HttpOnly; SameSite=Strict; Secure");
  EXPECT_EQ(SessionSetCookie("abc", false),
            "idsync_session=abc; Path=/; HttpOnly; SameSite=Strict");
  EXPECT_TRUE(SecureContext(WithHeaders({}, /*tls=*/true), ""));
  EXPECT_TRUE(SecureContext(WithHeaders({}), "https://idsync.example.com"));
  EXPECT_FALSE(SecureContext(WithHeaders({}), "http://127.0.0.1:8080"));
  EXPECT_NE(ClearSessionCookie(true).find("Max-Age=0"), std::string::npos);
}

TEST(SessionCookie, ReadsTheNameItsContextExpectsOnly) {
  Request plain = WithHeaders({{"cookie", "a=1; idsync_session=s1 ;b=2"}});
  EXPECT_EQ(SessionIdOf(plain, ""), "s1");
  // Over TLS only the __Host- cookie counts: a plain one could have been set by a sibling host
  // or over HTTP.
  Request tls = WithHeaders({{"cookie", "idsync_session=s1"}}, true);
  EXPECT_FALSE(SessionIdOf(tls, ""));
  tls.headers = {{"cookie", "__Host-idsync_session=s2"}};
  EXPECT_EQ(SessionIdOf(tls, ""), "s2");
  EXPECT_FALSE(SessionIdOf(WithHeaders({{"cookie", "idsync_session="}}), ""));
  EXPECT_FALSE(SessionIdOf(WithHeaders({{"cookie", "xidsync_session=s"}}), ""));
}

TEST(SameOrigin, OriginMustBeTheRequestsOwnOrThePublicUrl) {
  EXPECT_TRUE(SameOrigin(
      WithHeaders({{"host", "127.0.0.1:8080"}, {"origin", "http://127.0.0.1:8080"}}), ""));
  EXPECT_FALSE(
      SameOrigin(WithHeaders({{"host", "127.0.0.1:8080"}, {"origin", "http://evil.example"}}), ""));
  // Same host, other scheme or port: another origin.
  EXPECT_FALSE(SameOrigin(
      WithHeaders({{"host", "127.0.0.1:8080"}, {"origin", "https://127.0.0.1:8080"}}), ""));
  EXPECT_FALSE(SameOrigin(
      WithHeaders({{"host", "127.0.0.1:8080"}, {"origin", "http://127.0.0.1:8081"}}), ""));
  EXPECT_TRUE(
      SameOrigin(WithHeaders({{"host", "10.0.0.5:8080"}, {"origin", "https://idsync.example.com"}}),
                 "https://idsync.example.com/"));
  // "null" (sandboxed frames, some redirects) is never ours.
  EXPECT_FALSE(SameOrigin(WithHeaders({{"host", "127.0.0.1:8080"}, {"origin", "null"}}), ""));
}

TEST(SameOrigin, WithoutOriginOnlySecFetchSiteSameOriginPasses) {
  EXPECT_TRUE(SameOrigin(WithHeaders({{"sec-fetch-site", "same-origin"}}), ""));
  EXPECT_FALSE(SameOrigin(WithHeaders({{"sec-fetch-site", "same-site"}}), ""));
  EXPECT_FALSE(SameOrigin(WithHeaders({{"sec-fetch-site", "cross-site"}}), ""));
  EXPECT_FALSE(SameOrigin(WithHeaders({}), ""));
}

TEST(SecurityHeaders, CspAllowsNoInlineCodeAndNoFraming) {
  Response r;
  AddSecurityHeaders(r);
  std::string csp;
  for (const auto& [name, value] : r.headers) {
    if (name == "Content-Security-Policy") csp = value;
  }
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos);
}

}  // namespace
}  // namespace idsync::http::console
