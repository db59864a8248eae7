// SqliteTransaction's share of store/conflict_area.h (username conflicts) over one SQLite
// connection. Its statements are in queries.h.
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

Status SqliteTransaction::PutConflict(const ConflictRecord& conflict) {
  if (auto w = CheckWritable(); !w) return w;
  auto upsert = db_.Prepare(sql::kPutConflict);
  if (!upsert) return upsert.error();
  upsert->Bind(1, conflict.connection_id)
      .Bind(2, conflict.source_user_id)
      .Bind(3, conflict.directory)
      .Bind(4, conflict.username)
      .Bind(5, DumpJson(conflict.detail))
      .Bind(6, ToUnixMillis(conflict.time));
  auto ran = upsert->Run("storing a conflict");
  if (!ran && ran.error().code == ErrorCode::kNotFound) {
    return NoConnection(conflict.connection_id);
  }
  return ran;
}

Status SqliteTransaction::DeleteConflict(int64_t connection_id, const std::string& source_user_id) {
  if (auto w = CheckWritable(); !w) return w;
  auto remove = db_.Prepare(sql::kDeleteConflict);
  if (!remove) return remove.error();
  remove->Bind(1, connection_id).Bind(2, source_user_id);
  return remove->Run("deleting a conflict");
}

Result<std::vector<ConflictRecord>> SqliteTransaction::ListConflicts(const std::string& directory) {
  auto select = db_.Prepare(sql::kListConflicts);
  if (!select) return select.error();
  select->Bind(1, directory);
  std::vector<ConflictRecord> out;
  auto listed = ForEachRow(*select, "listing conflicts", [&](const Statement& row) -> Status {
    ConflictRecord conflict;
    conflict.directory = row.Text(0);
    conflict.connection_id = row.Int(1);
    conflict.source_user_id = row.Text(2);
    conflict.username = row.Text(3);
    auto detail = ParseStored(row.Text(4), "conflict of " + conflict.source_user_id);
    if (!detail) return detail.error();
    conflict.detail = std::move(*detail);
    conflict.time = FromUnixMillis(row.Int(5));
    out.push_back(std::move(conflict));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

}  // namespace idsync::store::sqlite
