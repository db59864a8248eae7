#include "store/sqlite/database.h"

#include <mutex>
#include <string>

namespace idsync::store::sqlite {

Error SqlError(int rc, std::string_view what) {
  std::string detail = std::string(what) + ": " + sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return MakeError(ErrorCode::kNotFound, detail);
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return MakeError(ErrorCode::kUniqueness, detail);
      }
      return MakeError(ErrorCode::kInternal, detail);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM: return MakeError(ErrorCode::kUnavailable, detail);
    default: return MakeError(ErrorCode::kInternal, detail);
  }
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view value) {
  sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Statement& Statement::Bind(int index, const std::optional<std::string>& value) {
  return value ? Bind(index, std::string_view(*value)) : BindNull(index);
}

Statement& Statement::Bind(int index, const std::optional<int64_t>& value) {
  return value ? Bind(index, *value) : BindNull(index);
}

Statement& Statement::BindBlob(int index, std::string_view value) {
  sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::Step(std::string_view what) {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // sqlite3_step returns the primary code; the extended one says which constraint failed.
  return SqlError(sqlite3_extended_errcode(sqlite3_db_handle(stmt_)), what);
}

Status Statement::Run(std::string_view what) {
  for (;;) {
    auto row = Step(what);
    if (!row) return row.error();
    if (!*row) return Status::Ok();
  }
}

std::string Statement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string_view Statement::BlobView(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  if (data == nullptr) return {};
  return {static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

void ConfigureSqlite() {
  // SQLite counts the memory it holds under one global mutex on every allocation and free
  // (SQLITE_DEFAULT_MEMSTATUS), for sqlite3_memory_used and the soft heap limit, neither of
  // which idsync uses; Debian's build has no lookaside allocator, so that was every small
  // allocation of every statement, on every thread. sqlite3_config is only possible before
  // SQLite initialises (any open, VFS lookup or registration does); later it is refused and
  // changes nothing.
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, int flags,
                                                 const char* vfs) {
  ConfigureSqlite();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, vfs);
  if (rc != SQLITE_OK) {
    std::string reason = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return MakeError(ErrorCode::kUnavailable, "cannot open database " + path + ": " + reason);
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Database>(new Database(db));
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Database::Exec(std::string_view sql, std::string_view what) {
  if (sql.find(';') == std::string_view::npos) {
    // One statement (BEGIN, COMMIT, SAVEPOINT...: several per request): reuse its prepared form
    // instead of parsing it every time; sqlite3_exec showed up as ~9% of a GET's instructions.
    auto stmt = Prepare(sql);
    if (!stmt) return stmt.error();
    int rc = sqlite3_step(stmt->handle());
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
    return SqlError(sqlite3_extended_errcode(db_), what);
  }
  const std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqlError(sqlite3_extended_errcode(db_), what);
  return Status::Ok();
}

int Database::Runs(std::string_view sql) const {
  auto it = cache_.find(sql);
  return it == cache_.end() ? 0 : sqlite3_stmt_status(it->second, SQLITE_STMTSTATUS_RUN, 0);
}

Result<Statement> Database::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Statement(it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    // A statement that does not prepare is a bug (or a schema older than the code).
    return MakeError(ErrorCode::kInternal,
                     std::string("cannot prepare a statement: ") + sqlite3_errmsg(db_));
  }
  cache_.emplace(sql, stmt);
  return Statement(stmt);
}

}  // namespace idsync::store::sqlite
