// PgTransaction's share of store/connection_area.h (connections and their tokens). Its
// statements are in queries.h.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/uuid.h"
#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

namespace {

Result<Connection> ReadConnection(const PgResult& r, int row) {
  Connection connection;
  connection.id = r.Int(row, 0);
  connection.uuid = r.Text(row, 1);
  connection.name = r.Text(row, 2);
  connection.directory = r.Text(row, 3);
  connection.kind = r.Text(row, 4);
  connection.enabled = r.Text(row, 5) == "t";
  connection.created = FromUnixMillis(r.Int(row, 6));
  connection.settings = Json::parse(r.Text(row, 7), nullptr, /*allow_exceptions=*/false);
  if (connection.settings.is_discarded()) {
    return MakeError(ErrorCode::kInternal,
                     "settings of connection " + connection.name + " are not valid JSON");
  }
  return connection;
}

Token ReadToken(const PgResult& r, int row) {
  Token token;
  token.id = r.Int(row, 0);
  token.connection_id = r.Int(row, 1);
  token.hash = r.Text(row, 2);
  token.created = FromUnixMillis(r.Int(row, 3));
  if (!r.IsNull(row, 4)) token.expires = FromUnixMillis(r.Int(row, 4));
  return token;
}

Result<Connection> OneConnection(Result<PgResult> r, const std::string& name) {
  if (!r) return r.error();
  if (r->Rows() == 0) return MakeError(ErrorCode::kNotFound, name + " not found");
  return ReadConnection(*r, 0);
}

}  // namespace

Status PgTransaction::CheckWritable() const {
  if (!writable_) return MakeError(ErrorCode::kInternal, "write through a read transaction");
  return Status::Ok();
}

Result<Connection> PgTransaction::CreateConnection(Connection connection) {
  if (auto w = CheckWritable(); !w) return w.error();
  if (connection.uuid.empty()) connection.uuid = NewUuid();
  auto inserted = db_.ExecGuarded(
      sql::kInsertConnection,
      {connection.uuid, connection.name, connection.directory, connection.kind,
       PgBool(connection.enabled), Millis(connection.created), DumpJson(connection.settings)},
      "adding a connection");
  if (!inserted) {
    if (inserted.error().code == ErrorCode::kUniqueness) {
      return MakeError(ErrorCode::kUniqueness,
                       "a connection named \"" + connection.name + "\" already exists");
    }
    return inserted.error();
  }
  connection.id = inserted->Int(0, 0);
  return connection;
}

Result<Connection> PgTransaction::GetConnection(int64_t id) {
  return OneConnection(db_.Exec(sql::kGetConnection, {std::to_string(id)}, "reading a connection"),
                       "connection " + std::to_string(id));
}

Result<Connection> PgTransaction::GetConnectionByName(const std::string& name) {
  return OneConnection(db_.Exec(sql::kGetConnectionByName, {name}, "reading a connection"),
                       "connection \"" + name + "\"");
}

Result<std::vector<Connection>> PgTransaction::ListConnections() {
  return ReadRows(db_.Exec(sql::kListConnections, {}, "listing connections"), ReadConnection);
}

Status PgTransaction::UpdateConnection(const Connection& connection) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(
      sql::kUpdateConnection,
      {std::to_string(connection.id), PgBool(connection.enabled), DumpJson(connection.settings)},
      "updating a connection");
  if (!r) return r.error();
  if (r->Changed() == 0) return NoConnectionError(connection.id);
  return Status::Ok();
}

Status PgTransaction::DeleteConnection(int64_t id) {
  if (auto w = CheckWritable(); !w) return w;
  written_user_.reset();
  // ON DELETE CASCADE removes the tokens (and, as areas are ported, the mirror) in this one
  // statement, as in the SQLite store.
  auto r = db_.Exec(sql::kDeleteConnection, {std::to_string(id)}, "deleting a connection");
  if (!r) return r.error();
  if (r->Changed() == 0) return NoConnectionError(id);
  return Status::Ok();
}

Status PgTransaction::AddToken(const Token& token) {
  if (auto w = CheckWritable(); !w) return w;
  PgParam expires;
  if (token.expires) expires = Millis(*token.expires);
  auto r = db_.ExecGuarded(sql::kInsertToken,
                    {std::to_string(token.connection_id), token.hash, Millis(token.created),
                     expires},
                    "adding a token");
  if (!r && r.error().code == ErrorCode::kNotFound) return NoConnectionError(token.connection_id);
  if (!r && r.error().code == ErrorCode::kUniqueness) {
    return MakeError(ErrorCode::kUniqueness, "a token with this hash already exists");
  }
  if (!r) return r.error();
  return Status::Ok();
}

Status PgTransaction::ExpireTokens(int64_t connection_id, TimePoint expires) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kExpireTokens, {std::to_string(connection_id), Millis(expires)},
                    "expiring tokens");
  if (!r) return r.error();
  return Status::Ok();
}

Result<Token> PgTransaction::FindToken(const std::string& hash) {
  auto r = db_.Exec(sql::kFindToken, {hash}, "looking up a token");
  if (!r) return r.error();
  if (r->Rows() == 0) return MakeError(ErrorCode::kNotFound, "no such token");
  return ReadToken(*r, 0);
}

Result<std::vector<Token>> PgTransaction::ListTokens(int64_t connection_id) {
  auto r = db_.Exec(sql::kListTokens, {std::to_string(connection_id)}, "listing tokens");
  if (!r) return r.error();
  std::vector<Token> out;
  for (int i = 0; i < r->Rows(); ++i) out.push_back(ReadToken(*r, i));
  return out;
}

Result<int64_t> PgTransaction::ConfigGeneration() {
  auto r = db_.Exec(sql::kConfigGeneration, {}, "reading the configuration generation");
  if (!r) return r.error();
  if (r->Rows() == 0) return MakeError(ErrorCode::kInternal, "configuration generation row missing");
  return r->Int(0, 0);
}

}  // namespace idsync::store::postgres
