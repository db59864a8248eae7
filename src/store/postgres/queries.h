// Every SQL statement of the PostgreSQL back-end, by area, as the SQLite store keeps its own in
// store/sqlite/queries.h. Parameters are $1, $2, ... and always sent as values.
#pragma once

#include <string_view>

namespace idsync::store::postgres::sql {

// --- engine: migrations, transactions
inline constexpr std::string_view kAdvisoryLock = "SELECT pg_advisory_lock($1::bigint)";
inline constexpr std::string_view kAdvisoryUnlock = "SELECT pg_advisory_unlock($1::bigint)";
inline constexpr std::string_view kTryAdvisoryLock = "SELECT pg_try_advisory_lock($1::bigint)";
// Whether this session still holds the session advisory lock $1 (the scheduler lease).
inline constexpr std::string_view kHoldsAdvisoryLock =
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = $1::bigint)";
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

// --- planner statistics (planner_statistics.h): this schema's tables of at least $1 rows whose
// rows changed since their last ANALYZE reach half the table (it doubled, or half of it was
// rewritten). Smaller tables are left to autovacuum: one-row counters change all the time and
// any plan of a small table is cheap.
inline constexpr std::string_view kTablesToAnalyze =
    "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables "
    "WHERE schemaname = current_schema() AND n_live_tup >= $1::bigint "
    "AND n_mod_since_analyze * 2 >= n_live_tup ORDER BY relname";

// --- change feed (migrations.cpp explains why a change is numbered after its commit, by one
// sequencer at a time, and not in the writing transaction)
inline constexpr std::string_view kInsertChange =
    "INSERT INTO changes(directory, time_ms, type, op, id, member_id, resource, cause) "
    "VALUES ($1, $2::bigint, $3, $4, $5, $6, $7, $8)";
inline constexpr std::string_view kUnsequencedChanges =
    "SELECT EXISTS (SELECT 1 FROM changes WHERE seq IS NULL)";
// The sequencer's transaction (READ COMMITTED): this lock first, so that each statement after
// it sees every sequencer that ran before.
inline constexpr std::string_view kSequencerLock = "SELECT pg_advisory_xact_lock($1::bigint)";
// Numbers every committed change that has none, after the last number given, each writing
// transaction's changes together and in their order, transactions in the order of their first
// change; moves feed_counter on (only when there was something to number: an idle run writes
// nothing and so waits for no flush). Notifies each directory that gained changes: the
// notification goes out at commit to every instance LISTENing (long polls wake on any
// instance's write); the payload is the directory.
inline constexpr std::string_view kSequenceChanges =
    "WITH pending AS ("
    "  SELECT pos, min(pos) OVER (PARTITION BY xact) AS first FROM changes WHERE seq IS NULL), "
    "numbered AS (SELECT pos, row_number() OVER (ORDER BY first, pos) AS n FROM pending), "
    "base AS (SELECT seq FROM feed_counter WHERE id = 1), "
    "assigned AS ("
    "  UPDATE changes c SET seq = base.seq + numbered.n FROM numbered, base "
    "  WHERE c.pos = numbered.pos RETURNING c.directory), "
    "counted AS ("
    "  UPDATE feed_counter SET seq = seq + (SELECT count(*) FROM assigned) "
    "  WHERE id = 1 AND EXISTS (SELECT 1 FROM assigned) RETURNING seq) "
    "SELECT pg_notify('idsync_changes', directory) "
    "FROM (SELECT DISTINCT directory FROM assigned) gained";
inline constexpr std::string_view kListChanges =
    "SELECT seq, time_ms, directory, type, op, id, member_id, resource, cause FROM changes "
    "WHERE directory = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint";
inline constexpr std::string_view kListChangesOf =
    "SELECT seq, time_ms, directory, type, op, id, member_id, resource, cause FROM changes "
    "WHERE directory = $1 AND id = $4 AND seq > $2::bigint "
    "UNION ALL "
    "SELECT seq, time_ms, directory, type, op, id, member_id, resource, cause FROM changes "
    "WHERE directory = $1 AND member_id = $4 AND member_id <> '' AND id <> $4 "
    "AND seq > $2::bigint "
    "ORDER BY seq LIMIT $3::bigint";
inline constexpr std::string_view kLastChangeSeq =
    "SELECT seq FROM changes WHERE directory = $1 AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1";

// --- API tokens
inline constexpr std::string_view kInsertApiToken =
    "INSERT INTO api_tokens(name, kind, directory, hash, created_ms) "
    "VALUES ($1, $2, $3, $4, $5::bigint) RETURNING id";
inline constexpr std::string_view kFindApiToken =
    "SELECT id, name, kind, directory, hash, created_ms FROM api_tokens WHERE hash = $1";
inline constexpr std::string_view kListApiTokens =
    "SELECT id, name, kind, directory, hash, created_ms FROM api_tokens ORDER BY id";
inline constexpr std::string_view kDeleteApiToken = "DELETE FROM api_tokens WHERE name = $1";

// --- mirror (mirror_area.cpp): resources in creation (pk) order, their index entries
#define IDSYNC_PG_RESOURCE_COLUMNS "pk, id, type, body, version, created_ms, modified_ms"
// What a write of a resource needs of the row it replaces.
inline constexpr std::string_view kResourceHead =
    "SELECT pk, version, created_ms FROM resources "
    "WHERE connection_id = $1::bigint AND type = $2::smallint AND id = $3";
inline constexpr std::string_view kGetResource =
    "SELECT " IDSYNC_PG_RESOURCE_COLUMNS " FROM resources "
    "WHERE connection_id = $1::bigint AND type = $2::smallint AND id = $3";
