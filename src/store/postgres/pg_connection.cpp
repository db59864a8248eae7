// PgConnection over libpq; see pg_connection.h.
#include "store/postgres/pg_connection.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
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

// duplicate_prepared_statement: the session already has a statement under this name, which
// only the same text gives (a pooler handing us a session another connection prepared it on).
bool AlreadyPrepared(const PGresult* r) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return state && std::string_view(state) == "42P05";
}

// libpq's parameter array for `params`: NULL for an empty one. Points into `params`.
std::vector<const char*> Values(const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return values;
}

}  // namespace

std::string PreparedStatementName(std::string_view sql) {
  char name[32];
  std::snprintf(name, sizeof name, "idsync_%016zx", std::hash<std::string_view>{}(sql));
  return name;
}

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

Result<const std::string*> PgConnection::Prepared(std::string_view sql, int params,
                                                  std::string_view what) {
  if (auto known = prepared_.find(sql); known != prepared_.end()) {
    return static_cast<const std::string*>(&known->second);
  }
  if (prepared_.size() >= kMaxPrepared) return static_cast<const std::string*>(nullptr);
  std::string text(sql);
  const std::string name = PreparedStatementName(sql);
  PGresult* r = PQprepare(conn_, name.c_str(), text.c_str(), params, nullptr);
  ExecStatusType status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && !AlreadyPrepared(r)) {
    Error e = ErrorOf(r, what);
    if (r) PQclear(r);
    return e;
  }
  if (r) PQclear(r);
  return static_cast<const std::string*>(&prepared_.emplace(std::move(text), name).first->second);
}

Status PgConnection::PrepareAll(std::span<const std::string_view> statements,
                                std::string_view what) {
  std::vector<std::pair<std::string, std::string>> todo;  // text, name
  for (std::string_view sql : statements) {
    if (prepared_.size() + todo.size() >= kMaxPrepared) break;
    if (prepared_.contains(sql)) continue;
    if (std::any_of(todo.begin(), todo.end(), [&](const auto& t) { return t.first == sql; })) {
      continue;
    }
    todo.emplace_back(std::string(sql), PreparedStatementName(sql));
  }
  if (todo.empty()) return Status::Ok();
  if (PQenterPipelineMode(conn_) != 1) return ErrorOf(nullptr, what);
  bool sent = true;
  for (size_t i = 0; sent && i < todo.size(); ++i) {
    // No parameter types: PostgreSQL infers each $n from the statement, as Prepared's do.
    sent = PQsendPrepare(conn_, todo[i].second.c_str(), todo[i].first.c_str(), 0, nullptr) == 1;
  }
  auto results = FinishPipeline(sent);
  auto failed = std::find_if(results.begin(), results.end(), [](const auto& r) {
    return PQresultStatus(r.get()) != PGRES_COMMAND_OK;
  });
  if (failed == results.end()) {
    if (results.size() != todo.size()) return ErrorOf(nullptr, what);  // the connection failed
    for (auto& [text, name] : todo) prepared_.emplace(std::move(text), std::move(name));
    return Status::Ok();
  }
  if (!AlreadyPrepared(failed->get())) return ErrorOf(failed->get(), what);
  // Already prepared on this server session (a pooler's), which aborted the rest of the
  // pipeline: one at a time, taking "already prepared" as success as Prepared does.
  for (const auto& [text, name] : todo) {
    if (auto one = Prepared(text, 0, what); !one) return one.error();
  }
  return Status::Ok();
}

