// PgConnection: one libpq connection, and PgResult: one query's rows. Private to
// store/postgres. Every statement is sent with PQexecParams (text parameters, never spliced
// into SQL), so a value can never change a statement.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace idsync::store::postgres {

// A parameter: NULL when empty.
using PgParam = std::optional<std::string>;

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r, &PQclear) {}
  int Rows() const { return PQntuples(r_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string Text(int row, int col) const { return PQgetvalue(r_.get(), row, col); }
  int64_t Int(int row, int col) const;
  // Rows an INSERT/UPDATE/DELETE changed.
  int64_t Changed() const;

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> r_;
};

class PgConnection {
 public:
  // Connects to `url` (postgresql://USER[:PASSWORD]@HOST:PORT/DB?sslmode=...). What the URL does
  // not say comes from libpq's own sources: PGPASSWORD/PGPASSFILE (~/.pgpass), PGSSLMODE,
  // PGSSLROOTCERT and the other PG* variables. kUnavailable, without the password, if the
  // database cannot be reached or refuses us.
  static Result<std::unique_ptr<PgConnection>> Open(const std::string& url);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with `params` ($1, $2, ...). Errors map SQLSTATE to ErrorCode:
  // unique_violation -> kUniqueness, foreign_key_violation -> kNotFound, serialization
  // failure and deadlock -> kUnavailable with Retryable() true, a lost connection ->
  // kUnavailable; `what` names the operation in the message.
  Result<PgResult> Exec(std::string_view sql, const std::vector<PgParam>& params,
                        std::string_view what);
  // Exec inside a savepoint: if the statement fails with an expected error (kUniqueness,
  // kNotFound), the transaction is rolled back to just before it and stays usable, as a failed
  // statement leaves an SQLite transaction usable. (A failed statement otherwise aborts the
  // whole PostgreSQL transaction.) Retryable and connection errors are returned as they are.
  Result<PgResult> ExecGuarded(std::string_view sql, const std::vector<PgParam>& params,
                               std::string_view what);
  // Runs one or more statements without parameters (migrations, BEGIN/COMMIT).
  Status ExecScript(std::string_view sql, std::string_view what);

  // Ends the open transaction with COMMIT and checks that PostgreSQL really committed: in a
  // transaction an earlier failed statement aborted, COMMIT "succeeds" with the tag ROLLBACK.
  // That answers kUnavailable (Conflicted() tells whether a conflict caused it: retry) or
  // kInternal, never Ok.
  Status Commit(std::string_view what);

  // True if the last failed Exec was a serialization failure or deadlock (retry the
  // transaction) and false otherwise.
  bool Retryable() const { return retryable_; }
  // True if any statement since ResetConflict() lost a serialization conflict or deadlock,
  // even one whose error a caller did not pass on: the transaction was aborted there, so
  // whatever the job concluded afterwards rests on a failed read and the job must be rerun.
  bool Conflicted() const { return conflicted_; }
  void ResetConflict() { conflicted_ = false; }
  // False once the server is gone: the pool drops such a connection.
  bool Healthy() const { return PQstatus(conn_) == CONNECTION_OK; }
  // The URL without its password, for messages.
  const std::string& Where() const { return where_; }

 private:
  PgConnection(PGconn* conn, std::string where) : conn_(conn), where_(std::move(where)) {}
  Error ErrorOf(PGresult* r, std::string_view what);

  PGconn* conn_;
  std::string where_;
  bool retryable_ = false;
  bool conflicted_ = false;
};

// `url` with any password replaced by "***", for logs and errors.
std::string RedactUrl(const std::string& url);

}  // namespace idsync::store::postgres
