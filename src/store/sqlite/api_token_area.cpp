// SqliteTransaction's share of store/api_token_area.h (admin and read API tokens) over one SQLite
// connection. Its statements are in queries.h.
#include <string>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

namespace {

// Columns in the order of IDSYNC_API_TOKEN_COLUMNS.
ApiToken ReadApiToken(const Statement& row) {
  ApiToken token;
  token.id = row.Int(0);
  token.name = row.Text(1);
  token.kind = row.Text(2);
  token.directory = row.Text(3);
  token.hash = row.Text(4);
  token.created = FromUnixMillis(row.Int(5));
  return token;
}

}  // namespace

Result<ApiToken> SqliteTransaction::CreateApiToken(const ApiToken& token) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto insert = db_.Prepare(sql::kInsertApiToken);
  if (!insert) return insert.error();
  insert->Bind(1, token.name)
      .Bind(2, token.kind)
      .Bind(3, token.directory)
      .Bind(4, token.hash)
      .Bind(5, ToUnixMillis(token.created));
  if (auto ran = insert->Run("adding an API token"); !ran) {
    if (ran.error().code == ErrorCode::kUniqueness) {
      // Name or hash; a hash collision of 256 random bits does not happen, so say the name.
      return MakeError(ErrorCode::kUniqueness,
                       "an API token named \"" + token.name + "\" already exists");
    }
    return ran.error();
  }
  ApiToken stored = token;
  stored.id = db_.LastInsertRowid();
  stored.created = Stored(token.created);
  return stored;
}

Result<ApiToken> SqliteTransaction::FindApiToken(const std::string& hash) {
  auto select = db_.Prepare(sql::kFindApiToken);
  if (!select) return select.error();
  select->Bind(1, hash);
  auto row = select->Step("looking up an API token");
  if (!row) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, "no such API token");
  return ReadApiToken(*select);
}

Result<std::vector<ApiToken>> SqliteTransaction::ListApiTokens() {
  auto select = db_.Prepare(sql::kListApiTokens);
  if (!select) return select.error();
  std::vector<ApiToken> out;
  auto listed = ForEachRow(*select, "listing API tokens", [&](const Statement& row) {
    out.push_back(ReadApiToken(row));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Status SqliteTransaction::DeleteApiToken(const std::string& name) {
  if (auto w = CheckWritable(); !w) return w;
  auto remove = db_.Prepare(sql::kDeleteApiToken);
  if (!remove) return remove.error();
  remove->Bind(1, name);
  if (auto ran = remove->Run("deleting an API token"); !ran) return ran;
  if (db_.Changes() == 0) {
    return MakeError(ErrorCode::kNotFound, "API token \"" + name + "\" not found");
  }
  return Status::Ok();
}

}  // namespace idsync::store::sqlite
