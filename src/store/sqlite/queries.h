// The SQL the SQLite back-end runs on its hot paths, named so that sqlite_store_test can check
// each query plan (EXPLAIN QUERY PLAN: an index search, never a scan of a whole table).
// Parameters are numbered; resource columns come in the order kResourceColumns lists them.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace idsync::store::sqlite::sql {

#define IDSYNC_RESOURCE_COLUMNS "pk, id, type, body, version, created_ms, modified_ms"

inline constexpr const char* kGetResource =
    "SELECT " IDSYNC_RESOURCE_COLUMNS
    " FROM resources WHERE connection_id = ?1 AND type = ?2 AND id = ?3";
inline constexpr const char* kInsertResource =
    "INSERT INTO resources(connection_id, type, id, body, version, created_ms, modified_ms, "
    "unique_key) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)";
inline constexpr const char* kUpdateResource =
    "UPDATE resources SET body = ?2, version = version + 1, modified_ms = ?3, unique_key = ?4 "
    "WHERE pk = ?1";
inline constexpr const char* kDeleteIndexOf = "DELETE FROM resource_index WHERE resource_pk = ?1";
inline constexpr const char* kInsertIndex =
    "INSERT OR IGNORE INTO resource_index(connection_id, type, attr, value, resource_pk) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
inline constexpr const char* kTouchGroupsOf =
    "UPDATE resources SET version = version + 1, modified_ms = ?3 WHERE pk IN "
    "(SELECT group_pk FROM group_members WHERE connection_id = ?1 AND value = ?2)";
inline constexpr const char* kDeleteMembershipsOf =
    "DELETE FROM group_members WHERE connection_id = ?1 AND value = ?2";
inline constexpr const char* kDeleteResource = "DELETE FROM resources WHERE pk = ?1";
inline constexpr const char* kTouchResource =
    "UPDATE resources SET version = version + 1, modified_ms = ?4 "
    "WHERE connection_id = ?1 AND type = ?2 AND id = ?3";
inline constexpr const char* kFindByIndex =
    "SELECT r.pk, r.id, r.type, r.body, r.version, r.created_ms, r.modified_ms "
    "FROM resource_index i JOIN resources r ON r.pk = i.resource_pk "
    "WHERE i.connection_id = ?1 AND i.type = ?2 AND i.attr = ?3 AND i.value = ?4 "
    "ORDER BY i.resource_pk";
// Kept by triggers (migration 4); no row means none.
inline constexpr const char* kCountResources =
    "SELECT n FROM resource_counts WHERE connection_id = ?1 AND type = ?2";
// OFFSET still steps over the skipped index entries (not the rows), so a deep page costs
// O(offset) index steps; ScanResources pages by pk instead and stays O(log n) per chunk.
inline constexpr const char* kListResources =
    "SELECT " IDSYNC_RESOURCE_COLUMNS
    " FROM resources WHERE connection_id = ?1 AND type = ?2 ORDER BY pk LIMIT ?4 OFFSET ?3";
inline constexpr const char* kScanResources =
    "SELECT " IDSYNC_RESOURCE_COLUMNS
    " FROM resources WHERE connection_id = ?1 AND type = ?2 AND pk > ?3 ORDER BY pk LIMIT ?4";

inline constexpr const char* kGroupPk =
    "SELECT pk FROM resources WHERE connection_id = ?1 AND type = ?2 AND id = ?3";
inline constexpr const char* kAddMember =
    "INSERT OR IGNORE INTO group_members(group_pk, value, member_type, display, connection_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
inline constexpr const char* kRemoveMember =
    "DELETE FROM group_members WHERE group_pk = ?1 AND value = ?2";
inline constexpr const char* kClearMembers = "DELETE FROM group_members WHERE group_pk = ?1";
inline constexpr const char* kListMembers =
    "SELECT value, member_type, display FROM group_members WHERE group_pk = ?1 ORDER BY value";
inline constexpr const char* kCountMembers =
    "SELECT count(*) FROM group_members WHERE group_pk = ?1";
inline constexpr const char* kGroupsOf =
    "SELECT r.id, coalesce(json_extract(r.body, '$.displayName'), '') "
    "FROM group_members m JOIN resources r ON r.pk = m.group_pk "
    "WHERE m.connection_id = ?1 AND m.value = ?2 ORDER BY r.pk";

#define IDSYNC_CONNECTION_COLUMNS "id, uuid, name, directory, kind, enabled, created_ms, settings"
inline constexpr const char* kInsertConnection =
    "INSERT INTO connections(uuid, name, directory, kind, enabled, created_ms, settings) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