// PutResource: a new row, or no row if the id exists (then the update below). Another unique
// key taken still fails (23505), as it should.
inline constexpr std::string_view kInsertResource =
    "INSERT INTO resources(connection_id, type, id, body, version, created_ms, modified_ms, "
    "unique_key) VALUES ($1::bigint, $2::smallint, $3, $4, 1, $5::bigint, $6::bigint, $7) "
    "ON CONFLICT (connection_id, type, id) DO NOTHING RETURNING pk";
// PutResource: the row replaced by id, answering what the caller gets back; no row if absent.
inline constexpr std::string_view kUpdateResourceById =
    "UPDATE resources SET body = $4, version = version + 1, modified_ms = $5::bigint, "
    "unique_key = $6 WHERE connection_id = $1::bigint AND type = $2::smallint AND id = $3 "
    "RETURNING pk, version, created_ms";
inline constexpr std::string_view kIndexOf =
    "SELECT attr, value FROM resource_index WHERE resource_pk = $1::bigint";
inline constexpr std::string_view kDeleteIndexOf =
    "DELETE FROM resource_index WHERE resource_pk = $1::bigint";
inline constexpr std::string_view kInsertIndex =
    "INSERT INTO resource_index(connection_id, type, attr, value, resource_pk) "
    "VALUES ($1::bigint, $2::smallint, $3, $4, $5::bigint) ON CONFLICT DO NOTHING";
inline constexpr std::string_view kTouchGroupsOf =
    "UPDATE resources SET version = version + 1, modified_ms = $3::bigint WHERE pk IN "
    "(SELECT group_pk FROM group_members WHERE connection_id = $1::bigint AND value = $2)";
inline constexpr std::string_view kDeleteMembershipsOf =
    "DELETE FROM group_members WHERE connection_id = $1::bigint AND value = $2";
// Cascades to the resource's index entries and, for a group, its own members.
inline constexpr std::string_view kDeleteResource = "DELETE FROM resources WHERE pk = $1::bigint";
inline constexpr std::string_view kTouchResource =
    "UPDATE resources SET version = version + 1, modified_ms = $4::bigint "
    "WHERE connection_id = $1::bigint AND type = $2::smallint AND id = $3";
inline constexpr std::string_view kFindByIndex =
    "SELECT r.pk, r.id, r.type, r.body, r.version, r.created_ms, r.modified_ms "
    "FROM resource_index i JOIN resources r ON r.pk = i.resource_pk "
    "WHERE i.connection_id = $1::bigint AND i.type = $2::smallint AND i.attr = $3 "
    "AND i.value = $4 ORDER BY i.resource_pk";
// FindByIndex under kUniqueKeyAttr (store/mirror_area.h): the row's unique key, by its UNIQUE
// index (migration 9 removed the index entries that repeated it).
inline constexpr std::string_view kFindByUniqueKey =
    "SELECT pk, id, type, body, version, created_ms, modified_ms FROM resources "
    "WHERE connection_id = $1::bigint AND type = $2::smallint AND unique_key = $3";
inline constexpr std::string_view kCountResources =
    "SELECT count(*) FROM resources WHERE connection_id = $1::bigint AND type = $2::smallint";
inline constexpr std::string_view kListResources =
    "SELECT " IDSYNC_PG_RESOURCE_COLUMNS " FROM resources "
    "WHERE connection_id = $1::bigint AND type = $2::smallint ORDER BY pk "
    "LIMIT $4::bigint OFFSET $3::bigint";
inline constexpr std::string_view kScanResources =
    "SELECT " IDSYNC_PG_RESOURCE_COLUMNS " FROM resources "
    "WHERE connection_id = $1::bigint AND type = $2::smallint AND pk > $3::bigint ORDER BY pk "
    "LIMIT $4::bigint";
inline constexpr std::string_view kResourcePk =
    "SELECT pk FROM resources WHERE connection_id = $1::bigint AND type = $2::smallint "
    "AND id = $3";

// --- members of the mirror's groups (member_area.cpp)
inline constexpr std::string_view kAddMember =
    "INSERT INTO group_members(group_pk, value, member_type, display, connection_id) "
    "VALUES ($1::bigint, $2, $3, $4, $5::bigint) ON CONFLICT DO NOTHING";
inline constexpr std::string_view kRemoveMember =
    "DELETE FROM group_members WHERE group_pk = $1::bigint AND value = $2";
inline constexpr std::string_view kClearMembers =
    "DELETE FROM group_members WHERE group_pk = $1::bigint";
// COLLATE "C": the order SQLite's binary collation gives (byte order), whatever the database's
// locale.
inline constexpr std::string_view kListMembers =
    "SELECT value, member_type, display FROM group_members WHERE group_pk = $1::bigint "
    "ORDER BY value COLLATE \"C\"";
inline constexpr std::string_view kCountMembers =
    "SELECT count(*) FROM group_members WHERE group_pk = $1::bigint";
inline constexpr std::string_view kGroupsOf =
    "SELECT r.id, coalesce(r.body::jsonb ->> 'displayName', '') "
    "FROM group_members m JOIN resources r ON r.pk = m.group_pk "
    "WHERE m.connection_id = $1::bigint AND m.value = $2 ORDER BY r.pk";

// --- directories and policy versions (policy_area.cpp)
#define IDSYNC_PG_DIRECTORY_COLUMNS "name, custom_attributes, version, created_ms"
inline constexpr std::string_view kListDirectories =
    "SELECT " IDSYNC_PG_DIRECTORY_COLUMNS " FROM directories ORDER BY name COLLATE \"C\"";
