// The SQL the SQLite back-end runs on its hot paths, named so that sqlite_store_test can check
// each query plan (EXPLAIN QUERY PLAN: an index search, never a scan of a whole table).
// Parameters are numbered; resource columns come in the order kResourceColumns lists them.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace idsync::store::sqlite::sql {

#define IDSYNC_RESOURCE_COLUMNS "pk, id, type, body, version, created_ms, modified_ms"

// The unique key after the resource's columns: a write keeps it without rewriting its index.
inline constexpr const char* kGetResource =
    "SELECT " IDSYNC_RESOURCE_COLUMNS
    ", unique_key FROM resources WHERE connection_id = ?1 AND type = ?2 AND id = ?3";
inline constexpr const char* kInsertResource =
    "INSERT INTO resources(connection_id, type, id, body, version, created_ms, modified_ms, "
    "unique_key) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)";
inline constexpr const char* kUpdateResource =
    "UPDATE resources SET body = ?2, version = version + 1, modified_ms = ?3, unique_key = ?4 "
    "WHERE pk = ?1";
// The same when the unique key stays: SQLite rewrites the entry of every index whose column an
// UPDATE sets, even to the value it had (one random page of each write).
inline constexpr const char* kUpdateResourceBody =
    "UPDATE resources SET body = ?2, version = version + 1, modified_ms = ?3 WHERE pk = ?1";
inline constexpr const char* kDeleteIndexOf = "DELETE FROM resource_index WHERE resource_pk = ?1";
// A resource's entries, to leave them alone when an update keeps them (resource_index_by_resource
// holds the whole key, so no table page is read).
inline constexpr const char* kIndexOf =
    "SELECT attr, value FROM resource_index WHERE resource_pk = ?1";
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
// FindByIndex under kUniqueKeyAttr (store/mirror_area.h): the row's unique key, by the
// UNIQUE(connection_id, type, unique_key) index (migration 19 removed the index entries that
// repeated it).
inline constexpr const char* kFindByUniqueKey =
    "SELECT " IDSYNC_RESOURCE_COLUMNS
    " FROM resources WHERE connection_id = ?1 AND type = ?2 AND unique_key = ?4";
// Bumped by triggers on every change to configuration (migrations 3 and 5).
inline constexpr const char* kConfigGeneration =
    "SELECT value FROM config_generation WHERE id = 1";
// Kept by triggers (migration 4); no row means none.
inline constexpr const char* kCountResources =
    "SELECT n FROM resource_counts WHERE connection_id = ?1 AND type = ?2";
// OFFSET still steps over the skipped index entries (not the rows), so a deep page costs
// O(offset) index steps; ScanResources pages by pk instead and stays O(log n) per chunk.
// Read transactions page by key from a remembered boundary (page_boundaries.h); the writer
// keeps OFFSET.
inline constexpr const char* kListResources =
    "SELECT " IDSYNC_RESOURCE_COLUMNS
    " FROM resources WHERE connection_id = ?1 AND type = ?2 ORDER BY pk LIMIT ?4 OFFSET ?3";
inline constexpr const char* kScanResources =
    "SELECT " IDSYNC_RESOURCE_COLUMNS
    " FROM resources WHERE connection_id = ?1 AND type = ?2 AND pk > ?3 ORDER BY pk LIMIT ?4";
// The pk of the row ?4 rows after pk ?3 in a scope: an index-only skip (the scope index ends
// with the pk), no row read.
inline constexpr const char* kSkipResources =
    "SELECT pk FROM resources WHERE connection_id = ?1 AND type = ?2 AND pk > ?3 "
    "ORDER BY pk LIMIT 1 OFFSET ?4";
// Deletes ever made in a scope (migration 13); no row means none.
inline constexpr const char* kScopeDeletes =
    "SELECT deletes FROM resource_counts WHERE connection_id = ?1 AND type = ?2";

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
// ListAudit picks one of five texts so each uses the index that fits (an "x IS NULL OR"
// condition would defeat the planner when it names the indexed column; the `until` bound ?6 is
// only ever a residual check). ?1 after_seq, ?2 limit, ?3 connection_id, ?4 since,
// ?5 resource_id, ?6 until.
#define IDSYNC_AUDIT_SELECT                                                             \
  "SELECT seq, time_ms, connection_id, connection_name, request_id, actor, operation, " \
  "resource_type, resource_id, status, detail FROM audit "
inline constexpr const char* kListAudit =
    IDSYNC_AUDIT_SELECT "WHERE seq > ?1 AND (?6 IS NULL OR time_ms <= ?6) ORDER BY seq LIMIT ?2";
inline constexpr const char* kListAuditByConnection =
    IDSYNC_AUDIT_SELECT "WHERE connection_id = ?3 AND seq > ?1 AND (?6 IS NULL OR time_ms <= ?6) "
    "ORDER BY seq LIMIT ?2";
inline constexpr const char* kListAuditSince =
    IDSYNC_AUDIT_SELECT "WHERE seq > ?1 AND time_ms >= ?4 AND (?6 IS NULL OR time_ms <= ?6) "
    "ORDER BY seq LIMIT ?2";
inline constexpr const char* kListAuditByConnectionSince = IDSYNC_AUDIT_SELECT
    "WHERE connection_id = ?3 AND seq > ?1 AND time_ms >= ?4 AND (?6 IS NULL OR time_ms <= ?6) "
    "ORDER BY seq LIMIT ?2";
// One resource (a user id), by audit_by_resource (migration 12).
inline constexpr const char* kListAuditByResource = IDSYNC_AUDIT_SELECT
    "WHERE resource_id = ?5 AND seq > ?1 AND (?3 IS NULL OR connection_id = ?3) "
    "AND (?4 IS NULL OR time_ms >= ?4) AND (?6 IS NULL OR time_ms <= ?6) ORDER BY seq LIMIT ?2";
// The source resources linked to an effective user, in any directory (the Activity page's user
// filter: SCIM audit records name these). source_links_by_effective (migration 15).
inline constexpr const char* kLinkedSourcesOf =
    "SELECT connection_id, source_user_id FROM source_links WHERE effective_user_id = ?1";

