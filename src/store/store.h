// The persistence interface. Only store back-ends speak SQL; everything else sees this.
// SqliteStore (store/sqlite) is the embedded default; a PostgreSQL back-end implements the
// same interface later (see docs/ARCHITECTURE.md, "Store").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"
#include "scim/types.h"
#include "store/console_area.h"
#include "store/ldap_area.h"

namespace idsync::store {

struct Connection {
  int64_t id = 0;         // store-internal key
  std::string uuid;       // public id
  std::string name;       // unique, chosen by the administrator
  std::string directory;  // "users" | "customers" | ...
  std::string kind;       // "scim" (later "ldap")
  bool enabled = true;
  TimePoint created;
  Json settings = Json::object();
};

struct Token {
  int64_t id = 0;
  int64_t connection_id = 0;
  std::string hash;  // Sha256Hex of the token; the token itself is never stored
  TimePoint created;
  std::optional<TimePoint> expires;  // set on the old token during a rotation overlap
};

// One source resource in a connection's mirror.
struct StoredResource {
  std::string id;  // server-assigned UUID
  scim::ResourceType type = scim::ResourceType::kUser;
  // The stored SCIM form without "id", "meta" and, for groups, without "members" (members are
  // kept apart, see the member functions below).
  Json body = Json::object();
  int64_t version = 0;  // increases by one on every change, members included; ETag W/"<version>"
  // The stored body as compact JSON text, filled only by GetResourceText (body is then empty).
  std::string body_text;
  TimePoint created;
  TimePoint last_modified;
};

// A (attribute, folded value) pair the store indexes for lookups, e.g. {"userName", "alice"}.
// The service computes them (it knows SCIM); the store only stores and searches them.
struct IndexEntry {
  std::string attr;
  std::string value;
};

struct Member {
  std::string value;    // id of a user or group of the same connection
  std::string type;     // "User" | "Group"
  std::string display;  // as the client sent it; may be empty
};

struct AuditRecord {
  int64_t seq = 0;  // assigned by the store; increasing
  TimePoint time;
  int64_t connection_id = 0;  // 0 when no connection is involved (e.g. failed auth)
  std::string connection_name;
  std::string request_id;
  std::string actor;          // "scim", "cli", "admin:<name>"
  std::string operation;      // "create", "replace", "patch", "delete", "connection.add", ...
  std::string resource_type;  // "User", "Group", "Connection", ""
  std::string resource_id;
  int status = 0;  // HTTP-like status of the outcome
  std::string detail;
};

struct AuditQuery {
  std::optional<int64_t> connection_id;
  std::optional<TimePoint> since;
  int64_t after_seq = 0;
  int64_t limit = 1000;
  std::string resource_id;         // "": any (the console's Activity, filtered to one user)
  std::optional<TimePoint> until;  // records at or before this time
};

// ---------- layer 2: the effective directory (issue #3) ----------
// The store keeps what the directory layer (src/directory) derives; it interprets none of the
// JSON bodies. Ids are UUID text; `directory` is a directory name ("users", "customers", ...).

struct DirectoryRecord {
  std::string name;
  Json custom_attributes = Json::array();  // policy::CustomAttributeDefsToJson form
  int64_t version = 0;                     // set by the store: previous + 1 on every put
  TimePoint created;
};

// One version of a connection's policy. Versions start at 1 and increase by one per put.
struct PolicyVersion {
  int64_t connection_id = 0;
  int64_t version = 0;  // assigned by PutPolicy
  Json body = Json::object();
  TimePoint time;
  std::string actor;    // "cli", "admin:<token name>"
  std::string comment;  // what changed, in words (e.g. the preview counts)
};

// One effective user. Users in state "removed" are not stored (their row is deleted).
struct EffectiveUserRow {
  std::string directory;
  std::string id;
  std::string username;      // effective username as mapped
  std::string username_key;  // FoldCase(username); unique per directory (kUniqueness)
  std::string link_key;      // policy::ComputeLinkKey result, "" when none
  std::string state;         // "active" | "disabled"
  // FoldCase of the effective e-mail, "" when the user has none. Rows written before
  // migration 8 and not rewritten since read as "" too (the column is NULL: not known yet);
  // LdapArea::FindUsersByMail returns those as candidates.
  std::string mail_key;
  Json body = Json::object();  // the directory layer's form (values with provenance, grants)
  int64_t version = 0;       // set by the store: 1 on insert, previous + 1 on update
  TimePoint created;         // kept by the store on update
  TimePoint last_modified;
};

struct EffectiveGroupRow {
  std::string directory;
  std::string id;
  std::string name;      // display spelling
  std::string name_key;  // FoldCase(name); unique per directory (kUniqueness)
  Json body = Json::object();  // e.g. {"entitlements": [...]}; the directory layer's form
  int64_t version = 0;   // set by the store; increases on member changes too (TouchEffectiveGroup)
  TimePoint created;
  TimePoint last_modified;
};

// A source user (one connection's mirror user) linked to an effective user.
struct SourceLink {
  int64_t connection_id = 0;
  std::string source_user_id;
  std::string directory;
  std::string effective_user_id;
  bool deleted = false;  // tombstone: gone from the mirror, kept until the user's fate is decided
  // FoldCase of the source's own name (SCIM userName, the LDAP username attribute) as last
  // seen: a source user re-created under the same name in the same connection finds its
  // tombstone by it (re-provisioning). "" when unknown (links stored before migration 10).
  std::string source_name;
};

// One entry of a directory's change feed. `seq` is global, assigned by the store, strictly
// increasing, never reused (AUTOINCREMENT); a directory's feed is its entries in seq order.
struct ChangeRecord {
  int64_t seq = 0;
  TimePoint time;
  std::string directory;
  std::string type;  // "User" | "Group" | "Membership"
  std::string op;    // "upsert" | "delete" (User, Group); "add" | "remove" (Membership)
  std::string id;    // user or group id; for Membership the group id
  std::string member_id;       // Membership: the user id
  Json resource = nullptr;     // upsert: the read-API representation (without groups/members)
  Json cause = Json::object();  // {"connection", "request_id", "actor", "reason"}
};

// A source user that was not imported because another one holds its username.
struct ConflictRecord {
  std::string directory;
  int64_t connection_id = 0;
  std::string source_user_id;
  std::string username;
  Json detail = Json::object();  // policy::Conflict as JSON (who holds the name, why)
  TimePoint time;
};

// An admin-API or read-API credential. Like connection tokens, only the hash is stored.
struct ApiToken {
  int64_t id = 0;
  std::string name;       // unique among API tokens
  std::string kind;       // "admin" | "read"
  std::string directory;  // read tokens: the directory they may read; "" for admin
  std::string hash;       // Sha256Hex of the token
  TimePoint created;
};

// ---------- pull sync runs (issue #4) ----------

// One run of a pull sync (LDAP) of one connection. Counts and progress are the sync engine's
// JSON; the store interprets neither.
struct SyncRun {
  int64_t id = 0;  // assigned by InsertSyncRun; increasing, never reused
  int64_t connection_id = 0;
  std::string mode;     // "full" | "incremental"
  std::string trigger;  // "cli", "schedule", "admin:<token name>"
  std::string outcome;  // "running", "succeeded", "failed", "needs_confirmation", "abandoned"
  TimePoint started;
  std::optional<TimePoint> ended;
  Json counts = Json::object();    // {"created", "updated", "disabled", "removed", ...}
  Json progress = Json::object();  // {"phase", "entries_read", "total"}
  std::string error;               // why it failed, in words ("" otherwise)
  std::string owner;               // the lease owner that ran it
};

// One unit of work. Everything written through it becomes visible at commit or never.
// Not thread-safe: used by one job at a time. Writes through a read transaction fail with
// kInternal.
class Transaction {
 public:
  virtual ~Transaction() = default;

