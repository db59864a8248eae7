// The SQLite transaction's helpers shared by its areas: the writable check, "not found"
// errors, counts and the primary keys of effective users and groups.
#include "store/sqlite/transaction.h"

#include <string>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"

namespace idsync::store::sqlite {

Status SqliteTransaction::CheckWritable() const {
  if (writable_) return Status::Ok();
  return Internal("write attempted in a read transaction");
}

Status SqliteTransaction::NoConnection(int64_t id) {
  return MakeError(ErrorCode::kNotFound, "connection " + std::to_string(id) + " not found");
}

Result<int64_t> SqliteTransaction::Count(Statement& select, std::string_view what) {
  auto row = select.Step(what);
  if (!row) return row.error();
  return select.Int(0);
}

Error SqliteTransaction::NoEffective(std::string_view what, const std::string& directory,
                                     const std::string& id) {
  return MakeError(ErrorCode::kNotFound,
                   std::string(what) + " " + id + " not found in directory " + directory);
}

Result<int64_t> SqliteTransaction::PkByDirectoryAndId(const char* text, std::string_view what,
                                                      const std::string& directory,
                                                      const std::string& id) {
  auto select = db_.Prepare(text);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, id);
  auto row = select->Step(std::string("reading an effective ") + std::string(what));
  if (!row) return row.error();
  if (!*row) return NoEffective(what, directory, id);
  return select->Int(0);
}

Result<int64_t> SqliteTransaction::EffectiveUserPk(const std::string& directory,
                                                   const std::string& id) {
  return PkByDirectoryAndId(sql::kEffectiveUserPk, "user", directory, id);
}

Result<int64_t> SqliteTransaction::EffectiveGroupPk(const std::string& directory,
                                                    const std::string& id) {
  return PkByDirectoryAndId(sql::kEffectiveGroupPk, "group", directory, id);
}

Result<int64_t> SqliteTransaction::CountEffective(const std::string& directory, int64_t kind) {
  auto select = db_.Prepare(sql::kCountEffective);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, kind);
  auto row = select->Step("counting");
  if (!row) return row.error();
  return *row ? select->Int(0) : int64_t{0};  // no row: nothing was ever stored
}

}  // namespace idsync::store::sqlite
