// SqliteTransaction's share of store/link_area.h (links between source users and effective users)
// over one SQLite connection. Its statements are in queries.h.
#include <string>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

namespace {

// Columns in the order of IDSYNC_LINK_COLUMNS.
SourceLink ReadLink(const Statement& row) {
  SourceLink link;
  link.connection_id = row.Int(0);
  link.source_user_id = row.Text(1);
  link.directory = row.Text(2);
  link.effective_user_id = row.Text(3);
  link.deleted = row.Int(4) != 0;
  link.source_name = row.Text(5);
  return link;
}

}  // namespace

Result<SourceLink> SqliteTransaction::GetLink(int64_t connection_id,
                                              const std::string& source_user_id) {
  auto select = db_.Prepare(sql::kGetLink);
  if (!select) return select.error();
  select->Bind(1, connection_id).Bind(2, source_user_id);
  auto row = select->Step("reading a link");
  if (!row) return row.error();
  if (!*row) {
    return MakeError(ErrorCode::kNotFound, "source user " + source_user_id + " of connection " +
                                               std::to_string(connection_id) + " is not linked");
  }
  return ReadLink(*select);
}

Status SqliteTransaction::PutLink(const SourceLink& link) {
  if (auto w = CheckWritable(); !w) return w;
  auto upsert = db_.Prepare(sql::kPutLink);
  if (!upsert) return upsert.error();
  upsert->Bind(1, link.connection_id)
      .Bind(2, link.source_user_id)
      .Bind(3, link.directory)
      .Bind(4, link.effective_user_id)
      .Bind(5, int64_t{link.deleted ? 1 : 0})
      .Bind(6, link.source_name);
  auto ran = upsert->Run("storing a link");
  if (!ran && ran.error().code == ErrorCode::kNotFound) return NoConnection(link.connection_id);
  return ran;
}

Status SqliteTransaction::DeleteLink(int64_t connection_id, const std::string& source_user_id) {
  if (auto w = CheckWritable(); !w) return w;
  auto remove = db_.Prepare(sql::kDeleteLink);
  if (!remove) return remove.error();
  remove->Bind(1, connection_id).Bind(2, source_user_id);
  return remove->Run("deleting a link");
}

Result<std::vector<SourceLink>> SqliteTransaction::LinksOf(const std::string& directory,
                                                           const std::string& effective_user_id) {
  auto select = db_.Prepare(sql::kLinksOf);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, effective_user_id);
  return Links(*select);
}

Result<std::vector<SourceLink>> SqliteTransaction::LinksOfConnection(int64_t connection_id) {
  auto select = db_.Prepare(sql::kLinksOfConnection);
  if (!select) return select.error();
  select->Bind(1, connection_id);
  return Links(*select);
}

Result<std::vector<SourceLink>> SqliteTransaction::FindTombstones(int64_t connection_id,
                                                                  const std::string& source_name) {
  auto select = db_.Prepare(sql::kFindTombstones);
  if (!select) return select.error();
  select->Bind(1, connection_id).Bind(2, source_name);
  return Links(*select);
}

Result<std::vector<SourceLink>> SqliteTransaction::Links(Statement& select) {
  std::vector<SourceLink> out;
  auto listed = ForEachRow(select, "reading links", [&](const Statement& row) {
    out.push_back(ReadLink(row));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

}  // namespace idsync::store::sqlite