  // --- connections and tokens
  virtual Result<Connection> CreateConnection(Connection connection) = 0;  // kUniqueness on name
  virtual Result<Connection> GetConnection(int64_t id) = 0;                // kNotFound
  virtual Result<Connection> GetConnectionByName(const std::string& name) = 0;  // kNotFound
  virtual Result<std::vector<Connection>> ListConnections() = 0;
  virtual Status UpdateConnection(const Connection& connection) = 0;  // enabled, settings
  // Removes the connection, its tokens and its whole mirror.
  virtual Status DeleteConnection(int64_t id) = 0;
  virtual Status AddToken(const Token& token) = 0;
  // Sets `expires` on all tokens of the connection that do not already expire earlier.
  virtual Status ExpireTokens(int64_t connection_id, TimePoint expires) = 0;
  // The token with this hash, whatever its expiry (the caller checks). kNotFound.
  virtual Result<Token> FindToken(const std::string& hash) = 0;
  virtual Result<std::vector<Token>> ListTokens(int64_t connection_id) = 0;

  // --- mirror resources (scope: one connection)
  virtual Result<StoredResource> GetResource(int64_t connection_id, scim::ResourceType type,
                                             const std::string& id) = 0;  // kNotFound
  // As GetResource, but without parsing the body: `body_text` holds it as stored. For reads
  // that send the resource on unchanged (GET by id), where parsing and re-serialising the body
  // was a third of the work.
  virtual Result<StoredResource> GetResourceText(int64_t connection_id, scim::ResourceType type,
                                                 const std::string& id) = 0;
  // Inserts or updates (by id). `unique_key`, when set, must be unique among resources of this
  // type in the connection (kUniqueness otherwise). `index` replaces the resource's index
  // entries. The store sets version (1 on insert, previous + 1 on update) and keeps `created`
  // of an existing row; returns the stored row.
  virtual Result<StoredResource> PutResource(int64_t connection_id, const StoredResource& resource,
                                             const std::optional<std::string>& unique_key,
                                             const std::vector<IndexEntry>& index) = 0;
  // Deletes the resource, its index entries, its own members (if a group) and its membership in
  // every group of the connection (those groups' versions increase). kNotFound.
  virtual Status DeleteResource(int64_t connection_id, scim::ResourceType type,
                                const std::string& id) = 0;
  // Increases version and sets last_modified (used after member-only changes).
  virtual Status TouchResource(int64_t connection_id, scim::ResourceType type,
                               const std::string& id, TimePoint when) = 0;
  // Resources whose index entry `attr` equals `folded_value` exactly.
  virtual Result<std::vector<StoredResource>> FindByIndex(int64_t connection_id,
                                                          scim::ResourceType type,
                                                          const std::string& attr,
                                                          const std::string& folded_value) = 0;
  // As FindByIndex, with `body_text` filled and `body` left empty (see GetResourceText).
  virtual Result<std::vector<StoredResource>> FindByIndexText(int64_t connection_id,
                                                              scim::ResourceType type,
                                                              const std::string& attr,
                                                              const std::string& folded_value) = 0;
  virtual Result<int64_t> CountResources(int64_t connection_id, scim::ResourceType type) = 0;
  // A page in a stable order (creation order): rows offset..offset+limit-1.
  virtual Result<std::vector<StoredResource>> ListResources(int64_t connection_id,
                                                            scim::ResourceType type, int64_t offset,
                                                            int64_t limit) = 0;
  // As ListResources, with `body_text` filled and `body` left empty (see GetResourceText).
  virtual Result<std::vector<StoredResource>> ListResourcesText(int64_t connection_id,
                                                                scim::ResourceType type,
                                                                int64_t offset, int64_t limit) = 0;
  // Calls `visit` for every resource of the type in stable order until it returns false.
  virtual Status ScanResources(int64_t connection_id, scim::ResourceType type,
                               const std::function<bool(const StoredResource&)>& visit) = 0;

