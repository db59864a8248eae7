// Helpers the PostgreSQL areas share to turn result rows into the store's types. Private to
// store/postgres.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"
#include "store/postgres/pg_connection.h"
#include "store/store.h"

namespace idsync::store::postgres {

// Stored JSON text parsed; kInternal naming `what` if it is not JSON.
Result<Json> ParseStoredJson(const std::string& text, std::string_view what);

// The text a write binds for `body`: what PostgresStore::EncodeBody made of it before the job
// was queued, or DumpJson(body) when it made nothing.
inline std::string EncodedText(const EncodedBodyPtr& encoded, const Json& body) {
  return encoded && !encoded->blob ? encoded->bytes : DumpJson(body);
}

// Parameters: integers and times as text, booleans as PostgreSQL's literals.
inline std::string Num(int64_t v) { return std::to_string(v); }
inline std::string Millis(TimePoint t) { return std::to_string(ToUnixMillis(t)); }
inline const char* PgBool(bool b) { return b ? "true" : "false"; }
// A time as a later read returns it (whole milliseconds).
inline TimePoint Stored(TimePoint t) { return FromUnixMillis(ToUnixMillis(t)); }

// Rows a scan (ScanResources, ScanEffectiveUsers, ScanEffectiveGroups) reads per statement.
inline constexpr int64_t kScanChunk = 500;

// Columns in the order of the *_COLUMNS lists in queries.h (the pk first).
Result<EffectiveUserRow> ReadEffectiveUser(const PgResult& r, int row);
Result<EffectiveGroupRow> ReadEffectiveGroup(const PgResult& r, int row);
// Every row of `r` read by `read`, a callable (const PgResult&, int row) -> Result<Row>; the
// first row that does not read is the error.
template <typename Read, typename Row = std::decay_t<
                             decltype(*std::declval<Read&>()(std::declval<const PgResult&>(), 0))>>
Result<std::vector<Row>> ReadRows(Result<PgResult> r, Read read) {
  if (!r) return r.error();
  std::vector<Row> out;
  out.reserve(r->Rows());
  for (int i = 0; i < r->Rows(); ++i) {
    auto row = read(*r, i);
    if (!row) return row.error();
    out.push_back(std::move(*row));
  }
  return out;
}
inline Result<std::vector<EffectiveUserRow>> ReadEffectiveUsers(Result<PgResult> r) {
  return ReadRows(std::move(r), &ReadEffectiveUser);
}
inline Result<std::vector<EffectiveGroupRow>> ReadEffectiveGroups(Result<PgResult> r) {
  return ReadRows(std::move(r), &ReadEffectiveGroup);
}

Error NoConnectionError(int64_t id);

}  // namespace idsync::store::postgres
