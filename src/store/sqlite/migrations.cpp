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
// Layer 2 (effective directory, policies; migration 5) has its own tables, keyed by directory
// name like connections.directory, so nothing of the mirror had to change for it.

#include "store/sqlite/migrations.h"

#include <chrono>
#include <string>

#include "base/time.h"
#include "store/sqlite/queries.h"

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

// Layer 2: the effective directory (issue #3). Bodies are the directory layer's JSON as compact
// text; the store interprets none of them.
// - directories: one row per directory; "users" and "customers" exist from the start.
// - policy_versions: every version of a connection's policy, newest = highest version.
// - effective_users / effective_groups: integer pk (creation order: an index on (directory) ends
//   with the rowid, so listing a directory in pk order never sorts) plus unique (directory, id)
//   and (directory, folded name). link_key is NULL when the user has none, and its index is
//   partial, so users without a link key cost no index entry.
// - effective_members: WITHOUT ROWID keyed by (group_pk, user_pk), integers rather than UUID
//   text, so keys are short and a fill appends near the right edge of the tree. `ord` is the
//   membership's creation order within its group (last + 1), so ListEffectiveMembers reads
//   (group_pk, ord) in order; (user_pk, group_pk) answers "groups of this user".
// - source_links, conflicts: keyed by (connection_id, source user id); they, like
//   policy_versions, go with their connection (ON DELETE CASCADE).
// - changes: the feed. AUTOINCREMENT so a seq is never reused, even after pruning, because
//   readers page with "after seq".
// - api_tokens: admin and read credentials, SHA-256 only, like connection tokens.
// - effective_counts / effective_member_counts: kept by triggers so counts are one row read
//   (counting index entries cost ~100 ms at 1,000,000 rows). Rows are updated with UPDATE,
//   never INSERT OR REPLACE, so only inserts and deletes count.
// - config_generation is bumped on any change to directories, policies and API tokens, since
//   callers cache parsed policies and API-token authentication against it.
constexpr std::string_view kEffectiveSchema = R"sql(
CREATE TABLE directories(
  name TEXT PRIMARY KEY,
  custom_attributes TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO directories(name, custom_attributes, version, created_ms) VALUES
  ('users', '[]', 1, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)),
  ('customers', '[]', 1, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER));

CREATE TABLE policy_versions(
  connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  body TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  comment TEXT NOT NULL,
  PRIMARY KEY(connection_id, version)
);

CREATE TABLE effective_users(
  pk INTEGER PRIMARY KEY,
  directory TEXT NOT NULL,
  id TEXT NOT NULL,
  username TEXT NOT NULL,
  username_key TEXT NOT NULL,
  link_key TEXT,
  state TEXT NOT NULL,
  body TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  modified_ms INTEGER NOT NULL,
  UNIQUE(directory, id),
  UNIQUE(directory, username_key)
);
CREATE INDEX effective_users_by_directory ON effective_users(directory);
CREATE INDEX effective_users_by_link ON effective_users(directory, link_key)
  WHERE link_key IS NOT NULL;

CREATE TABLE effective_groups(
  pk INTEGER PRIMARY KEY,
  directory TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  name_key TEXT NOT NULL,
  body TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  modified_ms INTEGER NOT NULL,
  UNIQUE(directory, id),
  UNIQUE(directory, name_key)
);
CREATE INDEX effective_groups_by_directory ON effective_groups(directory);

CREATE TABLE effective_members(
  group_pk INTEGER NOT NULL REFERENCES effective_groups(pk) ON DELETE CASCADE,
  user_pk INTEGER NOT NULL REFERENCES effective_users(pk) ON DELETE CASCADE,
  ord INTEGER NOT NULL,
  PRIMARY KEY(group_pk, user_pk)
) WITHOUT ROWID;
CREATE INDEX effective_members_by_user ON effective_members(user_pk, group_pk);
CREATE INDEX effective_members_by_order ON effective_members(group_pk, ord);

CREATE TABLE source_links(
  connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  source_user_id TEXT NOT NULL,
  directory TEXT NOT NULL,
  effective_user_id TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  PRIMARY KEY(connection_id, source_user_id)
) WITHOUT ROWID;
CREATE INDEX source_links_by_user ON source_links(directory, effective_user_id);

CREATE TABLE changes(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  directory TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  type TEXT NOT NULL,
  op TEXT NOT NULL,
  id TEXT NOT NULL,
  member_id TEXT NOT NULL,
  resource TEXT,
  cause TEXT NOT NULL
);
CREATE INDEX changes_by_directory ON changes(directory, seq);