inline constexpr std::string_view kGetDirectory =
    "SELECT " IDSYNC_PG_DIRECTORY_COLUMNS " FROM directories WHERE name = $1";
inline constexpr std::string_view kInsertDirectory =
    "INSERT INTO directories(name, custom_attributes, version, created_ms) "
    "VALUES ($1, $2, 1, $3::bigint)";
inline constexpr std::string_view kUpdateDirectory =
    "UPDATE directories SET custom_attributes = $2, version = version + 1 WHERE name = $1";
#define IDSYNC_PG_POLICY_COLUMNS "connection_id, version, body, time_ms, actor, comment"
inline constexpr std::string_view kGetPolicy =
    "SELECT " IDSYNC_PG_POLICY_COLUMNS " FROM policy_versions WHERE connection_id = $1::bigint "
    "ORDER BY version DESC LIMIT 1";
inline constexpr std::string_view kInsertPolicy =
    "INSERT INTO policy_versions(connection_id, version, body, time_ms, actor, comment) "
    "SELECT $1::bigint, coalesce(max(version), 0) + 1, $2, $3::bigint, $4, $5 "
    "FROM policy_versions WHERE connection_id = $1::bigint RETURNING version";
inline constexpr std::string_view kListPolicyVersions =
    "SELECT " IDSYNC_PG_POLICY_COLUMNS " FROM policy_versions WHERE connection_id = $1::bigint "
    "ORDER BY version";

// --- effective users (effective_user_area.cpp)
#define IDSYNC_PG_EUSER_COLUMNS                                                             \
  "pk, directory, id, username, username_key, link_key, state, body, version, created_ms, " \
  "modified_ms, mail_key"
inline constexpr std::string_view kGetEffectiveUser =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS " FROM effective_users WHERE directory = $1 AND id = $2";
inline constexpr std::string_view kFindEffectiveUserByUsername =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS
    " FROM effective_users WHERE directory = $1 AND username_key = $2";
inline constexpr std::string_view kFindEffectiveUsersByLinkKey =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS
    " FROM effective_users WHERE directory = $1 AND link_key = $2 ORDER BY pk";
inline constexpr std::string_view kInsertEffectiveUser =
    "INSERT INTO effective_users(directory, id, username, username_key, link_key, state, body, "
    "version, created_ms, modified_ms, mail_key) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, "
    "$8::bigint, $9::bigint, $10)";
inline constexpr std::string_view kUpdateEffectiveUser =
    "UPDATE effective_users SET username = $2, username_key = $3, link_key = $4, state = $5, "
    "body = $6, version = version + 1, modified_ms = $7::bigint, mail_key = $8 "
    "WHERE pk = $1::bigint";
inline constexpr std::string_view kEffectiveUserPk =
    "SELECT pk FROM effective_users WHERE directory = $1 AND id = $2";
inline constexpr std::string_view kTouchEffectiveGroupsOfUser =
    "UPDATE effective_groups SET version = version + 1, modified_ms = $2::bigint WHERE pk IN "
    "(SELECT group_pk FROM effective_members WHERE user_pk = $1::bigint)";
inline constexpr std::string_view kDeleteLinksOfUser =
    "DELETE FROM source_links WHERE directory = $1 AND effective_user_id = $2";
// Cascades to the user's memberships.
inline constexpr std::string_view kDeleteEffectiveUser =
    "DELETE FROM effective_users WHERE pk = $1::bigint";
inline constexpr std::string_view kCountEffectiveUsers =
    "SELECT count(*) FROM effective_users WHERE directory = $1";
inline constexpr std::string_view kListEffectiveUsers =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS
    " FROM effective_users WHERE directory = $1 ORDER BY pk LIMIT $3::bigint OFFSET $2::bigint";
inline constexpr std::string_view kScanEffectiveUsers =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS
    " FROM effective_users WHERE directory = $1 AND pk > $2::bigint ORDER BY pk "
    "LIMIT $3::bigint";

// --- effective groups and memberships (effective_group_area.cpp)
#define IDSYNC_PG_EGROUP_COLUMNS \
  "pk, directory, id, name, name_key, body, version, created_ms, modified_ms"
inline constexpr std::string_view kGetEffectiveGroup =
    "SELECT " IDSYNC_PG_EGROUP_COLUMNS " FROM effective_groups WHERE directory = $1 AND id = $2";
inline constexpr std::string_view kFindEffectiveGroupByName =
    "SELECT " IDSYNC_PG_EGROUP_COLUMNS
    " FROM effective_groups WHERE directory = $1 AND name_key = $2";
inline constexpr std::string_view kInsertEffectiveGroup =
    "INSERT INTO effective_groups(directory, id, name, name_key, body, version, created_ms, "
    "modified_ms) VALUES ($1, $2, $3, $4, $5, 1, $6::bigint, $7::bigint)";
inline constexpr std::string_view kUpdateEffectiveGroup =
    "UPDATE effective_groups SET name = $2, name_key = $3, body = $4, version = version + 1, "
    "modified_ms = $5::bigint WHERE pk = $1::bigint";
inline constexpr std::string_view kEffectiveGroupPk =
    "SELECT pk FROM effective_groups WHERE directory = $1 AND id = $2";
// Cascades to the group's memberships.
inline constexpr std::string_view kDeleteEffectiveGroup =
    "DELETE FROM effective_groups WHERE pk = $1::bigint";
inline constexpr std::string_view kTouchEffectiveGroup =
    "UPDATE effective_groups SET version = version + 1, modified_ms = $3::bigint "
    "WHERE directory = $1 AND id = $2";
