#include "store/sqlite/rows.h"

#include <utility>

namespace idsync::store::sqlite {

Error Internal(std::string detail) {
  return MakeError(ErrorCode::kInternal, std::move(detail));
}

Result<Json> ParseStored(const std::string& text, std::string_view what) {
  Json value = ParseStoredJson(text);
  if (value.is_discarded()) return Internal(std::string(what) + " is not valid JSON");
  return value;
}

Result<EffectiveUserRow> ReadEffectiveUser(const Statement& row, const Bodies& bodies) {
  EffectiveUserRow user;
  user.directory = row.Text(1);
  user.id = row.Text(2);
  user.username = row.Text(3);
  user.username_key = row.Text(4);
  user.link_key = row.Text(5);  // NULL reads as ""
  user.state = row.Text(6);
  auto text = bodies(row, 7, "effective user " + user.id);
  if (!text) return text.error();
  auto body = ParseStored(*text, "effective user " + user.id);
  if (!body) return body.error();
  user.body = std::move(*body);
  user.version = row.Int(8);
  user.created = FromUnixMillis(row.Int(9));
  user.last_modified = FromUnixMillis(row.Int(10));
  user.mail_key = row.Text(11);  // NULL (not known yet, migration 8) reads as ""
  return user;
}

Result<EffectiveGroupRow> ReadEffectiveGroup(const Statement& row) {
  EffectiveGroupRow group;
  group.directory = row.Text(1);
  group.id = row.Text(2);
  group.name = row.Text(3);
  group.name_key = row.Text(4);
  auto body = ParseStored(row.Text(5), "effective group " + group.id);
  if (!body) return body.error();
  group.body = std::move(*body);
  group.version = row.Int(6);
  group.created = FromUnixMillis(row.Int(7));
  group.last_modified = FromUnixMillis(row.Int(8));
  return group;
}

TimePoint Stored(TimePoint t) {
  return FromUnixMillis(ToUnixMillis(t));
}

}  // namespace idsync::store::sqlite
