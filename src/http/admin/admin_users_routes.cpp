// The admin API's routes for the console's local users (issue #12):
//   GET    /api/v1/admin-users                          list (never passwords or hashes)
//   POST   /api/v1/admin-users {name, role}             201, with a one-time password shown once
//   DELETE /api/v1/admin-users/{name}                   204; the user's sessions end
//   POST   /api/v1/admin-users/{name}/reset-password    200, with a new one-time password
// The same service calls as `idsync admin-user`.
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

Json UserJson(const store::AdminUser& u) {
  return {{"name", u.name},
          {"role", u.role},
          {"must_change_password", u.must_change_password},
          {"created", FormatRfc3339(u.created)},
          {"password_changed", FormatRfc3339(u.password_changed)}};
}

Response WithPassword(int status, const service::NewAdminPassword& made, const std::string& route) {
  Json j = UserJson(made.user);
  j["password"] = made.password;
  Response r = Reply(status, j, route);
  r.SetHeader("Cache-Control", "no-store");  // the password is in the body
  return r;
}

}  // namespace

Response AdminApi::AdminUserRoutes(Call& call) {
  const Request& req = call.req;
  const auto& seg = call.seg;
  const std::string& method = req.method;
  const std::string& actor = call.actor.name;

  if (seg.size() == 1) {
    if (method == "GET") {
      const std::string route = "admin.admin_users.list";
      auto all = admin_users_->List();
      if (!all) return ErrorResponse(all.error(), route);
      Json list = Json::array();
      for (const auto& u : *all) list.push_back(UserJson(u));
      return Reply(200, Json{{"admin_users", std::move(list)}}, route);
    }
    if (method == "POST") {
      const std::string route = "admin.admin_users.create";
      auto body = ParseObjectBody(req, {"name", "role"});
      if (!body) return ErrorResponse(body.error(), route);
      auto name = StringField(*body, "name", true);
      if (!name) return ErrorResponse(name.error(), route);
      auto role = StringField(*body, "role", false);
      if (!role) return ErrorResponse(role.error(), route);
      auto made = admin_users_->Add(*name, role->empty() ? "admin" : *role, actor);
      if (!made) return ErrorResponse(made.error(), route);
      Response r = WithPassword(201, *made, route);
      r.SetHeader("Location",
                  call.base_url + std::string(kAdminApiPrefix) + "/admin-users/" + made->user.name);
      return r;
    }
    return call.MethodNotAllowed("GET, POST", "admin.admin_users");
  }

  const std::string name(seg[1]);
  if (seg.size() == 2) {
    const std::string route = "admin.admin_users.delete";
    if (method != "DELETE") return call.MethodNotAllowed("DELETE", route);
    if (Status st = admin_users_->Remove(name, actor); !st) return ErrorResponse(st.error(), route);
    return NoContent(route);
  }
  if (seg.size() == 3 && seg[2] == "reset-password") {
    const std::string route = "admin.admin_users.reset_password";
    if (method != "POST") return call.MethodNotAllowed("POST", route);
    auto made = admin_users_->ResetPassword(name, actor);
    if (!made) return ErrorResponse(made.error(), route);
    return WithPassword(200, *made, route);
  }
  return call.NotFound();
}

}  // namespace idsync::http