  // --- group members (O(log n) per member; never loads the whole group for one change)
  // Returns true if added, false if it was already a member.
  virtual Result<bool> AddMember(int64_t connection_id, const std::string& group_id,
                                 const Member& member) = 0;
  virtual Result<bool> RemoveMember(int64_t connection_id, const std::string& group_id,
                                    const std::string& value) = 0;
  virtual Status ClearMembers(int64_t connection_id, const std::string& group_id) = 0;
  virtual Result<std::vector<Member>> ListMembers(int64_t connection_id,
                                                  const std::string& group_id) = 0;
  virtual Result<int64_t> CountMembers(int64_t connection_id, const std::string& group_id) = 0;
  // Groups of the connection that have `member_value` as a direct member: (group id, displayName).
  virtual Result<std::vector<std::pair<std::string, std::string>>> GroupsOf(
      int64_t connection_id, const std::string& member_value) = 0;

  // --- directories and policies (issue #3)
  virtual Result<std::vector<DirectoryRecord>> ListDirectories() = 0;
  virtual Result<DirectoryRecord> GetDirectory(const std::string& name) = 0;  // kNotFound
  // Inserts or updates by name; returns the stored record (version assigned).
  virtual Result<DirectoryRecord> PutDirectory(const DirectoryRecord& record) = 0;
  // The newest policy version of the connection; kNotFound if none was ever put.
  virtual Result<PolicyVersion> GetPolicy(int64_t connection_id) = 0;
  // Appends a version (previous + 1, or 1) and returns it as stored.
  virtual Result<PolicyVersion> PutPolicy(const PolicyVersion& policy) = 0;
  virtual Result<std::vector<PolicyVersion>> ListPolicyVersions(int64_t connection_id) = 0;

