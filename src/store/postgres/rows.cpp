#include "store/postgres/rows.h"

#include <utility>

namespace idsync::store::postgres {

Result<Json> ParseStoredJson(const std::string& text, std::string_view what) {
  Json value = idsync::ParseStoredJson(text);
  if (value.is_discarded()) {
    return MakeError(ErrorCode::kInternal, std::string(what) + " is not valid JSON");
  }
  return value;
}

Result<EffectiveUserRow> ReadEffectiveUser(const PgResult& r, int row) {
  EffectiveUserRow user;
  user.directory = r.Text(row, 1);
  user.id = r.Text(row, 2);
  user.username = r.Text(row, 3);
  user.username_key = r.Text(row, 4);
  user.link_key = r.Text(row, 5);  // NULL reads as ""
  user.state = r.Text(row, 6);
  auto body = ParseStoredJson(r.Text(row, 7), "effective user " + user.id);
  if (!body) return body.error();
  user.body = std::move(*body);
  user.version = r.Int(row, 8);
  user.created = FromUnixMillis(r.Int(row, 9));
  user.last_modified = FromUnixMillis(r.Int(row, 10));
  user.mail_key = r.Text(row, 11);  // NULL reads as ""
  return user;
}

Result<EffectiveGroupRow> ReadEffectiveGroup(const PgResult& r, int row) {
  EffectiveGroupRow group;
  group.directory = r.Text(row, 1);
  group.id = r.Text(row, 2);
  group.name = r.Text(row, 3);
  group.name_key = r.Text(row, 4);
  auto body = ParseStoredJson(r.Text(row, 5), "effective group " + group.id);
  if (!body) return body.error();
  group.body = std::move(*body);
  group.version = r.Int(row, 6);
  group.created = FromUnixMillis(r.Int(row, 7));
  group.last_modified = FromUnixMillis(r.Int(row, 8));
  return group;
}

Error NoConnectionError(int64_t id) {
  return MakeError(ErrorCode::kNotFound, "connection " + std::to_string(id) + " not found");
}

}  // namespace idsync::store::postgres