// --- layer 2 (migration 5)
#define IDSYNC_DIRECTORY_COLUMNS "name, custom_attributes, version, created_ms"
inline constexpr const char* kListDirectories =
    "SELECT " IDSYNC_DIRECTORY_COLUMNS " FROM directories ORDER BY name";
inline constexpr const char* kGetDirectory =
    "SELECT " IDSYNC_DIRECTORY_COLUMNS " FROM directories WHERE name = ?1";
inline constexpr const char* kInsertDirectory =
    "INSERT INTO directories(name, custom_attributes, version, created_ms) VALUES (?1, ?2, 1, ?3)";
inline constexpr const char* kUpdateDirectory =
    "UPDATE directories SET custom_attributes = ?2, version = version + 1 WHERE name = ?1";

#define IDSYNC_POLICY_COLUMNS "connection_id, version, body, time_ms, actor, comment"
inline constexpr const char* kGetPolicy =
    "SELECT " IDSYNC_POLICY_COLUMNS
    " FROM policy_versions WHERE connection_id = ?1 ORDER BY version DESC LIMIT 1";
inline constexpr const char* kLastPolicyVersion =
    "SELECT version FROM policy_versions WHERE connection_id = ?1 ORDER BY version DESC LIMIT 1";
inline constexpr const char* kInsertPolicy =
    "INSERT INTO policy_versions(connection_id, version, body, time_ms, actor, comment) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr const char* kListPolicyVersions =
    "SELECT " IDSYNC_POLICY_COLUMNS
    " FROM policy_versions WHERE connection_id = ?1 ORDER BY version";

#define IDSYNC_EUSER_COLUMNS                                                                \
  "pk, directory, id, username, username_key, link_key, state, body, version, created_ms, " \
  "modified_ms, mail_key"
inline constexpr const char* kGetEffectiveUser =
    "SELECT " IDSYNC_EUSER_COLUMNS " FROM effective_users WHERE directory = ?1 AND id = ?2";
inline constexpr const char* kFindEffectiveUserByUsername =
    "SELECT " IDSYNC_EUSER_COLUMNS
    " FROM effective_users WHERE directory = ?1 AND username_key = ?2";
// link_key is NULL for "none", so "" finds nobody. Linking by username (the default policy) makes
// every link key "username:" and the username key, so effective_users_by_link holds only the
// other keys (migration 19: 5.7 MiB and one index insert per create fewer at 100,000 users),
// and the rest are found by the unique username key: two ranges of one or two rows each.
inline constexpr const char* kFindEffectiveUsersByLinkKey =
    "SELECT " IDSYNC_EUSER_COLUMNS
    " FROM effective_users WHERE directory = ?1 AND link_key = ?2 AND "
    "link_key <> 'username:' || username_key "
    "UNION ALL SELECT " IDSYNC_EUSER_COLUMNS
    " FROM effective_users WHERE directory = ?1 AND username_key = substr(?2, 10) AND "
    "link_key = ?2 AND substr(?2, 1, 9) = 'username:' ORDER BY pk";
inline constexpr const char* kInsertEffectiveUser =
    "INSERT INTO effective_users(directory, id, username, username_key, link_key, state, body, "
    "version, created_ms, modified_ms, mail_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9, "
    "?10)";
inline constexpr const char* kUpdateEffectiveUser =
    "UPDATE effective_users SET username = ?2, username_key = ?3, link_key = ?4, state = ?5, "
    "body = ?6, version = version + 1, modified_ms = ?7, mail_key = ?8 WHERE pk = ?1";
// What PutEffectiveUser needs of the row it replaces: not its body (decompressing and parsing
// ~2.3 KB of JSON per derived write), but its indexed columns, so that an update sets only those
// that change: SQLite rewrites the entry of every index whose column an UPDATE sets, even to the
// value it had (the username, e-mail and LDAP-name indexes: a random page each per write).
inline constexpr const char* kEffectiveUserVersion =
    "SELECT pk, version, created_ms, username, username_key, link_key, state, mail_key "
    "FROM effective_users WHERE directory = ?1 AND id = ?2";
// An update that keeps every key (most PATCHes: a display name, a title, provenance).
inline constexpr const char* kUpdateEffectiveUserBody =
    "UPDATE effective_users SET body = ?2, version = version + 1, modified_ms = ?3 WHERE pk = ?1";
// An update that keeps the username, link and e-mail keys (a user disabled or enabled, the
// username's case): only the partial state index follows.
inline constexpr const char* kUpdateEffectiveUserState =
    "UPDATE effective_users SET username = ?2, state = ?3, body = ?4, version = version + 1, "
    "modified_ms = ?5 WHERE pk = ?1";
inline constexpr const char* kEffectiveUserPk =
    "SELECT pk FROM effective_users WHERE directory = ?1 AND id = ?2";
inline constexpr const char* kTouchEffectiveGroupsOfUser =
    "UPDATE effective_groups SET version = version + 1, modified_ms = ?2 WHERE pk IN "
    "(SELECT group_pk FROM effective_members WHERE user_pk = ?1)";
inline constexpr const char* kDeleteEffectiveMembershipsOfUser =
    "DELETE FROM effective_members WHERE user_pk = ?1";
inline constexpr const char* kDeleteLinksOfUser =
    "DELETE FROM source_links WHERE directory = ?1 AND effective_user_id = ?2";
inline constexpr const char* kDeleteEffectiveUser = "DELETE FROM effective_users WHERE pk = ?1";
// Kept by triggers (migration 5); kind 0 users, 1 groups; no row means none.
inline constexpr const char* kCountEffective =
    "SELECT n FROM effective_counts WHERE directory = ?1 AND kind = ?2";
inline constexpr const char* kListEffectiveUsers =
    "SELECT " IDSYNC_EUSER_COLUMNS
    " FROM effective_users WHERE directory = ?1 ORDER BY pk LIMIT ?3 OFFSET ?2";
inline constexpr const char* kScanEffectiveUsers =
    "SELECT " IDSYNC_EUSER_COLUMNS
    " FROM effective_users WHERE directory = ?1 AND pk > ?2 ORDER BY pk LIMIT ?3";

// Policy applies in progress (migration 14), one per directory.
inline constexpr const char* kGetPolicyApply =
    "SELECT record FROM policy_applies WHERE directory = ?1";
