// PgTransaction's share of store/effective_user_area.h (effective users), as
// store/sqlite/effective_user_area.cpp. Its statements are in queries.h.
#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

namespace {


}  // namespace

Error PgTransaction::NoEffective(const char* kind, const std::string& directory,
                                 const std::string& id) {
  return MakeError(ErrorCode::kNotFound,
                   std::string(kind) + " " + id + " not found in directory " + directory);
}

Result<int64_t> PgTransaction::EffectiveUserPk(const std::string& directory,
                                               const std::string& id) {
  auto r = db_.Exec(sql::kEffectiveUserPk, {directory, id}, "reading an effective user");
  if (!r) return r.error();
  if (r->Rows() == 0) return NoEffective("user", directory, id);
  return r->Int(0, 0);
}

Result<EffectiveUserRow> PgTransaction::GetEffectiveUser(const std::string& directory,
                                                         const std::string& id) {
  auto found = ReadEffectiveUsers(
      db_.Exec(sql::kGetEffectiveUser, {directory, id}, "reading an effective user"));
  if (!found) return found.error();
  if (found->empty()) return NoEffective("user", directory, id);
  return std::move(found->front());
}

Result<EffectiveUserRow> PgTransaction::FindEffectiveUserByUsername(
    const std::string& directory, const std::string& username_key) {
  auto found = ReadEffectiveUsers(db_.Exec(sql::kFindEffectiveUserByUsername,
                                           {directory, username_key}, "reading an effective user"));
  if (!found) return found.error();
  if (found->empty()) {
    return MakeError(ErrorCode::kNotFound,
                     "no user named \"" + username_key + "\" in directory " + directory);
  }
  return std::move(found->front());
}

Result<std::vector<EffectiveUserRow>> PgTransaction::FindEffectiveUsersByLinkKey(
    const std::string& directory, const std::string& link_key) {
  if (link_key.empty()) return std::vector<EffectiveUserRow>{};  // "" is no link key
  return ReadEffectiveUsers(db_.Exec(sql::kFindEffectiveUsersByLinkKey, {directory, link_key},
                                     "searching effective users"));
}

Result<EffectiveUserRow> PgTransaction::PutEffectiveUser(EffectiveUserRow row) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto existing = db_.Exec(sql::kGetEffectiveUser, {row.directory, row.id},
                           "reading an effective user");
  if (!existing) return existing.error();
  PgParam link_key;
  if (!row.link_key.empty()) link_key = row.link_key;
  auto taken = [&](const Error& error) -> Error {
    if (error.code != ErrorCode::kUniqueness) return error;
    return MakeError(ErrorCode::kUniqueness,
                     "username \"" + row.username + "\" is taken in directory " + row.directory);
  };
  std::string body = EncodedText(std::exchange(row.encoded, nullptr), row.body);
  if (existing->Rows() > 0) {
    auto r = db_.ExecGuarded(sql::kUpdateEffectiveUser,
                             {Num(existing->Int(0, 0)), row.username, row.username_key, link_key,
                              row.state, body, Millis(row.last_modified), row.mail_key},
                             "updating an effective user");
    if (!r) return taken(r.error());
    row.version = existing->Int(0, 8) + 1;
    row.created = FromUnixMillis(existing->Int(0, 9));
  } else {
    auto r = db_.ExecGuarded(sql::kInsertEffectiveUser,
                             {row.directory, row.id, row.username, row.username_key, link_key,
                              row.state, body, Millis(row.created), Millis(row.last_modified),
                              row.mail_key},
                             "adding an effective user");
    if (!r) return taken(r.error());
    row.version = 1;
    row.created = Stored(row.created);
  }
  row.last_modified = Stored(row.last_modified);
  return row;  // the caller's row, moved in and back out
}

Status PgTransaction::DeleteEffectiveUser(const std::string& directory, const std::string& id) {
  if (auto w = CheckWritable(); !w) return w;
  auto pk = EffectiveUserPk(directory, id);
  if (!pk) return pk.error();
  // The groups the user leaves change too; bump them before the memberships go (the delete
  // below cascades to them).
  if (auto r = db_.Exec(sql::kTouchEffectiveGroupsOfUser, {Num(*pk), Millis(clock_.Now())},
                        "deleting an effective user");
      !r) {
    return r.error();
  }
  if (auto r = db_.Exec(sql::kDeleteLinksOfUser, {directory, id}, "deleting an effective user");
      !r) {
    return r.error();
  }
  auto r = db_.Exec(sql::kDeleteEffectiveUser, {Num(*pk)}, "deleting an effective user");
  if (!r) return r.error();
  return Status::Ok();
}

Result<int64_t> PgTransaction::CountEffectiveUsers(const std::string& directory) {
  auto r = db_.Exec(sql::kCountEffectiveUsers, {directory}, "counting effective users");
  if (!r) return r.error();
  return r->Int(0, 0);
}

Result<std::vector<EffectiveUserRow>> PgTransaction::ListEffectiveUsers(
    const std::string& directory, int64_t offset, int64_t limit) {
  return ReadEffectiveUsers(
      db_.Exec(sql::kListEffectiveUsers,
               {directory, Num(std::max<int64_t>(offset, 0)), Num(std::max<int64_t>(limit, 0))},
               "listing effective users"));
}

Status PgTransaction::ScanEffectiveUsers(
    const std::string& directory, const std::function<bool(const EffectiveUserRow&)>& visit) {
  int64_t after = 0;
  for (;;) {
    auto r = db_.Exec(sql::kScanEffectiveUsers, {directory, Num(after), Num(kScanChunk)},
                      "reading effective users");
    if (!r) return r.error();
    for (int i = 0; i < r->Rows(); ++i) {
      auto user = ReadEffectiveUser(*r, i);
      if (!user) return user.error();
      if (!visit(*user)) return Status::Ok();
    }
    if (r->Rows() < kScanChunk) return Status::Ok();
    after = r->Int(r->Rows() - 1, 0);
  }
}

}  // namespace idsync::store::postgres
