// PgTransaction's share of store/change_feed_area.h (the change feed). Its statements are in
// queries.h; how seq is assigned in commit order is explained in migrations.cpp.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "store/postgres/queries.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

namespace {

Result<Json> ParseStored(const std::string& text, const std::string& what) {
  Json j = idsync::ParseStoredJson(text);
  if (j.is_discarded()) return MakeError(ErrorCode::kInternal, what + ": stored JSON is not valid");
  return j;
}

Result<std::vector<ChangeRecord>> ReadChanges(Result<PgResult> r) {
  if (!r) return r.error();
  std::vector<ChangeRecord> out;
  out.reserve(r->Rows());
  for (int i = 0; i < r->Rows(); ++i) {
    ChangeRecord change;
    change.seq = r->Int(i, 0);
    change.time = FromUnixMillis(r->Int(i, 1));
    change.directory = r->Text(i, 2);
    change.type = r->Text(i, 3);
    change.op = r->Text(i, 4);
    change.id = r->Text(i, 5);
    change.member_id = r->Text(i, 6);
    std::string what = "change " + std::to_string(change.seq);
    if (!r->IsNull(i, 7)) {
      auto resource = ParseStored(r->Text(i, 7), what);
      if (!resource) return resource.error();
      change.resource = std::move(*resource);
    }
    auto cause = ParseStored(r->Text(i, 8), what);
    if (!cause) return cause.error();
    change.cause = std::move(*cause);
    out.push_back(std::move(change));
  }
  return out;
}

}  // namespace

// The change is numbered after this transaction commits (PostgresStore::Write runs the
// sequencer; migrations.cpp, kFeedSequencer), so its seq is not known here: 0.
Result<int64_t> PgTransaction::AppendChange(const ChangeRecord& change) {
  if (auto w = CheckWritable(); !w) return w.error();
  PgParam resource;
  if (!change.resource.is_null()) {
    resource = EncodedText(change.encoded_resource, change.resource);
  }
  // Sent with the job's next statement or its COMMIT (PgConnection::ExecDeferred).
  db_.ExecDeferred(sql::kInsertChange,
                   {change.directory, std::to_string(ToUnixMillis(change.time)), change.type,
                    change.op, change.id, change.member_id, resource, DumpJson(change.cause)},
                   "appending to the change feed");
  appended_changes_ = true;
  return int64_t{0};
}

Result<std::vector<ChangeRecord>> PgTransaction::ListChanges(const std::string& directory,
                                                             int64_t after_seq, int64_t limit) {
  return ReadChanges(db_.Exec(sql::kListChanges,
                              {directory, std::to_string(after_seq),
                               std::to_string(std::max<int64_t>(limit, 0))},
                              "reading the change feed"));
}

Result<std::vector<ChangeRecord>> PgTransaction::ListChangesOf(const std::string& directory,
                                                               const std::string& entry_id,
                                                               int64_t after_seq, int64_t limit) {
  return ReadChanges(db_.Exec(sql::kListChangesOf,
                              {directory, std::to_string(after_seq),
                               std::to_string(std::max<int64_t>(limit, 0)), entry_id},
                              "reading the change feed"));
}

Result<int64_t> PgTransaction::LastChangeSeq(const std::string& directory) {
  auto r = db_.Exec(sql::kLastChangeSeq, {directory}, "reading the change feed");
  if (!r) return r.error();
  return r->Rows() ? r->Int(0, 0) : int64_t{0};
}

}  // namespace idsync::store::postgres
