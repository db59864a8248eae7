// PgTransaction's share of store/audit_area.h (the audit log), as store/sqlite/audit_area.cpp.
// Its statements are in queries.h.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

Status PgTransaction::AppendAudit(const AuditRecord& record) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kInsertAudit,
                    {Millis(record.time), Num(record.connection_id), record.connection_name,
                     record.request_id, record.actor, record.operation, record.resource_type,
                     record.resource_id, Num(record.status), record.detail},
                    "writing the audit log");
  if (!r) return r.error();
  return Status::Ok();
}

Result<std::vector<AuditRecord>> PgTransaction::ListAudit(const AuditQuery& query) {
  PgParam connection, since, resource, until;
  if (query.connection_id) connection = Num(*query.connection_id);
  if (query.since) since = Millis(*query.since);
  if (!query.resource_id.empty()) resource = query.resource_id;
  if (query.until) until = Millis(*query.until);
  auto r = db_.Exec(sql::kListAudit,
                    {Num(query.after_seq), Num(std::max<int64_t>(query.limit, 0)), connection,
                     since, resource, until},
                    "reading the audit log");
  if (!r) return r.error();
  std::vector<AuditRecord> out;
  out.reserve(r->Rows());
  for (int i = 0; i < r->Rows(); ++i) {
    AuditRecord record;
    record.seq = r->Int(i, 0);
    record.time = FromUnixMillis(r->Int(i, 1));
    record.connection_id = r->Int(i, 2);
    record.connection_name = r->Text(i, 3);
    record.request_id = r->Text(i, 4);
    record.actor = r->Text(i, 5);
    record.operation = r->Text(i, 6);
    record.resource_type = r->Text(i, 7);
    record.resource_id = r->Text(i, 8);
    record.status = static_cast<int>(r->Int(i, 9));
    record.detail = r->Text(i, 10);
    out.push_back(std::move(record));
  }
  return out;
}

}  // namespace idsync::store::postgres
