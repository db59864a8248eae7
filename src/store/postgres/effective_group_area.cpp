// PgTransaction's share of store/effective_group_area.h (effective groups and their
// memberships), as store/sqlite/effective_group_area.cpp. Its statements are in queries.h.
#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

Result<int64_t> PgTransaction::EffectiveGroupPk(const std::string& directory,
                                                const std::string& id) {
  auto r = db_.Exec(sql::kEffectiveGroupPk, {directory, id}, "reading an effective group");
  if (!r) return r.error();
  if (r->Rows() == 0) return NoEffective("group", directory, id);
  return r->Int(0, 0);
}

Result<EffectiveGroupRow> PgTransaction::GetEffectiveGroup(const std::string& directory,
                                                           const std::string& id) {
  auto found = ReadEffectiveGroups(
      db_.Exec(sql::kGetEffectiveGroup, {directory, id}, "reading an effective group"));
  if (!found) return found.error();
  if (found->empty()) return NoEffective("group", directory, id);
  return std::move(found->front());
}

Result<EffectiveGroupRow> PgTransaction::FindEffectiveGroupByName(const std::string& directory,
                                                                  const std::string& name_key) {
  auto found = ReadEffectiveGroups(db_.Exec(sql::kFindEffectiveGroupByName, {directory, name_key},
                                            "reading an effective group"));
  if (!found) return found.error();
  if (found->empty()) {
    return MakeError(ErrorCode::kNotFound,
                     "no group named \"" + name_key + "\" in directory " + directory);
  }
  return std::move(found->front());
}

Result<EffectiveGroupRow> PgTransaction::PutEffectiveGroup(const EffectiveGroupRow& row) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto existing =
      db_.Exec(sql::kGetEffectiveGroup, {row.directory, row.id}, "reading an effective group");
  if (!existing) return existing.error();
  auto taken = [&](const Error& error) -> Error {
    if (error.code != ErrorCode::kUniqueness) return error;
    return MakeError(ErrorCode::kUniqueness,
                     "group \"" + row.name + "\" already exists in directory " + row.directory);
  };
  EffectiveGroupRow stored = row;
  std::string body = DumpJson(row.body);
  if (existing->Rows() > 0) {
    auto r = db_.ExecGuarded(sql::kUpdateEffectiveGroup,
                             {Num(existing->Int(0, 0)), row.name, row.name_key, body,
                              Millis(row.last_modified)},
                             "updating an effective group");
    if (!r) return taken(r.error());
    stored.version = existing->Int(0, 6) + 1;
    stored.created = FromUnixMillis(existing->Int(0, 7));
  } else {
    auto r = db_.ExecGuarded(sql::kInsertEffectiveGroup,
                             {row.directory, row.id, row.name, row.name_key, body,
                              Millis(row.created), Millis(row.last_modified)},
                             "adding an effective group");
    if (!r) return taken(r.error());
    stored.version = 1;
    stored.created = Stored(row.created);
  }
  stored.last_modified = Stored(row.last_modified);
  return stored;
}

Status PgTransaction::DeleteEffectiveGroup(const std::string& directory, const std::string& id) {
  if (auto w = CheckWritable(); !w) return w;
  auto pk = EffectiveGroupPk(directory, id);
  if (!pk) return pk.error();
  // Cascades to the group's memberships.
  auto r = db_.Exec(sql::kDeleteEffectiveGroup, {Num(*pk)}, "deleting an effective group");
  if (!r) return r.error();
  return Status::Ok();
}

Status PgTransaction::TouchEffectiveGroup(const std::string& directory, const std::string& id,
                                          TimePoint when) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kTouchEffectiveGroup, {directory, id, Millis(when)},
                    "updating an effective group");
  if (!r) return r.error();
  if (r->Changed() == 0) return NoEffective("group", directory, id);
  return Status::Ok();
}

Result<int64_t> PgTransaction::CountEffectiveGroups(const std::string& directory) {
  auto r = db_.Exec(sql::kCountEffectiveGroups, {directory}, "counting effective groups");
  if (!r) return r.error();
  return r->Int(0, 0);
}

Result<std::vector<EffectiveGroupRow>> PgTransaction::ListEffectiveGroups(
    const std::string& directory, int64_t offset, int64_t limit) {
  return ReadEffectiveGroups(
      db_.Exec(sql::kListEffectiveGroups,
               {directory, Num(std::max<int64_t>(offset, 0)), Num(std::max<int64_t>(limit, 0))},
               "listing effective groups"));
}

Status PgTransaction::ScanEffectiveGroups(
    const std::string& directory, const std::function<bool(const EffectiveGroupRow&)>& visit) {
  int64_t after = 0;
  for (;;) {
    auto r = db_.Exec(sql::kScanEffectiveGroups, {directory, Num(after), Num(kScanChunk)},
                      "reading effective groups");
    if (!r) return r.error();
    for (int i = 0; i < r->Rows(); ++i) {
      auto group = ReadEffectiveGroup(*r, i);
      if (!group) return group.error();
      if (!visit(*group)) return Status::Ok();
    }
    if (r->Rows() < kScanChunk) return Status::Ok();
    after = r->Int(r->Rows() - 1, 0);
  }
}

Result<bool> PgTransaction::AddEffectiveMember(const std::string& directory,
                                               const std::string& group_id,
                                               const std::string& user_id) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto group = EffectiveGroupPk(directory, group_id);
  if (!group) return group.error();
  auto user = EffectiveUserPk(directory, user_id);
  if (!user) return user.error();
  auto r = db_.Exec(sql::kAddEffectiveMember, {Num(*group), Num(*user)}, "adding a member");
  if (!r) return r.error();
  return r->Changed() > 0;
}

Result<bool> PgTransaction::RemoveEffectiveMember(const std::string& directory,
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
  auto r = db_.Exec(sql::kRemoveEffectiveMember, {Num(*group), Num(*user)}, "removing a member");
  if (!r) return r.error();
  return r->Changed() > 0;
}

Result<std::vector<std::string>> PgTransaction::ListEffectiveMembers(const std::string& directory,
                                                                     const std::string& group_id) {
  auto group = EffectiveGroupPk(directory, group_id);
  if (!group) return group.error();
  auto r = db_.Exec(sql::kListEffectiveMembers, {Num(*group)}, "listing members");
  if (!r) return r.error();
  std::vector<std::string> out;
  out.reserve(r->Rows());
  for (int i = 0; i < r->Rows(); ++i) out.push_back(r->Text(i, 0));
  return out;
}

Result<int64_t> PgTransaction::CountEffectiveMembers(const std::string& directory,
                                                     const std::string& group_id) {
  auto r = db_.Exec(sql::kCountEffectiveMembers, {directory, group_id}, "counting members");
  if (!r) return r.error();
  if (r->Rows() == 0) return NoEffective("group", directory, group_id);
  return r->Int(0, 0);
}

Result<std::vector<std::pair<std::string, std::string>>> PgTransaction::EffectiveGroupsOf(
    const std::string& directory, const std::string& user_id) {
  auto r = db_.Exec(sql::kEffectiveGroupsOf, {directory, user_id}, "listing groups");
  if (!r) return r.error();
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < r->Rows(); ++i) out.emplace_back(r->Text(i, 0), r->Text(i, 1));
  return out;
}

}  // namespace idsync::store::postgres