inline constexpr const char* kPutPolicyApply =
    "INSERT INTO policy_applies(directory, record) VALUES(?1, ?2) "
    "ON CONFLICT(directory) DO UPDATE SET record = excluded.record";
inline constexpr const char* kDeletePolicyApply = "DELETE FROM policy_applies WHERE directory = ?1";

#define IDSYNC_LINK_COLUMNS \
  "connection_id, source_user_id, directory, effective_user_id, deleted, source_name"
inline constexpr const char* kGetLink =
    "SELECT " IDSYNC_LINK_COLUMNS
    " FROM source_links WHERE connection_id = ?1 AND source_user_id = ?2";
// Every derived write stores the links of the user's sources; most (every PATCH) are unchanged,
// and the WHERE leaves those rows, and their page, untouched.
inline constexpr const char* kPutLink =
    "INSERT INTO source_links(connection_id, source_user_id, directory, effective_user_id, "
    "deleted, source_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(connection_id, "
    "source_user_id) DO UPDATE SET directory = excluded.directory, effective_user_id = "
    "excluded.effective_user_id, deleted = excluded.deleted, source_name = "
    "excluded.source_name WHERE source_links.directory IS NOT excluded.directory OR "
    "source_links.effective_user_id IS NOT excluded.effective_user_id OR "
    "source_links.deleted IS NOT excluded.deleted OR "
    "source_links.source_name IS NOT excluded.source_name";
inline constexpr const char* kDeleteLink =
    "DELETE FROM source_links WHERE connection_id = ?1 AND source_user_id = ?2";
inline constexpr const char* kLinksOf =
    "SELECT " IDSYNC_LINK_COLUMNS
    " FROM source_links WHERE directory = ?1 AND effective_user_id = ?2 "
    "ORDER BY connection_id, source_user_id";
inline constexpr const char* kLinksOfConnection =
    "SELECT " IDSYNC_LINK_COLUMNS
    " FROM source_links WHERE connection_id = ?1 ORDER BY source_user_id";
// The partial index source_links_by_tombstone (migration 10) holds exactly these rows. INDEXED
// BY because SQLite preferred the primary key (connection_id, source_user_id) to avoid sorting,
// which read every link of the connection: 0.8 ms per SCIM create at 10,000 users, two thirds of
// the writer's time (issue #13 item 3). The few tombstones of one name are sorted instead.
inline constexpr const char* kFindTombstones =
    "SELECT " IDSYNC_LINK_COLUMNS
    " FROM source_links INDEXED BY source_links_by_tombstone"
    " WHERE connection_id = ?1 AND source_name = ?2 AND deleted = 1 ORDER BY source_user_id";

#define IDSYNC_EGROUP_COLUMNS \
  "pk, directory, id, name, name_key, body, version, created_ms, modified_ms"
inline constexpr const char* kGetEffectiveGroup =
    "SELECT " IDSYNC_EGROUP_COLUMNS " FROM effective_groups WHERE directory = ?1 AND id = ?2";
inline constexpr const char* kFindEffectiveGroupByName =
    "SELECT " IDSYNC_EGROUP_COLUMNS " FROM effective_groups WHERE directory = ?1 AND name_key = ?2";
inline constexpr const char* kInsertEffectiveGroup =
    "INSERT INTO effective_groups(directory, id, name, name_key, body, version, created_ms, "
    "modified_ms) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)";
inline constexpr const char* kUpdateEffectiveGroup =
    "UPDATE effective_groups SET name = ?2, name_key = ?3, body = ?4, version = version + 1, "
    "modified_ms = ?5 WHERE pk = ?1";
inline constexpr const char* kEffectiveGroupPk =
    "SELECT pk FROM effective_groups WHERE directory = ?1 AND id = ?2";
inline constexpr const char* kDeleteEffectiveMembersOfGroup =
    "DELETE FROM effective_members WHERE group_pk = ?1";
inline constexpr const char* kDeleteEffectiveGroup = "DELETE FROM effective_groups WHERE pk = ?1";
inline constexpr const char* kTouchEffectiveGroup =
    "UPDATE effective_groups SET version = version + 1, modified_ms = ?3 "
    "WHERE directory = ?1 AND id = ?2";
inline constexpr const char* kListEffectiveGroups =
    "SELECT " IDSYNC_EGROUP_COLUMNS
    " FROM effective_groups WHERE directory = ?1 ORDER BY pk LIMIT ?3 OFFSET ?2";
inline constexpr const char* kScanEffectiveGroups =
    "SELECT " IDSYNC_EGROUP_COLUMNS
    " FROM effective_groups WHERE directory = ?1 AND pk > ?2 ORDER BY pk LIMIT ?3";

// ord = the group's last ord + 1: one descent to the right edge of (group_pk, ord).
inline constexpr const char* kAddEffectiveMember =
    "INSERT OR IGNORE INTO effective_members(group_pk, user_pk, ord) VALUES (?1, ?2, "
    "coalesce((SELECT ord FROM effective_members WHERE group_pk = ?1 ORDER BY ord DESC LIMIT 1), "
    "0) + 1)";
inline constexpr const char* kRemoveEffectiveMember =
    "DELETE FROM effective_members WHERE group_pk = ?1 AND user_pk = ?2";
inline constexpr const char* kListEffectiveMembers =
    "SELECT u.id FROM effective_members m JOIN effective_users u ON u.pk = m.user_pk "
    "WHERE m.group_pk = ?1 ORDER BY m.ord";
// One row per existing group (kNotFound otherwise); no count row means no members.
inline constexpr const char* kCountEffectiveMembers =
    "SELECT coalesce((SELECT n FROM effective_member_counts WHERE group_pk = g.pk), 0) "
    "FROM effective_groups g WHERE g.directory = ?1 AND g.id = ?2";
inline constexpr const char* kEffectiveGroupsOf =
    "SELECT g.id, g.name FROM effective_members m JOIN effective_groups g ON g.pk = m.group_pk "
    "WHERE m.user_pk = (SELECT pk FROM effective_users WHERE directory = ?1 AND id = ?2) "
    "ORDER BY g.name_key, g.pk";