  // --- effective users
  virtual Result<EffectiveUserRow> GetEffectiveUser(const std::string& directory,
                                                    const std::string& id) = 0;  // kNotFound
  virtual Result<EffectiveUserRow> FindEffectiveUserByUsername(
      const std::string& directory, const std::string& username_key) = 0;  // kNotFound
  // Users with this link key (normally at most one). 
  virtual Result<std::vector<EffectiveUserRow>> FindEffectiveUsersByLinkKey(
      const std::string& directory, const std::string& link_key) = 0;
  // Inserts or updates by (directory, id); kUniqueness if username_key is held by another user.
  virtual Result<EffectiveUserRow> PutEffectiveUser(const EffectiveUserRow& row) = 0;
  // Deletes the user, its memberships (the groups' versions increase) and its links. kNotFound.
  virtual Status DeleteEffectiveUser(const std::string& directory, const std::string& id) = 0;
  virtual Result<int64_t> CountEffectiveUsers(const std::string& directory) = 0;
  // A page in creation order.
  virtual Result<std::vector<EffectiveUserRow>> ListEffectiveUsers(const std::string& directory,
                                                                   int64_t offset,
                                                                   int64_t limit) = 0;
  virtual Status ScanEffectiveUsers(const std::string& directory,
                                    const std::function<bool(const EffectiveUserRow&)>& visit) = 0;

  // --- links between source users and effective users
  virtual Result<SourceLink> GetLink(int64_t connection_id,
                                     const std::string& source_user_id) = 0;  // kNotFound
  // Inserts or updates by (connection_id, source_user_id).
  virtual Status PutLink(const SourceLink& link) = 0;
  virtual Status DeleteLink(int64_t connection_id, const std::string& source_user_id) = 0;
  virtual Result<std::vector<SourceLink>> LinksOf(const std::string& directory,
                                                  const std::string& effective_user_id) = 0;
  // Every link of a connection (for re-deriving it after a policy change).
  virtual Result<std::vector<SourceLink>> LinksOfConnection(int64_t connection_id) = 0;
  // The tombstones (deleted links) of a connection with this source_name, by source user id.
  virtual Result<std::vector<SourceLink>> FindTombstones(int64_t connection_id,
                                                         const std::string& source_name) = 0;