CREATE TABLE conflicts(
  connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  source_user_id TEXT NOT NULL,
  directory TEXT NOT NULL,
  username TEXT NOT NULL,
  detail TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  PRIMARY KEY(connection_id, source_user_id)
) WITHOUT ROWID;
CREATE INDEX conflicts_by_directory ON conflicts(directory);

CREATE TABLE api_tokens(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  directory TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL
);

-- kind: 0 users, 1 groups.
CREATE TABLE effective_counts(
  directory TEXT NOT NULL,
  kind INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY(directory, kind)
) WITHOUT ROWID;
CREATE TABLE effective_member_counts(group_pk INTEGER PRIMARY KEY, n INTEGER NOT NULL);
CREATE TRIGGER effective_users_count_insert AFTER INSERT ON effective_users BEGIN
  INSERT INTO effective_counts(directory, kind, n) VALUES (NEW.directory, 0, 1)
    ON CONFLICT(directory, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER effective_users_count_delete AFTER DELETE ON effective_users BEGIN
  UPDATE effective_counts SET n = n - 1 WHERE directory = OLD.directory AND kind = 0;
END;
CREATE TRIGGER effective_groups_count_insert AFTER INSERT ON effective_groups BEGIN
  INSERT INTO effective_counts(directory, kind, n) VALUES (NEW.directory, 1, 1)
    ON CONFLICT(directory, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER effective_groups_count_delete AFTER DELETE ON effective_groups BEGIN
  UPDATE effective_counts SET n = n - 1 WHERE directory = OLD.directory AND kind = 1;
  DELETE FROM effective_member_counts WHERE group_pk = OLD.pk;
END;
CREATE TRIGGER effective_members_count_insert AFTER INSERT ON effective_members BEGIN
  INSERT INTO effective_member_counts(group_pk, n) VALUES (NEW.group_pk, 1)
    ON CONFLICT(group_pk) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER effective_members_count_delete AFTER DELETE ON effective_members BEGIN
  UPDATE effective_member_counts SET n = n - 1 WHERE group_pk = OLD.group_pk;
END;

CREATE TRIGGER directories_insert_gen AFTER INSERT ON directories
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER directories_update_gen AFTER UPDATE ON directories
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER directories_delete_gen AFTER DELETE ON directories
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER policy_versions_insert_gen AFTER INSERT ON policy_versions
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER policy_versions_update_gen AFTER UPDATE ON policy_versions
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER policy_versions_delete_gen AFTER DELETE ON policy_versions
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER api_tokens_insert_gen AFTER INSERT ON api_tokens
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER api_tokens_update_gen AFTER UPDATE ON api_tokens
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER api_tokens_delete_gen AFTER DELETE ON api_tokens
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
)sql";

Status Rollback(Database& db, Status status) {
  (void)db.Exec("ROLLBACK", "rolling back a migration");
  return status;
}

}  // namespace

// Pull sync (issue #4). sync_runs: one row per run, AUTOINCREMENT so ids are never reused,
// counts/progress as JSON text kept by the sync engine. sync_state: one row per connection with
// the engine's state (high-water marks, JSON) and the run lease (owner, expiry ms; NULL when
// free) that keeps runs of one connection from overlapping across processes. secrets: sealed
// values (AES-256-GCM, sealed and opened by src/sync; the database never holds plain text).
// All three cascade on their connection.
constexpr std::string_view kSyncSchema = R"sql(
CREATE TABLE sync_runs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  mode TEXT NOT NULL,
  run_trigger TEXT NOT NULL,
  outcome TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  counts TEXT NOT NULL,
  progress TEXT NOT NULL,
  error TEXT NOT NULL,
  owner TEXT NOT NULL
);
CREATE INDEX sync_runs_by_connection ON sync_runs(connection_id, id);
CREATE TABLE sync_state(
  connection_id INTEGER PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
  state TEXT NOT NULL,
  lease_owner TEXT,
  lease_expires_ms INTEGER
);
CREATE TABLE secrets(
  connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  sealed TEXT NOT NULL,
  PRIMARY KEY(connection_id, name)
) WITHOUT ROWID;
)sql";

// zstd dictionaries for the compressed body columns (see body_codec.h). A compressed value
// names its dictionary by id, so rows here are never updated or deleted.
constexpr std::string_view kBodyDictionariesSchema = R"sql(
CREATE TABLE body_dictionaries(
  id INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  dictionary BLOB NOT NULL,
  created_ms INTEGER NOT NULL
);
)sql";

