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

// The change feed (migration 2 as first written; migration 6 changes how seq is given). seq is
// not an identity or sequence given at INSERT: a transaction holding 7 could commit after one
// holding 8, and a reader that already passed 8 would never see 7. Migration 2 numbered
// changes from feed_counter, one row updated in the writing transaction; see kFeedSequencer
// for why that was replaced.
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

// The change feed, numbered after commit (issue #15: writers on several instances). Migration
// 2 numbered each change in its writing transaction from the feed_counter row: seq order was
// commit order and gap-free, but every writing transaction updated that one row, so under
// serializable isolation any two concurrent SCIM writes conflicted and one was rerun after a
// pause: with 16 clients, 86 creates/s against PostgreSQL's 10,000 one-row commits/s
// (bench/pg_bench.py). Now a writing transaction inserts its changes with no seq (pos, an
// identity, orders them; xact names the transaction), and after its commit the writer runs
// the sequencer: a short READ COMMITTED transaction that takes a transaction-scoped advisory
// lock (kSequencerLock), numbers every committed change still without a seq from feed_counter
// (each transaction's changes together, in their order), moves feed_counter on, NOTIFYs the
// directories, and commits. One sequencer at a time, each seeing what the one before it
// wrote: a change is numbered only once committed, and numbered after every change numbered
// before it, so seq order is one order that no later number ever falls below, with no gaps
// (a rolled-back sequencer gives its numbers back with feed_counter). Readers see only
// numbered changes (seq IS NULL never matches seq > cursor). Concurrent writers' sequencer
// runs batch themselves: the one holding the lock numbers what all committed before it, the
// others find nothing left and commit without a flush. A writer that dies between its commit
// and its sequencer leaves its changes for the next run anywhere: every write, every
// instance's start, and each listener's idle second (PostgresStore::SequenceChanges).
constexpr std::string_view kFeedSequencer = R"sql(
ALTER TABLE changes DROP CONSTRAINT changes_pkey;
ALTER TABLE changes ALTER COLUMN seq DROP NOT NULL;
ALTER TABLE changes ADD COLUMN pos bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE changes ADD PRIMARY KEY (pos);
ALTER TABLE changes ADD COLUMN xact xid8;
ALTER TABLE changes ALTER COLUMN xact SET DEFAULT pg_current_xact_id();
CREATE UNIQUE INDEX changes_by_seq ON changes(seq);
CREATE INDEX changes_unsequenced ON changes(pos) WHERE seq IS NULL;
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

// The mirror (resources, their index entries, group members), directories and policy
// versions, the effective directory (users, groups, memberships), links, conflicts, the audit
// log, pull sync (runs, state and lease, sealed secrets): SQLite migrations 1-13 in one, in
// PostgreSQL's types. Differences from SQLite, and why:
// - No count tables kept by triggers (SQLite's resource_counts, effective_counts,
//   effective_member_counts): under serializable writes one counter row per scope would make
//   every create in a connection conflict with every other; counts are count(*) over an index.
// - Bodies are plain text, not zstd against trained dictionaries (PostgreSQL compresses large
//   values itself, TOAST); `store migrate` writes them decompressed.
// - audit.seq and sync_runs.id are identities: they increase but, unlike the change feed, are
//   not promised gap-free or in commit order (the audit log is read by time and page).
constexpr std::string_view kDirectory = R"sql(
CREATE TABLE resources(
  pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  connection_id bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  type smallint NOT NULL,
  id text NOT NULL,
  body text NOT NULL,
  version bigint NOT NULL,
  created_ms bigint NOT NULL,
  modified_ms bigint NOT NULL,
  unique_key text,
  UNIQUE(connection_id, type, id),
  UNIQUE(connection_id, type, unique_key)
);
CREATE INDEX resources_by_scope ON resources(connection_id, type, pk);

CREATE TABLE resource_index(
  connection_id bigint NOT NULL,
  type smallint NOT NULL,
  attr text NOT NULL,
  value text NOT NULL,
  resource_pk bigint NOT NULL REFERENCES resources(pk) ON DELETE CASCADE,
  PRIMARY KEY(connection_id, type, attr, value, resource_pk)
);
CREATE INDEX resource_index_by_resource ON resource_index(resource_pk);

CREATE TABLE group_members(
  group_pk bigint NOT NULL REFERENCES resources(pk) ON DELETE CASCADE,
  value text NOT NULL,
  member_type text NOT NULL,
  display text NOT NULL,
  connection_id bigint NOT NULL,
  PRIMARY KEY(group_pk, value)
);
CREATE INDEX group_members_by_value ON group_members(connection_id, value);

