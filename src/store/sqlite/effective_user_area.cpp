// SqliteTransaction's share of store/effective_user_area.h (effective users) over one SQLite
// connection. Its statements are in queries.h.
#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

Result<EffectiveUserRow> SqliteTransaction::GetEffectiveUser(const std::string& directory,
                                                             const std::string& id) {
  auto select = db_.Prepare(sql::kGetEffectiveUser);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, id);
  auto found = OneRow<EffectiveUserRow>(*select, "reading an effective user", ReadEUser());
  if (!found) return found.error();
  if (!*found) return NoEffective("user", directory, id);
  return std::move(**found);
}

Result<EffectiveUserRow> SqliteTransaction::FindEffectiveUserByUsername(
    const std::string& directory, const std::string& username_key) {
  auto select = db_.Prepare(sql::kFindEffectiveUserByUsername);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, username_key);
  auto found = OneRow<EffectiveUserRow>(*select, "reading an effective user", ReadEUser());
  if (!found) return found.error();
  if (!*found) {
    return MakeError(ErrorCode::kNotFound,
                     "no user named \"" + username_key + "\" in directory " + directory);
  }
  return std::move(**found);
}

Result<std::vector<EffectiveUserRow>> SqliteTransaction::FindEffectiveUsersByLinkKey(
    const std::string& directory, const std::string& link_key) {
  if (link_key.empty()) return std::vector<EffectiveUserRow>{};  // "" is no link key
  auto select = db_.Prepare(sql::kFindEffectiveUsersByLinkKey);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, link_key);
  return Rows<EffectiveUserRow>(*select, "searching effective users", ReadEUser());
}

Result<EffectiveUserRow> SqliteTransaction::PutEffectiveUser(const EffectiveUserRow& row) {
  if (auto w = CheckWritable(); !w) return w.error();
  std::optional<std::pair<int64_t, EffectiveUserRow>> existing;
  {
    auto select = db_.Prepare(sql::kGetEffectiveUser);
    if (!select) return select.error();
    select->Bind(1, row.directory).Bind(2, row.id);
    auto found = OneRow<EffectiveUserRow>(*select, "reading an effective user", ReadEUser());
    if (!found) return found.error();
    if (*found) existing.emplace(select->Int(0), std::move(**found));
  }
  std::optional<std::string> link_key;
  if (!row.link_key.empty()) link_key = row.link_key;
  auto taken = [&](const Error& error) -> Error {
    if (error.code != ErrorCode::kUniqueness) return error;
    return MakeError(ErrorCode::kUniqueness,
                     "username \"" + row.username + "\" is taken in directory " + row.directory);
  };
  EffectiveUserRow stored = row;
  if (existing) {
    auto update = db_.Prepare(sql::kUpdateEffectiveUser);
    if (!update) return update.error();
    update->Bind(1, existing->first)
        .Bind(2, row.username)
        .Bind(3, row.username_key)
        .Bind(4, link_key)
        .Bind(5, row.state)
        .Bind(7, ToUnixMillis(row.last_modified))
        .Bind(8, row.mail_key);
    codec_.Bind(*update, 6, BodyKind::kEffectiveUser, DumpJson(row.body));
    if (auto ran = update->Run("updating an effective user"); !ran) return taken(ran.error());
    stored.version = existing->second.version + 1;
    stored.created = existing->second.created;
  } else {
    auto insert = db_.Prepare(sql::kInsertEffectiveUser);
    if (!insert) return insert.error();
    insert->Bind(1, row.directory)
        .Bind(2, row.id)
        .Bind(3, row.username)
        .Bind(4, row.username_key)
        .Bind(5, link_key)
        .Bind(6, row.state)
        .Bind(8, ToUnixMillis(row.created))
        .Bind(9, ToUnixMillis(row.last_modified))
        .Bind(10, row.mail_key);
    codec_.Bind(*insert, 7, BodyKind::kEffectiveUser, DumpJson(row.body));
    if (auto ran = insert->Run("adding an effective user"); !ran) return taken(ran.error());
    stored.version = 1;
    stored.created = Stored(row.created);
  }
  stored.last_modified = Stored(row.last_modified);
  return stored;
}

Status SqliteTransaction::DeleteEffectiveUser(const std::string& directory, const std::string& id) {
  if (auto w = CheckWritable(); !w) return w;
  auto pk = EffectiveUserPk(directory, id);
  if (!pk) return pk.error();
  // The groups the user leaves change too; bump them before the membership rows go.
  {
    auto touch = db_.Prepare(sql::kTouchEffectiveGroupsOfUser);
    if (!touch) return touch.error();
    touch->Bind(1, *pk).Bind(2, ToUnixMillis(clock_.Now()));
    if (auto ran = touch->Run("deleting an effective user"); !ran) return ran;
  }
  // Explicit rather than through ON DELETE CASCADE, so this does not depend on the
  // foreign_keys pragma of the connection.
  {
    auto unlink = db_.Prepare(sql::kDeleteEffectiveMembershipsOfUser);
    if (!unlink) return unlink.error();
    unlink->Bind(1, *pk);
    if (auto ran = unlink->Run("deleting an effective user"); !ran) return ran;
  }
  {
    auto links = db_.Prepare(sql::kDeleteLinksOfUser);
    if (!links) return links.error();
    links->Bind(1, directory).Bind(2, id);
    if (auto ran = links->Run("deleting an effective user"); !ran) return ran;
  }
  auto remove = db_.Prepare(sql::kDeleteEffectiveUser);
  if (!remove) return remove.error();
  remove->Bind(1, *pk);
  return remove->Run("deleting an effective user");
}

Result<int64_t> SqliteTransaction::CountEffectiveUsers(const std::string& directory) {
  return CountEffective(directory, 0);
}

Result<std::vector<EffectiveUserRow>> SqliteTransaction::ListEffectiveUsers(
    const std::string& directory, int64_t offset, int64_t limit) {
  auto select = db_.Prepare(sql::kListEffectiveUsers);
  if (!select) return select.error();
  select->Bind(1, directory)
      .Bind(2, std::max<int64_t>(offset, 0))
      .Bind(3, std::max<int64_t>(limit, 0));
  return Rows<EffectiveUserRow>(*select, "listing effective users", ReadEUser());
}

Result<std::vector<std::pair<int64_t, EffectiveUserRow>>> SqliteTransaction::EffectiveUsersAfter(
    const std::string& directory, int64_t after, int64_t limit) {
  auto select = db_.Prepare(sql::kScanEffectiveUsers);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, after).Bind(3, std::max<int64_t>(limit, 0));
  std::vector<std::pair<int64_t, EffectiveUserRow>> out;
  auto reader = ReadEUser();
  auto listed = ForEachRow(*select, "reading effective users", [&](const Statement& row) -> Status {
    auto value = reader(row);
    if (!value) return value.error();
    out.emplace_back(row.Int(0), std::move(*value));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Status SqliteTransaction::ScanEffectiveUsers(
    const std::string& directory, const std::function<bool(const EffectiveUserRow&)>& visit) {
  return ScanByPk<EffectiveUserRow>(sql::kScanEffectiveUsers, directory, "reading effective users",
                                    ReadEUser(), visit);
}

}  // namespace idsync::store::sqlite