inline constexpr const char* kInsertChange =
    "INSERT INTO changes(directory, time_ms, type, op, id, member_id, resource, cause) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
inline constexpr const char* kListChanges =
    "SELECT seq, time_ms, directory, type, op, id, member_id, resource, cause FROM changes "
    "WHERE directory = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";
// One entry's changes: its own (changes_by_entry) and its memberships' (changes_by_member).
inline constexpr const char* kListChangesOf =
    "SELECT seq, time_ms, directory, type, op, id, member_id, resource, cause FROM changes "
    "WHERE directory = ?1 AND id = ?4 AND seq > ?2 "
    "UNION ALL "
    "SELECT seq, time_ms, directory, type, op, id, member_id, resource, cause FROM changes "
    "WHERE directory = ?1 AND member_id = ?4 AND member_id <> '' AND id <> ?4 AND seq > ?2 "
    "ORDER BY seq LIMIT ?3";
inline constexpr const char* kLastChangeSeq =
    "SELECT seq FROM changes WHERE directory = ?1 ORDER BY seq DESC LIMIT 1";

inline constexpr const char* kPutConflict =
    "INSERT INTO conflicts(connection_id, source_user_id, directory, username, detail, time_ms, "
    "username_key, link_key, source_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT(connection_id, source_user_id) DO UPDATE SET "
    "directory = excluded.directory, username = excluded.username, detail = excluded.detail, "
    "time_ms = excluded.time_ms, username_key = excluded.username_key, "
    "link_key = excluded.link_key, source_name = excluded.source_name";
inline constexpr const char* kDeleteConflict =
    "DELETE FROM conflicts WHERE connection_id = ?1 AND source_user_id = ?2";
#define IDSYNC_CONFLICT_COLUMNS                                                         \
  "directory, connection_id, source_user_id, username, detail, time_ms, username_key, " \
  "link_key, source_name"
inline constexpr const char* kListConflicts =
    "SELECT " IDSYNC_CONFLICT_COLUMNS
    " FROM conflicts INDEXED BY conflicts_by_directory"
    " WHERE directory = ?1 ORDER BY connection_id, source_user_id";
// The look-ups of FindConflicts, one index range per key. INDEXED BY: without statistics SQLite
// may take another index of the directory and read all its conflicts (as kFindTombstones).
inline constexpr const char* kFindConflictsByUsername =
    "SELECT " IDSYNC_CONFLICT_COLUMNS
    " FROM conflicts INDEXED BY conflicts_by_username WHERE directory = ?1 AND username_key = ?2";
inline constexpr const char* kFindConflictsByLinkKey =
    "SELECT " IDSYNC_CONFLICT_COLUMNS
    " FROM conflicts INDEXED BY conflicts_by_link_key WHERE directory = ?1 AND link_key = ?2";
inline constexpr const char* kFindConflictsBySourceName =
    "SELECT " IDSYNC_CONFLICT_COLUMNS
    " FROM conflicts INDEXED BY conflicts_by_source_name"
    " WHERE directory = ?1 AND connection_id = ?2 AND source_name = ?3";
// Rows stored before migration 17, which have no keys yet: the username index's range of NULLs.
inline constexpr const char* kFindUnkeyedConflicts =
    "SELECT " IDSYNC_CONFLICT_COLUMNS
    " FROM conflicts INDEXED BY conflicts_by_username WHERE directory = ?1 AND username_key IS "
    "NULL";

#define IDSYNC_API_TOKEN_COLUMNS "id, name, kind, directory, hash, created_ms"
inline constexpr const char* kInsertApiToken =
    "INSERT INTO api_tokens(name, kind, directory, hash, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)";
inline constexpr const char* kFindApiToken =
    "SELECT " IDSYNC_API_TOKEN_COLUMNS " FROM api_tokens WHERE hash = ?1";
inline constexpr const char* kListApiTokens =
    "SELECT " IDSYNC_API_TOKEN_COLUMNS " FROM api_tokens ORDER BY id";
inline constexpr const char* kDeleteApiToken = "DELETE FROM api_tokens WHERE name = ?1";

// --- the LDAP server's area (ldap_area.cpp, migration 8)
#define IDSYNC_LDAP_ACCOUNT_COLUMNS "id, name, directory, hash, created_ms, rotated_ms"
inline constexpr const char* kInsertLdapAccount =
    "INSERT INTO ldap_accounts(name, directory, hash, created_ms, rotated_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
inline constexpr const char* kGetLdapAccount =
    "SELECT " IDSYNC_LDAP_ACCOUNT_COLUMNS " FROM ldap_accounts WHERE name = ?1";
// Reads every account (a handful): a scan of the name index by design, not in IndexedQueries.
inline constexpr const char* kListLdapAccounts =
    "SELECT " IDSYNC_LDAP_ACCOUNT_COLUMNS " FROM ldap_accounts ORDER BY name";
inline constexpr const char* kSetLdapAccountHash =
    "UPDATE ldap_accounts SET hash = ?2, rotated_ms = ?3 WHERE name = ?1";
inline constexpr const char* kDeleteLdapAccount = "DELETE FROM ldap_accounts WHERE name = ?1";
inline constexpr const char* kGetLdapSettings =
    "SELECT settings FROM ldap_settings WHERE directory = ?1";
inline constexpr const char* kPutLdapSettings =
    "INSERT INTO ldap_settings(directory, settings) VALUES (?1, ?2) "
    "ON CONFLICT(directory) DO UPDATE SET settings = excluded.settings";
// --- the admin console's area (console_area.cpp, migration 11)
#define IDSYNC_ADMIN_USER_COLUMNS \
  "id, name, role, hash, must_change_password, created_ms, password_changed_ms"
inline constexpr const char* kInsertAdminUser =
    "INSERT INTO admin_users(name, role, hash, must_change_password, created_ms, "
    "password_changed_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr const char* kGetAdminUser =
    "SELECT " IDSYNC_ADMIN_USER_COLUMNS " FROM admin_users WHERE name = ?1";
inline constexpr const char* kGetAdminUserById =
    "SELECT " IDSYNC_ADMIN_USER_COLUMNS " FROM admin_users WHERE id = ?1";
