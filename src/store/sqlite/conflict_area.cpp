// SqliteTransaction's share of store/conflict_area.h (username conflicts) over one SQLite
// connection. Its statements are in queries.h.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

namespace {

// A row of IDSYNC_CONFLICT_COLUMNS (queries.h).
Result<ConflictRecord> ConflictFromRow(const Statement& row) {
  ConflictRecord conflict;
  conflict.directory = row.Text(0);
  conflict.connection_id = row.Int(1);
  conflict.source_user_id = row.Text(2);
  conflict.username = row.Text(3);
  auto detail = ParseStored(row.Text(4), "conflict of " + conflict.source_user_id);
  if (!detail) return detail.error();
  conflict.detail = std::move(*detail);
  conflict.time = FromUnixMillis(row.Int(5));
  if (!row.IsNull(6)) {
    conflict.keys = ConflictKeys{row.Text(6), row.Text(7), row.Text(8)};
  }
  return conflict;
}

}  // namespace

Status SqliteTransaction::PutConflict(const ConflictRecord& conflict) {
  if (auto w = CheckWritable(); !w) return w;
  auto upsert = db_.Prepare(sql::kPutConflict);
  if (!upsert) return upsert.error();
  upsert->Bind(1, conflict.connection_id)
      .Bind(2, conflict.source_user_id)
      .Bind(3, conflict.directory)
      .Bind(4, conflict.username)
      .Bind(5, DumpJson(conflict.detail))
      .Bind(6, ToUnixMillis(conflict.time));
  if (conflict.keys) {
    upsert->Bind(7, conflict.keys->username)
        .Bind(8, conflict.keys->link_key)
        .Bind(9, conflict.keys->source_name);
  } else {
    upsert->BindNull(7).BindNull(8).BindNull(9);
  }
  auto ran = upsert->Run("storing a conflict");
  if (!ran && ran.error().code == ErrorCode::kNotFound) {
    return NoConnection(conflict.connection_id);
  }
  return ran;
}

Status SqliteTransaction::DeleteConflict(int64_t connection_id, const std::string& source_user_id) {
  if (auto w = CheckWritable(); !w) return w;
  auto remove = db_.Prepare(sql::kDeleteConflict);
  if (!remove) return remove.error();
  remove->Bind(1, connection_id).Bind(2, source_user_id);
  return remove->Run("deleting a conflict");
}

Result<std::vector<ConflictRecord>> SqliteTransaction::ListConflicts(const std::string& directory) {
  auto select = db_.Prepare(sql::kListConflicts);
  if (!select) return select.error();
  select->Bind(1, directory);
  std::vector<ConflictRecord> out;
  auto listed = ForEachRow(*select, "listing conflicts", [&](const Statement& row) -> Status {
    auto conflict = ConflictFromRow(row);
    if (!conflict) return conflict.error();
    out.push_back(std::move(*conflict));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Result<std::vector<ConflictRecord>> SqliteTransaction::FindConflicts(const std::string& directory,
                                                                     const ConflictLookup& wanted) {
  // By (connection id, source user id): a row found by two keys is returned once, and in
  // ListConflicts' order.
  std::map<std::pair<int64_t, std::string>, ConflictRecord> found;
  auto read = [&](Statement& select) -> Status {
    return ForEachRow(select, "finding conflicts", [&](const Statement& row) -> Status {
      auto conflict = ConflictFromRow(row);
      if (!conflict) return conflict.error();
      auto key = std::make_pair(conflict->connection_id, conflict->source_user_id);
      found.try_emplace(std::move(key), std::move(*conflict));
      return Status::Ok();
    });
  };
  for (const auto& username : wanted.usernames) {
    auto select = db_.Prepare(sql::kFindConflictsByUsername);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, username);
    if (Status s = read(*select); !s) return s.error();
  }
  for (const auto& link_key : wanted.link_keys) {
    auto select = db_.Prepare(sql::kFindConflictsByLinkKey);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, link_key);
    if (Status s = read(*select); !s) return s.error();
  }
  for (const auto& [connection_id, source_name] : wanted.source_names) {
    auto select = db_.Prepare(sql::kFindConflictsBySourceName);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, connection_id).Bind(3, source_name);
    if (Status s = read(*select); !s) return s.error();
  }
  {
    auto select = db_.Prepare(sql::kFindUnkeyedConflicts);
    if (!select) return select.error();
    select->Bind(1, directory);
    if (Status s = read(*select); !s) return s.error();
  }
  std::vector<ConflictRecord> out;
  out.reserve(found.size());
  for (auto& [key, conflict] : found) out.push_back(std::move(conflict));
  return out;
}

}  // namespace idsync::store::sqlite
