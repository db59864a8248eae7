#include "http/media_type.h"

#include <gtest/gtest.h>

namespace idsync::http {
namespace {

TEST(PrefersPlainJson, OnlyWhenApplicationJsonRanksAboveScimJson) {
  struct Case {
    const char* accept;
    bool plain;
  };
  const Case cases[] = {
      {"", false},
      {"*/*", false},
      {"application/*", false},
      {"application/scim+json", false},
      {"application/scim+json, application/json", false},
      {"application/json, application/scim+json", false},
      {"application/json", true},                 // OneLogin
      {"application/json; charset=utf-8", true},  // parameters other than q ignored
      {"Application/JSON", true},                 // media types are case-insensitive
      {"application/json, */*;q=0.1", true},      // scim+json only through */*, lower
      {"application/json, text/plain", true},
      {"application/scim+json;q=0.5, application/json", true},
      {"application/scim+json, application/json;q=0.9", false},
      {"application/json;q=0", false},   // q=0: "not acceptable"
      {"application/json;q=bad", true},  // a malformed q counts as 1
      {"application/json, application/*;q=0.2", true},
      {"text/html", false},  // neither: the default
  };
  for (const auto& c : cases) {
    EXPECT_EQ(PrefersPlainJson(c.accept), c.plain) << c.accept;
  }
}

Response ScimResponse() {
  Response r;
  r.body = "{}";
  r.SetHeader("Content-Type", "application/scim+json");
  return r;
}

std::string ContentTypeOf(const Response& r) {
  for (const auto& [name, value] : r.headers) {
    if (name == "Content-Type") return value;
  }
  return "";
}

TEST(NegotiateScimMediaType, RelabelsScimJsonOnlyAndKeepsTheBody) {
  Request json_client;
  json_client.headers = {{"accept", "application/json"}};
  Response r = ScimResponse();
  NegotiateScimMediaType(json_client, r);
  EXPECT_EQ(ContentTypeOf(r), "application/json");
  EXPECT_EQ(r.body, "{}");
  bool vary = false;
  for (const auto& [name, value] : r.headers) vary |= name == "Vary" && value == "Accept";
  EXPECT_TRUE(vary);

  Response text;
  text.SetHeader("Content-Type", "text/plain; charset=utf-8");
  NegotiateScimMediaType(json_client, text);
  EXPECT_EQ(ContentTypeOf(text), "text/plain; charset=utf-8");

  Request no_accept;
  Response d = ScimResponse();
  NegotiateScimMediaType(no_accept, d);
  EXPECT_EQ(ContentTypeOf(d), "application/scim+json");
}

}  // namespace
}  // namespace idsync::http
