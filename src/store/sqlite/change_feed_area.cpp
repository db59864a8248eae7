// SqliteTransaction's share of store/change_feed_area.h (the change feed) over one SQLite
// connection. Its statements are in queries.h.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

Result<int64_t> SqliteTransaction::AppendChange(const ChangeRecord& change) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto insert = db_.Prepare(sql::kInsertChange);
  if (!insert) return insert.error();
  insert->Bind(1, change.directory)
      .Bind(2, ToUnixMillis(change.time))
      .Bind(3, change.type)
      .Bind(4, change.op)
      .Bind(5, change.id)
      .Bind(6, change.member_id);
  if (change.resource.is_null()) {
    insert->BindNull(7);
  } else if (change.encoded_resource) {
    BodyCodec::Bind(*insert, 7, *change.encoded_resource);
  } else {
    codec_.Bind(*insert, 7, BodyKind::kChange, DumpJson(change.resource));
  }
  codec_.Bind(*insert, 8, BodyKind::kChange, DumpJson(change.cause));
  if (auto ran = insert->Run("appending to the change feed"); !ran) return ran.error();
  return db_.LastInsertRowid();
}

Result<std::vector<ChangeRecord>> SqliteTransaction::ListChanges(const std::string& directory,
                                                                 int64_t after_seq, int64_t limit) {
  auto select = db_.Prepare(sql::kListChanges);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, after_seq).Bind(3, std::max<int64_t>(limit, 0));
  return ReadChanges(*select);
}

Result<std::vector<ChangeRecord>> SqliteTransaction::ListChangesOf(const std::string& directory,
                                                                   const std::string& entry_id,
                                                                   int64_t after_seq,
                                                                   int64_t limit) {
  auto select = db_.Prepare(sql::kListChangesOf);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, after_seq).Bind(3, std::max<int64_t>(limit, 0));
  select->Bind(4, entry_id);
  return ReadChanges(*select);
}

Result<std::vector<ChangeRecord>> SqliteTransaction::ReadChanges(Statement& select) {
  std::vector<ChangeRecord> out;
  auto listed = ForEachRow(select, "reading the change feed", [&](const Statement& row) -> Status {
    ChangeRecord change;
    change.seq = row.Int(0);
    change.time = FromUnixMillis(row.Int(1));
    change.directory = row.Text(2);
    change.type = row.Text(3);
    change.op = row.Text(4);
    change.id = row.Text(5);
    change.member_id = row.Text(6);
    std::string what = "change " + std::to_string(change.seq);
    if (!row.IsNull(7)) {
      auto text = codec_.Read(db_, row, 7, what);
      if (!text) return text.error();
      auto resource = ParseStored(*text, what);
      if (!resource) return resource.error();
      change.resource = std::move(*resource);
    }
    auto cause_text = codec_.Read(db_, row, 8, what);
    if (!cause_text) return cause_text.error();
    auto cause = ParseStored(*cause_text, what);
    if (!cause) return cause.error();
    change.cause = std::move(*cause);
    out.push_back(std::move(change));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Result<int64_t> SqliteTransaction::LastChangeSeq(const std::string& directory) {
  auto select = db_.Prepare(sql::kLastChangeSeq);
  if (!select) return select.error();
  select->Bind(1, directory);
  auto row = select->Step("reading the change feed");
  if (!row) return row.error();
  return *row ? select->Int(0) : int64_t{0};
}

}  // namespace idsync::store::sqlite
