// SqliteTransaction's share of store/sync_area.h (pull sync runs, sync state and run leases) over
// one SQLite connection. Its statements are in queries.h.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

namespace {

Result<SyncRun> ReadSyncRun(const Statement& row) {
  SyncRun run;
  run.id = row.Int(0);
  run.connection_id = row.Int(1);
  run.mode = row.Text(2);
  run.trigger = row.Text(3);
  run.outcome = row.Text(4);
  run.started = FromUnixMillis(row.Int(5));
  if (!row.IsNull(6)) run.ended = FromUnixMillis(row.Int(6));
  auto counts = ParseStored(row.Text(7), "counts of sync run " + std::to_string(run.id));
  if (!counts) return counts.error();
  run.counts = std::move(*counts);
  auto progress = ParseStored(row.Text(8), "progress of sync run " + std::to_string(run.id));
  if (!progress) return progress.error();
  run.progress = std::move(*progress);
  run.error = row.Text(9);
  run.owner = row.Text(10);
  return run;
}

}  // namespace

Result<int64_t> SqliteTransaction::InsertSyncRun(const SyncRun& run) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto insert = db_.Prepare(sql::kInsertSyncRun);
  if (!insert) return insert.error();
  std::optional<int64_t> ended;
  if (run.ended) ended = ToUnixMillis(*run.ended);
  insert->Bind(1, run.connection_id)
      .Bind(2, run.mode)
      .Bind(3, run.trigger)
      .Bind(4, run.outcome)
      .Bind(5, ToUnixMillis(run.started))
      .Bind(6, ended)
      .Bind(7, DumpJson(run.counts))
      .Bind(8, DumpJson(run.progress))
      .Bind(9, run.error)
      .Bind(10, run.owner);
  auto ran = insert->Run("recording a sync run");
  if (!ran) {
    if (ran.error().code == ErrorCode::kNotFound) return NoConnection(run.connection_id).error();
    return ran.error();
  }
  return db_.LastInsertRowid();
}

Status SqliteTransaction::UpdateSyncRun(const SyncRun& run) {
  if (auto w = CheckWritable(); !w) return w;
  auto update = db_.Prepare(sql::kUpdateSyncRun);
  if (!update) return update.error();
  std::optional<int64_t> ended;
  if (run.ended) ended = ToUnixMillis(*run.ended);
  update->Bind(1, run.id)
      .Bind(2, run.outcome)
      .Bind(3, ended)
      .Bind(4, DumpJson(run.counts))
      .Bind(5, DumpJson(run.progress))
      .Bind(6, run.error);
  if (auto ran = update->Run("updating a sync run"); !ran) return ran;
  if (db_.Changes() == 0) {
    return MakeError(ErrorCode::kNotFound, "sync run " + std::to_string(run.id) + " not found");
  }
  return Status::Ok();
}

Result<SyncRun> SqliteTransaction::GetSyncRun(int64_t id) {
  auto select = db_.Prepare(sql::kGetSyncRun);
  if (!select) return select.error();
  select->Bind(1, id);
  auto row = OneRow<SyncRun>(*select, "reading a sync run", ReadSyncRun);
  if (!row) return row.error();
  if (!*row) {
    return MakeError(ErrorCode::kNotFound, "sync run " + std::to_string(id) + " not found");
  }
  return std::move(**row);
}

Result<std::vector<SyncRun>> SqliteTransaction::ListSyncRuns(int64_t connection_id, int64_t limit) {
  auto select = db_.Prepare(sql::kListSyncRuns);
  if (!select) return select.error();
  select->Bind(1, connection_id).Bind(2, limit);
  return Rows<SyncRun>(*select, "listing sync runs", ReadSyncRun);
}

Result<int64_t> SqliteTransaction::AbandonSyncRuns(int64_t connection_id, const std::string& owner,
                                                   TimePoint when) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto update = db_.Prepare(sql::kAbandonSyncRuns);
  if (!update) return update.error();
  update->Bind(1, connection_id).Bind(2, owner).Bind(3, ToUnixMillis(when));
  if (auto ran = update->Run("abandoning sync runs"); !ran) return ran.error();
  return db_.Changes();
}

Result<Json> SqliteTransaction::GetSyncState(int64_t connection_id) {
  auto select = db_.Prepare(sql::kGetSyncState);
  if (!select) return select.error();
  select->Bind(1, connection_id);
  auto row = select->Step("reading a sync state");
  if (!row) return row.error();
  if (!*row) return Json::object();
  return ParseStored(select->Text(0), "sync state of connection " + std::to_string(connection_id));
}

Status SqliteTransaction::PutSyncState(int64_t connection_id, const Json& state) {
  if (auto w = CheckWritable(); !w) return w;
  auto upsert = db_.Prepare(sql::kPutSyncState);
  if (!upsert) return upsert.error();
  upsert->Bind(1, connection_id).Bind(2, DumpJson(state));
  auto ran = upsert->Run("storing a sync state");
  if (!ran && ran.error().code == ErrorCode::kNotFound) return NoConnection(connection_id);
  return ran;
}

Result<bool> SqliteTransaction::AcquireSyncLease(int64_t connection_id, const std::string& owner,
                                                 TimePoint now, TimePoint expires) {
  if (auto w = CheckWritable(); !w) return w.error();
  // One statement: insert the row, or take the lease when it is free, expired or ours.
  auto upsert = db_.Prepare(sql::kAcquireSyncLease);
  if (!upsert) return upsert.error();
  upsert->Bind(1, connection_id)
      .Bind(2, owner)
      .Bind(3, ToUnixMillis(now))
      .Bind(4, ToUnixMillis(expires));
  auto ran = upsert->Run("taking a sync lease");
  if (!ran) {
    if (ran.error().code == ErrorCode::kNotFound) return NoConnection(connection_id).error();
    return ran.error();
  }
  return db_.Changes() > 0;
}

Status SqliteTransaction::ReleaseSyncLease(int64_t connection_id, const std::string& owner) {
  if (auto w = CheckWritable(); !w) return w;
  auto update = db_.Prepare(sql::kReleaseSyncLease);
  if (!update) return update.error();
  update->Bind(1, connection_id).Bind(2, owner);
  return update->Run("releasing a sync lease");
}

}  // namespace idsync::store::sqlite
