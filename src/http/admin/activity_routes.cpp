// The admin API's activity route (the console's Overview, issue #12):
//   GET /api/v1/connections/{name}/activity?hours=24
// One bucket per hour of the window (oldest first, empty hours included): requests and errors
// from the connection's audit records, and the change-feed entries of its directory; with the
// window's totals, the connection's last request (newest audit record) and its last sync run.
// Everything is derived from the store (store::ConsoleArea::ActivityByHour), so the counts
// cover every process writing to the data folder and survive restarts.
#include "base/time.h"
#include "http/admin/admin_api.h"
#include "http/admin/admin_call.h"

namespace idsync::http {

using admin_detail::ErrorResponse;
using admin_detail::QueryInt;
using admin_detail::Reply;

namespace {

constexpr int64_t kHourMs = 3600000;

Json TimeOrNullJson(const std::optional<TimePoint>& t) {
  return t ? Json(FormatRfc3339(*t)) : Json(nullptr);
}

}  // namespace

Response AdminApi::ActivityRoute(Call& call, const std::string& name) {
  const std::string route = "admin.connections.activity";
  if (call.req.method != "GET") return call.MethodNotAllowed("GET", route);
  auto hours = QueryInt(call.req, "hours", 24, 1, 168);
  if (!hours) return ErrorResponse(hours.error(), route);
  auto connection = connections_.Get(name);
  if (!connection) return ErrorResponse(connection.error(), route);

  const int64_t now_ms = ToUnixMillis(SystemClock::Instance().Now());
  // Whole hours: the current one and the `hours - 1` before it.
  const int64_t first_hour = (now_ms / kHourMs - (*hours - 1)) * kHourMs;
  Json j{{"connection", connection->name},
         {"directory", connection->directory},
         {"hours", *hours},
         {"since", FormatRfc3339(FromUnixMillis(first_hour))}};
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto activity =
        tx.Console().ActivityByHour(connection->id, connection->directory, FromUnixMillis(first_hour));
    if (!activity) return activity.error();
    Json buckets = Json::array();
    int64_t requests = 0, errors = 0, changes = 0;
    size_t next = 0;
    for (int64_t hour = first_hour; hour <= now_ms; hour += kHourMs) {
      store::HourlyActivity h;
      h.hour = hour;
      if (next < activity->size() && (*activity)[next].hour == hour) h = (*activity)[next++];
      requests += h.requests;
      errors += h.errors;
      changes += h.changes;
      buckets.push_back({{"hour", FormatRfc3339(FromUnixMillis(hour))},
                         {"requests", h.requests},
                         {"errors", h.errors},
                         {"changes", h.changes}});
    }
    j["buckets"] = std::move(buckets);
    j["totals"] = {{"requests", requests}, {"errors", errors}, {"changes", changes}};
    auto last = tx.Console().LastAuditTime(connection->id);
    if (!last) return last.error();
    j["last_request"] = TimeOrNullJson(*last);
    auto runs = tx.ListSyncRuns(connection->id, 1);
    if (!runs) return runs.error();
    if (runs->empty()) {
      j["last_sync"] = nullptr;
    } else {
      const auto& r = runs->front();
      j["last_sync"] = {{"started", FormatRfc3339(r.started)},
                        {"ended", TimeOrNullJson(r.ended)},
                        {"outcome", r.outcome}};
    }
    return Status::Ok();
  });
  if (!st) return ErrorResponse(st.error(), route);
  return Reply(200, j, route);
}

}  // namespace idsync::http