  // --- effective groups and memberships (O(log n) per membership)
  virtual Result<EffectiveGroupRow> GetEffectiveGroup(const std::string& directory,
                                                      const std::string& id) = 0;  // kNotFound
  virtual Result<EffectiveGroupRow> FindEffectiveGroupByName(const std::string& directory,
                                                             const std::string& name_key) = 0;
  virtual Result<EffectiveGroupRow> PutEffectiveGroup(const EffectiveGroupRow& row) = 0;
  // Deletes the group and its memberships. kNotFound.
  virtual Status DeleteEffectiveGroup(const std::string& directory, const std::string& id) = 0;
  // Increases version and sets last_modified (after member-only changes).
  virtual Status TouchEffectiveGroup(const std::string& directory, const std::string& id,
                                     TimePoint when) = 0;
  virtual Result<int64_t> CountEffectiveGroups(const std::string& directory) = 0;
  virtual Result<std::vector<EffectiveGroupRow>> ListEffectiveGroups(const std::string& directory,
                                                                     int64_t offset,
                                                                     int64_t limit) = 0;
  virtual Status ScanEffectiveGroups(
      const std::string& directory, const std::function<bool(const EffectiveGroupRow&)>& visit) = 0;
  // true if added / removed, false if it already was / was not a member.
  virtual Result<bool> AddEffectiveMember(const std::string& directory, const std::string& group_id,
                                          const std::string& user_id) = 0;
  virtual Result<bool> RemoveEffectiveMember(const std::string& directory,
                                             const std::string& group_id,
                                             const std::string& user_id) = 0;
  // User ids, in membership creation order.
  virtual Result<std::vector<std::string>> ListEffectiveMembers(const std::string& directory,
                                                                const std::string& group_id) = 0;
  virtual Result<int64_t> CountEffectiveMembers(const std::string& directory,
                                                const std::string& group_id) = 0;
  // (group id, group name) of the groups the user is a member of, by name.
  virtual Result<std::vector<std::pair<std::string, std::string>>> EffectiveGroupsOf(
      const std::string& directory, const std::string& user_id) = 0;

  // --- change feed
  // Appends and returns the assigned seq.
  virtual Result<int64_t> AppendChange(const ChangeRecord& change) = 0;
  // Entries of the directory with seq > after_seq, in seq order, at most `limit`.
  virtual Result<std::vector<ChangeRecord>> ListChanges(const std::string& directory,
                                                        int64_t after_seq, int64_t limit) = 0;
  // ListChanges restricted to one entry: changes whose id or member is `entry_id` (a user's
  // own changes and its memberships'), by the changes_by_entry / changes_by_member indexes.
  virtual Result<std::vector<ChangeRecord>> ListChangesOf(const std::string& directory,
                                                          const std::string& entry_id,
                                                          int64_t after_seq, int64_t limit) = 0;
  // The highest seq of the directory's feed, 0 if empty.
  virtual Result<int64_t> LastChangeSeq(const std::string& directory) = 0;

  // --- username conflicts (one per source user; replaced on put)
  virtual Status PutConflict(const ConflictRecord& conflict) = 0;
  virtual Status DeleteConflict(int64_t connection_id, const std::string& source_user_id) = 0;
  virtual Result<std::vector<ConflictRecord>> ListConflicts(const std::string& directory) = 0;

  // --- admin and read API tokens
  virtual Result<ApiToken> CreateApiToken(const ApiToken& token) = 0;  // kUniqueness on name
  virtual Result<ApiToken> FindApiToken(const std::string& hash) = 0;  // kNotFound
  virtual Result<std::vector<ApiToken>> ListApiTokens() = 0;
  virtual Status DeleteApiToken(const std::string& name) = 0;  // kNotFound

