// SqliteTransaction's share of store/member_area.h (members of the mirror's groups) over one SQLite
// connection. Its statements are in queries.h.
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

Result<bool> SqliteTransaction::AddMember(int64_t connection_id, const std::string& group_id,
                                          const Member& member) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto group = GroupPk(connection_id, group_id);
  if (!group) return group.error();
  auto insert = db_.Prepare(sql::kAddMember);
  if (!insert) return insert.error();
  insert->Bind(1, *group)
      .Bind(2, member.value)
      .Bind(3, member.type)
      .Bind(4, member.display)
      .Bind(5, connection_id);
  if (auto ran = insert->Run("adding a member"); !ran) return ran.error();
  return db_.Changes() > 0;
}

Result<bool> SqliteTransaction::RemoveMember(int64_t connection_id, const std::string& group_id,
                                             const std::string& value) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto group = GroupPk(connection_id, group_id);
  if (!group) return group.error();
  auto remove = db_.Prepare(sql::kRemoveMember);
  if (!remove) return remove.error();
  remove->Bind(1, *group).Bind(2, value);
  if (auto ran = remove->Run("removing a member"); !ran) return ran.error();
  return db_.Changes() > 0;
}

Status SqliteTransaction::ClearMembers(int64_t connection_id, const std::string& group_id) {
  if (auto w = CheckWritable(); !w) return w;
  auto group = GroupPk(connection_id, group_id);
  if (!group) return group.error();
  auto remove = db_.Prepare(sql::kClearMembers);
  if (!remove) return remove.error();
  remove->Bind(1, *group);
  return remove->Run("removing members");
}

Result<std::vector<Member>> SqliteTransaction::ListMembers(int64_t connection_id,
                                                           const std::string& group_id) {
  auto group = GroupPk(connection_id, group_id);
  if (!group) return group.error();
  auto select = db_.Prepare(sql::kListMembers);
  if (!select) return select.error();
  select->Bind(1, *group);
  std::vector<Member> out;
  auto listed = ForEachRow(*select, "listing members", [&](const Statement& row) {
    out.push_back(Member{row.Text(0), row.Text(1), row.Text(2)});
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Result<int64_t> SqliteTransaction::CountMembers(int64_t connection_id,
                                                const std::string& group_id) {
  auto group = GroupPk(connection_id, group_id);
  if (!group) return group.error();
  auto select = db_.Prepare(sql::kCountMembers);
  if (!select) return select.error();
  select->Bind(1, *group);
  return Count(*select, "counting members");
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteTransaction::GroupsOf(
    int64_t connection_id, const std::string& member_value) {
  auto select = db_.Prepare(sql::kGroupsOf);
  if (!select) return select.error();
  select->Bind(1, connection_id).Bind(2, member_value);
  std::vector<std::pair<std::string, std::string>> out;
  auto listed = ForEachRow(*select, "listing groups", [&](const Statement& row) {
    out.emplace_back(row.Text(0), row.Text(1));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

}  // namespace idsync::store::sqlite
