// The schema of the PostgreSQL database, as an ordered list of migrations, and their runner.
//
// Rules (as for SQLite's list): never edit or reorder a released migration, append a new one;
// times are Unix milliseconds (bigint, UTC); JSON is stored as text, exactly as the SQLite store
// keeps it, so `store migrate` copies it byte for byte.
#include "store/postgres/migrations.h"

#include <string>

#include "base/time.h"
#include "store/postgres/queries.h"

namespace idsync::store::postgres {

namespace {

// Connections and their tokens, and the configuration generation: one row that every change to
// connections and tokens bumps (statement triggers), in the same transaction, so every instance
// sees a change on its next request by reading one row (Store::ConfigGeneration).
constexpr std::string_view kConnections = R"sql(
CREATE TABLE connections(
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid text NOT NULL UNIQUE,
  name text NOT NULL UNIQUE,
  directory text NOT NULL,
  kind text NOT NULL,
  enabled boolean NOT NULL,
  created_ms bigint NOT NULL,
  settings text NOT NULL
);

CREATE TABLE tokens(
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  connection_id bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  hash text NOT NULL UNIQUE,
  created_ms bigint NOT NULL,
  expires_ms bigint
);
CREATE INDEX tokens_by_connection ON tokens(connection_id);

CREATE TABLE config_generation(id integer PRIMARY KEY CHECK (id = 1), value bigint NOT NULL);
INSERT INTO config_generation(id, value) VALUES (1, 0);
CREATE FUNCTION bump_config_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE config_generation SET value = value + 1 WHERE id = 1;
  RETURN NULL;
END $$;
CREATE TRIGGER connections_generation AFTER INSERT OR UPDATE OR DELETE ON connections
  FOR EACH STATEMENT EXECUTE FUNCTION bump_config_generation();
CREATE TRIGGER tokens_generation AFTER INSERT OR UPDATE OR DELETE ON tokens
  FOR EACH STATEMENT EXECUTE FUNCTION bump_config_generation();
)sql";

// The change feed. seq is NOT an identity or sequence: a sequence hands out numbers at
// INSERT, so a transaction holding 7 can commit after one holding 8, and a reader that already
// passed 8 would never see 7. Instead feed_counter is one row that AppendChange updates
// (UPDATE ... RETURNING) in the writing transaction: the row lock makes every other appender
// wait until that transaction ends, and, writes being serializable, an appender that waited
// on a committed one fails with a serialization error and is rerun with the next number. So
// seq order is commit order, and a rolled-back append gives its number back: no seq is ever
// skipped, and none appears below a cursor a reader has passed.
constexpr std::string_view kChangeFeed = R"sql(
CREATE TABLE feed_counter(id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL);
INSERT INTO feed_counter(id, seq) VALUES (1, 0);

CREATE TABLE changes(
  seq bigint PRIMARY KEY,
  directory text NOT NULL,
  time_ms bigint NOT NULL,
  type text NOT NULL,
  op text NOT NULL,
  id text NOT NULL,
  member_id text NOT NULL,
  resource text,
  cause text NOT NULL
);
CREATE INDEX changes_by_directory ON changes(directory, seq);
CREATE INDEX changes_by_entry ON changes(directory, id, seq);
CREATE INDEX changes_by_member ON changes(directory, member_id, seq);
)sql";

// Admin and read API tokens (SHA-256 only, like connection tokens); a change bumps the
// configuration generation, since instances cache API-token authentication against it.
constexpr std::string_view kApiTokens = R"sql(
CREATE TABLE api_tokens(
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE,
  kind text NOT NULL,
  directory text NOT NULL,
  hash text NOT NULL UNIQUE,
  created_ms bigint NOT NULL
);
CREATE TRIGGER api_tokens_generation AFTER INSERT OR UPDATE OR DELETE ON api_tokens
  FOR EACH STATEMENT EXECUTE FUNCTION bump_config_generation();
)sql";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = {
      {1, "connections, tokens and the configuration generation", kConnections},
      {2, "change feed, numbered in commit order", kChangeFeed},
      {3, "admin and read API tokens", kApiTokens},
  };
  return migrations;
}

Status Migrate(PgConnection& db, size_t count) {
  const auto& all = Migrations();
  if (count > all.size()) count = all.size();
  const std::string key = std::to_string(kMigrationLock);
  if (auto locked = db.Exec(sql::kAdvisoryLock, {key}, "waiting for the migration lock");
      !locked) {
    return locked.error();
  }
  auto run = [&]() -> Status {
    if (auto made = db.ExecScript(sql::kCreateSchemaMigrations, "creating schema_migrations");
        !made) {
      return made;
    }
    auto current = db.Exec(sql::kSchemaVersion, {}, "reading the schema version");
    if (!current) return current.error();
    int64_t version = current->IsNull(0, 0) ? 0 : current->Int(0, 0);
    if (version > all.back().version) {
      return MakeError(ErrorCode::kUnavailable,
                       "the database " + db.Where() + " has schema version " +
                           std::to_string(version) + " but this idsync knows only up to " +
                           std::to_string(all.back().version) +
                           "; it was written by a newer idsync: run that version");
    }
    for (size_t i = 0; i < count; ++i) {
      const Migration& m = all[i];
      if (m.version <= version) continue;
      std::string what = "applying migration " + std::to_string(m.version) + " (" +
                         std::string(m.description) + ")";
      if (auto begun = db.ExecScript("BEGIN", what); !begun) return begun;
      Status applied = db.ExecScript(m.sql, what);
      if (applied) {
        auto recorded = db.Exec(sql::kRecordMigration,
                                {std::to_string(m.version),
                                 std::to_string(ToUnixMillis(SystemClock::Instance().Now()))},
                                what);
        if (!recorded) applied = recorded.error();
      }
      if (applied) applied = db.ExecScript("COMMIT", what);
      if (!applied) {
        (void)db.ExecScript("ROLLBACK", what);
        return MakeError(ErrorCode::kUnavailable, applied.error().detail);
      }
    }
    return Status::Ok();
  };
  Status result = run();
  (void)db.Exec(sql::kAdvisoryUnlock, {key}, "releasing the migration lock");
  return result;
}

}  // namespace idsync::store::postgres
