// PgTransaction's share of store/audit_area.h (the audit log), as store/sqlite/audit_area.cpp.
// Its statements are in queries.h.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

Status PgTransaction::AppendAudit(const AuditRecord& record) {
  if (auto w = CheckWritable(); !w) return w;
  // Sent with the job's next statement or its COMMIT (PgConnection::ExecDeferred).
  db_.ExecDeferred(sql::kInsertAudit,
                   {Millis(record.time), Num(record.connection_id), record.connection_name,
                    record.request_id, record.actor, record.operation, record.resource_type,
                    record.resource_id, Num(record.status), record.detail},
                   "writing the audit log");
  return Status::Ok();
}

Result<std::vector<AuditRecord>> PgTransaction::ListAudit(const AuditQuery& query) {
  const int64_t limit = std::max<int64_t>(query.limit, 0);
  PgParam since, until;
  if (query.since) since = Millis(*query.since);
  if (query.until) until = Millis(*query.until);
  auto connection_param = [](std::optional<int64_t> id) -> PgParam {
    if (id) return Num(*id);
    return std::nullopt;
  };
  // The records naming the resource, and when it is an effective user those naming the source
  // resources linked to it (the identity provider's SCIM requests name those, in their own
  // connection): one audit_by_resource range each, at most `limit` from each, merged by seq, as
  // store/sqlite/audit_area.cpp does.
  std::vector<std::pair<PgParam, std::optional<int64_t>>> targets = {
      {query.resource_id.empty() ? PgParam() : PgParam(query.resource_id), query.connection_id}};
  if (!query.resource_id.empty()) {
    auto links = db_.Exec(sql::kLinkedSourcesOf, {query.resource_id}, "reading source links");
    if (!links) return links.error();
    for (int i = 0; i < links->Rows(); ++i) {
      const int64_t connection = links->Int(i, 0);
      if (query.connection_id && *query.connection_id != connection) continue;
      targets.emplace_back(links->Text(i, 1), connection);
    }
  }
  std::vector<AuditRecord> out;
  for (const auto& [resource, connection] : targets) {
    auto r = db_.Exec(sql::kListAudit,
                      {Num(query.after_seq), Num(limit), connection_param(connection), since,
                       resource, until},
                      "reading the audit log");
    if (!r) return r.error();
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
  }
  if (targets.size() > 1) {
    std::sort(out.begin(), out.end(),
              [](const AuditRecord& a, const AuditRecord& b) { return a.seq < b.seq; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const AuditRecord& a, const AuditRecord& b) { return a.seq == b.seq; }),
              out.end());
    if (static_cast<int64_t>(out.size()) > limit) out.resize(static_cast<size_t>(limit));
  }
  return out;
}

}  // namespace idsync::store::postgres