inline constexpr const char* kGetConnection =
    "SELECT " IDSYNC_CONNECTION_COLUMNS " FROM connections WHERE id = ?1";
inline constexpr const char* kGetConnectionByName =
    "SELECT " IDSYNC_CONNECTION_COLUMNS " FROM connections WHERE name = ?1";
inline constexpr const char* kListConnections =
    "SELECT " IDSYNC_CONNECTION_COLUMNS " FROM connections ORDER BY id";
inline constexpr const char* kUpdateConnection =
    "UPDATE connections SET enabled = ?2, settings = ?3 WHERE id = ?1";
inline constexpr const char* kDeleteConnection = "DELETE FROM connections WHERE id = ?1";

#define IDSYNC_TOKEN_COLUMNS "id, connection_id, hash, created_ms, expires_ms"
inline constexpr const char* kInsertToken =
    "INSERT INTO tokens(connection_id, hash, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)";
inline constexpr const char* kExpireTokens =
    "UPDATE tokens SET expires_ms = ?2 "
    "WHERE connection_id = ?1 AND (expires_ms IS NULL OR expires_ms > ?2)";
inline constexpr const char* kFindToken =
    "SELECT " IDSYNC_TOKEN_COLUMNS " FROM tokens WHERE hash = ?1";
inline constexpr const char* kListTokens =
    "SELECT " IDSYNC_TOKEN_COLUMNS " FROM tokens WHERE connection_id = ?1 ORDER BY id";

inline constexpr const char* kInsertAudit =
    "INSERT INTO audit(time_ms, connection_id, connection_name, request_id, actor, operation, "
    "resource_type, resource_id, status, detail) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
// ListAudit picks one of four texts so each uses the index that fits (an "x IS NULL OR"
// condition would defeat the planner). ?1 after_seq, ?2 limit, ?3 connection_id, ?4 since.
#define IDSYNC_AUDIT_SELECT                                                             \
  "SELECT seq, time_ms, connection_id, connection_name, request_id, actor, operation, " \
  "resource_type, resource_id, status, detail FROM audit "
inline constexpr const char* kListAudit =
    IDSYNC_AUDIT_SELECT "WHERE seq > ?1 ORDER BY seq LIMIT ?2";
inline constexpr const char* kListAuditByConnection =
    IDSYNC_AUDIT_SELECT "WHERE connection_id = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2";
inline constexpr const char* kListAuditSince =
    IDSYNC_AUDIT_SELECT "WHERE seq > ?1 AND time_ms >= ?4 ORDER BY seq LIMIT ?2";
inline constexpr const char* kListAuditByConnectionSince = IDSYNC_AUDIT_SELECT
    "WHERE connection_id = ?3 AND seq > ?1 AND time_ms >= ?4 ORDER BY seq LIMIT ?2";

// (name, sql) of every query above whose plan must be an index search.
inline std::vector<std::pair<std::string_view, const char*>> IndexedQueries() {
  return {
      {"GetResource", kGetResource},
      {"UpdateResource", kUpdateResource},
      {"DeleteIndexOf", kDeleteIndexOf},
      {"TouchGroupsOf", kTouchGroupsOf},
      {"DeleteMembershipsOf", kDeleteMembershipsOf},
      {"DeleteResource", kDeleteResource},
      {"TouchResource", kTouchResource},
      {"FindByIndex", kFindByIndex},
      {"CountResources", kCountResources},
      {"ListResources", kListResources},
      {"ScanResources", kScanResources},
      {"GroupPk", kGroupPk},
      {"RemoveMember", kRemoveMember},
      {"ClearMembers", kClearMembers},
      {"ListMembers", kListMembers},
      {"CountMembers", kCountMembers},
      {"GroupsOf", kGroupsOf},
      {"GetConnection", kGetConnection},
      {"GetConnectionByName", kGetConnectionByName},
      {"UpdateConnection", kUpdateConnection},
      {"DeleteConnection", kDeleteConnection},
      {"ExpireTokens", kExpireTokens},
      {"FindToken", kFindToken},
      {"ListTokens", kListTokens},
      {"ListAuditByConnection", kListAuditByConnection},
      {"ListAuditByConnectionSince", kListAuditByConnectionSince},
  };
}

}  // namespace idsync::store::sqlite::sql

#undef IDSYNC_RESOURCE_COLUMNS
#undef IDSYNC_CONNECTION_COLUMNS
#undef IDSYNC_TOKEN_COLUMNS
#undef IDSYNC_AUDIT_SELECT
