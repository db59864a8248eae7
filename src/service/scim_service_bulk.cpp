// ScimService::Bulk (RFC 7644 §3.7): operations in order, bulkId references resolved.
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/strings.h"
#include "service/scim_service.h"
#include "service/scim_service_internal.h"

namespace idsync::service {

using scim::ResourceType;

namespace {

// Replaces every string "bulkId:<id>" in `v` using `ids`; returns the first unresolved bulkId.
std::optional<std::string> ResolveBulkIds(Json& v, const std::map<std::string, std::string>& ids) {
  std::optional<std::string> missing;
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.rfind("bulkId:", 0) == 0) {
      auto it = ids.find(s.substr(7));
      if (it == ids.end()) return s.substr(7);
      v = it->second;
    }
  } else if (v.is_array() || v.is_object()) {
    for (auto& child : v) {
      if (auto m = ResolveBulkIds(child, ids); m && !missing) missing = m;
    }
  }
  return missing;
}

}  // namespace

Result<Json> ScimService::Bulk(const CallContext& ctx, const Json& body) {
  if (!body.is_object())
    return MakeError(ErrorCode::kInvalidSyntax, "BulkRequest must be an object");
  auto ops_it = body.find("Operations");
  if (ops_it == body.end() || !ops_it->is_array()) {
    return MakeError(ErrorCode::kInvalidSyntax, "BulkRequest needs an \"Operations\" array");
  }
  const Json& ops = *ops_it;
  if (ops.size() > limits_.bulk_max_operations) {
    return MakeError(ErrorCode::kPayloadTooLarge,
                     fmt::format("BulkRequest has {} operations; the maximum is {}", ops.size(),
                                 limits_.bulk_max_operations));
  }
  int64_t fail_on_errors = 0;  // 0: process everything
  if (auto f = body.find("failOnErrors"); f != body.end()) {
    if (!f->is_number_integer() || f->get<int64_t>() < 1) {
      return MakeError(ErrorCode::kInvalidSyntax, "failOnErrors must be a positive integer");
    }
    fail_on_errors = f->get<int64_t>();
  }
  std::set<std::string> declared;
  for (const auto& op : ops) {
    if (op.is_object()) {
      if (auto b = StringAt(op, "bulkId")) declared.insert(*b);
    }
  }
  std::map<std::string, std::string> ids;  // bulkId -> created id
  std::vector<Json> results(ops.size());
  std::vector<bool> done(ops.size(), false);
  int64_t errors = 0;
  auto error_result = [&](const Json& op, const Error& e) {
    Json r = {{"method", op.is_object() ? op.value("method", "") : ""},
              {"status", std::to_string(StatusOf(e.code))}};
    if (op.is_object() && op.contains("bulkId")) r["bulkId"] = op["bulkId"];
    Json err = {{"schemas", {std::string(scim::kErrorSchema)}},
                {"status", std::to_string(StatusOf(e.code))},
                {"detail", e.detail}};
    std::string_view st = ScimTypeOf(e.code);
    if (!st.empty()) err["scimType"] = std::string(st);
    r["response"] = std::move(err);
    return r;
  };
  bool stop = false;
  // Operations run in order; one that refers to a bulkId created later waits for a later pass
  // (RFC 7644 §3.7.1 lets clients order operations freely). A pass without progress means the
  // remaining references are circular or dangling.
  for (bool progress = true; progress && !stop;) {
    progress = false;
    for (size_t i = 0; i < ops.size() && !stop; ++i) {
      if (done[i]) continue;
      const Json& op = ops[i];
      auto finish = [&](Json r, bool failed) {
        results[i] = std::move(r);
        done[i] = true;
        progress = true;
        if (failed && fail_on_errors > 0 && ++errors >= fail_on_errors) stop = true;
      };
      if (!op.is_object()) {
        finish(
            error_result(op, MakeError(ErrorCode::kInvalidSyntax, "operation must be an object")),
            true);
        continue;
      }
      std::string method = AsciiLower(op.value("method", ""));
      auto path = StringAt(op, "path");
      Json data = op.value("data", Json());
      Json path_json = path ? Json(*path) : Json();
      // Paths carry bulkIds as "/Users/bulkId:x".
      std::string path_str = path.value_or("");
      std::optional<std::string> missing;
      if (auto pos = path_str.find("bulkId:"); pos != std::string::npos) {
        std::string ref = path_str.substr(pos + 7);
        auto it = ids.find(ref);
        if (it == ids.end())
          missing = ref;
        else
          path_str = path_str.substr(0, pos) + it->second;
      }
      if (!missing) missing = ResolveBulkIds(data, ids);
      if (missing) {
        if (!declared.count(*missing)) {
          finish(error_result(op, MakeError(ErrorCode::kInvalidValue,
                                            "bulkId \"" + *missing + "\" is not defined")),
                 true);
        }
        continue;  // wait for the operation that creates it
      }
      // Parse "/Users", "/Groups", "/Users/<id>", "/Groups/<id>".
      std::optional<ResourceType> type;
      std::string id;
      std::string_view p = path_str;
      if (!p.empty() && p.front() == '/') p.remove_prefix(1);
      std::string_view head = p.substr(0, p.find('/'));
      if (head == "Users") type = ResourceType::kUser;
      if (head == "Groups") type = ResourceType::kGroup;
      if (p.find('/') != std::string_view::npos) id = std::string(p.substr(p.find('/') + 1));
      Json r = {{"method", op.value("method", "")}};
      if (op.contains("bulkId")) r["bulkId"] = op["bulkId"];
      if (!type || (method == "post") != id.empty()) {
        finish(error_result(op, MakeError(ErrorCode::kInvalidValue,
                                          "operation path \"" + path_str +
                                              "\" must be /Users or /Groups for POST and "
                                              "/Users/{id} or /Groups/{id} otherwise")),
               true);
        continue;
      }
      std::optional<std::string> version;
      if (auto v = StringAt(op, "version")) version = *v;
      if (method == "post" || method == "put" || method == "patch") {
        if (!data.is_object()) {
          finish(error_result(
                     op, MakeError(ErrorCode::kInvalidSyntax, "operation needs a \"data\" object")),
                 true);
          continue;
        }
        Result<WriteResult> w = method == "post"  ? Create(ctx, *type, data)
                                : method == "put" ? Replace(ctx, *type, id, data, version, false)
                                                  : Patch(ctx, *type, id, data, version, false);
        if (!w) {
          finish(error_result(op, w.error()), true);
          continue;
        }
        std::string new_id = (*w).resource.value("id", "");
        if (method == "post" && op.contains("bulkId") && op["bulkId"].is_string()) {
          ids[op["bulkId"].get<std::string>()] = new_id;
        }
        r["location"] = ctx.base_url + "/" + Endpoint(*type) + "/" + new_id;
        r["version"] = w->etag;
        r["status"] = method == "post" ? "201" : "200";
        finish(std::move(r), false);
      } else if (method == "delete") {
        Status d = Delete(ctx, *type, id, version);
        if (!d) {
          finish(error_result(op, d.error()), true);
          continue;
        }
        r["location"] = ctx.base_url + "/" + Endpoint(*type) + "/" + id;
        r["status"] = "204";
        finish(std::move(r), false);
      } else {
        finish(error_result(op, MakeError(ErrorCode::kInvalidValue,
                                          "method must be POST, PUT, PATCH or DELETE")),
               true);
      }
    }
  }
  Json out = {{"schemas", {std::string(scim::kBulkResponseSchema)}}, {"Operations", Json::array()}};
  for (size_t i = 0; i < ops.size(); ++i) {
    if (done[i]) {
      out["Operations"].push_back(std::move(results[i]));
    } else if (!stop) {
      out["Operations"].push_back(
          error_result(ops[i], MakeError(ErrorCode::kInvalidValue,
                                         "circular bulkId reference; the operation was not run")));
    }
  }
  return out;
}

}  // namespace idsync::service
