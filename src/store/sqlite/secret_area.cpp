// SqliteTransaction's share of store/secret_area.h (sealed secrets) over one SQLite connection.
// Its statements are in queries.h.
#include <string>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

Status SqliteTransaction::PutSecret(int64_t connection_id, const std::string& name,
                                    const std::string& sealed) {
  if (auto w = CheckWritable(); !w) return w;
  auto upsert = db_.Prepare(sql::kPutSecret);
  if (!upsert) return upsert.error();
  upsert->Bind(1, connection_id).Bind(2, name).Bind(3, sealed);
  auto ran = upsert->Run("storing a secret");
  if (!ran && ran.error().code == ErrorCode::kNotFound) return NoConnection(connection_id);
  return ran;
}

Result<std::string> SqliteTransaction::GetSecret(int64_t connection_id, const std::string& name) {
  auto select = db_.Prepare(sql::kGetSecret);
  if (!select) return select.error();
  select->Bind(1, connection_id).Bind(2, name);
  auto row = select->Step("reading a secret");
  if (!row) return row.error();
  if (!*row) {
    return MakeError(ErrorCode::kNotFound,
                     "connection " + std::to_string(connection_id) + " has no " + name);
  }
  return select->Text(0);
}

}  // namespace idsync::store::sqlite