inline constexpr std::string_view kCountEffectiveGroups =
    "SELECT count(*) FROM effective_groups WHERE directory = $1";
inline constexpr std::string_view kListEffectiveGroups =
    "SELECT " IDSYNC_PG_EGROUP_COLUMNS
    " FROM effective_groups WHERE directory = $1 ORDER BY pk LIMIT $3::bigint OFFSET $2::bigint";
inline constexpr std::string_view kScanEffectiveGroups =
    "SELECT " IDSYNC_PG_EGROUP_COLUMNS
    " FROM effective_groups WHERE directory = $1 AND pk > $2::bigint ORDER BY pk "
    "LIMIT $3::bigint";
inline constexpr std::string_view kAddEffectiveMember =
    "INSERT INTO effective_members(group_pk, user_pk, ord) VALUES ($1::bigint, $2::bigint, "
    "coalesce((SELECT ord FROM effective_members WHERE group_pk = $1::bigint "
    "ORDER BY ord DESC LIMIT 1), 0) + 1) ON CONFLICT DO NOTHING";
inline constexpr std::string_view kRemoveEffectiveMember =
    "DELETE FROM effective_members WHERE group_pk = $1::bigint AND user_pk = $2::bigint";
inline constexpr std::string_view kListEffectiveMembers =
    "SELECT u.id FROM effective_members m JOIN effective_users u ON u.pk = m.user_pk "
    "WHERE m.group_pk = $1::bigint ORDER BY m.ord";
inline constexpr std::string_view kCountEffectiveMembers =
    "SELECT (SELECT count(*) FROM effective_members WHERE group_pk = g.pk) "
    "FROM effective_groups g WHERE g.directory = $1 AND g.id = $2";
inline constexpr std::string_view kEffectiveGroupsOf =
    "SELECT g.id, g.name FROM effective_members m JOIN effective_groups g ON g.pk = m.group_pk "
    "WHERE m.user_pk = (SELECT pk FROM effective_users WHERE directory = $1 AND id = $2) "
    "ORDER BY g.name_key COLLATE \"C\", g.pk";

// --- links (link_area.cpp)
#define IDSYNC_PG_LINK_COLUMNS \
  "connection_id, source_user_id, directory, effective_user_id, deleted, source_name"
inline constexpr std::string_view kGetLink =
    "SELECT " IDSYNC_PG_LINK_COLUMNS
    " FROM source_links WHERE connection_id = $1::bigint AND source_user_id = $2";
inline constexpr std::string_view kPutLink =
    "INSERT INTO source_links(connection_id, source_user_id, directory, effective_user_id, "
    "deleted, source_name) VALUES ($1::bigint, $2, $3, $4, $5::boolean, $6) "
    "ON CONFLICT(connection_id, source_user_id) DO UPDATE SET directory = excluded.directory, "
    "effective_user_id = excluded.effective_user_id, deleted = excluded.deleted, "
    "source_name = excluded.source_name WHERE "
    "(source_links.directory, source_links.effective_user_id, source_links.deleted, "
    "source_links.source_name) IS DISTINCT FROM "
    "(excluded.directory, excluded.effective_user_id, excluded.deleted, excluded.source_name)";
inline constexpr std::string_view kDeleteLink =
    "DELETE FROM source_links WHERE connection_id = $1::bigint AND source_user_id = $2";
inline constexpr std::string_view kLinksOf =
    "SELECT " IDSYNC_PG_LINK_COLUMNS
    " FROM source_links WHERE directory = $1 AND effective_user_id = $2 "
    "ORDER BY connection_id, source_user_id COLLATE \"C\"";
inline constexpr std::string_view kLinksOfConnection =
    "SELECT " IDSYNC_PG_LINK_COLUMNS
    " FROM source_links WHERE connection_id = $1::bigint ORDER BY source_user_id COLLATE \"C\"";
inline constexpr std::string_view kFindTombstones =
    "SELECT " IDSYNC_PG_LINK_COLUMNS
    " FROM source_links WHERE connection_id = $1::bigint AND source_name = $2 AND deleted "
    "ORDER BY source_user_id COLLATE \"C\"";

// --- conflicts (conflict_area.cpp)
inline constexpr std::string_view kPutConflict =
    "INSERT INTO conflicts(connection_id, source_user_id, directory, username, detail, time_ms, "
    "username_key, link_key, source_name) "
    "VALUES ($1::bigint, $2, $3, $4, $5, $6::bigint, $7, $8, $9) "
    "ON CONFLICT(connection_id, source_user_id) "
    "DO UPDATE SET directory = excluded.directory, username = excluded.username, "
    "detail = excluded.detail, time_ms = excluded.time_ms, username_key = excluded.username_key, "
    "link_key = excluded.link_key, source_name = excluded.source_name";
inline constexpr std::string_view kDeleteConflict =
    "DELETE FROM conflicts WHERE connection_id = $1::bigint AND source_user_id = $2";
#define IDSYNC_PG_CONFLICT_COLUMNS                                                      \
  "directory, connection_id, source_user_id, username, detail, time_ms, username_key, " \
  "link_key, source_name"
inline constexpr std::string_view kListConflicts =
    "SELECT " IDSYNC_PG_CONFLICT_COLUMNS
    " FROM conflicts WHERE directory = $1 ORDER BY connection_id, source_user_id COLLATE \"C\"";
