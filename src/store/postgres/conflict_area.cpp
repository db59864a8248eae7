// PgTransaction's share of store/conflict_area.h (username conflicts), as
// store/sqlite/conflict_area.cpp. Its statements are in queries.h.
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

Status PgTransaction::PutConflict(const ConflictRecord& conflict) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.ExecGuarded(sql::kPutConflict,
                           {Num(conflict.connection_id), conflict.source_user_id,
                            conflict.directory, conflict.username, DumpJson(conflict.detail),
                            Millis(conflict.time)},
                           "storing a conflict");
  if (!r && r.error().code == ErrorCode::kNotFound) {
    return NoConnectionError(conflict.connection_id);
  }
  if (!r) return r.error();
  return Status::Ok();
}

Status PgTransaction::DeleteConflict(int64_t connection_id, const std::string& source_user_id) {
  if (auto w = CheckWritable(); !w) return w;
  db_.ExecDeferred(sql::kDeleteConflict, {Num(connection_id), source_user_id},
                   "deleting a conflict");
  return Status::Ok();
}

Result<std::vector<ConflictRecord>> PgTransaction::ListConflicts(const std::string& directory) {
  auto r = db_.Exec(sql::kListConflicts, {directory}, "listing conflicts");
  if (!r) return r.error();
  std::vector<ConflictRecord> out;
  for (int i = 0; i < r->Rows(); ++i) {
    ConflictRecord conflict;
    conflict.directory = r->Text(i, 0);
    conflict.connection_id = r->Int(i, 1);
    conflict.source_user_id = r->Text(i, 2);
    conflict.username = r->Text(i, 3);
    auto detail = ParseStoredJson(r->Text(i, 4), "conflict of " + conflict.source_user_id);
    if (!detail) return detail.error();
    conflict.detail = std::move(*detail);
    conflict.time = FromUnixMillis(r->Int(i, 5));
    out.push_back(std::move(conflict));
  }
  return out;
}

}  // namespace idsync::store::postgres
