// The schema of the SQLite database, as an ordered list of migrations.
//
// Format: each entry is {version, description, sql}. Versions start at 1 and increase by one.
// The sql is one or more statements separated by ';' and runs in one transaction, together
// with the insert of its row into schema_migrations(version, applied_at), so a migration is
// applied entirely or not at all. Rules for whoever adds one:
//   - Never edit or reorder a migration that has been released; append a new one.
//   - A migration must work on a database holding data written by every earlier version.
//   - Times are Unix milliseconds (INTEGER, UTC); JSON is stored as compact text.
//   - Every lookup a hot path makes has an index; sqlite_store_test checks the query plans.
// Layer 2 (effective directory, policies) gets its own tables in later migrations, keyed by
// directory name like connections.directory, so nothing here has to change for it.

#include "store/sqlite/migrations.h"

#include <chrono>
#include <string>

#include "base/time.h"

namespace idsync::store::sqlite {

namespace {

// A source mirror per connection. resources.type is scim::ResourceType (0 User, 1 Group).
// unique_key is the folded value the schema marks unique (userName, displayName), NULL when
// the resource has none; SQLite treats NULLs as distinct, so NULL never collides.
// group_members is WITHOUT ROWID keyed by (group_pk, value): adding or removing one member is
// one B-tree operation whatever the size of the group. It repeats connection_id so that
// "groups of this member" is one index search without touching resources.
constexpr std::string_view kMirrorSchema = R"sql(
CREATE TABLE connections(
  id INTEGER PRIMARY KEY,
  uuid TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL UNIQUE,
  directory TEXT NOT NULL,
  kind TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  settings TEXT NOT NULL
);

CREATE TABLE tokens(
  id INTEGER PRIMARY KEY,
  connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  hash TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER
);
CREATE INDEX tokens_by_connection ON tokens(connection_id);

CREATE TABLE resources(
  pk INTEGER PRIMARY KEY,
  connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  type INTEGER NOT NULL,
  id TEXT NOT NULL,
  body TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  modified_ms INTEGER NOT NULL,
  unique_key TEXT,
  UNIQUE(connection_id, type, id),
  UNIQUE(connection_id, type, unique_key)
);
-- Creation order within a scope: an index on (connection_id, type) ends with the rowid (pk),
-- so listing and counting a scope in pk order never sorts.
CREATE INDEX resources_by_scope ON resources(connection_id, type);

CREATE TABLE resource_index(
  connection_id INTEGER NOT NULL,
  type INTEGER NOT NULL,
  attr TEXT NOT NULL,
  value TEXT NOT NULL,
  resource_pk INTEGER NOT NULL REFERENCES resources(pk) ON DELETE CASCADE,
  PRIMARY KEY(connection_id, type, attr, value, resource_pk)
) WITHOUT ROWID;
CREATE INDEX resource_index_by_resource ON resource_index(resource_pk);

CREATE TABLE group_members(
  group_pk INTEGER NOT NULL REFERENCES resources(pk) ON DELETE CASCADE,
  value TEXT NOT NULL,
  member_type TEXT NOT NULL,
  display TEXT NOT NULL,
  connection_id INTEGER NOT NULL,
  PRIMARY KEY(group_pk, value)
) WITHOUT ROWID;
CREATE INDEX group_members_by_value ON group_members(connection_id, value);
)sql";

// The audit log outlives connections (no foreign key): the record of what a deleted
// connection did stays. AUTOINCREMENT so a seq is never reused, even after pruning the newest
// rows, because readers page with "after seq".
constexpr std::string_view kAuditSchema = R"sql(
CREATE TABLE audit(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  connection_id INTEGER NOT NULL,
  connection_name TEXT NOT NULL,
  request_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  operation TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX audit_by_connection ON audit(connection_id, seq);
CREATE INDEX audit_by_time ON audit(time_ms);
)sql";

// A counter that triggers bump on every change to connections or tokens, in any process. The
// server caches authentication results and revalidates them against it (see
// Store::ConfigGeneration), so `idsync connection disable` takes effect on the next request.
constexpr std::string_view kConfigGenerationSchema = R"sql(
CREATE TABLE config_generation(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO config_generation(id, value) VALUES (1, 0);
CREATE TRIGGER connections_insert_gen AFTER INSERT ON connections
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER connections_update_gen AFTER UPDATE ON connections
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER connections_delete_gen AFTER DELETE ON connections
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER tokens_insert_gen AFTER INSERT ON tokens
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER tokens_update_gen AFTER UPDATE ON tokens
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER tokens_delete_gen AFTER DELETE ON tokens
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
)sql";

// Resources per connection and type, kept by triggers, so that a ListResponse's totalResults
// is one row read instead of counting index entries (~100 ms per page at 1,000,000 users).
// Updates of resources are UPDATEs (never INSERT OR REPLACE), so only insert and delete count.
constexpr std::string_view kResourceCountsSchema = R"sql(
CREATE TABLE resource_counts(
  connection_id INTEGER NOT NULL,
  type INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY(connection_id, type)
) WITHOUT ROWID;
INSERT INTO resource_counts(connection_id, type, n)
  SELECT connection_id, type, count(*) FROM resources GROUP BY connection_id, type;
CREATE TRIGGER resources_count_insert AFTER INSERT ON resources BEGIN
  INSERT INTO resource_counts(connection_id, type, n) VALUES (NEW.connection_id, NEW.type, 1)
    ON CONFLICT(connection_id, type) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER resources_count_delete AFTER DELETE ON resources BEGIN
  UPDATE resource_counts SET n = n - 1 WHERE connection_id = OLD.connection_id AND type = OLD.type;
END;
)sql";

