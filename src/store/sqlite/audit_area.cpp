// SqliteTransaction's share of store/audit_area.h (the audit log) over one SQLite connection.
// Its statements are in queries.h.
#include <algorithm>
#include <optional>
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

namespace {

// Runs a bound audit SELECT (IDSYNC_AUDIT_SELECT columns), appending its records to `out`.
Status ReadAudit(Statement& select, std::vector<AuditRecord>& out) {
  return ForEachRow(select, "reading the audit log", [&](const Statement& row) {
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
}

}  // namespace

Result<std::vector<AuditRecord>> SqliteTransaction::ListAudit(const AuditQuery& query) {
  const int64_t limit = std::max<int64_t>(query.limit, 0);
  auto bind = [&](Statement& select) {
    select.Bind(1, query.after_seq).Bind(2, limit);
    if (query.connection_id) select.Bind(3, *query.connection_id);
    if (query.since) select.Bind(4, ToUnixMillis(*query.since));
    if (query.until) select.Bind(6, ToUnixMillis(*query.until));
  };
  std::vector<AuditRecord> out;
  if (query.resource_id.empty()) {
    const char* text =
        query.connection_id
            ? (query.since ? sql::kListAuditByConnectionSince : sql::kListAuditByConnection)
            : (query.since ? sql::kListAuditSince : sql::kListAudit);
    auto select = db_.Prepare(text);
    if (!select) return select.error();
    bind(*select);
    if (auto read = ReadAudit(*select, out); !read) return read.error();
    return out;
  }

  // One resource, and when it is an effective user the source resources linked to it (the
  // identity provider's SCIM requests name those): one audit_by_resource range each, at most
  // `limit` records from each, merged by seq. A user has a few links, so this is a few seeks
  // and no sort in SQLite.
  std::vector<std::pair<std::string, std::optional<int64_t>>> targets = {
      {query.resource_id, query.connection_id}};
  {
    auto links = db_.Prepare(sql::kLinkedSourcesOf);
    if (!links) return links.error();
    links->Bind(1, query.resource_id);
    auto listed = ForEachRow(*links, "reading source links", [&](const Statement& row) {
      const int64_t connection = row.Int(0);
      if (query.connection_id && *query.connection_id != connection) return Status::Ok();
      targets.emplace_back(row.Text(1), connection);
      return Status::Ok();
    });
    if (!listed) return listed.error();
  }
  for (const auto& [id, connection] : targets) {
    auto select = db_.Prepare(sql::kListAuditByResource);
    if (!select) return select.error();
    bind(*select);
    if (connection) select->Bind(3, *connection);
    select->Bind(5, id);
    if (auto read = ReadAudit(*select, out); !read) return read.error();
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

}  // namespace idsync::store::sqlite
