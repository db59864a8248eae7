// Row readers shared by the SQLite back-end's areas (sqlite_store.cpp, ldap_area.cpp): they turn
// a stepped Statement into the store's row types. Private to store/sqlite.
#pragma once

#include <string>
#include <string_view>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"
#include "store/sqlite/body_codec.h"
#include "store/sqlite/database.h"
#include "store/store.h"

namespace idsync::store::sqlite {

Error Internal(std::string detail);

// Reads the body columns that may be compressed (body_codec.h) on one connection.
struct Bodies {
  Database& db;
  BodyCodec& codec;
  Result<std::string> operator()(const Statement& row, int column, std::string_view what) const {
    return codec.Read(db, row, column, what);
  }
};

// Parses a stored JSON column; stored text came from DumpJson, so a failure means corruption.
Result<Json> ParseStored(const std::string& text, std::string_view what);

// Columns in the order of IDSYNC_EUSER_COLUMNS (column 0, the pk, is the caller's).
Result<EffectiveUserRow> ReadEffectiveUser(const Statement& row, const Bodies& bodies);

// Columns in the order of IDSYNC_EGROUP_COLUMNS (column 0, the pk, is the caller's).
Result<EffectiveGroupRow> ReadEffectiveGroup(const Statement& row);

// What a later read returns for `t`: times are stored in whole milliseconds.
TimePoint Stored(TimePoint t);

// Runs `fill` for every row of a prepared, bound statement.
template <typename Fill>
Status ForEachRow(Statement& statement, std::string_view what, Fill fill) {
  for (;;) {
    auto row = statement.Step(what);
    if (!row) return row.error();
    if (!*row) return Status::Ok();
    Status filled = fill(statement);
    if (!filled) return filled;
  }
}

struct EffectiveUserReader {
  Bodies bodies;
  Result<EffectiveUserRow> operator()(const Statement& row) const {
    return ReadEffectiveUser(row, bodies);
  }
};

}  // namespace idsync::store::sqlite
