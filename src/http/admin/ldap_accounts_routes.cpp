// The admin API's LDAP server routes (issue #10):
//   GET  /api/v1/ldap-accounts                   list (never passwords)
//   POST /api/v1/ldap-accounts {name, directory}  201, with the password shown this once
//   DELETE /api/v1/ldap-accounts/{name}           204
//   POST /api/v1/ldap-accounts/{name}/rotate      200, with the new password
//   GET|PUT /api/v1/directories/{name}/ldap       the directory's LDAP settings (full form)
#include "base/time.h"
#include "http/admin/admin_api.h"
#include "http/admin/admin_call.h"
#include "ldap/config/settings.h"
#include "service/ldap_settings.h"

namespace idsync::http {

using admin_detail::ErrorResponse;
using admin_detail::NoContent;
using admin_detail::ParseBody;
using admin_detail::ParseObjectBody;
using admin_detail::Reply;
using admin_detail::StringField;

namespace {

Json AccountJson(const store::LdapAccount& a, const std::string& suffix) {
  return {{"name", a.name},
          {"directory", a.directory},
          {"bind_dn", service::LdapAccounts::BindDn(a.name, suffix)},
          {"created", FormatRfc3339(a.created)},
          {"rotated", FormatRfc3339(a.rotated)}};
}

Json WithPassword(const service::NewLdapPassword& made, const std::string& suffix) {
  Json j = AccountJson(made.account, suffix);
  j["password"] = made.password;
  return j;
}

}  // namespace

Response AdminApi::LdapAccountRoutes(Call& call) {
  const Request& req = call.req;
  const auto& seg = call.seg;
  const std::string& method = req.method;
  const std::string& actor = call.actor.name;

  if (seg.size() == 1) {
    if (method == "GET") {
      const std::string route = "admin.ldap_accounts.list";
      auto all = ldap_accounts_->List();
      if (!all) return ErrorResponse(all.error(), route);
      Json list = Json::array();
      for (const auto& a : *all) list.push_back(AccountJson(a, ldap_suffix_));
      return Reply(200, Json{{"ldap_accounts", std::move(list)}}, route);
    }
    if (method == "POST") {
      const std::string route = "admin.ldap_accounts.create";
      auto body = ParseObjectBody(req, {"name", "directory"});
      if (!body) return ErrorResponse(body.error(), route);
      auto name = StringField(*body, "name", true);
      if (!name) return ErrorResponse(name.error(), route);
      auto directory = StringField(*body, "directory", true);
      if (!directory) return ErrorResponse(directory.error(), route);
      auto made = ldap_accounts_->Add(*name, *directory, actor);
      if (!made) return ErrorResponse(made.error(), route);
      Response r = Reply(201, WithPassword(*made, ldap_suffix_), route);
      r.SetHeader("Location", call.base_url + std::string(kAdminApiPrefix) + "/ldap-accounts/" +
                                  made->account.name);
      // The password is in this body only: no cache may keep it.
      r.SetHeader("Cache-Control", "no-store");
      return r;
    }
    return call.MethodNotAllowed("GET, POST", "admin.ldap_accounts");
  }

  const std::string name(seg[1]);
  if (seg.size() == 2) {
    const std::string route = "admin.ldap_accounts.remove";
    if (method != "DELETE") return call.MethodNotAllowed("DELETE", route);
    Status st = ldap_accounts_->Remove(name, actor);
    if (!st) return ErrorResponse(st.error(), route);
    return NoContent(route);
  }
  if (seg.size() == 3 && seg[2] == "rotate") {
    const std::string route = "admin.ldap_accounts.rotate";
    if (method != "POST") return call.MethodNotAllowed("POST", route);
    // No body is expected; one that is sent must be an empty object.
    auto body = ParseObjectBody(req, {}, /*optional=*/true);
    if (!body) return ErrorResponse(body.error(), route);
    auto made = ldap_accounts_->Rotate(name, actor);
    if (!made) return ErrorResponse(made.error(), route);
    Response r = Reply(200, WithPassword(*made, ldap_suffix_), route);
    r.SetHeader("Cache-Control", "no-store");
    return r;
  }
  return call.NotFound();
}

Response AdminApi::DirectoryLdapRoutes(Call& call, const std::string& directory) {
  const Request& req = call.req;
  if (req.method == "GET") {
    const std::string route = "admin.directory_ldap.get";
    auto settings = service::GetLdapSettings(store_, directory);
    if (!settings) return ErrorResponse(settings.error(), route);
    return Reply(200, ldap::DirectorySettingsToJson(*settings), route);
  }
  if (req.method == "PUT") {
    const std::string route = "admin.directory_ldap.set";
    auto body = ParseBody(req);
    if (!body) return ErrorResponse(body.error(), route);
    auto stored = service::PutLdapSettings(store_, SystemClock::Instance(), directory, *body,
                                           call.actor.name);
    if (!stored) return ErrorResponse(stored.error(), route);
    return Reply(200, ldap::DirectorySettingsToJson(*stored), route);
  }
  return call.MethodNotAllowed("GET, PUT", "admin.directory_ldap");
}

}  // namespace idsync::http
