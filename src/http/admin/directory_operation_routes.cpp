// The admin API's operations on an effective directory, the same DirectoryService calls as
// `idsync membership`, `idsync rederive` and `idsync changes`:
//   POST /api/v1/directories/{name}/memberships/grant  {user, group}  200, the user explained
//   POST /api/v1/directories/{name}/memberships/revoke {user, group}  200, the user explained
//   POST /api/v1/directories/{name}/rederive                          200, what changed
//   GET  /api/v1/directories/{name}/changes?since=N&limit=M           a page of the change feed
// User and group travel in the body, not the path: group names hold spaces, slashes and any
// other character an identity provider allows.
// The change feed here is one page, never a long poll (an administrator's view, as the CLI's);
// applications follow it with the read API (/directory/v2/{name}/changes?wait=), which admin
// tokens may read and which bounds the number of waiting requests.
#include <algorithm>

#include "http/admin/admin_api.h"
#include "http/admin/admin_call.h"

namespace idsync::http {

using admin_detail::ErrorResponse;
using admin_detail::ParseObjectBody;
using admin_detail::QueryInt;
using admin_detail::Reply;
using admin_detail::StringField;

namespace {

// As the read API's page (directory_api.cpp kMaxChangesPerPage) and `idsync changes --limit`'s
// default.
constexpr int64_t kMaxChangesPerPage = 1000;

}  // namespace

Response AdminApi::DirectoryOperationRoutes(Call& call, const std::string& directory) {
  const Request& req = call.req;
  const auto& seg = call.seg;
  const std::string& method = req.method;

  if (seg.size() == 4 && seg[2] == "memberships" && (seg[3] == "grant" || seg[3] == "revoke")) {
    const bool grant = seg[3] == "grant";
    const std::string route = grant ? "admin.memberships.grant" : "admin.memberships.revoke";
    if (method != "POST") return call.MethodNotAllowed("POST", route);
    auto body = ParseObjectBody(req, {"user", "group"});
    if (!body) return ErrorResponse(body.error(), route);
    auto user = StringField(*body, "user", true);
    if (!user) return ErrorResponse(user.error(), route);
    auto group = StringField(*body, "group", true);
    if (!group) return ErrorResponse(group.error(), route);
    if (user->empty())
      return ErrorResponse(Error{ErrorCode::kInvalidValue, "user: required"}, route);
    auto explained = grant ? directory_.GrantMembership(directory, *user, *group, call.actor)
                           : directory_.RevokeMembership(directory, *user, *group, call.actor);
    if (!explained) return ErrorResponse(explained.error(), route);
    return Reply(200, *explained, route);
  }

  if (seg.size() == 3 && seg[2] == "rederive") {
    const std::string route = "admin.rederive";
    if (method != "POST") return call.MethodNotAllowed("POST", route);
    auto body = ParseObjectBody(req, {}, /*optional=*/true);  // none expected; {} tolerated
    if (!body) return ErrorResponse(body.error(), route);
    auto result = directory_.Rederive(directory, call.actor);
    if (!result) return ErrorResponse(result.error(), route);
    return Reply(200, *result, route);
  }

  if (seg.size() == 3 && seg[2] == "changes") {
    const std::string route = "admin.changes";
    if (method != "GET") return call.MethodNotAllowed("GET", route);
    auto since = QueryInt(req, "since", 0, 0, INT64_MAX);
    if (!since) return ErrorResponse(since.error(), route);
    auto limit = QueryInt(req, "limit", kMaxChangesPerPage, 1, kMaxChangesPerPage);
    if (!limit) return ErrorResponse(limit.error(), route);
    // ?user=ID: that user's changes and its memberships' only (the console's Activity).
    const std::string user(req.Query("user").value_or(""));
    Result<std::vector<store::ChangeRecord>> changes = std::vector<store::ChangeRecord>{};
    if (user.empty()) {
      changes = directory_.Changes(directory, *since, *limit, std::chrono::milliseconds(0));
    } else {
      Status read = store_.Read([&](store::Transaction& tx) -> Status {
        if (auto d = tx.GetDirectory(directory); !d) {
          if (d.error().code != ErrorCode::kNotFound) return d.error();
          return MakeError(ErrorCode::kNotFound, "no directory named \"" + directory + "\"");
        }
        changes = tx.ListChangesOf(directory, user, *since, *limit);
        return Status::Ok();
      });
      if (!read) return ErrorResponse(read.error(), route);
    }
    if (!changes) return ErrorResponse(changes.error(), route);
    int64_t last = 0;
    Status st = store_.Read([&](store::Transaction& tx) -> Status {
      auto seq = tx.LastChangeSeq(directory);
      if (!seq) return seq.error();
      last = *seq;
      return Status::Ok();
    });
    if (!st) return ErrorResponse(st.error(), route);
    Json list = Json::array();
    int64_t next = *since;
    for (const auto& c : *changes) {
      list.push_back(directory::ChangeToJson(c));
      next = std::max(next, c.seq);
    }
    // A filtered page that is not full has read the rest of the feed: the client is caught up.
    if (!user.empty() && static_cast<int64_t>(changes->size()) < *limit) next = std::max(next, last);
    // As the read API: `last` is read after the page, so the client is caught up when
    // next == last, and passes `next` as the next request's `since`.
    return Reply(200,
                 Json{{"directory", directory},
                      {"changes", std::move(list)},
                      {"next", next},
                      {"last", std::max(last, next)}},
                 route);
  }
  return call.NotFound();
}

}  // namespace idsync::http
