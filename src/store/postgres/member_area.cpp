// PgTransaction's share of store/member_area.h (members of the mirror's groups), as
// store/sqlite/member_area.cpp. Its statements are in queries.h.
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

Result<bool> PgTransaction::AddMember(int64_t connection_id, const std::string& group_id,
                                      const Member& member) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto group = PkOf(connection_id, scim::ResourceType::kGroup, group_id);
  if (!group) return group.error();
  auto r = db_.Exec(sql::kAddMember,
                    {Num(*group), member.value, member.type, member.display, Num(connection_id)},
                    "adding a member");
  if (!r) return r.error();
  return r->Changed() > 0;
}

Result<bool> PgTransaction::RemoveMember(int64_t connection_id, const std::string& group_id,
                                         const std::string& value) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto group = PkOf(connection_id, scim::ResourceType::kGroup, group_id);
  if (!group) return group.error();
  auto r = db_.Exec(sql::kRemoveMember, {Num(*group), value}, "removing a member");
  if (!r) return r.error();
  return r->Changed() > 0;
}

Status PgTransaction::ClearMembers(int64_t connection_id, const std::string& group_id) {
  if (auto w = CheckWritable(); !w) return w;
  auto group = PkOf(connection_id, scim::ResourceType::kGroup, group_id);
  if (!group) return group.error();
  auto r = db_.Exec(sql::kClearMembers, {Num(*group)}, "removing members");
  if (!r) return r.error();
  return Status::Ok();
}

Result<std::vector<Member>> PgTransaction::ListMembers(int64_t connection_id,
                                                       const std::string& group_id) {
  auto group = PkOf(connection_id, scim::ResourceType::kGroup, group_id);
  if (!group) return group.error();
  auto r = db_.Exec(sql::kListMembers, {Num(*group)}, "listing members");
  if (!r) return r.error();
  std::vector<Member> out;
  out.reserve(r->Rows());
  for (int i = 0; i < r->Rows(); ++i) {
    out.push_back(Member{r->Text(i, 0), r->Text(i, 1), r->Text(i, 2)});
  }
  return out;
}

Result<int64_t> PgTransaction::CountMembers(int64_t connection_id, const std::string& group_id) {
  auto group = PkOf(connection_id, scim::ResourceType::kGroup, group_id);
  if (!group) return group.error();
  auto r = db_.Exec(sql::kCountMembers, {Num(*group)}, "counting members");
  if (!r) return r.error();
  return r->Int(0, 0);
}

Result<std::vector<std::pair<std::string, std::string>>> PgTransaction::GroupsOf(
    int64_t connection_id, const std::string& member_value) {
  auto r = db_.Exec(sql::kGroupsOf, {Num(connection_id), member_value}, "listing groups");
  if (!r) return r.error();
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < r->Rows(); ++i) out.emplace_back(r->Text(i, 0), r->Text(i, 1));
  return out;
}

}  // namespace idsync::store::postgres