// FindConflicts in one round trip: one index range per key ($2 usernames, $3 link keys: text
// arrays), the source names as connections $4 x names $5 (the caller keeps the pairs it asked
// for), and the rows stored before migration 8, which have no keys. A row found by two arms
// comes back twice; the caller keeps one.
inline constexpr std::string_view kFindConflicts =
    "SELECT " IDSYNC_PG_CONFLICT_COLUMNS
    " FROM conflicts WHERE directory = $1 AND username_key = ANY($2::text[]) "
    "UNION ALL SELECT " IDSYNC_PG_CONFLICT_COLUMNS
    " FROM conflicts WHERE directory = $1 AND link_key = ANY($3::text[]) "
    "UNION ALL SELECT " IDSYNC_PG_CONFLICT_COLUMNS
    " FROM conflicts WHERE directory = $1 AND connection_id = ANY($4::bigint[]) "
    "AND source_name = ANY($5::text[]) "
    "UNION ALL SELECT " IDSYNC_PG_CONFLICT_COLUMNS
    " FROM conflicts WHERE directory = $1 AND username_key IS NULL";

// --- audit (audit_area.cpp). One text: PostgreSQL plans `$n IS NULL OR ...` per execution
// with the values bound (custom plans), unlike SQLite's one plan per text.
inline constexpr std::string_view kInsertAudit =
    "INSERT INTO audit(time_ms, connection_id, connection_name, request_id, actor, operation, "
    "resource_type, resource_id, status, detail) "
    "VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6, $7, $8, $9::integer, $10)";
inline constexpr std::string_view kListAudit =
    "SELECT seq, time_ms, connection_id, connection_name, request_id, actor, operation, "
    "resource_type, resource_id, status, detail FROM audit WHERE seq > $1::bigint "
    "AND ($3::bigint IS NULL OR connection_id = $3::bigint) "
    "AND ($4::bigint IS NULL OR time_ms >= $4::bigint) "
    "AND ($5::text IS NULL OR resource_id = $5::text) "
    "AND ($6::bigint IS NULL OR time_ms <= $6::bigint) ORDER BY seq LIMIT $2::bigint";
// The source resources linked to an effective user, in any directory (the Activity page's user
// filter: SCIM audit records name these). source_links_by_effective (migration 7).
inline constexpr std::string_view kLinkedSourcesOf =
    "SELECT connection_id, source_user_id FROM source_links WHERE effective_user_id = $1";

// --- pull sync: runs, state and lease (sync_area.cpp), sealed secrets (secret_area.cpp)
#define IDSYNC_PG_SYNC_RUN_COLUMNS                                                           \
  "id, connection_id, mode, run_trigger, outcome, started_ms, ended_ms, counts, progress, " \
  "error, owner"
inline constexpr std::string_view kInsertSyncRun =
    "INSERT INTO sync_runs(connection_id, mode, run_trigger, outcome, started_ms, ended_ms, "
    "counts, progress, error, owner) VALUES ($1::bigint, $2, $3, $4, $5::bigint, $6::bigint, "
    "$7, $8, $9, $10) RETURNING id";
inline constexpr std::string_view kUpdateSyncRun =
    "UPDATE sync_runs SET outcome = $2, ended_ms = $3::bigint, counts = $4, progress = $5, "
    "error = $6 WHERE id = $1::bigint";
inline constexpr std::string_view kGetSyncRun =
    "SELECT " IDSYNC_PG_SYNC_RUN_COLUMNS " FROM sync_runs WHERE id = $1::bigint";
inline constexpr std::string_view kListSyncRuns =
    "SELECT " IDSYNC_PG_SYNC_RUN_COLUMNS " FROM sync_runs WHERE connection_id = $1::bigint "
    "ORDER BY id DESC LIMIT $2::bigint";
inline constexpr std::string_view kAbandonSyncRuns =
    "UPDATE sync_runs SET outcome = 'abandoned', ended_ms = $3::bigint, "
    "error = 'the process running it stopped before the run ended' "
    "WHERE connection_id = $1::bigint AND outcome = 'running' AND owner <> $2";
inline constexpr std::string_view kGetSyncState =
    "SELECT state FROM sync_state WHERE connection_id = $1::bigint";
inline constexpr std::string_view kPutSyncState =
    "INSERT INTO sync_state(connection_id, state) VALUES ($1::bigint, $2) "
    "ON CONFLICT(connection_id) DO UPDATE SET state = excluded.state";
// Serializable: two instances taking the same free lease conflict and one is rerun, then sees
// the other's lease.
inline constexpr std::string_view kAcquireSyncLease =
    "INSERT INTO sync_state(connection_id, state, lease_owner, lease_expires_ms) "
    "VALUES ($1::bigint, '{}', $2, $4::bigint) ON CONFLICT(connection_id) DO UPDATE SET "
    "lease_owner = excluded.lease_owner, lease_expires_ms = excluded.lease_expires_ms "
    "WHERE sync_state.lease_owner IS NULL OR sync_state.lease_owner = $2 "
    "OR sync_state.lease_expires_ms <= $3::bigint";
inline constexpr std::string_view kReleaseSyncLease =
    "UPDATE sync_state SET lease_owner = NULL, lease_expires_ms = NULL "
    "WHERE connection_id = $1::bigint AND lease_owner = $2";
inline constexpr std::string_view kPutSecret =
    "INSERT INTO secrets(connection_id, name, sealed) VALUES ($1::bigint, $2, $3) "
    "ON CONFLICT(connection_id, name) DO UPDATE SET sealed = excluded.sealed";
inline constexpr std::string_view kGetSecret =
    "SELECT sealed FROM secrets WHERE connection_id = $1::bigint AND name = $2";

