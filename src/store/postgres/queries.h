// Every SQL statement of the PostgreSQL back-end, by area, as the SQLite store keeps its own in
// store/sqlite/queries.h. Parameters are $1, $2, ... and always sent as values.
#pragma once

#include <string_view>

namespace idsync::store::postgres::sql {

// --- engine: migrations, transactions
inline constexpr std::string_view kAdvisoryLock = "SELECT pg_advisory_lock($1::bigint)";
inline constexpr std::string_view kAdvisoryUnlock = "SELECT pg_advisory_unlock($1::bigint)";
inline constexpr std::string_view kCreateSchemaMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations(version integer PRIMARY KEY, "
    "applied_at bigint NOT NULL)";
inline constexpr std::string_view kSchemaVersion = "SELECT max(version) FROM schema_migrations";
inline constexpr std::string_view kRecordMigration =
    "INSERT INTO schema_migrations(version, applied_at) VALUES ($1::integer, $2::bigint)";
// Writes are serializable: two instances changing one row cannot both commit what they read
// before the other's change (no lost update); the loser gets 40001 and the store retries it.
inline constexpr std::string_view kBeginWrite = "BEGIN ISOLATION LEVEL SERIALIZABLE";
inline constexpr std::string_view kBeginRead = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

// --- connections and tokens
inline constexpr std::string_view kInsertConnection =
    "INSERT INTO connections(uuid, name, directory, kind, enabled, created_ms, settings) "
    "VALUES ($1, $2, $3, $4, $5::boolean, $6::bigint, $7) RETURNING id";
inline constexpr std::string_view kGetConnection =
    "SELECT id, uuid, name, directory, kind, enabled, created_ms, settings FROM connections "
    "WHERE id = $1::bigint";
inline constexpr std::string_view kGetConnectionByName =
    "SELECT id, uuid, name, directory, kind, enabled, created_ms, settings FROM connections "
    "WHERE name = $1";
inline constexpr std::string_view kListConnections =
    "SELECT id, uuid, name, directory, kind, enabled, created_ms, settings FROM connections "
    "ORDER BY id";
inline constexpr std::string_view kUpdateConnection =
    "UPDATE connections SET enabled = $2::boolean, settings = $3 WHERE id = $1::bigint";
inline constexpr std::string_view kDeleteConnection =
    "DELETE FROM connections WHERE id = $1::bigint";
inline constexpr std::string_view kInsertToken =
    "INSERT INTO tokens(connection_id, hash, created_ms, expires_ms) "
    "VALUES ($1::bigint, $2, $3::bigint, $4::bigint)";
inline constexpr std::string_view kExpireTokens =
    "UPDATE tokens SET expires_ms = $2::bigint WHERE connection_id = $1::bigint "
    "AND (expires_ms IS NULL OR expires_ms > $2::bigint)";
inline constexpr std::string_view kFindToken =
    "SELECT id, connection_id, hash, created_ms, expires_ms FROM tokens WHERE hash = $1";
inline constexpr std::string_view kListTokens =
    "SELECT id, connection_id, hash, created_ms, expires_ms FROM tokens "
    "WHERE connection_id = $1::bigint ORDER BY id";
inline constexpr std::string_view kConfigGeneration =
    "SELECT value FROM config_generation WHERE id = 1";

// --- change feed (migrations.cpp explains why seq comes from feed_counter, not a sequence)
inline constexpr std::string_view kNextChangeSeq =
    "UPDATE feed_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq";
inline constexpr std::string_view kInsertChange =
    "INSERT INTO changes(seq, directory, time_ms, type, op, id, member_id, resource, cause) "
    "VALUES ($1::bigint, $2, $3::bigint, $4, $5, $6, $7, $8, $9)";
// Delivered at commit, to every instance LISTENing (long polls wake on any instance's write);
// the payload is the directory.
inline constexpr std::string_view kNotifyChange = "SELECT pg_notify('idsync_changes', $1)";
inline constexpr std::string_view kListChanges =
    "SELECT seq, time_ms, directory, type, op, id, member_id, resource, cause FROM changes "
    "WHERE directory = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint";
inline constexpr std::string_view kListChangesOf =
    "SELECT seq, time_ms, directory, type, op, id, member_id, resource, cause FROM changes "
    "WHERE directory = $1 AND id = $4 AND seq > $2::bigint "
    "UNION ALL "
    "SELECT seq, time_ms, directory, type, op, id, member_id, resource, cause FROM changes "
    "WHERE directory = $1 AND member_id = $4 AND id <> $4 AND seq > $2::bigint "
    "ORDER BY seq LIMIT $3::bigint";
inline constexpr std::string_view kLastChangeSeq =
    "SELECT seq FROM changes WHERE directory = $1 ORDER BY seq DESC LIMIT 1";

// --- API tokens
inline constexpr std::string_view kInsertApiToken =
    "INSERT INTO api_tokens(name, kind, directory, hash, created_ms) "
    "VALUES ($1, $2, $3, $4, $5::bigint) RETURNING id";
inline constexpr std::string_view kFindApiToken =
    "SELECT id, name, kind, directory, hash, created_ms FROM api_tokens WHERE hash = $1";
inline constexpr std::string_view kListApiTokens =
    "SELECT id, name, kind, directory, hash, created_ms FROM api_tokens ORDER BY id";
inline constexpr std::string_view kDeleteApiToken = "DELETE FROM api_tokens WHERE name = $1";

}  // namespace idsync::store::postgres::sql
