// PgConnection: one libpq connection, and PgResult: one query's rows. Private to
// store/postgres. Every statement is sent with text parameters, never spliced into SQL, so a
// value can never change a statement. A statement is prepared on the connection the first time
// it runs there and executed by name afterwards: PostgreSQL then parses and plans it once per
// connection instead of once per execution.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <libpq-fe.h>

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
  // The command tag ("COMMIT", "ROLLBACK", "INSERT 0 1", ...).
  std::string_view Tag() const { return PQcmdStatus(r_.get()); }

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
  // The savepoint, the statement and the savepoint's release go out together (libpq pipeline
  // mode): one round trip instead of three when the statement succeeds.
  Result<PgResult> ExecGuarded(std::string_view sql, const std::vector<PgParam>& params,
                               std::string_view what);
  // One statement of ExecPipeline. `prepare` false for statements run once or that cannot be
  // prepared (BEGIN, SAVEPOINT, COMMIT).
  struct Step {
    std::string_view sql;
    std::vector<PgParam> params;
    bool prepare = true;
    std::string_view what = {};  // names the step in its error; the pipeline's `what` if empty
  };
  // Sends every step at once (libpq pipeline mode: one round trip) and answers their results in
  // order. The first step that fails ends the pipeline (PostgreSQL skips the rest) and its error
  // is returned, as Exec would return it.
  Result<std::vector<PgResult>> ExecPipeline(const std::vector<Step>& steps,
                                             std::string_view what);
  // Queues a write whose answer the caller does not need (an index entry, a change, an audit
  // record): it goes out in the pipeline of the next statement, savepoint or COMMIT on this
  // connection, in order, and that call answers its error (so a write that fails is never
  // acknowledged: COMMIT is the last call that can flush). Rollback drops what is queued.
  void ExecDeferred(std::string_view sql, std::vector<PgParam> params, std::string_view what);
  // Opens a transaction with `begin` (a BEGIN statement) without a round trip of its own: it
  // goes out with the next statement, as a queued write does. A Rollback before anything was
  // sent sends nothing: the server never saw the transaction.
  void DeferBegin(std::string_view begin);
  // Sets savepoint `name` the same way. A Rollback to it before it went out drops it and what
  // was queued after it, keeps what was queued before it, and sends nothing.
  void DeferSavepoint(std::string_view name);
  // Prepares each of `statements` that is not prepared on this connection yet, all in one round
  // trip (pipeline mode), under the names Exec would give them on first use. Used to warm a new
  // connection and by ExecPipeline, whose new statements were one PQprepare round trip each.
  // If one does not prepare, its error is returned and none of them counts as prepared (a
  // later Exec prepares it again; "already prepared" is then taken as success). Statements past
  // kMaxPrepared are left to run unprepared. What is queued (ExecDeferred, DeferBegin) stays
  // queued: preparing goes ahead of it, as Exec's own preparing always did.
  Status PrepareAll(std::span<const std::string_view> statements, std::string_view what);
  // Runs one or more statements without parameters (migrations, BEGIN, SAVEPOINT), after what
  // is queued. Not for ROLLBACK: that is Rollback.
  Status ExecScript(std::string_view sql, std::string_view what);
  // Ends the open transaction with ROLLBACK, or with `savepoint` undoes what followed that
  // savepoint and releases it (one round trip, none if the BEGIN or the savepoint is still
  // queued: see DeferBegin, DeferSavepoint). What is queued after the savepoint is dropped, never
  // sent: it is undone either way.
  Status Rollback(std::string_view what, std::string_view savepoint = {});

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
  // PQexec of `sql`, nothing queued sent first.
  Status Run(const std::string& sql, std::string_view what);
  // The name `sql` is prepared under on this connection, preparing it on first use; nullptr
  // once kMaxPrepared statements are (statements built at run time, such as the explorer's
  // searches, could otherwise grow the cache without end): such a statement runs unprepared.
  Result<const std::string*> Prepared(std::string_view sql, int params, std::string_view what);

  // Sends PQpipelineSync and reads every result up to it (each statement's, in order), then
  // leaves pipeline mode. Fewer results than statements sent means the connection failed.
  std::vector<std::unique_ptr<PGresult, decltype(&PQclear)>> FinishPipeline(bool sent);
  // ExecPipeline without the queued writes.
  Result<std::vector<PgResult>> RunPipeline(const std::vector<Step>& steps, std::string_view what);

  static constexpr size_t kMaxPrepared = 512;

  struct Deferred {
    std::string sql;
    std::vector<PgParam> params;
    std::string what;
    bool prepare = true;
  };
  std::vector<Deferred> deferred_;  // ExecDeferred's queue
  // While still queued (not sent): the transaction's BEGIN (at the front), and the last
  // savepoint, by name, with its place in the queue.
  bool begin_queued_ = false;
  std::string savepoint_queued_;
  size_t savepoint_at_ = 0;

  PGconn* conn_;
  std::string where_;
  // SQL text -> the name it is prepared under: "idsync_" and a hash of the text, so that the
  // same name always means the same statement, even on a server session that a connection
  // pooler hands to another of our connections.
  // Looked up by the caller's string_view, without copying the text.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, std::string, TextHash, std::equal_to<>> prepared_;
  bool retryable_ = false;
  bool conflicted_ = false;
};

// The name a statement is prepared under on every connection: "idsync_" and a hash of its
// text, so that the same text always gets the same name.
std::string PreparedStatementName(std::string_view sql);

// `url` with any password replaced by "***", for logs and errors.
std::string RedactUrl(const std::string& url);

}  // namespace idsync::store::postgres