Status Rollback(Database& db, Status status) {
  (void)db.Exec("ROLLBACK", "rolling back a migration");
  return status;
}

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "connections, tokens and source mirrors", kMirrorSchema},
      {2, "audit log", kAuditSchema},
      {3, "configuration generation counter", kConfigGenerationSchema},
      {4, "resource counts per connection and type", kResourceCountsSchema},
  };
  return kMigrations;
}

Status Migrate(Database& db, const std::string& path, size_t count) {
  const auto& migrations = Migrations();
  if (count > migrations.size()) count = migrations.size();
  auto fail = [&](std::string_view what, const Error& error) {
    return MakeError(ErrorCode::kUnavailable,
                     "database " + path + ": " + std::string(what) + ": " + error.detail);
  };

  auto created = db.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations("
      "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
      "creating schema_migrations");
  if (!created) return fail("cannot create the migrations table", created.error());

  {
    auto newest = db.Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (!newest) return fail("cannot read the schema version", newest.error());
    auto row = newest->Step("reading the schema version");
    if (!row) return fail("cannot read the schema version", row.error());
    int64_t version = newest->Int(0);
    if (version > static_cast<int64_t>(migrations.size())) {
      return MakeError(ErrorCode::kUnavailable, "database " + path +
                                                    " was written by a newer idsync (schema " +
                                                    std::to_string(version) + " > " +
                                                    std::to_string(migrations.size()) + ")");
    }
  }

  for (size_t i = 0; i < count; ++i) {
    const Migration& migration = migrations[i];
    // IMMEDIATE takes the write lock before we look, so two processes starting together do
    // not both apply the same migration.
    auto begun = db.Exec("BEGIN IMMEDIATE", "starting a migration");
    if (!begun) return fail("cannot start a migration", begun.error());
    bool applied = false;
    {
      auto check = db.Prepare("SELECT 1 FROM schema_migrations WHERE version = ?1");
      if (!check) return Rollback(db, fail("cannot read the schema version", check.error()));
      check->Bind(1, int64_t{migration.version});
      auto row = check->Step("reading the schema version");
      if (!row) return Rollback(db, fail("cannot read the schema version", row.error()));
      applied = *row;
    }
    if (applied) {
      (void)db.Exec("COMMIT", "ending a migration check");
      continue;
    }
    std::string what = "migration " + std::to_string(migration.version) + " (" +
                       std::string(migration.description) + ") failed";
    auto ran = db.Exec(migration.sql, what);
    if (!ran) return Rollback(db, fail(what, ran.error()));
    {
      auto record =
          db.Prepare("INSERT INTO schema_migrations(version, applied_at) VALUES (?1, ?2)");
      if (!record) return Rollback(db, fail(what, record.error()));
      record->Bind(1, int64_t{migration.version})
          .Bind(2, FormatRfc3339(std::chrono::system_clock::now()));
      auto inserted = record->Run(what);
      if (!inserted) return Rollback(db, fail(what, inserted.error()));
    }
    auto committed = db.Exec("COMMIT", what);
    if (!committed) return Rollback(db, fail(what, committed.error()));
  }
  return Status::Ok();
}

}  // namespace idsync::store::sqlite
