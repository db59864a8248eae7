// SqliteTransaction's share of store/audit_area.h (the audit log) over one SQLite connection.
// Its statements are in queries.h.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

Status SqliteTransaction::AppendAudit(const AuditRecord& record) {
  if (auto w = CheckWritable(); !w) return w;
  auto insert = db_.Prepare(sql::kInsertAudit);
  if (!insert) return insert.error();
  insert->Bind(1, ToUnixMillis(record.time))
      .Bind(2, record.connection_id)
      .Bind(3, record.connection_name)
      .Bind(4, record.request_id)
      .Bind(5, record.actor)
      .Bind(6, record.operation)
      .Bind(7, record.resource_type)
      .Bind(8, record.resource_id)
      .Bind(9, int64_t{record.status})
      .Bind(10, record.detail);
  return insert->Run("writing the audit log");
}

Result<std::vector<AuditRecord>> SqliteTransaction::ListAudit(const AuditQuery& query) {
  const char* text =
      !query.resource_id.empty()
          ? sql::kListAuditByResource
          : query.connection_id
                ? (query.since ? sql::kListAuditByConnectionSince : sql::kListAuditByConnection)
                : (query.since ? sql::kListAuditSince : sql::kListAudit);
  auto select = db_.Prepare(text);
  if (!select) return select.error();
  select->Bind(1, query.after_seq).Bind(2, std::max<int64_t>(query.limit, 0));
  if (query.connection_id) select->Bind(3, *query.connection_id);
  if (query.since) select->Bind(4, ToUnixMillis(*query.since));
  if (!query.resource_id.empty()) select->Bind(5, query.resource_id);
  if (query.until) select->Bind(6, ToUnixMillis(*query.until));
  std::vector<AuditRecord> out;
  auto listed = ForEachRow(*select, "reading the audit log", [&](const Statement& row) {
    AuditRecord record;
    record.seq = row.Int(0);
    record.time = FromUnixMillis(row.Int(1));
    record.connection_id = row.Int(2);
    record.connection_name = row.Text(3);
    record.request_id = row.Text(4);
    record.actor = row.Text(5);
    record.operation = row.Text(6);
    record.resource_type = row.Text(7);
    record.resource_id = row.Text(8);
    record.status = static_cast<int>(row.Int(9));
    record.detail = row.Text(10);
    out.push_back(std::move(record));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

}  // namespace idsync::store::sqlite
