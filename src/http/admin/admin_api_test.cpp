#include "http/admin/admin_api.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "base/json.h"

namespace idsync::http {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every "$ref" in `node` names something that exists in `doc`.
void CheckRefs(const Json& doc, const Json& node, std::set<std::string>& seen) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it.key() == "$ref" && it->is_string()) {
        std::string ref = it->get<std::string>();
        ASSERT_EQ(ref.rfind("#/", 0), 0u) << ref;
        EXPECT_TRUE(doc.contains(Json::json_pointer(ref.substr(1)))) << ref;
        seen.insert(ref);
      } else {
        CheckRefs(doc, *it, seen);
      }
    }
  } else if (node.is_array()) {
    for (const auto& v : node) CheckRefs(doc, v, seen);
  }
}

TEST(AdminOpenApi, EmbeddedDocumentIsTheRepositoryFileByteForByte) {
  EXPECT_EQ(AdminOpenApiDocument(), ReadFile(IDSYNC_OPENAPI_JSON_PATH));
}

TEST(AdminOpenApi, IsStrictJsonWithResolvableReferences) {
  auto doc = ParseJsonStrict(AdminOpenApiDocument());
  ASSERT_TRUE(doc) << doc.error().detail;
  EXPECT_EQ((*doc)["openapi"], "3.1.0");
  std::set<std::string> seen;
  CheckRefs(*doc, *doc, seen);
  // Every component is used by some path (an unused schema is a sign of a stale document).
  for (const char* kind : {"schemas", "parameters", "responses"}) {
    for (auto it = (*doc)["components"][kind].begin(); it != (*doc)["components"][kind].end();
         ++it) {
      EXPECT_TRUE(seen.count(std::string("#/components/") + kind + "/" + it.key()))
          << kind << "/" << it.key() << " is never referenced";
    }
  }
}

TEST(AdminApi, MatchesOnlyItsPrefix) {
  EXPECT_TRUE(AdminApi::Matches("/api/v1"));
  EXPECT_TRUE(AdminApi::Matches("/api/v1/"));
  EXPECT_TRUE(AdminApi::Matches("/api/v1/connections"));
  EXPECT_FALSE(AdminApi::Matches("/api/v10"));
  EXPECT_FALSE(AdminApi::Matches("/api"));
  EXPECT_FALSE(AdminApi::Matches("/scim/v2/Users"));
}

}  // namespace
}  // namespace idsync::http
