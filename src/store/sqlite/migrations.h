// Versioned schema of the SQLite back-end and the runner that brings a database up to date.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/sqlite/database.h"

namespace idsync::store::sqlite {

struct Migration {
  int version;                   // increasing, never reused (a gap is allowed)
  std::string_view description;  // one line, for logs and for whoever reads the list
  std::string_view sql;          // one or more statements, run in one transaction
};

// Every migration this build knows, in order (migrations.cpp describes the format).
const std::vector<Migration>& Migrations();

// Applies migrations 1..`count` that `db` does not have yet, each in its own BEGIN IMMEDIATE
// transaction together with its row in schema_migrations, so a crash leaves the database at
// the previous version and another process migrating at the same time is harmless.
// kUnavailable, naming `path`, if the database has a version this build does not know (it was
// written by a newer idsync) or a migration fails. `count` is Migrations().size() except in
// tests that build an older schema.
Status Migrate(Database& db, const std::string& path, size_t count);

}  // namespace idsync::store::sqlite