// Reads every admin user (a handful): a scan by design, not in IndexedQueries.
inline constexpr const char* kListAdminUsers =
    "SELECT " IDSYNC_ADMIN_USER_COLUMNS " FROM admin_users ORDER BY name";
inline constexpr const char* kSetAdminPassword =
    "UPDATE admin_users SET hash = ?2, must_change_password = ?3, password_changed_ms = ?4 "
    "WHERE name = ?1";
inline constexpr const char* kDeleteAdminUser = "DELETE FROM admin_users WHERE name = ?1";
inline constexpr const char* kInsertSession =
    "INSERT INTO console_sessions(id_hash, user_id, created_ms, last_seen_ms) "
    "VALUES (?1, ?2, ?3, ?4)";
inline constexpr const char* kGetSession =
    "SELECT id_hash, user_id, created_ms, last_seen_ms FROM console_sessions WHERE id_hash = ?1";
inline constexpr const char* kTouchSession =
    "UPDATE console_sessions SET last_seen_ms = ?2 WHERE id_hash = ?1";
inline constexpr const char* kDeleteSession = "DELETE FROM console_sessions WHERE id_hash = ?1";
inline constexpr const char* kDeleteSessionsOf =
    "DELETE FROM console_sessions WHERE user_id = ?1 AND id_hash != ?2";
// Housekeeping over a table of a few rows per admin user: a scan by design, not in
// IndexedQueries.
inline constexpr const char* kDeleteExpiredSessions =
    "DELETE FROM console_sessions WHERE last_seen_ms < ?1 OR created_ms < ?2";
// Keyset pages use kScanEffectiveUsers / kScanEffectiveGroups (pk > ?2 ORDER BY pk LIMIT ?3).
// Members in user pk order: the primary key (group_pk, user_pk) is that order.
#define IDSYNC_EUSER_COLUMNS_U                                                         \
  "u.pk, u.directory, u.id, u.username, u.username_key, u.link_key, u.state, u.body, " \
  "u.version, u.created_ms, u.modified_ms, u.mail_key"
inline constexpr const char* kMembersAfter =
    "SELECT " IDSYNC_EUSER_COLUMNS_U
    " FROM effective_members m JOIN effective_users u ON u.pk = m.user_pk "
    "WHERE m.group_pk = ?1 AND m.user_pk > ?2 ORDER BY m.user_pk LIMIT ?3";
inline constexpr const char* kMemberNames =
    "SELECT u.pk, u.id, u.username, u.state "
    "FROM effective_members m JOIN effective_users u ON u.pk = m.user_pk "
    "WHERE m.group_pk = ?1 AND m.user_pk > ?2 ORDER BY m.user_pk LIMIT ?3";
// The explorer's user search (EffectiveUserArea::SearchEffectiveUsers): one statement per
// driving index, all with the same parameters so that any criterion can be the residual one:
//   ?1 directory, ?2/?3 username_key range [prefix, prefix + 0xFF), ?4/?5 mail_key range,
//   ?6 state ('' any), ?7 group pk (0 none), ?8/?9 cursor (key text, pk), ?10 limit.
// The residual terms are `?x = '' OR ...`, which no index can serve, so the planner keeps the
// driving range; a residual group is one primary-key probe of effective_members per row read.
#define IDSYNC_SEARCH_NAME_RESIDUAL "(?2 = '' OR (u.username_key >= ?2 AND u.username_key < ?3))"
#define IDSYNC_SEARCH_MAIL_RESIDUAL "(?4 = '' OR (u.mail_key >= ?4 AND u.mail_key < ?5))"
#define IDSYNC_SEARCH_STATE_RESIDUAL "(?6 = '' OR u.state = ?6)"
#define IDSYNC_SEARCH_GROUP_RESIDUAL                                  \
  "(?7 = 0 OR EXISTS (SELECT 1 FROM effective_members g "             \
  "WHERE g.group_pk = ?7 AND g.user_pk = u.pk))"
// Username order; with no criterion at all the range is every username ('' to 0xFF).
inline constexpr const char* kSearchUsersByName =
    "SELECT " IDSYNC_EUSER_COLUMNS_U " FROM effective_users u WHERE u.directory = ?1 AND "
    "u.username_key >= ?2 AND u.username_key < ?3 AND u.username_key > ?8 AND "
    IDSYNC_SEARCH_MAIL_RESIDUAL " AND " IDSYNC_SEARCH_STATE_RESIDUAL " AND "
    IDSYNC_SEARCH_GROUP_RESIDUAL " ORDER BY u.username_key LIMIT ?10";
// effective_users_by_mail (migration 8) holds (directory, mail_key, pk): e-mails repeat, so the
// cursor is the pair.
inline constexpr const char* kSearchUsersByMail =
    "SELECT " IDSYNC_EUSER_COLUMNS_U " FROM effective_users u WHERE u.directory = ?1 AND "
    "u.mail_key >= ?4 AND u.mail_key < ?5 AND (u.mail_key, u.pk) > (?8, ?9) AND "
    IDSYNC_SEARCH_NAME_RESIDUAL " AND " IDSYNC_SEARCH_STATE_RESIDUAL " AND "
    IDSYNC_SEARCH_GROUP_RESIDUAL " ORDER BY u.mail_key, u.pk LIMIT ?10";
// A group's members in user pk order (the primary key of effective_members).
inline constexpr const char* kSearchUsersByGroup =
    "SELECT " IDSYNC_EUSER_COLUMNS_U
    " FROM effective_members m JOIN effective_users u ON u.pk = m.user_pk "
    "WHERE m.group_pk = ?7 AND m.user_pk > ?9 AND u.directory = ?1 AND "
    IDSYNC_SEARCH_NAME_RESIDUAL " AND " IDSYNC_SEARCH_MAIL_RESIDUAL " AND "
    IDSYNC_SEARCH_STATE_RESIDUAL " ORDER BY m.user_pk LIMIT ?10";
