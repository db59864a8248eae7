// `idsync store migrate` (issue #15): an SQLite installation copied into an empty PostgreSQL
// database, table by table, keeping every id, version, sequence number and change-feed seq, so
// that tokens, cursors, ETags and `explain` answer the same from the new store.
//
// How (docs/ARCHITECTURE.md, "store migrate"):
// - Both databases are first brought to this build's schema by opening them as stores (a source
//   from a newer build is refused, as `serve` refuses it).
// - The copy is one PostgreSQL transaction: nothing is visible, and a failure leaves the target
//   as empty as it was. The source is read in one SQLite read transaction, so a server still
//   writing to it cannot tear the copy (stop it first all the same: later writes are not copied).
// - Every table of either schema must be one this file knows: a table or column it does not
//   handle is an error naming it (and the unit test, which migrates a fresh database of each
//   kind, fails), never a silent loss.
// - Compressed bodies (zstd with the database's own dictionaries) are written out as text.
// - Before COMMIT every table is read back from PostgreSQL and compared with what was read from
//   SQLite: the row count and a checksum, the sum of the rows' SHA-256 digests (order-free, as
//   the two databases order text differently, and constant in memory). The report gives both.
// - A target that holds anything beyond what its migrations create is refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"

namespace idsync::store::migrate {

struct TableCopy {
  std::string table;
  int64_t rows = 0;
  std::string sha256;  // order-free sum of the rows' SHA-256s (hex), equal on both sides
};

struct MigrationReport {
  std::vector<TableCopy> tables;
  Json ToJson() const;
};

// Copies the database of the SQLite data folder `data_dir` into the PostgreSQL database at
// `url`. kInvalidValue (in words an administrator can act on) when the source is missing or the
// target is not empty; kInternal when the read-back differs; kUnavailable when either database
// cannot be reached.
Result<MigrationReport> CopySqliteToPostgres(const std::string& data_dir, const std::string& url);

}  // namespace idsync::store::migrate
