// Versioned schema of the PostgreSQL back-end and the runner that brings a database up to date.
// Numbered like the SQLite store's (store/sqlite/migrations.h), with its own list: the two
// schemas say the same things in each engine's own types.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/postgres/pg_connection.h"

namespace idsync::store::postgres {

struct Migration {
  int version;                   // increasing, never reused
  std::string_view description;  // one line
  std::string_view sql;          // one or more statements, run in one transaction
};

// Every migration this build knows, in order.
const std::vector<Migration>& Migrations();

// Applies migrations 1..`count` that the database lacks, each in its own transaction with its
// row in schema_migrations, while holding a session advisory lock (kMigrationLock), so two
// instances starting together apply each migration once and the second waits for the first.
// kUnavailable if the database has a version this build does not know (a newer idsync wrote
// it) or a migration fails. `count` is Migrations().size() except in tests.
Status Migrate(PgConnection& db, size_t count);

// The advisory lock key under which migrations run ("idsync" + 1 in ASCII, arbitrary but fixed).
inline constexpr long long kMigrationLock = 0x6964'7379'6e63'0001LL;
// The transaction-scoped advisory lock the change-feed sequencer holds (see migrations.cpp,
// "The change feed, numbered after commit").
inline constexpr long long kSequencerLock = 0x6964'7379'6e63'0002LL;
// The session advisory lock of the scheduler lease (PostgresStore::HoldSchedulerLease): held
// by the one instance that fires scheduled LDAP syncs.
inline constexpr long long kSchedulerLock = 0x6964'7379'6e63'0003LL;

}  // namespace idsync::store::postgres