// effective_users_by_state (directory, state, username_key) holds the users who are not active
// (migration 19); DrivingIndex never drives by "active".
inline constexpr const char* kSearchUsersByState =
    "SELECT " IDSYNC_EUSER_COLUMNS_U
    " FROM effective_users u WHERE u.directory = ?1 AND "
    "u.state = ?6 AND u.state <> 'active' AND u.username_key > ?8 AND " IDSYNC_SEARCH_NAME_RESIDUAL
    " AND " IDSYNC_SEARCH_MAIL_RESIDUAL " AND " IDSYNC_SEARCH_GROUP_RESIDUAL
    " ORDER BY u.username_key LIMIT ?10";
#undef IDSYNC_SEARCH_NAME_RESIDUAL
#undef IDSYNC_SEARCH_MAIL_RESIDUAL
#undef IDSYNC_SEARCH_STATE_RESIDUAL
#undef IDSYNC_SEARCH_GROUP_RESIDUAL
inline constexpr const char* kEffectiveGroupPkById =
    "SELECT pk FROM effective_groups WHERE directory = ?1 AND id = ?2";
// Two statements rather than `mail_key = ?2 OR mail_key IS NULL`, which SQLite plans as a
// search of the whole directory; each of these is one range of (directory, mail_key).
inline constexpr const char* kUsersByMail =
    "SELECT " IDSYNC_EUSER_COLUMNS
    " FROM effective_users WHERE directory = ?1 AND mail_key = ?2 ORDER BY pk";
inline constexpr const char* kUsersWithoutMailKey =
    "SELECT " IDSYNC_EUSER_COLUMNS
    " FROM effective_users WHERE directory = ?1 AND mail_key IS NULL ORDER BY pk";
// LDAP compares uid and cn ignoring case and leading, trailing and repeated spaces (RFC 4518,
// caseIgnoreMatch): the stored folded key squeezed the same way (runs of up to 64 spaces), with
// indexes on exactly this expression (migration 9), so the lookup is one index range.
#define IDSYNC_SQUEEZED(key)                                                                     \
  "trim(replace(replace(replace(replace(replace(replace(" key ", '  ', ' '), '  ', ' '), '  ', " \
  "' '), '  ', ' '), '  ', ' '), '  ', ' '))"
// Users: effective_users_by_ldap_name holds only the keys that squeezing changes (migration 18;
// over every user it cost each create one more random page). A key squeezing leaves alone is
// found by the unique (directory, username_key) index; the two statements split the users
// between them, and the caller merges their rows in creation order.
inline constexpr const char* kUsersByLdapNameUnspaced =
    "SELECT " IDSYNC_EUSER_COLUMNS
    " FROM effective_users WHERE directory = ?1 AND "
    "username_key = ?2 AND username_key = " IDSYNC_SQUEEZED("username_key");
inline constexpr const char* kUsersByLdapNameSpaced =
    "SELECT " IDSYNC_EUSER_COLUMNS
    " FROM effective_users WHERE directory = ?1 AND "
    "username_key <> " IDSYNC_SQUEEZED("username_key") " AND " IDSYNC_SQUEEZED(
        "username_key") " = ?2 ORDER BY pk";
inline constexpr const char* kGroupsByLdapName =
    "SELECT " IDSYNC_EGROUP_COLUMNS " FROM effective_groups WHERE directory = ?1 AND "
    IDSYNC_SQUEEZED("name_key") " = ?2 ORDER BY pk";
inline constexpr const char* kCreateLdapNameIndexes =
    "CREATE INDEX effective_users_by_ldap_name ON effective_users(directory, "
    IDSYNC_SQUEEZED("username_key") ");"
    "CREATE INDEX effective_groups_by_ldap_name ON effective_groups(directory, "
    IDSYNC_SQUEEZED("name_key") ");";
inline constexpr const char* kPartialUserLdapNameIndex =
    "DROP INDEX effective_users_by_ldap_name;"
    "CREATE INDEX effective_users_by_ldap_name ON effective_users(directory, " IDSYNC_SQUEEZED(
        "username_key") ") WHERE username_key <> " IDSYNC_SQUEEZED("username_key") ";";
inline constexpr const char* kPosixUid =
    "SELECT number FROM posix_uids WHERE directory = ?1 AND id = ?2";
inline constexpr const char* kPosixGid =
    "SELECT number FROM posix_gids WHERE directory = ?1 AND id = ?2";
// One descent of changes_by_entry (directory, id, seq) each, whatever the entry's history length.
inline constexpr const char* kFirstChangeOf =
    "SELECT seq FROM changes WHERE directory = ?1 AND id = ?2 ORDER BY seq LIMIT 1";
inline constexpr const char* kLastChangeOf =
    "SELECT seq FROM changes WHERE directory = ?1 AND id = ?2 ORDER BY seq DESC LIMIT 1";
inline constexpr const char* kChangeKeysAfter =
    "SELECT seq, time_ms, type, op, id, member_id FROM changes "
    "WHERE directory = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";
inline constexpr const char* kLastResourceOf =
    "SELECT resource FROM changes WHERE directory = ?1 AND id = ?2 AND op = 'upsert' "
    "AND resource IS NOT NULL ORDER BY seq DESC LIMIT 1";

// --- pull sync (sync_area.cpp, secret_area.cpp; migration 6)
#define IDSYNC_SYNC_RUN_COLUMNS                                                                 \
  "id, connection_id, mode, run_trigger, outcome, started_ms, ended_ms, counts, progress, error, " \
  "owner"
inline constexpr const char* kInsertSyncRun =
    "INSERT INTO sync_runs(connection_id, mode, run_trigger, outcome, started_ms, ended_ms, "
    "counts, progress, error, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
inline constexpr const char* kUpdateSyncRun =
    "UPDATE sync_runs SET outcome = ?2, ended_ms = ?3, counts = ?4, progress = ?5, "
    "error = ?6 WHERE id = ?1";
inline constexpr const char* kGetSyncRun =
    "SELECT " IDSYNC_SYNC_RUN_COLUMNS " FROM sync_runs WHERE id = ?1";
inline constexpr const char* kListSyncRuns =
    "SELECT " IDSYNC_SYNC_RUN_COLUMNS " FROM sync_runs WHERE connection_id = ?1 ORDER BY id DESC "
    "LIMIT ?2";
