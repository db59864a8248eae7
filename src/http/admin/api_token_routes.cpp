// The admin API's routes for admin and read API tokens (`idsync admin-token` and
// `idsync read-token`; service::ApiTokens, the same calls as the CLI):
//   GET    /api/v1/api-tokens                             list (never secrets)
//   POST   /api/v1/api-tokens {name, kind, directory?}    201, with the token shown this once
//   DELETE /api/v1/api-tokens/{name}                      204; the token stops working at once
// Connection (SCIM) tokens are not here: they belong to a connection
// (/connections/{name}/rotate-token).
#include "base/time.h"
#include "http/admin/admin_api.h"
#include "http/admin/admin_call.h"

namespace idsync::http {

using admin_detail::ErrorResponse;
using admin_detail::NoContent;
using admin_detail::ParseObjectBody;
using admin_detail::Reply;
using admin_detail::StringField;

namespace {

Json TokenJson(const store::ApiToken& t) {
  return {{"name", t.name},
          {"kind", t.kind},
          {"directory", t.directory},  // "" for admin tokens, as `admin-token list --json`
          {"created", FormatRfc3339(t.created)}};
}

}  // namespace

Response AdminApi::ApiTokenRoutes(Call& call) {
  const Request& req = call.req;
  const auto& seg = call.seg;
  const std::string& method = req.method;

  if (seg.size() == 1) {
    if (method == "GET") {
      const std::string route = "admin.api_tokens.list";
      auto all = tokens_.List();
      if (!all) return ErrorResponse(all.error(), route);
      Json list = Json::array();
      for (const auto& t : *all) list.push_back(TokenJson(t));
      return Reply(200, Json{{"api_tokens", std::move(list)}}, route);
    }
    if (method == "POST") {
      const std::string route = "admin.api_tokens.create";
      auto body = ParseObjectBody(req, {"name", "kind", "directory"});
      if (!body) return ErrorResponse(body.error(), route);
      auto name = StringField(*body, "name", true);
      if (!name) return ErrorResponse(name.error(), route);
      auto kind = StringField(*body, "kind", true);
      if (!kind) return ErrorResponse(kind.error(), route);
      auto directory = StringField(*body, "directory", false);
      if (!directory) return ErrorResponse(directory.error(), route);
      auto made = tokens_.Add(*name, *kind, *directory, call.actor.name);
      if (!made) return ErrorResponse(made.error(), route);
      Json j = TokenJson(made->token);
      j["token"] = made->secret;
      Response r = Reply(201, j, route);
      r.SetHeader("Location",
                  call.base_url + std::string(kAdminApiPrefix) + "/api-tokens/" + made->token.name);
      // The secret is in this body only: no cache may keep it.
      r.SetHeader("Cache-Control", "no-store");
      return r;
    }
    return call.MethodNotAllowed("GET, POST", "admin.api_tokens");
  }
  if (seg.size() == 2) {
    const std::string route = "admin.api_tokens.remove";
    if (method != "DELETE") return call.MethodNotAllowed("DELETE", route);
    Status st = tokens_.Remove(std::string(seg[1]), call.actor.name);
    if (!st) return ErrorResponse(st.error(), route);
    return NoContent(route);
  }
  return call.NotFound();
}

}  // namespace idsync::http