// --- the admin console's area (console_area.cpp, migration 5)
#define IDSYNC_PG_ADMIN_USER_COLUMNS \
  "id, name, role, hash, must_change_password, created_ms, password_changed_ms"
inline constexpr std::string_view kInsertAdminUser =
    "INSERT INTO admin_users(name, role, hash, must_change_password, created_ms, "
    "password_changed_ms) VALUES ($1, $2, $3, $4::boolean, $5::bigint, $6::bigint) RETURNING id";
inline constexpr std::string_view kGetAdminUser =
    "SELECT " IDSYNC_PG_ADMIN_USER_COLUMNS " FROM admin_users WHERE name = $1";
inline constexpr std::string_view kGetAdminUserById =
    "SELECT " IDSYNC_PG_ADMIN_USER_COLUMNS " FROM admin_users WHERE id = $1::bigint";
// Every admin user (a handful): a scan by design.
inline constexpr std::string_view kListAdminUsers =
    "SELECT " IDSYNC_PG_ADMIN_USER_COLUMNS " FROM admin_users ORDER BY name";
inline constexpr std::string_view kSetAdminPassword =
    "UPDATE admin_users SET hash = $2, must_change_password = $3::boolean, "
    "password_changed_ms = $4::bigint WHERE name = $1";
inline constexpr std::string_view kDeleteAdminUser = "DELETE FROM admin_users WHERE name = $1";
inline constexpr std::string_view kInsertSession =
    "INSERT INTO console_sessions(id_hash, user_id, created_ms, last_seen_ms) "
    "VALUES ($1, $2::bigint, $3::bigint, $4::bigint)";
inline constexpr std::string_view kGetSession =
    "SELECT id_hash, user_id, created_ms, last_seen_ms FROM console_sessions WHERE id_hash = $1";
inline constexpr std::string_view kTouchSession =
    "UPDATE console_sessions SET last_seen_ms = $2::bigint WHERE id_hash = $1";
inline constexpr std::string_view kDeleteSession =
    "DELETE FROM console_sessions WHERE id_hash = $1";
inline constexpr std::string_view kDeleteSessionsOf =
    "DELETE FROM console_sessions WHERE user_id = $1::bigint AND id_hash <> $2";
// Housekeeping over a few rows per admin user: a scan by design.
inline constexpr std::string_view kDeleteExpiredSessions =
    "DELETE FROM console_sessions WHERE last_seen_ms < $1::bigint OR created_ms < $2::bigint";
// The Overview's activity per hour. Provisioning requests are SCIM operations (no dot in the
// name, done or refused) and LDAP runs and logins (sync.*), as in SQLite's queries.h.
#define IDSYNC_PG_PROVISIONING_OPERATION "(strpos(operation, '.') = 0 OR operation LIKE 'sync.%')"
inline constexpr std::string_view kAuditByHour =
    "SELECT time_ms / 3600000, count(*), count(*) FILTER (WHERE status >= 400) FROM audit "
    "WHERE connection_id = $2::bigint AND time_ms >= $1::bigint AND "
    IDSYNC_PG_PROVISIONING_OPERATION " GROUP BY 1";
// changes_by_directory_time(directory, time_ms) is the range.
inline constexpr std::string_view kChangesByHour =
    "SELECT time_ms / 3600000, count(*) FROM changes "
    "WHERE directory = $1 AND time_ms >= $2::bigint GROUP BY 1";
inline constexpr std::string_view kLastAudit =
    "SELECT time_ms FROM audit WHERE connection_id = $1::bigint AND "
    IDSYNC_PG_PROVISIONING_OPERATION " ORDER BY seq DESC LIMIT 1";
#undef IDSYNC_PG_PROVISIONING_OPERATION
#undef IDSYNC_PG_ADMIN_USER_COLUMNS

// --- the LDAP server's area (ldap_area.cpp, migration 7)
#define IDSYNC_PG_LDAP_ACCOUNT_COLUMNS "id, name, directory, hash, created_ms, rotated_ms"
inline constexpr std::string_view kInsertLdapAccount =
    "INSERT INTO ldap_accounts(name, directory, hash, created_ms, rotated_ms) "
    "VALUES ($1, $2, $3, $4::bigint, $5::bigint) RETURNING id";
inline constexpr std::string_view kGetLdapAccount =
    "SELECT " IDSYNC_PG_LDAP_ACCOUNT_COLUMNS " FROM ldap_accounts WHERE name = $1";
// Every account (a handful): a scan by design.
inline constexpr std::string_view kListLdapAccounts =
    "SELECT " IDSYNC_PG_LDAP_ACCOUNT_COLUMNS " FROM ldap_accounts ORDER BY name COLLATE \"C\"";
inline constexpr std::string_view kSetLdapAccountHash =
    "UPDATE ldap_accounts SET hash = $2, rotated_ms = $3::bigint WHERE name = $1";
inline constexpr std::string_view kDeleteLdapAccount = "DELETE FROM ldap_accounts WHERE name = $1";
inline constexpr std::string_view kGetLdapSettings =
    "SELECT settings FROM ldap_settings WHERE directory = $1";
inline constexpr std::string_view kPutLdapSettings =
    "INSERT INTO ldap_settings(directory, settings) VALUES ($1, $2) "
    "ON CONFLICT(directory) DO UPDATE SET settings = excluded.settings";
// Keyset pages of users and groups use kScanEffectiveUsers / kScanEffectiveGroups. Members in
// user pk order: the primary key (group_pk, user_pk) is that order.
#define IDSYNC_PG_EUSER_COLUMNS_U                                                      \
  "u.pk, u.directory, u.id, u.username, u.username_key, u.link_key, u.state, u.body, " \
  "u.version, u.created_ms, u.modified_ms, u.mail_key"