// The LDAP server (issue #10).
// - ldap_accounts: service accounts that applications bind as, argon2id hashes only (PHC
//   strings); ldap_settings: one JSON object per directory (src/ldap/config interprets it).
//   Both bump config_generation, so bind results and settings cached against it are dropped
//   on the next request after a change (as for api_tokens).
// - effective_users.mail_key: FoldCase of the effective e-mail, "" for none, NULL for rows
//   written before this migration (not known until the directory layer rewrites the row), so a
//   lookup by mail returns the NULL rows as candidates.
// - posix_uids / posix_gids: a number per effective user / group id, given by a trigger when
//   the row is first inserted and backfilled here in creation (pk) order. Rows are never
//   deleted and AUTOINCREMENT never reuses a number, so a uidNumber is never handed to another
//   person, and a user deleted and re-created under the same effective id keeps its number.
// - changes_by_entry: the first and last change of one entry (USNs) and its last upsert
//   (tombstones) without reading the directory's whole feed.
constexpr std::string_view kLdapSchema = R"sql(
CREATE TABLE ldap_accounts(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  directory TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  rotated_ms INTEGER NOT NULL
);
CREATE TRIGGER ldap_accounts_insert_gen AFTER INSERT ON ldap_accounts
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER ldap_accounts_update_gen AFTER UPDATE ON ldap_accounts
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER ldap_accounts_delete_gen AFTER DELETE ON ldap_accounts
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;

CREATE TABLE ldap_settings(
  directory TEXT PRIMARY KEY,
  settings TEXT NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER ldap_settings_insert_gen AFTER INSERT ON ldap_settings
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER ldap_settings_update_gen AFTER UPDATE ON ldap_settings
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER ldap_settings_delete_gen AFTER DELETE ON ldap_settings
  BEGIN UPDATE config_generation SET value = value + 1 WHERE id = 1; END;

ALTER TABLE effective_users ADD COLUMN mail_key TEXT;
CREATE INDEX effective_users_by_mail ON effective_users(directory, mail_key);

CREATE TABLE posix_uids(
  number INTEGER PRIMARY KEY AUTOINCREMENT,
  directory TEXT NOT NULL,
  id TEXT NOT NULL,
  UNIQUE(directory, id)
);
CREATE TABLE posix_gids(
  number INTEGER PRIMARY KEY AUTOINCREMENT,
  directory TEXT NOT NULL,
  id TEXT NOT NULL,
  UNIQUE(directory, id)
);
INSERT INTO posix_uids(directory, id) SELECT directory, id FROM effective_users ORDER BY pk;
INSERT INTO posix_gids(directory, id) SELECT directory, id FROM effective_groups ORDER BY pk;
CREATE TRIGGER effective_users_posix AFTER INSERT ON effective_users BEGIN
  INSERT OR IGNORE INTO posix_uids(directory, id) VALUES (NEW.directory, NEW.id);
END;
CREATE TRIGGER effective_groups_posix AFTER INSERT ON effective_groups BEGIN
  INSERT OR IGNORE INTO posix_gids(directory, id) VALUES (NEW.directory, NEW.id);
END;

CREATE INDEX changes_by_entry ON changes(directory, id, seq);
)sql";

// Re-provisioning: a source user deleted and re-created under the same name (a re-hire, an
// identity provider that deletes on unassign) finds its tombstone by name. Links stored before
// this migration have no name; a tombstone among them is named after its effective user's
// username, which is the source's name under the default mapping (the common case), so that
// `idsync rederive` repairs users the earlier rule had locked out.
constexpr std::string_view kReprovisionSchema = R"sql(
ALTER TABLE source_links ADD COLUMN source_name TEXT NOT NULL DEFAULT '';
UPDATE source_links SET source_name = coalesce((SELECT u.username_key FROM effective_users u
  WHERE u.directory = source_links.directory AND u.id = source_links.effective_user_id), '')
  WHERE deleted = 1;
CREATE INDEX source_links_by_tombstone ON source_links(connection_id, source_name)
  WHERE deleted = 1;
)sql";