inline constexpr const char* kAbandonSyncRuns =
    "UPDATE sync_runs SET outcome = 'abandoned', ended_ms = ?3, "
    "error = 'the process running it stopped before the run ended' "
    "WHERE connection_id = ?1 AND outcome = 'running' AND owner <> ?2";
inline constexpr const char* kGetSyncState =
    "SELECT state FROM sync_state WHERE connection_id = ?1";
inline constexpr const char* kPutSyncState =
    "INSERT INTO sync_state(connection_id, state) VALUES (?1, ?2) "
    "ON CONFLICT(connection_id) DO UPDATE SET state = excluded.state";
inline constexpr const char* kAcquireSyncLease =
    "INSERT INTO sync_state(connection_id, state, lease_owner, lease_expires_ms) "
    "VALUES (?1, '{}', ?2, ?4) ON CONFLICT(connection_id) DO UPDATE SET "
    "lease_owner = excluded.lease_owner, lease_expires_ms = excluded.lease_expires_ms "
    "WHERE lease_owner IS NULL OR lease_owner = ?2 OR lease_expires_ms <= ?3";
inline constexpr const char* kReleaseSyncLease =
    "UPDATE sync_state SET lease_owner = NULL, lease_expires_ms = NULL "
    "WHERE connection_id = ?1 AND lease_owner = ?2";
inline constexpr const char* kPutSecret =
    "INSERT INTO secrets(connection_id, name, sealed) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(connection_id, name) DO UPDATE SET sealed = excluded.sealed";
inline constexpr const char* kGetSecret =
    "SELECT sealed FROM secrets WHERE connection_id = ?1 AND name = ?2";

// --- compression dictionaries (body_codec.cpp, migration 7)
// Reads every dictionary (a handful) when the store opens: a scan by design, not in
// IndexedQueries.
inline constexpr const char* kListDictionaries =
    "SELECT id, kind, dictionary FROM body_dictionaries ORDER BY id";
inline constexpr const char* kGetDictionary =
    "SELECT kind, dictionary FROM body_dictionaries WHERE id = ?1";
inline constexpr const char* kInsertDictionary =
    "INSERT INTO body_dictionaries(kind, dictionary, created_ms) VALUES (?1, ?2, "
    "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER))";

// --- the console's activity per hour (console_area.cpp: Overview chart)
// Provisioning requests: SCIM operations (create, replace, patch, delete and refused ones: no
// dot in the name) and LDAP runs and logins (sync.*); not administration (connection.*,
// policy.*, ...), which is not traffic from the source.
#define IDSYNC_PROVISIONING_OPERATION "(instr(operation, '.') = 0 OR operation LIKE 'sync.%')"
// The audit log's first record at or after a time (audit_by_time: one seek); seqs follow time.
inline constexpr const char* kFirstAuditSince =
    "SELECT seq FROM audit WHERE time_ms >= ?1 ORDER BY time_ms LIMIT 1";
// Requests and errors per hour: audit_by_connection(connection_id, seq) bounds the rows to the
// connection's records from that seq on (the window).
inline constexpr const char* kAuditByHour =
    "SELECT time_ms / 3600000, count(*), sum(status >= 400) FROM audit "
    "WHERE connection_id = ?2 AND seq >= ?3 AND time_ms >= ?1 AND " IDSYNC_PROVISIONING_OPERATION
    " GROUP BY 1";
// The feed's first entry at or after a seq (a rowid seek), for the binary search.
inline constexpr const char* kChangeTimeFrom =
    "SELECT seq, time_ms FROM changes WHERE seq >= ?1 ORDER BY seq LIMIT 1";
inline constexpr const char* kLastChangeSeqAll = "SELECT coalesce(max(seq), 0) FROM changes";
// The directory's entries from that seq on: changes_by_directory(directory, seq) is the range.
inline constexpr const char* kChangesByHour =
    "SELECT time_ms / 3600000, count(*) FROM changes "
    "WHERE directory = ?1 AND seq >= ?2 AND time_ms >= ?3 GROUP BY 1";
inline constexpr const char* kLastAudit =
    "SELECT time_ms FROM audit WHERE connection_id = ?1 AND " IDSYNC_PROVISIONING_OPERATION
    " ORDER BY seq DESC LIMIT 1";
#undef IDSYNC_PROVISIONING_OPERATION