inline constexpr std::string_view kMembersAfter =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS_U
    " FROM effective_members m JOIN effective_users u ON u.pk = m.user_pk "
    "WHERE m.group_pk = $1::bigint AND m.user_pk > $2::bigint ORDER BY m.user_pk "
    "LIMIT $3::bigint";
inline constexpr std::string_view kMemberNames =
    "SELECT u.pk, u.id, u.username, u.state "
    "FROM effective_members m JOIN effective_users u ON u.pk = m.user_pk "
    "WHERE m.group_pk = $1::bigint AND m.user_pk > $2::bigint ORDER BY m.user_pk "
    "LIMIT $3::bigint";
// Two statements rather than `mail_key = $2 OR mail_key IS NULL`: each is one range of
// (directory, mail_key). This store writes every mail_key; NULL ones come from an SQLite
// installation copied by `store migrate` (rows written before SQLite's migration 8).
inline constexpr std::string_view kUsersByMail =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS
    " FROM effective_users WHERE directory = $1 AND mail_key = $2 ORDER BY pk";
inline constexpr std::string_view kUsersWithoutMailKey =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS
    " FROM effective_users WHERE directory = $1 AND mail_key IS NULL ORDER BY pk";
// The expression of effective_*_by_ldap_name (migration 7), so the lookup is one index range.
#define IDSYNC_PG_SQUEEZED(key) "btrim(regexp_replace(" key ", ' {2,}', ' ', 'g'), ' ')"
inline constexpr std::string_view kUsersByLdapName =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS " FROM effective_users WHERE directory = $1 AND "
    IDSYNC_PG_SQUEEZED("username_key") " = $2 ORDER BY pk";
inline constexpr std::string_view kGroupsByLdapName =
    "SELECT " IDSYNC_PG_EGROUP_COLUMNS " FROM effective_groups WHERE directory = $1 AND "
    IDSYNC_PG_SQUEEZED("name_key") " = $2 ORDER BY pk";
#undef IDSYNC_PG_SQUEEZED
inline constexpr std::string_view kPosixUid =
    "SELECT number FROM posix_uids WHERE directory = $1 AND id = $2";
inline constexpr std::string_view kPosixGid =
    "SELECT number FROM posix_gids WHERE directory = $1 AND id = $2";
// One descent of changes_by_entry (directory, id, seq) each. Unnumbered changes (seq NULL,
// waiting for the sequencer) are not in the feed yet, as for every other feed reader.
inline constexpr std::string_view kFirstChangeOf =
    "SELECT seq FROM changes WHERE directory = $1 AND id = $2 AND seq IS NOT NULL "
    "ORDER BY seq LIMIT 1";
inline constexpr std::string_view kLastChangeOf =
    "SELECT seq FROM changes WHERE directory = $1 AND id = $2 AND seq IS NOT NULL "
    "ORDER BY seq DESC LIMIT 1";
inline constexpr std::string_view kChangeKeysAfter =
    "SELECT seq, time_ms, type, op, id, member_id FROM changes "
    "WHERE directory = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint";
inline constexpr std::string_view kLastResourceOf =
    "SELECT resource FROM changes WHERE directory = $1 AND id = $2 AND op = 'upsert' "
    "AND resource IS NOT NULL AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1";

// --- the explorer's user search (user_search.cpp, migration 7): one statement per driving
// index, all with the same parameters so that any criterion can be the residual one:
//   $1 directory, $2/$3 username_key range [prefix, prefix || U+10FFFF), $4/$5 mail_key range,
//   $6 state ('' any), $7 group pk (0 none), $8/$9 cursor (key text, pk), $10 limit.
// Ranges and order are COLLATE "C" (byte order, as SQLite's), the collation of the migration 7
// indexes, so the driving range is an index range whatever the database's collation. The
// residual terms are `$x = '' OR ...`, which no index can serve, so the planner keeps the
// driving range (the EXPLAIN test in areas_test.cpp checks it).
#define IDSYNC_PG_C(column) column " COLLATE \"C\""
#define IDSYNC_PG_SEARCH_NAME_RESIDUAL                                                      \
  "($2 = '' OR (" IDSYNC_PG_C("u.username_key") " >= $2 AND " IDSYNC_PG_C("u.username_key") \
  " < $3))"
#define IDSYNC_PG_SEARCH_MAIL_RESIDUAL                                                         \
  "($4 = '' OR (" IDSYNC_PG_C("u.mail_key") " >= $4 AND " IDSYNC_PG_C("u.mail_key") " < $5))"
#define IDSYNC_PG_SEARCH_STATE_RESIDUAL "($6 = '' OR u.state = $6)"
#define IDSYNC_PG_SEARCH_GROUP_RESIDUAL                                   \
  "($7::bigint = 0 OR EXISTS (SELECT 1 FROM effective_members g "         \
  "WHERE g.group_pk = $7::bigint AND g.user_pk = u.pk))"
// Username order; with no criterion at all the range is every username.
inline constexpr std::string_view kSearchUsersByName =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS_U " FROM effective_users u WHERE u.directory = $1 AND "
    IDSYNC_PG_C("u.username_key") " >= $2 AND " IDSYNC_PG_C("u.username_key") " < $3 AND "
    IDSYNC_PG_C("u.username_key") " > $8 AND " IDSYNC_PG_SEARCH_MAIL_RESIDUAL " AND "
    IDSYNC_PG_SEARCH_STATE_RESIDUAL " AND " IDSYNC_PG_SEARCH_GROUP_RESIDUAL
    " AND $9::bigint >= 0 ORDER BY " IDSYNC_PG_C("u.username_key") " LIMIT $10::bigint";