// Migration 11 (issue #12): the admin console's local users and their
// sessions.
// - admin_users: argon2id hashes only (PHC strings); role 'admin' or 'viewer';
//   must_change_password is 1 while the password is a one-time one (add, reset).
// - console_sessions: keyed by the SHA-256 hex of the session id (the cookie holds the id, the
//   database only its hash); ON DELETE CASCADE from the user, so removing a user ends its
//   sessions for every process that reads this file. No config_generation trigger: sessions are
//   read on every console request (one primary-key lookup), and bumping the generation would
//   drop the policy and token caches on every sign-in.
constexpr std::string_view kConsoleSchema = R"sql(
CREATE TABLE admin_users(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
  hash TEXT NOT NULL,
  must_change_password INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  password_changed_ms INTEGER NOT NULL
);
CREATE TABLE console_sessions(
  id_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
  created_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_by_user ON console_sessions(user_id);
)sql";

// The console's Activity page filters the audit log and the change feed to one user.
constexpr const char* kActivityIndexes = R"sql(
CREATE INDEX audit_by_resource ON audit(resource_id, seq);
CREATE INDEX changes_by_member ON changes(directory, member_id, seq);
)sql";

// Deletes ever made per connection and type, so that a remembered page boundary
// (page_boundaries.h) can tell, in the reader's own snapshot, that no row before it has gone:
// inserts always take a pk above every existing one and updates never move a row.
constexpr std::string_view kResourceDeletesSchema = R"sql(
ALTER TABLE resource_counts ADD COLUMN deletes INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER resources_count_delete;
CREATE TRIGGER resources_count_delete AFTER DELETE ON resources BEGIN
  UPDATE resource_counts SET n = n - 1, deletes = deletes + 1
    WHERE connection_id = OLD.connection_id AND type = OLD.type;
END;
)sql";

// The console's explorer searches users by state in username order (queries.h
// kSearchUsersByState).
constexpr std::string_view kSearchIndexes = R"sql(
CREATE INDEX effective_users_by_state ON effective_users(directory, state, username_key);
)sql";

// The Activity page's user filter finds the source resources linked to an effective user
// without knowing its directory (queries.h kLinkedSourcesOf). The table is WITHOUT ROWID, so
// the index carries the primary key (connection_id, source_user_id): it covers the query.
constexpr std::string_view kLinksByEffectiveUser = R"sql(
CREATE INDEX source_links_by_effective ON source_links(effective_user_id);
)sql";

// A policy apply in progress (issue #13 item 2): its record, JSON the directory layer reads
// (src/directory/policy_apply.cpp), written with each batch it commits and deleted with the
// last, so that an apply killed half-way is resumed from its last committed batch.
constexpr std::string_view kPolicyAppliesSchema = R"sql(
CREATE TABLE policy_applies(
  directory TEXT PRIMARY KEY,
  record TEXT NOT NULL
);
)sql";

// Keys of pending source users (store/conflict_area.h ConflictKeys), so that a write looks up
// the conflicts it may resolve instead of reading every conflict of the directory (with 3,000
// conflicts, a create took 11-13 ms of the store writer's CPU instead of 1.0). The directory layer
// computes the keys (FoldCase is not SQL): rows stored before this keep NULL keys, found by
// conflicts_by_username's range of NULLs until the first write that looks stores them again.
constexpr std::string_view kConflictKeysSchema = R"sql(
ALTER TABLE conflicts ADD COLUMN username_key TEXT;
ALTER TABLE conflicts ADD COLUMN link_key TEXT;
ALTER TABLE conflicts ADD COLUMN source_name TEXT;
CREATE INDEX conflicts_by_username ON conflicts(directory, username_key);
CREATE INDEX conflicts_by_link_key ON conflicts(directory, link_key);
CREATE INDEX conflicts_by_source_name ON conflicts(directory, connection_id, source_name);
)sql";

