// SqliteTransaction's share of store/effective_group_area.h (effective groups and their
// memberships) over one SQLite connection. Its statements are in queries.h.
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

Result<EffectiveGroupRow> SqliteTransaction::GetEffectiveGroup(const std::string& directory,
                                                               const std::string& id) {
  auto select = db_.Prepare(sql::kGetEffectiveGroup);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, id);
  auto found = OneRow<EffectiveGroupRow>(*select, "reading an effective group", ReadEffectiveGroup);
  if (!found) return found.error();
  if (!*found) return NoEffective("group", directory, id);
  return std::move(**found);
}

Result<EffectiveGroupRow> SqliteTransaction::FindEffectiveGroupByName(const std::string& directory,
                                                                      const std::string& name_key) {
  auto select = db_.Prepare(sql::kFindEffectiveGroupByName);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, name_key);
  auto found = OneRow<EffectiveGroupRow>(*select, "reading an effective group", ReadEffectiveGroup);
  if (!found) return found.error();
  if (!*found) {
    return MakeError(ErrorCode::kNotFound,
                     "no group named \"" + name_key + "\" in directory " + directory);
  }
  return std::move(**found);
}

Result<EffectiveGroupRow> SqliteTransaction::PutEffectiveGroup(const EffectiveGroupRow& row) {
  if (auto w = CheckWritable(); !w) return w.error();
  std::optional<std::pair<int64_t, EffectiveGroupRow>> existing;
  {
    auto select = db_.Prepare(sql::kGetEffectiveGroup);
    if (!select) return select.error();
    select->Bind(1, row.directory).Bind(2, row.id);
    auto found =
        OneRow<EffectiveGroupRow>(*select, "reading an effective group", ReadEffectiveGroup);
    if (!found) return found.error();
    if (*found) existing.emplace(select->Int(0), std::move(**found));
  }
  auto taken = [&](const Error& error) -> Error {
    if (error.code != ErrorCode::kUniqueness) return error;
    return MakeError(ErrorCode::kUniqueness,
                     "group \"" + row.name + "\" already exists in directory " + row.directory);
  };
  EffectiveGroupRow stored = row;
  if (existing) {
    auto update = db_.Prepare(sql::kUpdateEffectiveGroup);
    if (!update) return update.error();
    update->Bind(1, existing->first)
        .Bind(2, row.name)
        .Bind(3, row.name_key)
        .Bind(4, DumpJson(row.body))
        .Bind(5, ToUnixMillis(row.last_modified));
    if (auto ran = update->Run("updating an effective group"); !ran) return taken(ran.error());
    stored.version = existing->second.version + 1;
    stored.created = existing->second.created;
  } else {
    auto insert = db_.Prepare(sql::kInsertEffectiveGroup);
    if (!insert) return insert.error();
    insert->Bind(1, row.directory)
        .Bind(2, row.id)
        .Bind(3, row.name)
        .Bind(4, row.name_key)
        .Bind(5, DumpJson(row.body))
        .Bind(6, ToUnixMillis(row.created))
        .Bind(7, ToUnixMillis(row.last_modified));
    if (auto ran = insert->Run("adding an effective group"); !ran) return taken(ran.error());
    stored.version = 1;
    stored.created = Stored(row.created);
  }
  stored.last_modified = Stored(row.last_modified);
  return stored;
}

Status SqliteTransaction::DeleteEffectiveGroup(const std::string& directory,
                                               const std::string& id) {
  if (auto w = CheckWritable(); !w) return w;
  auto pk = EffectiveGroupPk(directory, id);
  if (!pk) return pk.error();
  {
    auto clear = db_.Prepare(sql::kDeleteEffectiveMembersOfGroup);
    if (!clear) return clear.error();
    clear->Bind(1, *pk);
    if (auto ran = clear->Run("deleting an effective group"); !ran) return ran;
  }
  auto remove = db_.Prepare(sql::kDeleteEffectiveGroup);
  if (!remove) return remove.error();
  remove->Bind(1, *pk);
  return remove->Run("deleting an effective group");
}