CREATE TABLE directories(
  name text PRIMARY KEY,
  custom_attributes text NOT NULL,
  version bigint NOT NULL,
  created_ms bigint NOT NULL
);
INSERT INTO directories(name, custom_attributes, version, created_ms) VALUES
  ('users', '[]', 1, (extract(epoch FROM now()) * 1000)::bigint),
  ('customers', '[]', 1, (extract(epoch FROM now()) * 1000)::bigint);

CREATE TABLE policy_versions(
  connection_id bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  version bigint NOT NULL,
  body text NOT NULL,
  time_ms bigint NOT NULL,
  actor text NOT NULL,
  comment text NOT NULL,
  PRIMARY KEY(connection_id, version)
);
-- A directory's attributes and a connection's policy are inputs of the directory layer's
-- cached scope (keyed by the configuration generation), as in SQLite's migration 5.
CREATE TRIGGER directories_generation AFTER INSERT OR UPDATE OR DELETE ON directories
  FOR EACH STATEMENT EXECUTE FUNCTION bump_config_generation();
CREATE TRIGGER policy_versions_generation AFTER INSERT OR UPDATE OR DELETE ON policy_versions
  FOR EACH STATEMENT EXECUTE FUNCTION bump_config_generation();

CREATE TABLE effective_users(
  pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  directory text NOT NULL,
  id text NOT NULL,
  username text NOT NULL,
  username_key text NOT NULL,
  link_key text,
  state text NOT NULL,
  body text NOT NULL,
  version bigint NOT NULL,
  created_ms bigint NOT NULL,
  modified_ms bigint NOT NULL,
  mail_key text,
  UNIQUE(directory, id),
  UNIQUE(directory, username_key)
);
CREATE INDEX effective_users_by_directory ON effective_users(directory, pk);
CREATE INDEX effective_users_by_link ON effective_users(directory, link_key)
  WHERE link_key IS NOT NULL;
CREATE INDEX effective_users_by_mail ON effective_users(directory, mail_key);

CREATE TABLE effective_groups(
  pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  directory text NOT NULL,
  id text NOT NULL,
  name text NOT NULL,
  name_key text NOT NULL,
  body text NOT NULL,
  version bigint NOT NULL,
  created_ms bigint NOT NULL,
  modified_ms bigint NOT NULL,
  UNIQUE(directory, id),
  UNIQUE(directory, name_key)
);
CREATE INDEX effective_groups_by_directory ON effective_groups(directory, pk);

CREATE TABLE effective_members(
  group_pk bigint NOT NULL REFERENCES effective_groups(pk) ON DELETE CASCADE,
  user_pk bigint NOT NULL REFERENCES effective_users(pk) ON DELETE CASCADE,
  ord bigint NOT NULL,
  PRIMARY KEY(group_pk, user_pk)
);
CREATE INDEX effective_members_by_user ON effective_members(user_pk, group_pk);
CREATE INDEX effective_members_by_order ON effective_members(group_pk, ord);

CREATE TABLE source_links(
  connection_id bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  source_user_id text NOT NULL,
  directory text NOT NULL,
  effective_user_id text NOT NULL,
  deleted boolean NOT NULL,
  source_name text NOT NULL DEFAULT '',
  PRIMARY KEY(connection_id, source_user_id)
);
CREATE INDEX source_links_by_user ON source_links(directory, effective_user_id);
CREATE INDEX source_links_by_tombstone ON source_links(connection_id, source_name)
  WHERE deleted;

CREATE TABLE conflicts(
  connection_id bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  source_user_id text NOT NULL,
  directory text NOT NULL,
  username text NOT NULL,
  detail text NOT NULL,
  time_ms bigint NOT NULL,
  PRIMARY KEY(connection_id, source_user_id)
);
CREATE INDEX conflicts_by_directory ON conflicts(directory);

CREATE TABLE audit(
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time_ms bigint NOT NULL,
  connection_id bigint NOT NULL,
  connection_name text NOT NULL,
  request_id text NOT NULL,
  actor text NOT NULL,
  operation text NOT NULL,
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  status integer NOT NULL,
  detail text NOT NULL
);
CREATE INDEX audit_by_connection ON audit(connection_id, seq);
CREATE INDEX audit_by_time ON audit(time_ms);
CREATE INDEX audit_by_resource ON audit(resource_id, seq);