  // --- pull sync (issue #4): runs, per-connection state and lease, sealed secrets
  // Inserts and returns the run's id. kNotFound if the connection does not exist.
  virtual Result<int64_t> InsertSyncRun(const SyncRun& run) = 0;
  // Updates outcome, ended, counts, progress and error of run `run.id`. kNotFound.
  virtual Status UpdateSyncRun(const SyncRun& run) = 0;
  virtual Result<SyncRun> GetSyncRun(int64_t id) = 0;  // kNotFound
  // The connection's runs, newest first, at most `limit`.
  virtual Result<std::vector<SyncRun>> ListSyncRuns(int64_t connection_id, int64_t limit) = 0;
  // Marks the connection's runs still "running" but not owned by `owner` as "abandoned" (their
  // process died: the caller holds the lease now). Returns how many.
  virtual Result<int64_t> AbandonSyncRuns(int64_t connection_id, const std::string& owner,
                                          TimePoint when) = 0;
  // The sync engine's state of the connection (high-water marks); {} if none was put.
  virtual Result<Json> GetSyncState(int64_t connection_id) = 0;
  virtual Status PutSyncState(int64_t connection_id, const Json& state) = 0;
  // Takes or renews the connection's run lease for `owner` until `expires`: true if the lease
  // was free, expired at `now`, or already `owner`'s; false if another owner holds it. Because
  // write jobs run one at a time (and SQLite locks across processes), two callers can never
  // both get true.
  virtual Result<bool> AcquireSyncLease(int64_t connection_id, const std::string& owner,
                                        TimePoint now, TimePoint expires) = 0;
  // Frees the lease if `owner` holds it; otherwise does nothing.
  virtual Status ReleaseSyncLease(int64_t connection_id, const std::string& owner) = 0;
  // A sealed (encrypted) secret of the connection, e.g. "bind_password". The store never sees
  // the plain text. Get: kNotFound if none.
  virtual Status PutSecret(int64_t connection_id, const std::string& name,
                           const std::string& sealed) = 0;
  virtual Result<std::string> GetSecret(int64_t connection_id, const std::string& name) = 0;

  // --- configuration generation
  // Store::ConfigGeneration() as this transaction sees it: in a write transaction it includes
  // the transaction's own uncommitted changes. So a value read here can be one that is never
  // committed (rolled back, then reused by the next change); callers that cache by it must only
  // fill the cache with values not above Store::ConfigGeneration().
  virtual Result<int64_t> ConfigGeneration() = 0;

  // --- the LDAP server's area (service accounts, LDAP settings, keyset scans, POSIX ids):
  // ldap_area.h. Valid as long as this transaction; reads and writes go through it.
  virtual LdapArea& Ldap() = 0;

  // --- the admin console's area (admin users, sessions): console_area.h.
  virtual ConsoleArea& Console() = 0;

  // --- audit
  virtual Status AppendAudit(const AuditRecord& record) = 0;
  virtual Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& query) = 0;
};

// Thread-safe.
class Store {
 public:
  virtual ~Store() = default;

  // Runs `job` on a consistent read snapshot; reads run concurrently with each other and with
  // the writer. Returns the job's status, or kUnavailable if the database cannot be read.
  virtual Status Read(const std::function<Status(Transaction&)>& job) = 0;

  // Runs `job` in a write transaction and returns only once the transaction is durable
  // (committed and synced). Concurrent calls are batched into one commit (group commit); each
  // job runs in its own savepoint, so a job that returns an error rolls back only its own
  // changes and gets its own error back. Jobs run one at a time, in arrival order, so a job
  // sees every change of the jobs before it (no lost updates).
  virtual Status Write(const std::function<Status(Transaction&)>& job) = 0;

  // A number that changes whenever connections or tokens change, by this process or another one
  // (the CLI). Cheap enough to call per request (no transaction in the common case), so that
  // callers can cache what they derive from connections and tokens and still see a change on
  // the next request. kUnavailable if the database cannot be read.
  virtual Result<int64_t> ConfigGeneration() = 0;

  // Stops accepting writes, finishes queued ones, closes the database cleanly. Idempotent.
  virtual void Close() = 0;
};

}  // namespace idsync::store
