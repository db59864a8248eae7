// PgConnection over libpq; see pg_connection.h.
#include "store/postgres/pg_connection.h"

#include <charconv>
#include <cstring>
#include <string>
#include <utility>

#include "base/log.h"

namespace idsync::store::postgres {

namespace {

// The first line of libpq's message: the rest repeats context that names no secrets but is
// noise in an administrator's log.
std::string FirstLine(const char* message) {
  std::string s = message ? message : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

}  // namespace

int64_t PgResult::Int(int row, int col) const {
  const char* v = PQgetvalue(r_.get(), row, col);
  int64_t out = 0;
  std::from_chars(v, v + std::strlen(v), out);
  return out;
}

int64_t PgResult::Changed() const {
  const char* v = PQcmdTuples(r_.get());
  int64_t out = 0;
  std::from_chars(v, v + std::strlen(v), out);
  return out;
}

std::string RedactUrl(const std::string& url) {
  // postgresql://user:password@host -> postgresql://user:***@host
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  auto at = url.find('@', scheme + 3);
  if (at == std::string::npos) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

Result<std::unique_ptr<PgConnection>> PgConnection::Open(const std::string& url) {
  std::string where = RedactUrl(url);
  PGconn* conn = PQconnectdb(url.c_str());
  if (conn == nullptr) return MakeError(ErrorCode::kUnavailable, "out of memory connecting to " + where);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = FirstLine(PQerrorMessage(conn));
    PQfinish(conn);
    return MakeError(ErrorCode::kUnavailable, "cannot connect to " + where + ": " + message);
  }
  // Notices ("relation already exists, skipping") are for interactive sessions, not our log.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  auto out = std::unique_ptr<PgConnection>(new PgConnection(conn, where));
  // UTC milliseconds everywhere, as in the SQLite store; the session's time zone never matters.
  if (auto set = out->ExecScript("SET TIME ZONE 'UTC'", "setting up the session"); !set) {
    return set.error();
  }
  return out;
}

PgConnection::~PgConnection() { PQfinish(conn_); }

Error PgConnection::ErrorOf(PGresult* r, std::string_view what) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string code = state ? state : "";
  std::string message = FirstLine(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
  if (message.empty()) message = FirstLine(PQerrorMessage(conn_));
  std::string detail = std::string(what) + ": " + message;
  retryable_ = code == "40001" || code == "40P01";
  conflicted_ = conflicted_ || retryable_;
  if (retryable_) {
    // Which statement lost, and PostgreSQL's reason: what to look at when
    // idsync_store_write_reruns_total climbs (the write is rerun; nothing is lost).
    const char* reason = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : nullptr;
    log::Debug("write lost a serialization conflict",
               {{"statement", std::string(what)}, {"reason", reason ? reason : message}});
  }
  if (code == "23505") return MakeError(ErrorCode::kUniqueness, detail);
  if (code == "23503") return MakeError(ErrorCode::kNotFound, detail);
  if (retryable_ || code.rfind("08", 0) == 0 || code.rfind("57P", 0) == 0 ||
      PQstatus(conn_) != CONNECTION_OK) {
    return MakeError(ErrorCode::kUnavailable, detail + " (" + where_ + ")");
  }
  return MakeError(ErrorCode::kInternal, detail);
}

Result<PgResult> PgConnection::Exec(std::string_view sql, const std::vector<PgParam>& params,
                                    std::string_view what) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  std::string text(sql);
  PGresult* r = PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
  ExecStatusType status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error e = ErrorOf(r, what);
    if (r) PQclear(r);
    return e;
  }
  retryable_ = false;
  return PgResult(r);
}

Result<PgResult> PgConnection::ExecGuarded(std::string_view sql,
                                           const std::vector<PgParam>& params,
                                           std::string_view what) {
  if (auto saved = ExecScript("SAVEPOINT idsync_statement", what); !saved) return saved.error();
  auto r = Exec(sql, params, what);
  if (!r && (r.error().code == ErrorCode::kUniqueness || r.error().code == ErrorCode::kNotFound)) {
    if (auto back = ExecScript("ROLLBACK TO SAVEPOINT idsync_statement", what); !back) {
      return back.error();
    }
  }
  if (!r) return r;
  if (auto released = ExecScript("RELEASE SAVEPOINT idsync_statement", what); !released) {
    return released.error();
  }
  return r;
}

Status PgConnection::ExecScript(std::string_view sql, std::string_view what) {
  std::string text(sql);
  PGresult* r = PQexec(conn_, text.c_str());
  ExecStatusType status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error e = ErrorOf(r, what);
    if (r) PQclear(r);
    return e;
  }
  PQclear(r);
  retryable_ = false;
  return Status::Ok();
}

Status PgConnection::Commit(std::string_view what) {
  PGresult* r = PQexec(conn_, "COMMIT");
  ExecStatusType status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK) {
    Error e = ErrorOf(r, what);
    if (r) PQclear(r);
    return e;
  }
  const bool committed = std::string_view(PQcmdStatus(r)) == "COMMIT";
  PQclear(r);
  if (committed) {
    retryable_ = false;
    return Status::Ok();
  }
  retryable_ = conflicted_;
  return MakeError(conflicted_ ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                   std::string(what) + ": the transaction was rolled back by an earlier failed "
                   "statement (" + where_ + ")");
}

}  // namespace idsync::store::postgres
