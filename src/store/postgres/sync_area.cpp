// PgTransaction's share of store/sync_area.h (pull sync runs, sync state and run leases), as
// store/sqlite/sync_area.cpp. Its statements are in queries.h.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

namespace {

Result<SyncRun> ReadSyncRun(const PgResult& r, int row) {
  SyncRun run;
  run.id = r.Int(row, 0);
  run.connection_id = r.Int(row, 1);
  run.mode = r.Text(row, 2);
  run.trigger = r.Text(row, 3);
  run.outcome = r.Text(row, 4);
  run.started = FromUnixMillis(r.Int(row, 5));
  if (!r.IsNull(row, 6)) run.ended = FromUnixMillis(r.Int(row, 6));
  auto counts = ParseStoredJson(r.Text(row, 7), "counts of sync run " + Num(run.id));
  if (!counts) return counts.error();
  run.counts = std::move(*counts);
  auto progress = ParseStoredJson(r.Text(row, 8), "progress of sync run " + Num(run.id));
  if (!progress) return progress.error();
  run.progress = std::move(*progress);
  run.error = r.Text(row, 9);
  run.owner = r.Text(row, 10);
  return run;
}

Error NoRun(int64_t id) {
  return MakeError(ErrorCode::kNotFound, "sync run " + Num(id) + " not found");
}

}  // namespace

Result<int64_t> PgTransaction::InsertSyncRun(const SyncRun& run) {
  if (auto w = CheckWritable(); !w) return w.error();
  PgParam ended;
  if (run.ended) ended = Millis(*run.ended);
  auto r = db_.ExecGuarded(sql::kInsertSyncRun,
                           {Num(run.connection_id), run.mode, run.trigger, run.outcome,
                            Millis(run.started), ended, DumpJson(run.counts),
                            DumpJson(run.progress), run.error, run.owner},
                           "recording a sync run");
  if (!r) {
    if (r.error().code == ErrorCode::kNotFound) return NoConnectionError(run.connection_id);
    return r.error();
  }
  return r->Int(0, 0);
}

Status PgTransaction::UpdateSyncRun(const SyncRun& run) {
  if (auto w = CheckWritable(); !w) return w;
  PgParam ended;
  if (run.ended) ended = Millis(*run.ended);
  auto r = db_.Exec(sql::kUpdateSyncRun,
                    {Num(run.id), run.outcome, ended, DumpJson(run.counts),
                     DumpJson(run.progress), run.error},
                    "updating a sync run");
  if (!r) return r.error();
  if (r->Changed() == 0) return NoRun(run.id);
  return Status::Ok();
}

Result<SyncRun> PgTransaction::GetSyncRun(int64_t id) {
  auto r = db_.Exec(sql::kGetSyncRun, {Num(id)}, "reading a sync run");
  if (!r) return r.error();
  if (r->Rows() == 0) return NoRun(id);
  return ReadSyncRun(*r, 0);
}

Result<std::vector<SyncRun>> PgTransaction::ListSyncRuns(int64_t connection_id, int64_t limit) {
  return ReadRows(
      db_.Exec(sql::kListSyncRuns, {Num(connection_id), Num(limit)}, "listing sync runs"),
      ReadSyncRun);
}

Result<int64_t> PgTransaction::AbandonSyncRuns(int64_t connection_id, const std::string& owner,
                                               TimePoint when) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto r = db_.Exec(sql::kAbandonSyncRuns, {Num(connection_id), owner, Millis(when)},
                    "abandoning sync runs");
  if (!r) return r.error();
  return r->Changed();
}

Result<Json> PgTransaction::GetSyncState(int64_t connection_id) {
  auto r = db_.Exec(sql::kGetSyncState, {Num(connection_id)}, "reading a sync state");
  if (!r) return r.error();
  if (r->Rows() == 0) return Json::object();
  return ParseStoredJson(r->Text(0, 0), "sync state of connection " + Num(connection_id));
}

Status PgTransaction::PutSyncState(int64_t connection_id, const Json& state) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.ExecGuarded(sql::kPutSyncState, {Num(connection_id), DumpJson(state)},
                           "storing a sync state");
  if (!r && r.error().code == ErrorCode::kNotFound) return NoConnectionError(connection_id);
  if (!r) return r.error();
  return Status::Ok();
}

Result<bool> PgTransaction::AcquireSyncLease(int64_t connection_id, const std::string& owner,
                                             TimePoint now, TimePoint expires) {
  if (auto w = CheckWritable(); !w) return w.error();
  // One statement: insert the row, or take the lease when it is free, expired or ours. Two
  // instances racing for it conflict (serializable) and the loser is rerun and sees the lease.
  auto r = db_.ExecGuarded(sql::kAcquireSyncLease,
                           {Num(connection_id), owner, Millis(now), Millis(expires)},
                           "taking a sync lease");
  if (!r) {
    if (r.error().code == ErrorCode::kNotFound) return NoConnectionError(connection_id);
    return r.error();
  }
  return r->Changed() > 0;
}

Status PgTransaction::ReleaseSyncLease(int64_t connection_id, const std::string& owner) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kReleaseSyncLease, {Num(connection_id), owner}, "releasing a sync lease");
  if (!r) return r.error();
  return Status::Ok();
}

}  // namespace idsync::store::postgres