Status SqliteTransaction::TouchEffectiveGroup(const std::string& directory, const std::string& id,
                                              TimePoint when) {
  if (auto w = CheckWritable(); !w) return w;
  auto touch = db_.Prepare(sql::kTouchEffectiveGroup);
  if (!touch) return touch.error();
  touch->Bind(1, directory).Bind(2, id).Bind(3, ToUnixMillis(when));
  if (auto ran = touch->Run("updating an effective group"); !ran) return ran;
  if (db_.Changes() == 0) return NoEffective("group", directory, id);
  return Status::Ok();
}

Result<int64_t> SqliteTransaction::CountEffectiveGroups(const std::string& directory) {
  return CountEffective(directory, 1);
}

Result<std::vector<EffectiveGroupRow>> SqliteTransaction::ListEffectiveGroups(
    const std::string& directory, int64_t offset, int64_t limit) {
  auto select = db_.Prepare(sql::kListEffectiveGroups);
  if (!select) return select.error();
  select->Bind(1, directory)
      .Bind(2, std::max<int64_t>(offset, 0))
      .Bind(3, std::max<int64_t>(limit, 0));
  return Rows<EffectiveGroupRow>(*select, "listing effective groups", ReadEffectiveGroup);
}

Status SqliteTransaction::ScanEffectiveGroups(
    const std::string& directory, const std::function<bool(const EffectiveGroupRow&)>& visit) {
  return ScanByPk<EffectiveGroupRow>(sql::kScanEffectiveGroups, directory,
                                     "reading effective groups", ReadEffectiveGroup, visit);
}

Result<bool> SqliteTransaction::AddEffectiveMember(const std::string& directory,
                                                   const std::string& group_id,
                                                   const std::string& user_id) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto group = EffectiveGroupPk(directory, group_id);
  if (!group) return group.error();
  auto user = EffectiveUserPk(directory, user_id);
  if (!user) return user.error();
  auto insert = db_.Prepare(sql::kAddEffectiveMember);
  if (!insert) return insert.error();
  insert->Bind(1, *group).Bind(2, *user);
  if (auto ran = insert->Run("adding a member"); !ran) return ran.error();
  return db_.Changes() > 0;
}

Result<bool> SqliteTransaction::RemoveEffectiveMember(const std::string& directory,
                                                      const std::string& group_id,
                                                      const std::string& user_id) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto group = EffectiveGroupPk(directory, group_id);
  if (!group) return group.error();
  auto user = EffectiveUserPk(directory, user_id);
  if (!user) {
    // A user that does not exist is not a member.
    if (user.error().code == ErrorCode::kNotFound) return false;
    return user.error();
  }
  auto remove = db_.Prepare(sql::kRemoveEffectiveMember);
  if (!remove) return remove.error();
  remove->Bind(1, *group).Bind(2, *user);
  if (auto ran = remove->Run("removing a member"); !ran) return ran.error();
  return db_.Changes() > 0;
}

Result<std::vector<std::string>> SqliteTransaction::ListEffectiveMembers(
    const std::string& directory, const std::string& group_id) {
  auto group = EffectiveGroupPk(directory, group_id);
  if (!group) return group.error();
  auto select = db_.Prepare(sql::kListEffectiveMembers);
  if (!select) return select.error();
  select->Bind(1, *group);
  std::vector<std::string> out;
  auto listed = ForEachRow(*select, "listing members", [&](const Statement& row) {
    out.push_back(row.Text(0));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Result<int64_t> SqliteTransaction::CountEffectiveMembers(const std::string& directory,
                                                         const std::string& group_id) {
  auto select = db_.Prepare(sql::kCountEffectiveMembers);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, group_id);
  auto row = select->Step("counting members");
  if (!row) return row.error();
  if (!*row) return NoEffective("group", directory, group_id);
  return select->Int(0);
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteTransaction::EffectiveGroupsOf(
    const std::string& directory, const std::string& user_id) {
  auto select = db_.Prepare(sql::kEffectiveGroupsOf);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, user_id);
  std::vector<std::pair<std::string, std::string>> out;
  auto listed = ForEachRow(*select, "listing groups", [&](const Statement& row) {
    out.emplace_back(row.Text(0), row.Text(1));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

}  // namespace idsync::store::sqlite
