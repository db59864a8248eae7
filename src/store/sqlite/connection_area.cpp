// SqliteTransaction's share of store/connection_area.h (connections and their tokens) over one
// SQLite connection. Its statements are in queries.h.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/uuid.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

namespace {

Result<Connection> ReadConnection(const Statement& row) {
  Connection connection;
  connection.id = row.Int(0);
  connection.uuid = row.Text(1);
  connection.name = row.Text(2);
  connection.directory = row.Text(3);
  connection.kind = row.Text(4);
  connection.enabled = row.Int(5) != 0;
  connection.created = FromUnixMillis(row.Int(6));
  connection.settings = Json::parse(row.Text(7), nullptr, /*allow_exceptions=*/false);
  if (connection.settings.is_discarded()) {
    return Internal("settings of connection " + connection.name + " are not valid JSON");
  }
  return connection;
}

Token ReadToken(const Statement& row) {
  Token token;
  token.id = row.Int(0);
  token.connection_id = row.Int(1);
  token.hash = row.Text(2);
  token.created = FromUnixMillis(row.Int(3));
  if (!row.IsNull(4)) token.expires = FromUnixMillis(row.Int(4));
  return token;
}

}  // namespace

Result<Connection> SqliteTransaction::CreateConnection(Connection connection) {
  if (auto w = CheckWritable(); !w) return w.error();
  if (connection.uuid.empty()) connection.uuid = NewUuid();
  auto insert = db_.Prepare(sql::kInsertConnection);
  if (!insert) return insert.error();
  insert->Bind(1, connection.uuid)
      .Bind(2, connection.name)
      .Bind(3, connection.directory)
      .Bind(4, connection.kind)
      .Bind(5, int64_t{connection.enabled ? 1 : 0})
      .Bind(6, ToUnixMillis(connection.created))
      .Bind(7, DumpJson(connection.settings));
  if (auto ran = insert->Run("adding a connection"); !ran) {
    if (ran.error().code == ErrorCode::kUniqueness) {
      return MakeError(ErrorCode::kUniqueness,
                       "a connection named \"" + connection.name + "\" already exists");
    }
    return ran.error();
  }
  connection.id = db_.LastInsertRowid();
  return connection;
}

Result<Connection> SqliteTransaction::GetConnection(int64_t id) {
  auto select = db_.Prepare(sql::kGetConnection);
  if (!select) return select.error();
  select->Bind(1, id);
  return OneConnection(*select, "connection " + std::to_string(id));
}

Result<Connection> SqliteTransaction::GetConnectionByName(const std::string& name) {
  auto select = db_.Prepare(sql::kGetConnectionByName);
  if (!select) return select.error();
  select->Bind(1, name);
  return OneConnection(*select, "connection \"" + name + "\"");
}

Result<std::vector<Connection>> SqliteTransaction::ListConnections() {
  auto select = db_.Prepare(sql::kListConnections);
  if (!select) return select.error();
  std::vector<Connection> out;
  auto listed = ForEachRow(*select, "listing connections", [&](const Statement& row) -> Status {
    auto connection = ReadConnection(row);
    if (!connection) return connection.error();
    out.push_back(std::move(*connection));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Status SqliteTransaction::UpdateConnection(const Connection& connection) {
  if (auto w = CheckWritable(); !w) return w;
  auto update = db_.Prepare(sql::kUpdateConnection);
  if (!update) return update.error();
  update->Bind(1, connection.id)
      .Bind(2, int64_t{connection.enabled ? 1 : 0})
      .Bind(3, DumpJson(connection.settings));
  if (auto ran = update->Run("updating a connection"); !ran) return ran;
  if (db_.Changes() == 0) return NoConnection(connection.id);
  return Status::Ok();
}

Status SqliteTransaction::DeleteConnection(int64_t id) {
  if (auto w = CheckWritable(); !w) return w;
  ForgetMirrorUsers();
  // ON DELETE CASCADE removes tokens, resources, and through resources the index entries
  // and memberships, and the connection's policy versions, source links and conflicts, in
  // this one statement. Effective users stay: the directory layer has already decided their
  // fate before removing the connection.
  auto remove = db_.Prepare(sql::kDeleteConnection);
  if (!remove) return remove.error();
  remove->Bind(1, id);
  if (auto ran = remove->Run("deleting a connection"); !ran) return ran;
  if (db_.Changes() == 0) return NoConnection(id);
  return Status::Ok();
}

Status SqliteTransaction::AddToken(const Token& token) {
  if (auto w = CheckWritable(); !w) return w;
  auto insert = db_.Prepare(sql::kInsertToken);
  if (!insert) return insert.error();
  std::optional<int64_t> expires;
  if (token.expires) expires = ToUnixMillis(*token.expires);
  insert->Bind(1, token.connection_id)
      .Bind(2, token.hash)
      .Bind(3, ToUnixMillis(token.created))
      .Bind(4, expires);
  auto ran = insert->Run("adding a token");
  if (!ran && ran.error().code == ErrorCode::kNotFound) return NoConnection(token.connection_id);
  if (!ran && ran.error().code == ErrorCode::kUniqueness) {
    return MakeError(ErrorCode::kUniqueness, "a token with this hash already exists");
  }
  return ran;
}

Status SqliteTransaction::ExpireTokens(int64_t connection_id, TimePoint expires) {
  if (auto w = CheckWritable(); !w) return w;
  auto update = db_.Prepare(sql::kExpireTokens);
  if (!update) return update.error();
  update->Bind(1, connection_id).Bind(2, ToUnixMillis(expires));
  return update->Run("expiring tokens");
}

Result<Token> SqliteTransaction::FindToken(const std::string& hash) {
  auto select = db_.Prepare(sql::kFindToken);
  if (!select) return select.error();
  select->Bind(1, hash);
  auto row = select->Step("looking up a token");
  if (!row) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, "no such token");
  return ReadToken(*select);
}

Result<std::vector<Token>> SqliteTransaction::ListTokens(int64_t connection_id) {
  auto select = db_.Prepare(sql::kListTokens);
  if (!select) return select.error();
  select->Bind(1, connection_id);
  std::vector<Token> out;
  auto listed = ForEachRow(*select, "listing tokens", [&](const Statement& row) {
    out.push_back(ReadToken(row));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Result<int64_t> SqliteTransaction::ConfigGeneration() {
  auto select = db_.Prepare(sql::kConfigGeneration);
  if (!select) return select.error();
  auto row = select->Step("reading the configuration generation");
  if (!row) return row.error();
  if (!*row) return Internal("configuration generation row missing");
  return select->Int(0);
}

Result<Connection> SqliteTransaction::OneConnection(Statement& select, const std::string& name) {
  auto row = select.Step("reading a connection");
  if (!row) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, name + " not found");
  return ReadConnection(select);
}

}  // namespace idsync::store::sqlite
