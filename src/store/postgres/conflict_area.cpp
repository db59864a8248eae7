// PgTransaction's share of store/conflict_area.h (username conflicts), as
// store/sqlite/conflict_area.cpp. Its statements are in queries.h.
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

namespace {

// A row of IDSYNC_PG_CONFLICT_COLUMNS (queries.h).
Result<ConflictRecord> ConflictFromRow(const PgResult& r, int i) {
  ConflictRecord conflict;
  conflict.directory = r.Text(i, 0);
  conflict.connection_id = r.Int(i, 1);
  conflict.source_user_id = r.Text(i, 2);
  conflict.username = r.Text(i, 3);
  auto detail = ParseStoredJson(r.Text(i, 4), "conflict of " + conflict.source_user_id);
  if (!detail) return detail.error();
  conflict.detail = std::move(*detail);
  conflict.time = FromUnixMillis(r.Int(i, 5));
  if (!r.IsNull(i, 6)) conflict.keys = ConflictKeys{r.Text(i, 6), r.Text(i, 7), r.Text(i, 8)};
  return conflict;
}

// An array literal of `values` for a text[] or bigint[] parameter: every element quoted, with
// its backslashes and double quotes escaped.
template <typename Values, typename Text>
std::string ArrayLiteral(const Values& values, Text text) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char ch : text(v)) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

Status PgTransaction::PutConflict(const ConflictRecord& conflict) {
  if (auto w = CheckWritable(); !w) return w;
  auto r =
      db_.ExecGuarded(sql::kPutConflict,
                      {Num(conflict.connection_id), conflict.source_user_id, conflict.directory,
                       conflict.username, DumpJson(conflict.detail), Millis(conflict.time),
                       conflict.keys ? PgParam(conflict.keys->username) : std::nullopt,
                       conflict.keys ? PgParam(conflict.keys->link_key) : std::nullopt,
                       conflict.keys ? PgParam(conflict.keys->source_name) : std::nullopt},
                      "storing a conflict");
  if (!r && r.error().code == ErrorCode::kNotFound) {
    return NoConnectionError(conflict.connection_id);
  }
  if (!r) return r.error();
  return Status::Ok();
}

Status PgTransaction::DeleteConflict(int64_t connection_id, const std::string& source_user_id) {
  if (auto w = CheckWritable(); !w) return w;
  db_.ExecDeferred(sql::kDeleteConflict, {Num(connection_id), source_user_id},
                   "deleting a conflict");
  return Status::Ok();
}

Result<std::vector<ConflictRecord>> PgTransaction::ListConflicts(const std::string& directory) {
  auto r = db_.Exec(sql::kListConflicts, {directory}, "listing conflicts");
  if (!r) return r.error();
  std::vector<ConflictRecord> out;
  for (int i = 0; i < r->Rows(); ++i) {
    auto conflict = ConflictFromRow(*r, i);
    if (!conflict) return conflict.error();
    out.push_back(std::move(*conflict));
  }
  return out;
}

Result<std::vector<ConflictRecord>> PgTransaction::FindConflicts(const std::string& directory,
                                                                 const ConflictLookup& wanted) {
  auto same = [](const std::string& v) -> const std::string& { return v; };
  std::set<int64_t> connections;
  std::set<std::string> names;
  for (const auto& [connection_id, name] : wanted.source_names) {
    connections.insert(connection_id);
    names.insert(name);
  }
  auto r = db_.Exec(
      sql::kFindConflicts,
      {directory, ArrayLiteral(wanted.usernames, same), ArrayLiteral(wanted.link_keys, same),
       ArrayLiteral(connections, [](int64_t id) { return Num(id); }), ArrayLiteral(names, same)},
      "finding conflicts");
  if (!r) return r.error();
  // By (connection id, source user id): a row found by two arms is returned once, and in
  // ListConflicts' order.
  std::map<std::pair<int64_t, std::string>, ConflictRecord> found;
  for (int i = 0; i < r->Rows(); ++i) {
    auto conflict = ConflictFromRow(*r, i);
    if (!conflict) return conflict.error();
    const auto& keys = conflict->keys;
    // The source-name arm reads every pair of the connections and names asked for.
    const bool wanted_row = !keys || wanted.usernames.count(keys->username) ||
                            wanted.link_keys.count(keys->link_key) ||
                            wanted.source_names.count({conflict->connection_id, keys->source_name});
    if (!wanted_row) continue;
    auto key = std::make_pair(conflict->connection_id, conflict->source_user_id);
    found.try_emplace(std::move(key), std::move(*conflict));
  }
  std::vector<ConflictRecord> out;
  out.reserve(found.size());
  for (auto& [key, conflict] : found) out.push_back(std::move(conflict));
  return out;
}

}  // namespace idsync::store::postgres