// (name, sql) of every query above whose plan must be an index search.
inline std::vector<std::pair<std::string_view, const char*>> IndexedQueries() {
  return {
      {"GetResource", kGetResource},
      {"UpdateResource", kUpdateResource},
      {"UpdateResourceBody", kUpdateResourceBody},
      {"DeleteIndexOf", kDeleteIndexOf},
      {"IndexOf", kIndexOf},
      {"TouchGroupsOf", kTouchGroupsOf},
      {"DeleteMembershipsOf", kDeleteMembershipsOf},
      {"DeleteResource", kDeleteResource},
      {"TouchResource", kTouchResource},
      {"FindByIndex", kFindByIndex},
      {"FindByUniqueKey", kFindByUniqueKey},
      {"CountResources", kCountResources},
      {"ConfigGeneration", kConfigGeneration},
      {"ListResources", kListResources},
      {"SkipResources", kSkipResources},
      {"ScopeDeletes", kScopeDeletes},
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
      {"ListAuditByResource", kListAuditByResource},
      {"GetDirectory", kGetDirectory},
      {"UpdateDirectory", kUpdateDirectory},
      {"GetPolicy", kGetPolicy},
      {"LastPolicyVersion", kLastPolicyVersion},
      {"ListPolicyVersions", kListPolicyVersions},
      {"GetEffectiveUser", kGetEffectiveUser},
      {"FindEffectiveUserByUsername", kFindEffectiveUserByUsername},
      {"FindEffectiveUsersByLinkKey", kFindEffectiveUsersByLinkKey},
      {"UpdateEffectiveUser", kUpdateEffectiveUser},
      {"UpdateEffectiveUserBody", kUpdateEffectiveUserBody},
      {"UpdateEffectiveUserState", kUpdateEffectiveUserState},
      {"EffectiveUserVersion", kEffectiveUserVersion},
      {"EffectiveUserPk", kEffectiveUserPk},
      {"TouchEffectiveGroupsOfUser", kTouchEffectiveGroupsOfUser},
      {"DeleteEffectiveMembershipsOfUser", kDeleteEffectiveMembershipsOfUser},
      {"DeleteLinksOfUser", kDeleteLinksOfUser},
      {"DeleteEffectiveUser", kDeleteEffectiveUser},
      {"CountEffective", kCountEffective},
      {"ListEffectiveUsers", kListEffectiveUsers},
      {"ScanEffectiveUsers", kScanEffectiveUsers},
      {"SearchUsersByName", kSearchUsersByName},
      {"SearchUsersByMail", kSearchUsersByMail},
      {"SearchUsersByGroup", kSearchUsersByGroup},
      {"SearchUsersByState", kSearchUsersByState},
      {"LinkedSourcesOf", kLinkedSourcesOf},
      {"GetPolicyApply", kGetPolicyApply},
      {"DeletePolicyApply", kDeletePolicyApply},
      {"GetLink", kGetLink},
      {"DeleteLink", kDeleteLink},
      {"LinksOf", kLinksOf},
      {"LinksOfConnection", kLinksOfConnection},
      {"FindTombstones", kFindTombstones},
      {"GetEffectiveGroup", kGetEffectiveGroup},
      {"FindEffectiveGroupByName", kFindEffectiveGroupByName},
      {"UpdateEffectiveGroup", kUpdateEffectiveGroup},
      {"EffectiveGroupPk", kEffectiveGroupPk},
      {"DeleteEffectiveMembersOfGroup", kDeleteEffectiveMembersOfGroup},
      {"DeleteEffectiveGroup", kDeleteEffectiveGroup},
      {"TouchEffectiveGroup", kTouchEffectiveGroup},
      {"ListEffectiveGroups", kListEffectiveGroups},
      {"ScanEffectiveGroups", kScanEffectiveGroups},
      {"AddEffectiveMember", kAddEffectiveMember},
      {"RemoveEffectiveMember", kRemoveEffectiveMember},
      {"ListEffectiveMembers", kListEffectiveMembers},
      {"CountEffectiveMembers", kCountEffectiveMembers},
      {"EffectiveGroupsOf", kEffectiveGroupsOf},
      {"ListChanges", kListChanges},
      {"ListChangesOf", kListChangesOf},
      {"LastChangeSeq", kLastChangeSeq},
      {"DeleteConflict", kDeleteConflict},
      {"ListConflicts", kListConflicts},
      {"FindConflictsByUsername", kFindConflictsByUsername},
      {"FindConflictsByLinkKey", kFindConflictsByLinkKey},
      {"FindConflictsBySourceName", kFindConflictsBySourceName},
      {"FindUnkeyedConflicts", kFindUnkeyedConflicts},
      {"FindApiToken", kFindApiToken},
      {"DeleteApiToken", kDeleteApiToken},
      {"GetLdapAccount", kGetLdapAccount},
      {"GetAdminUser", kGetAdminUser},
      {"FirstAuditSince", kFirstAuditSince},
      {"AuditByHour", kAuditByHour},
      {"ChangeTimeFrom", kChangeTimeFrom},
      {"ChangesByHour", kChangesByHour},
      {"LastAudit", kLastAudit},
      {"GetAdminUserById", kGetAdminUserById},
      {"SetAdminPassword", kSetAdminPassword},
      {"DeleteAdminUser", kDeleteAdminUser},
      {"GetSession", kGetSession},
      {"TouchSession", kTouchSession},
      {"DeleteSession", kDeleteSession},
      {"DeleteSessionsOf", kDeleteSessionsOf},
      {"SetLdapAccountHash", kSetLdapAccountHash},
      {"DeleteLdapAccount", kDeleteLdapAccount},
      {"GetLdapSettings", kGetLdapSettings},
      {"MembersAfter", kMembersAfter},
      {"MemberNames", kMemberNames},
      {"UsersByMail", kUsersByMail},
      {"LinkedSourcesOf", kLinkedSourcesOf},
      {"SearchUsersByName", kSearchUsersByName},
      {"SearchUsersByMail", kSearchUsersByMail},
      {"SearchUsersByGroup", kSearchUsersByGroup},
      {"SearchUsersByState", kSearchUsersByState},
      {"EffectiveGroupPkById", kEffectiveGroupPkById},
      {"UsersByLdapNameUnspaced", kUsersByLdapNameUnspaced},
      {"UsersByLdapNameSpaced", kUsersByLdapNameSpaced},
      {"GroupsByLdapName", kGroupsByLdapName},
      {"UsersWithoutMailKey", kUsersWithoutMailKey},
      {"PosixUid", kPosixUid},
      {"PosixGid", kPosixGid},
      {"FirstChangeOf", kFirstChangeOf},
      {"LastChangeOf", kLastChangeOf},
      {"ChangeKeysAfter", kChangeKeysAfter},
      {"LastResourceOf", kLastResourceOf},
      {"UpdateSyncRun", kUpdateSyncRun},
      {"GetSyncRun", kGetSyncRun},
      {"ListSyncRuns", kListSyncRuns},
      {"AbandonSyncRuns", kAbandonSyncRuns},
      {"GetSyncState", kGetSyncState},
      {"ReleaseSyncLease", kReleaseSyncLease},
      {"GetSecret", kGetSecret},
      {"GetDictionary", kGetDictionary},
  };
}

}  // namespace idsync::store::sqlite::sql

#undef IDSYNC_RESOURCE_COLUMNS
#undef IDSYNC_CONNECTION_COLUMNS
#undef IDSYNC_TOKEN_COLUMNS
#undef IDSYNC_AUDIT_SELECT
#undef IDSYNC_DIRECTORY_COLUMNS
#undef IDSYNC_POLICY_COLUMNS
#undef IDSYNC_EUSER_COLUMNS
#undef IDSYNC_LINK_COLUMNS
#undef IDSYNC_EGROUP_COLUMNS
#undef IDSYNC_API_TOKEN_COLUMNS
#undef IDSYNC_CONFLICT_COLUMNS
#undef IDSYNC_LDAP_ACCOUNT_COLUMNS
#undef IDSYNC_EUSER_COLUMNS_U
#undef IDSYNC_SYNC_RUN_COLUMNS