// The data folder back under twice the SCIM payload (issue #5; 2.33x at 100,000 users before):
// - a user's folded userName was stored three times: as the row's unique key (whose UNIQUE
//   index enforces it) and as a resource_index entry, in that table and again in
//   resource_index_by_resource. FindByIndex now reads the unique key (queries.h
//   kFindByUniqueKey), so the entries go: 10.7 MiB and two index inserts per create at 100,000.
// - source_links_by_user (directory, effective_user_id) repeated source_links_by_effective
//   (effective_user_id) with the directory in front; effective ids are unique across
//   directories, so the lookups by (directory, effective_user_id) take the second index and
//   check the directory on the row they read anyway: 9.3 MiB and one index insert per link.
// - Three indexes become partial, holding only the rows their lookups can want:
//   effective_users_by_link the link keys that are not "username:" + the username key (which
//   the unique username index finds; queries.h kFindEffectiveUsersByLinkKey), _by_state the
//   users who are not active (DrivingIndex), changes_by_member the membership changes (the
//   others have member_id ''). 13 MiB at 100,000 users, and per create three index inserts.
// - posix_uids was a rowid table (number AUTOINCREMENT) with a UNIQUE(directory, id) index: the
//   id twice. Its only lookup is by (directory, id), so it is now keyed by them (WITHOUT ROWID)
//   and the number comes from posix_counters, which the trigger counts up only when it gives
//   a number: as before, never reused (rows are never deleted, the counter never goes back)
//   and kept by an effective id that is re-created. 4.9 MiB and one B-tree insert per create.
//   posix_gids (one per group; groups are few) stays as it was.
constexpr std::string_view kLeanerIndexes = R"sql(
DELETE FROM resource_index WHERE type = 0 AND attr = 'userName';
DROP INDEX source_links_by_user;
DROP INDEX effective_users_by_link;
CREATE INDEX effective_users_by_link ON effective_users(directory, link_key)
  WHERE link_key <> 'username:' || username_key;
DROP INDEX effective_users_by_state;
CREATE INDEX effective_users_by_state ON effective_users(directory, state, username_key)
  WHERE state <> 'active';
DROP INDEX changes_by_member;
CREATE INDEX changes_by_member ON changes(directory, member_id, seq) WHERE member_id <> '';

CREATE TABLE posix_counters(kind TEXT PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO posix_counters(kind, last) VALUES ('uid', max(
  coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'posix_uids'), 0),
  coalesce((SELECT max(number) FROM posix_uids), 0)));
CREATE TABLE posix_uids_keyed(
  directory TEXT NOT NULL,
  id TEXT NOT NULL,
  number INTEGER NOT NULL,
  PRIMARY KEY(directory, id)
) WITHOUT ROWID;
INSERT INTO posix_uids_keyed(directory, id, number) SELECT directory, id, number FROM posix_uids;
DROP TRIGGER effective_users_posix;
DROP TABLE posix_uids;
ALTER TABLE posix_uids_keyed RENAME TO posix_uids;
CREATE TRIGGER effective_users_posix AFTER INSERT ON effective_users
  WHEN NOT EXISTS (SELECT 1 FROM posix_uids WHERE directory = NEW.directory AND id = NEW.id)
BEGIN
  UPDATE posix_counters SET last = last + 1 WHERE kind = 'uid';
  INSERT INTO posix_uids(directory, id, number)
    SELECT NEW.directory, NEW.id, last FROM posix_counters WHERE kind = 'uid';
END;
)sql";

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "connections, tokens and source mirrors", kMirrorSchema},
      {2, "audit log", kAuditSchema},
      {3, "configuration generation counter", kConfigGenerationSchema},
      {4, "resource counts per connection and type", kResourceCountsSchema},
      {5, "effective directory, policies, change feed and API tokens", kEffectiveSchema},
      {6, "pull sync runs, state and lease; sealed secrets", kSyncSchema},
      {7, "compression dictionaries of stored bodies", kBodyDictionariesSchema},
      {8, "LDAP server: service accounts, settings, mail and entry lookups, POSIX ids",
       kLdapSchema},
      // Expression indexes over the same text the lookups use (queries.h IDSYNC_SQUEEZED).
      {9, "LDAP name lookups that ignore insignificant spaces", sql::kCreateLdapNameIndexes},
      {10, "source names on links, for re-provisioning", kReprovisionSchema},
      {11, "admin console: local admin users and sessions", kConsoleSchema},
      {12, "admin console: audit and change feed by user", kActivityIndexes},
      {13, "deletes per connection and type, for paging by key", kResourceDeletesSchema},
      {14, "admin console: users by state", kSearchIndexes},
      {15, "admin console: source links by effective user", kLinksByEffectiveUser},
      {16, "policy applies in progress, resumed after a crash", kPolicyAppliesSchema},
      {17, "conflicts found by username, link key and source name", kConflictKeysSchema},
      // Only the usernames with insignificant spaces; the rest are found by their unique key.
      {18, "LDAP name lookups: only the users whose key has spaces to squeeze",
       sql::kPartialUserLdapNameIndex},
      {19, "userName kept once, as the unique key; fewer and partial indexes; POSIX uids keyed",
       kLeanerIndexes},
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
    if (version > migrations.back().version) {
      return MakeError(ErrorCode::kUnavailable,
                       "database " + path + " was written by a newer idsync (schema " +
                           std::to_string(version) + " > " +
                           std::to_string(migrations.back().version) + ")");
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