// E-mails repeat, so the cursor is the pair (mail_key, pk): effective_users_by_mail_c.
inline constexpr std::string_view kSearchUsersByMail =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS_U " FROM effective_users u WHERE u.directory = $1 AND "
    IDSYNC_PG_C("u.mail_key") " >= $4 AND " IDSYNC_PG_C("u.mail_key") " < $5 AND ("
    IDSYNC_PG_C("u.mail_key") ", u.pk) > ($8 COLLATE \"C\", $9::bigint) AND "
    IDSYNC_PG_SEARCH_NAME_RESIDUAL " AND " IDSYNC_PG_SEARCH_STATE_RESIDUAL " AND "
    IDSYNC_PG_SEARCH_GROUP_RESIDUAL " ORDER BY " IDSYNC_PG_C("u.mail_key") ", u.pk "
    "LIMIT $10::bigint";
// A group's members in user pk order (the primary key of effective_members).
inline constexpr std::string_view kSearchUsersByGroup =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS_U
    " FROM effective_members m JOIN effective_users u ON u.pk = m.user_pk "
    "WHERE m.group_pk = $7::bigint AND m.user_pk > $9::bigint AND u.directory = $1 AND "
    IDSYNC_PG_SEARCH_NAME_RESIDUAL " AND " IDSYNC_PG_SEARCH_MAIL_RESIDUAL " AND "
    IDSYNC_PG_SEARCH_STATE_RESIDUAL " AND $8::text IS NOT NULL ORDER BY m.user_pk LIMIT $10::bigint";
// effective_users_by_state: (directory, state, username_key COLLATE "C"), of the users who are
// not active (migration 10; "active" is searched in username order). The literal `<> 'active'`
// lets a generic plan use that partial index.
// clang-format off
inline constexpr std::string_view kSearchUsersByState =
    "SELECT " IDSYNC_PG_EUSER_COLUMNS_U " FROM effective_users u WHERE u.directory = $1 AND "
    "u.state = $6 AND u.state <> 'active' AND " IDSYNC_PG_C("u.username_key") " > $8 AND "
    IDSYNC_PG_SEARCH_NAME_RESIDUAL " AND " IDSYNC_PG_SEARCH_MAIL_RESIDUAL " AND "
    IDSYNC_PG_SEARCH_GROUP_RESIDUAL " AND $9::bigint >= 0 ORDER BY "
    IDSYNC_PG_C("u.username_key") " LIMIT $10::bigint";
// clang-format on
#undef IDSYNC_PG_SEARCH_NAME_RESIDUAL
#undef IDSYNC_PG_SEARCH_MAIL_RESIDUAL
#undef IDSYNC_PG_SEARCH_STATE_RESIDUAL
#undef IDSYNC_PG_SEARCH_GROUP_RESIDUAL
#undef IDSYNC_PG_C
#undef IDSYNC_PG_EUSER_COLUMNS_U
#undef IDSYNC_PG_LDAP_ACCOUNT_COLUMNS

// --- policy applies in progress (policy_area.cpp, migration 7), one per directory
inline constexpr std::string_view kGetPolicyApply =
    "SELECT record FROM policy_applies WHERE directory = $1";
inline constexpr std::string_view kPutPolicyApply =
    "INSERT INTO policy_applies(directory, record) VALUES ($1, $2) "
    "ON CONFLICT(directory) DO UPDATE SET record = excluded.record";
inline constexpr std::string_view kDeletePolicyApply =
    "DELETE FROM policy_applies WHERE directory = $1";

// --- prepared on every connection of the pool when `serve` starts (PostgresStore::Warm): the
// statements of authentication, of SCIM creates, replaces, PATCHes and reads by id, of the
// derivation those writes run, and of the change feed. A new connection prepared them one
// round trip each, as its first requests ran them.
inline constexpr std::string_view kHotStatements[] = {
    kFindToken, kGetConnection, kListConnections, kConfigGeneration, kFindApiToken,
    // the mirror
    kResourceHead, kGetResource, kInsertResource, kUpdateResourceById, kIndexOf, kDeleteIndexOf,
    kInsertIndex, kFindByIndex, kFindByUniqueKey, kListResources, kCountResources, kGroupsOf,
    kListMembers, kAddMember, kRemoveMember,
    // the derivation
    kListDirectories, kGetDirectory, kGetPolicy, kGetEffectiveUser, kFindEffectiveUserByUsername,
    kFindEffectiveUsersByLinkKey, kInsertEffectiveUser, kUpdateEffectiveUser, kEffectiveGroupsOf,
    kGetLink, kPutLink, kLinksOf, kFindTombstones, kFindConflicts, kDeleteConflict,
    // the change feed and the audit
    kInsertChange, kUnsequencedChanges, kSequencerLock, kSequenceChanges, kListChanges,
    kLastChangeSeq, kInsertAudit};

#undef IDSYNC_PG_RESOURCE_COLUMNS
#undef IDSYNC_PG_DIRECTORY_COLUMNS
#undef IDSYNC_PG_POLICY_COLUMNS
#undef IDSYNC_PG_EUSER_COLUMNS
#undef IDSYNC_PG_EGROUP_COLUMNS
#undef IDSYNC_PG_LINK_COLUMNS
#undef IDSYNC_PG_CONFLICT_COLUMNS
#undef IDSYNC_PG_SYNC_RUN_COLUMNS

}  // namespace idsync::store::postgres::sql
