// PgTransaction's share of store/secret_area.h (sealed secrets), as
// store/sqlite/secret_area.cpp. Its statements are in queries.h.
#include <string>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

Status PgTransaction::PutSecret(int64_t connection_id, const std::string& name,
                                const std::string& sealed) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.ExecGuarded(sql::kPutSecret, {Num(connection_id), name, sealed},
                           "storing a secret");
  if (!r && r.error().code == ErrorCode::kNotFound) return NoConnectionError(connection_id);
  if (!r) return r.error();
  return Status::Ok();
}

Result<std::string> PgTransaction::GetSecret(int64_t connection_id, const std::string& name) {
  auto r = db_.Exec(sql::kGetSecret, {Num(connection_id), name}, "reading a secret");
  if (!r) return r.error();
  if (r->Rows() == 0) {
    return MakeError(ErrorCode::kNotFound,
                     "connection " + Num(connection_id) + " has no " + name);
  }
  return r->Text(0, 0);
}

}  // namespace idsync::store::postgres