CREATE TABLE sync_runs(
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  connection_id bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  mode text NOT NULL,
  run_trigger text NOT NULL,
  outcome text NOT NULL,
  started_ms bigint NOT NULL,
  ended_ms bigint,
  counts text NOT NULL,
  progress text NOT NULL,
  error text NOT NULL,
  owner text NOT NULL
);
CREATE INDEX sync_runs_by_connection ON sync_runs(connection_id, id);
CREATE TABLE sync_state(
  connection_id bigint PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
  state text NOT NULL,
  lease_owner text,
  lease_expires_ms bigint
);
CREATE TABLE secrets(
  connection_id bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  name text NOT NULL,
  sealed text NOT NULL,
  PRIMARY KEY(connection_id, name)
);
)sql";

// The admin console (as SQLite's migration 11): admin users and their sessions, keyed by the
// SHA-256 hex of the session id; ON DELETE CASCADE from the user, so removing a user ends its
// sessions on every instance. No config_generation trigger: sessions are read on every console
// request, and bumping the generation would drop the policy and token caches on every sign-in.
// changes_by_directory_time serves the Overview's changes per hour as one index range (SQLite
// binary-searches the seq instead, to keep its feed to the indexes it has).
constexpr std::string_view kConsole = R"sql(
CREATE TABLE admin_users(
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE,
  role text NOT NULL CHECK (role IN ('admin', 'viewer')),
  hash text NOT NULL,
  must_change_password boolean NOT NULL,
  created_ms bigint NOT NULL,
  password_changed_ms bigint NOT NULL
);
CREATE TABLE console_sessions(
  id_hash text PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
  created_ms bigint NOT NULL,
  last_seen_ms bigint NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions(user_id);
CREATE INDEX changes_by_directory_time ON changes(directory, time_ms);
)sql";

// The LDAP server (as SQLite's migration 8 and 9), the explorer's search indexes (as SQLite's
// migration 14), the record of a policy apply in progress (SQLite's policy_applies), and the
// Activity page's user filter: source_links_by_effective finds the source resources linked to
// an effective user without knowing its directory (SQLite's migration 15).
// - ldap_accounts and ldap_settings bump the configuration generation (statement triggers), so
//   every instance drops bind results and settings cached against it on its next request.
// - posix_uids / posix_gids: a number per effective user / group id, given by a row trigger when
//   the row is first inserted (ON CONFLICT DO NOTHING keeps a re-created id's number) and
//   backfilled here in creation order. Rows are never deleted; the numbers are identities, so a
//   number is never handed out twice (a rolled-back insert skips one, which is harmless: only
//   "never reused" is promised). Under serializable writes two creates in one directory do not
//   conflict on it: an identity is not a row they both update.
// - effective_*_by_ldap_name: LDAP compares uid and cn ignoring case and leading, trailing and
//   repeated spaces (RFC 4518); the folded key with its spaces squeezed, indexed on exactly the
//   expression the lookups use, so each is one index range. (SQLite squeezes runs of up to 64
//   spaces with nested replace(); regexp_replace squeezes any run.)
// - The explorer's prefix searches are ranges [prefix, prefix || U+10FFFF) in byte order: the
//   indexes are COLLATE "C", whatever the database's collation, so a range on them is an index
//   range and their order is SQLite's binary order (a cursor means the same on both stores).
constexpr std::string_view kLdapSearchApplies = R"sql(
CREATE TABLE ldap_accounts(
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE,
  directory text NOT NULL,
  hash text NOT NULL,
  created_ms bigint NOT NULL,
  rotated_ms bigint NOT NULL
);
CREATE TRIGGER ldap_accounts_generation AFTER INSERT OR UPDATE OR DELETE ON ldap_accounts
  FOR EACH STATEMENT EXECUTE FUNCTION bump_config_generation();
CREATE TABLE ldap_settings(
  directory text PRIMARY KEY,
  settings text NOT NULL
);
CREATE TRIGGER ldap_settings_generation AFTER INSERT OR UPDATE OR DELETE ON ldap_settings
  FOR EACH STATEMENT EXECUTE FUNCTION bump_config_generation();

