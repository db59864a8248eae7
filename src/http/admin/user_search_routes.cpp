// The admin API's user search (the console's directory explorer, issue #12):
//   GET /api/v1/directories/{directory}/user-search?name=&email=&group=&state=&count=&after=
// Every criterion is optional and they combine with AND: name is a username prefix, email an
// e-mail prefix (both ignore case), group an exact group name, state active|disabled. The store
// reads one index for the most selective criterion and checks the others row by row
// (store::EffectiveUserArea::SearchEffectiveUsers), so a search costs the size of one index
// range, not the directory's. Pages are keyset: `next` is the cursor of the following page
// (null on the last one), passed back as `after` with the same criteria. No total is counted:
// that would read every match.
#include <set>
#include <string>

#include "base/strings.h"
#include "directory/reader.h"
#include "directory/render.h"
#include "http/admin/admin_api.h"
#include "http/admin/admin_call.h"

namespace idsync::http {

using admin_detail::ErrorResponse;
using admin_detail::QueryInt;
using admin_detail::Reply;

namespace {

const char* IndexName(store::UserSearchIndex index) {
  switch (index) {
    case store::UserSearchIndex::kUsername: return "userName";
    case store::UserSearchIndex::kMail: return "email";
    case store::UserSearchIndex::kGroup: return "group";
    case store::UserSearchIndex::kState: return "state";
  }
  return "userName";
}

}  // namespace

Response AdminApi::UserSearchRoute(Call& call, const std::string& directory) {
  const std::string route = "admin.users.search";
  const Request& req = call.req;
  if (req.method != "GET") return call.MethodNotAllowed("GET", route);
  static const std::set<std::string> kKnown = {"name", "email", "group", "state", "count", "after"};
  for (const auto& [key, value] : req.query) {
    if (!kKnown.count(key)) {
      return ErrorResponse(400, "invalid_value",
                           "unknown parameter \"" + key +
                               "\"; use name, email, group, state, count or after",
                           route);
    }
  }
  auto text = [&](std::string_view name) { return std::string(req.Query(name).value_or("")); };
  store::EffectiveUserSearch search;
  search.username_prefix = FoldCase(text("name"));
  search.mail_prefix = FoldCase(text("email"));
  search.state = text("state");
  search.after = text("after");
  if (!search.state.empty() && search.state != "active" && search.state != "disabled") {
    return ErrorResponse(400, "invalid_value",
                         "state: \"" + search.state + "\" is not active or disabled", route);
  }
  auto count = QueryInt(req, "count", 25, 1, 200);
  if (!count) return ErrorResponse(count.error(), route);
  search.limit = *count;
  auto registry = reader_->RegistryFor(directory);  // kNotFound for an unknown directory
  if (!registry) return ErrorResponse(registry.error(), route);

  const std::string group = text("group");
  Json users = Json::array();
  std::string next;
  store::UserSearchIndex index = store::UserSearchIndex::kUsername;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    if (!group.empty()) {
      auto found = tx.FindEffectiveGroupByName(directory, FoldCase(group));
      if (!found) {
        if (found.error().code != ErrorCode::kNotFound) return found.error();
        return MakeError(ErrorCode::kInvalidValue,
                         "group: no group named \"" + group + "\" in directory " + directory);
      }
      search.group_id = found->id;
    }
    auto page = tx.SearchEffectiveUsers(directory, search);
    if (!page) return page.error();
    for (const auto& row : page->users) users.push_back(directory::RenderUserCore(row));
    next = page->next;
    index = page->index;
    return Status::Ok();
  });
  if (!st) return ErrorResponse(st.error(), route);
  return Reply(200,
               Json{{"directory", directory},
                    {"index", IndexName(index)},
                    {"users", std::move(users)},
                    {"next", next.empty() ? Json(nullptr) : Json(next)}},
               route);
}

}  // namespace idsync::http
