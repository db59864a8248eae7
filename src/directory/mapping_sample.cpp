// DirectoryService::SampleMapping: the Policy page's live mapping preview. One source user of
// the connection through a draft policy, with the same policy::MapUser call derivation makes
// (derivation.cpp SourceFromBody: the stored body plus "id"), so the preview cannot drift from
// what Apply would store. Result:
//   {"connection", "directory",
//    "candidates": [{"id", "name"}],            // the connection's first source users
//    "source_user": {"id", "name"} | null,      // null: the connection has no users yet
//    "attributes": [{"name", "value", "source", "rule"}],  // in attribute-name order
//    "warnings": ["..."],
//    "error": "..." | null}                     // no username: the user would not be imported
#include <string>

#include "base/strings.h"
#include "directory/directory_service.h"
#include "directory/scope.h"
#include "policy/mapping.h"
#include "policy/policy.h"

namespace idsync::directory {

namespace {

// The name an administrator knows a source user by: userName (SCIM) or the first value of the
// connection's username attribute (LDAP), as derivation's SourceNameOf reads it.
std::string SourceName(const store::Connection& c, const Json& body) {
  if (c.kind != "ldap") {
    auto it = body.find("userName");
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  }
  std::string attr = c.settings.is_object() ? c.settings.value("username_attribute", "") : "";
  if (attr.empty()) attr = policy::PolicyContext{}.ldap_username_attribute;
  for (const auto& [name, v] : body.items()) {
    if (!EqualsIgnoreAsciiCase(name, attr)) continue;
    const Json& value = v.is_array() && !v.empty() ? v.front() : v;
    return value.is_string() ? value.get<std::string>() : std::string();
  }
  return "";
}

}  // namespace

Result<Json> DirectoryService::SampleMapping(const std::string& connection, const Json& policy,
                                             const std::string& source_user_id,
                                             int64_t max_candidates) {
  Json out;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto conn = tx.GetConnectionByName(connection);
    if (!conn) {
      if (conn.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound, "no connection named \"" + connection + "\"");
      }
      return conn.error();
    }
    auto dir = tx.GetDirectory(conn->directory);
    if (!dir) return dir.error();
    auto custom = impl_->Custom(*dir, impl_->SeesCommittedConfig(tx));
    if (!custom) return custom.error();
    auto parsed = policy::ParsePolicy(policy, Impl::ContextOf(*conn, **custom));
    if (!parsed) return parsed.error();

    auto first = tx.ListResources(conn->id, scim::ResourceType::kUser, 0, max_candidates);
    if (!first) return first.error();
    Json candidates = Json::array();
    for (const auto& r : *first) {
      candidates.push_back({{"id", r.id}, {"name", SourceName(*conn, r.body)}});
    }
    out = Json{{"connection", conn->name},
               {"directory", conn->directory},
               {"candidates", std::move(candidates)},
               {"source_user", nullptr},
               {"attributes", Json::array()},
               {"warnings", Json::array()},
               {"error", nullptr}};
    store::StoredResource source;
    if (!source_user_id.empty()) {
      auto got = tx.GetResource(conn->id, scim::ResourceType::kUser, source_user_id);
      if (!got) {
        if (got.error().code == ErrorCode::kNotFound) {
          return MakeError(ErrorCode::kNotFound, "no source user \"" + source_user_id +
                                                     "\" in connection \"" + connection + "\"");
        }
        return got.error();
      }
      source = std::move(*got);
    } else if (!first->empty()) {
      source = first->front();
    } else {
      return Status::Ok();  // no users yet: nothing to map
    }
    out["source_user"] = {{"id", source.id}, {"name", SourceName(*conn, source.body)}};
    Json body = source.body;
    body["id"] = source.id;
    auto values = policy::MapUser(*parsed, body, **custom);
    if (!values) {
      out["error"] = values.error().detail;
      return Status::Ok();
    }
    for (const auto& [name, v] : values->values) {
      out["attributes"].push_back(
          {{"name", name}, {"value", v.value}, {"source", v.source}, {"rule", v.rule}});
    }
    for (const auto& w : values->warnings) out["warnings"].push_back(w);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

}  // namespace idsync::directory