Result<PgResult> PgConnection::Exec(std::string_view sql, const std::vector<PgParam>& params,
                                    std::string_view what) {
  if (!deferred_.empty()) {
    auto ran = ExecPipeline({{sql, params}}, what);
    if (!ran) return ran.error();
    return std::move(ran->back());
  }
  const std::vector<const char*> values = Values(params);
  const int count = static_cast<int>(values.size());
  auto name = Prepared(sql, count, what);
  if (!name) return name.error();
  PGresult* r = *name ? PQexecPrepared(conn_, (*name)->c_str(), count, values.data(), nullptr,
                                       nullptr, 0)
                      : PQexecParams(conn_, std::string(sql).c_str(), count, nullptr,
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

void PgConnection::ExecDeferred(std::string_view sql, std::vector<PgParam> params,
                                std::string_view what) {
  deferred_.push_back({std::string(sql), std::move(params), std::string(what)});
}

void PgConnection::DeferBegin(std::string_view begin) {
  deferred_.push_back({std::string(begin), {}, "starting a transaction", /*prepare=*/false});
  begin_queued_ = deferred_.size() == 1;
}

void PgConnection::DeferSavepoint(std::string_view name) {
  savepoint_at_ = deferred_.size();
  savepoint_queued_ = std::string(name);
  deferred_.push_back({"SAVEPOINT " + savepoint_queued_,
                       {},
                       "setting a savepoint",
                       /*prepare=*/false});
}

Result<std::vector<PgResult>> PgConnection::ExecPipeline(const std::vector<Step>& steps,
                                                        std::string_view what) {
  if (deferred_.empty()) return RunPipeline(steps, what);
  std::vector<Step> all;
  all.reserve(deferred_.size() + steps.size());
  for (const Deferred& d : deferred_) all.push_back({d.sql, d.params, d.prepare, d.what});
  all.insert(all.end(), steps.begin(), steps.end());
  auto ran = RunPipeline(all, what);
  const auto queued = static_cast<ptrdiff_t>(deferred_.size());
  deferred_.clear();  // sent; if one failed, the transaction is aborted anyway
  begin_queued_ = false;
  savepoint_queued_.clear();
  if (!ran) return ran.error();
  ran->erase(ran->begin(), ran->begin() + queued);
  return ran;
}

Result<std::vector<PgResult>> PgConnection::RunPipeline(const std::vector<Step>& steps,
                                                        std::string_view what) {
  if (steps.empty()) return std::vector<PgResult>{};
  // Statements new to this connection are prepared first, together in one round trip of their
  // own: a Parse and an Execute of the same statement cannot share a pipeline here, since a
  // step that fails to prepare must fail before anything of the pipeline ran.
  std::vector<std::string_view> to_prepare;
  for (const Step& step : steps) {
    if (step.prepare) to_prepare.push_back(step.sql);
  }
  if (Status prepared = PrepareAll(to_prepare, what); !prepared) return prepared.error();
  std::vector<const std::string*> names(steps.size(), nullptr);
  std::vector<std::vector<const char*>> values(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    values[i] = Values(steps[i].params);
    if (!steps[i].prepare) continue;
    auto name = Prepared(steps[i].sql, static_cast<int>(values[i].size()), what);
    if (!name) return name.error();
    names[i] = *name;
  }
  if (PQenterPipelineMode(conn_) != 1) return ErrorOf(nullptr, what);
  bool sent = true;
  for (size_t i = 0; sent && i < steps.size(); ++i) {
    const int count = static_cast<int>(values[i].size());
    sent = names[i] ? PQsendQueryPrepared(conn_, names[i]->c_str(), count, values[i].data(),
                                          nullptr, nullptr, 0) == 1
                    : PQsendQueryParams(conn_, std::string(steps[i].sql).c_str(), count, nullptr,
                                        values[i].data(), nullptr, nullptr, 0) == 1;
  }
  auto results = FinishPipeline(sent);
  for (size_t i = 0; i < results.size(); ++i) {
    ExecStatusType status = PQresultStatus(results[i].get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return ErrorOf(results[i].get(), steps[i].what.empty() ? what : steps[i].what);
    }
  }
  if (results.size() != steps.size()) return ErrorOf(nullptr, what);
  retryable_ = false;
  std::vector<PgResult> out;
  out.reserve(results.size());
  for (auto& r : results) out.emplace_back(r.release());
  return out;
}

std::vector<std::unique_ptr<PGresult, decltype(&PQclear)>> PgConnection::FinishPipeline(bool sent) {
  sent = sent && PQpipelineSync(conn_) == 1;
  // One result per statement (each followed by a null), then the sync. After a failed
  // statement the rest answer PGRES_PIPELINE_ABORTED.
  std::vector<std::unique_ptr<PGresult, decltype(&PQclear)>> results;
  if (sent) {
    int nulls = 0;
    while (nulls < 2) {
      PGresult* r = PQgetResult(conn_);
      if (r == nullptr) {
        ++nulls;  // two in a row: nothing more will come (the connection is gone)
        continue;
      }
      nulls = 0;
      if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        break;
      }
      results.emplace_back(r, &PQclear);
    }
  }
  (void)PQexitPipelineMode(conn_);
  return results;
}

Result<PgResult> PgConnection::ExecGuarded(std::string_view sql,
                                           const std::vector<PgParam>& params,
                                           std::string_view what) {
  auto ran = ExecPipeline({{"SAVEPOINT idsync_statement", {}, false},
                           {sql, params},
                           {"RELEASE SAVEPOINT idsync_statement", {}, false}},
                          what);
  if (!ran && (ran.error().code == ErrorCode::kUniqueness ||
               ran.error().code == ErrorCode::kNotFound)) {
    // The statement failed and the release did not run: back to just before the statement.
    if (auto back = Rollback(what, "idsync_statement"); !back) return back.error();
  }
  if (!ran) return ran.error();
  return std::move((*ran)[1]);
}

Status PgConnection::ExecScript(std::string_view sql, std::string_view what) {
  if (!deferred_.empty()) {
    if (auto flushed = ExecPipeline({}, what); !flushed) return flushed.error();
  }
  return Run(std::string(sql), what);
}

Status PgConnection::Rollback(std::string_view what, std::string_view savepoint) {
  if (!savepoint.empty() && savepoint == savepoint_queued_) {
    deferred_.resize(savepoint_at_);  // the server never saw the savepoint
    savepoint_queued_.clear();
    return Status::Ok();
  }
  const bool unsent = begin_queued_;
  deferred_.clear();
  begin_queued_ = false;
  savepoint_queued_.clear();
  if (unsent) return Status::Ok();  // nor the transaction
  if (savepoint.empty()) return Run("ROLLBACK", what);
  const std::string name(savepoint);
  return Run("ROLLBACK TO SAVEPOINT " + name + "; RELEASE SAVEPOINT " + name, what);
}

Status PgConnection::Run(const std::string& sql, std::string_view what) {
  PGresult* r = PQexec(conn_, sql.c_str());
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
  // The queued writes and COMMIT in one round trip. If one of them fails, PostgreSQL skips the
  // COMMIT: end the aborted transaction here, as a COMMIT would have. (After a COMMIT that
  // failed itself, the ROLLBACK only draws PostgreSQL's "no transaction in progress" warning.)
  auto ran = ExecPipeline({{"COMMIT", {}, false}}, what);
  if (!ran) {
    const bool retry = retryable_;
    (void)Rollback(what);
    retryable_ = retry;
    return ran.error();
  }
  const bool committed = ran->back().Tag() == "COMMIT";
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
