// Small RAII wrappers over the sqlite3 C API, private to the SQLite back-end.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <sqlite3.h>

#include "base/result.h"

namespace idsync::store::sqlite {

// Maps a SQLite result code to our error codes: constraint violations to kUniqueness or
// kNotFound (foreign key), I/O, locking and corruption to kUnavailable, the rest to kInternal.
// `what` says in words what was being done; the detail never contains SQL.
Error SqlError(int rc, std::string_view what);

// A prepared statement borrowed from a Database's cache. Destroying it resets the statement
// and clears its bindings so the next borrower starts clean. Not thread-safe (nor is the
// Database it came from). Columns and parameters are numbered as in the SQL text: parameters
// from 1, columns from 0.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);
  Statement& Bind(int index, const std::string& value) {
    return Bind(index, std::string_view(value));
  }
  Statement& Bind(int index, const std::optional<std::string>& value);
  Statement& Bind(int index, const std::optional<int64_t>& value);
  Statement& BindNull(int index);
  // Binds `value` as a BLOB (compressed bodies, dictionaries), not as text.
  Statement& BindBlob(int index, std::string_view value);

  // One step: true if a row is available, false when done; an error names `what`.
  Result<bool> Step(std::string_view what);
  // Steps to completion (for statements that return no rows).
  Status Run(std::string_view what);

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string Text(int column) const;
  bool IsBlob(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_BLOB; }
  // The bytes of a BLOB column, valid until the next step or reset.
  std::string_view BlobView(int column) const;
  std::string Blob(int column) const { return std::string(BlobView(column)); }
  sqlite3_stmt* handle() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

// Process-wide SQLite settings, made once before SQLite first initialises: every path that
// uses SQLite first (Database::Open, WalWriteBufferVfs) calls it.
void ConfigureSqlite();

// One connection with its cache of prepared statements. Not thread-safe: one thread at a time.
class Database {
 public:
  // Opens `path` with sqlite3_open_v2 `flags` (SQLITE_OPEN_NOMUTEX is always added, since a
  // Database is used by one thread at a time) through the VFS named `vfs` (nullptr: the
  // default). kUnavailable with the path and the reason.
  static Result<std::unique_ptr<Database>> Open(const std::string& path, int flags,
                                                const char* vfs = nullptr);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without results (pragmas, BEGIN/COMMIT, migration scripts).
  Status Exec(std::string_view sql, std::string_view what);
  // Returns the cached prepared statement for `sql`, preparing it on first use. The statement
  // must not be borrowed twice at once; every method of the store finishes with its
  // statements before returning, so nested calls from callbacks are safe.
  Result<Statement> Prepare(std::string_view sql);
  // How many times the cached statement `sql` has run on this connection (0 when it never
  // was prepared). For tests.
  int Runs(std::string_view sql) const;
  int64_t Changes() const { return sqlite3_changes64(db_); }
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
  sqlite3* handle() { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  // Looked up by the text's view: most callers pass a queries.h constant, and building a
  // std::string of it (an allocation and a copy) for each of a write's ~20 statements showed in
  // the writer's profile.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, sqlite3_stmt*, TextHash, std::equal_to<>> cache_;
};

}  // namespace idsync::store::sqlite