CREATE TABLE posix_uids(
  number bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  directory text NOT NULL,
  id text NOT NULL,
  UNIQUE(directory, id)
);
CREATE TABLE posix_gids(
  number bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  directory text NOT NULL,
  id text NOT NULL,
  UNIQUE(directory, id)
);
INSERT INTO posix_uids(directory, id) SELECT directory, id FROM effective_users ORDER BY pk;
INSERT INTO posix_gids(directory, id) SELECT directory, id FROM effective_groups ORDER BY pk;
CREATE FUNCTION give_posix_uid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO posix_uids(directory, id) VALUES (NEW.directory, NEW.id) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE FUNCTION give_posix_gid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO posix_gids(directory, id) VALUES (NEW.directory, NEW.id) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER effective_users_posix AFTER INSERT ON effective_users
  FOR EACH ROW EXECUTE FUNCTION give_posix_uid();
CREATE TRIGGER effective_groups_posix AFTER INSERT ON effective_groups
  FOR EACH ROW EXECUTE FUNCTION give_posix_gid();

CREATE INDEX effective_users_by_ldap_name ON effective_users(directory,
  btrim(regexp_replace(username_key, ' {2,}', ' ', 'g'), ' '));
CREATE INDEX effective_groups_by_ldap_name ON effective_groups(directory,
  btrim(regexp_replace(name_key, ' {2,}', ' ', 'g'), ' '));

CREATE INDEX effective_users_by_name_c ON effective_users(directory, username_key COLLATE "C");
CREATE INDEX effective_users_by_mail_c ON effective_users(directory, mail_key COLLATE "C", pk);
CREATE INDEX effective_users_by_state ON effective_users(directory, state,
  username_key COLLATE "C");

CREATE INDEX source_links_by_effective ON source_links(effective_user_id);

CREATE TABLE policy_applies(
  directory text PRIMARY KEY,
  record text NOT NULL
);
)sql";

// Keys of pending source users (store/conflict_area.h ConflictKeys; SQLite's migration 17), so
// that a write looks up the conflicts it may resolve instead of reading every conflict of the
// directory. The directory layer computes the keys: rows stored before this keep NULL keys, found
// by conflicts_by_username's range of NULLs until the first write that looks stores them again.
constexpr std::string_view kConflictKeys = R"sql(
ALTER TABLE conflicts ADD COLUMN username_key text, ADD COLUMN link_key text,
  ADD COLUMN source_name text;
CREATE INDEX conflicts_by_username ON conflicts(directory, username_key);
CREATE INDEX conflicts_by_link_key ON conflicts(directory, link_key);
CREATE INDEX conflicts_by_source_name ON conflicts(directory, connection_id, source_name);
)sql";

// A user's folded userName is found by its unique key (queries.h kFindByUniqueKey), as in the
// SQLite store's migration 19: the index entries that repeated it go.
constexpr std::string_view kUserNameOnce = R"sql(
DELETE FROM resource_index WHERE type = 0 AND attr = 'userName';
)sql";

// Indexes only of what is looked up, as the SQLite store's migration 19 (docs/ARCHITECTURE.md,
// "One copy of each key"): source_links_by_user repeated source_links_by_effective with the
// directory in front (the lookups by both read the second and test the directory on the row);
// changes_by_member held every change, though only membership changes have a member; and
// effective_users_by_state held every user, though a search for "active" reads users in
// username order (DrivingIndex in store/effective_user_area.h). Three index entries fewer per
// create.
constexpr std::string_view kLeanerIndexes = R"sql(
DROP INDEX source_links_by_user;
DROP INDEX changes_by_member;
CREATE INDEX changes_by_member ON changes(directory, member_id, seq) WHERE member_id <> '';
DROP INDEX effective_users_by_state;
CREATE INDEX effective_users_by_state ON effective_users(directory, state,
  username_key COLLATE "C") WHERE state <> 'active';
)sql";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = {
      {1, "connections, tokens and the configuration generation", kConnections},
      {2, "change feed, numbered in commit order", kChangeFeed},
      {3, "admin and read API tokens", kApiTokens},
      {4, "mirror, directories, policies, effective directory, links, audit, pull sync",
       kDirectory},
      {5, "admin console: admin users and sessions", kConsole},
      {6, "change feed numbered after commit by one sequencer at a time", kFeedSequencer},
      {7, "LDAP server, explorer search indexes, policy apply records", kLdapSearchApplies},
      {8, "conflicts found by username, link key and source name", kConflictKeys},
      {9, "userName kept once, as the unique key", kUserNameOnce},
      {10, "indexes only of what is looked up", kLeanerIndexes},
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
      if (applied) applied = db.Commit(what);
      if (!applied) {
        (void)db.Rollback(what);
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
