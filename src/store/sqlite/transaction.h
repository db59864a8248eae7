// SqliteTransaction: the store's Transaction (store.h) over one SQLite connection, the
// writer's or a reader's. Private to store/sqlite. Its members are defined one file per area
// of the store, as store.h composes Transaction from one interface per area:
// connection_area.cpp, mirror_area.cpp, member_area.cpp, policy_area.cpp,
// effective_user_area.cpp, link_area.cpp, effective_group_area.cpp, change_feed_area.cpp,
// conflict_area.cpp, api_token_area.cpp, sync_area.cpp, secret_area.cpp, audit_area.cpp, with
// their shared helpers in transaction.cpp. The LDAP and console areas are classes of their own
// (ldap_area.h, console_area.h) that the transaction hands out.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "store/sqlite/body_codec.h"
#include "store/sqlite/console_area.h"
#include "store/sqlite/database.h"
#include "store/sqlite/ldap_area.h"
#include "store/sqlite/page_boundaries.h"
#include "store/sqlite/rows.h"
#include "store/store.h"

namespace idsync::store::sqlite {

// Rows per chunk of the Scan* functions.
inline constexpr int64_t kScanChunk = 256;

// Not thread-safe, like the transaction it is. Writes through a read transaction (`writable`
// false) fail with kInternal.
class SqliteTransaction final : public Transaction {
 public:
  // The connection, for the store's own housekeeping (compression dictionaries).
  Database& db() { return db_; }
  // `boundaries`: the store's remembered page starts, used by read transactions to page by
  // key (page_boundaries.h); nullptr pages with OFFSET.
  SqliteTransaction(Database& db, BodyCodec& codec, bool writable, const Clock& clock,
                    PageBoundaries* boundaries = nullptr)
      : db_(db),
        codec_(codec),
        writable_(writable),
        clock_(clock),
        boundaries_(writable ? nullptr : boundaries),
        ldap_(db, codec, writable),
        console_(db, writable) {}
  LdapArea& Ldap() override { return ldap_; }
  ConsoleArea& Console() override { return console_; }

  // --- connections and tokens (connection_area.cpp)
  Result<Connection> CreateConnection(Connection connection) override;
  Result<Connection> GetConnection(int64_t id) override;
  Result<Connection> GetConnectionByName(const std::string& name) override;
  Result<std::vector<Connection>> ListConnections() override;
  Status UpdateConnection(const Connection& connection) override;
  Status DeleteConnection(int64_t id) override;
  Status AddToken(const Token& token) override;
  Status ExpireTokens(int64_t connection_id, TimePoint expires) override;
  Result<Token> FindToken(const std::string& hash) override;
  Result<std::vector<Token>> ListTokens(int64_t connection_id) override;
  Result<int64_t> ConfigGeneration() override;

  // --- mirror resources and index (mirror_area.cpp)
  Result<StoredResource> GetResource(int64_t connection_id, scim::ResourceType type,
                                     const std::string& id) override;
  Result<StoredResource> GetResourceText(int64_t connection_id, scim::ResourceType type,
                                         const std::string& id) override;
  Result<int64_t> GetResourceVersion(int64_t connection_id, scim::ResourceType type,
                                     const std::string& id) override;
  Result<StoredResource> PutResource(int64_t connection_id, StoredResource resource,
                                     const std::optional<std::string>& unique_key,
                                     const std::vector<IndexEntry>& index) override;
  Status DeleteResource(int64_t connection_id, scim::ResourceType type,
                        const std::string& id) override;
  Status TouchResource(int64_t connection_id, scim::ResourceType type, const std::string& id,
                       TimePoint when) override;
  Result<std::vector<StoredResource>> FindByIndex(int64_t connection_id, scim::ResourceType type,
                                                  const std::string& attr,
                                                  const std::string& folded_value) override;
  Result<std::vector<StoredResource>> FindByIndexText(int64_t connection_id,
                                                      scim::ResourceType type,
                                                      const std::string& attr,
                                                      const std::string& folded_value) override;
  Result<int64_t> CountResources(int64_t connection_id, scim::ResourceType type) override;
  Result<std::vector<StoredResource>> ListResources(int64_t connection_id, scim::ResourceType type,
                                                    int64_t offset, int64_t limit) override;
  Result<std::vector<StoredResource>> ListResourcesText(int64_t connection_id,
                                                        scim::ResourceType type, int64_t offset,
                                                        int64_t limit) override;
  Status ScanResources(int64_t connection_id, scim::ResourceType type,
                       const std::function<bool(const StoredResource&)>& visit) override;

  // --- mirror group members (member_area.cpp)
  Result<bool> AddMember(int64_t connection_id, const std::string& group_id,
                         const Member& member) override;
  Result<bool> RemoveMember(int64_t connection_id, const std::string& group_id,
                            const std::string& value) override;
  Status ClearMembers(int64_t connection_id, const std::string& group_id) override;
  Result<std::vector<Member>> ListMembers(int64_t connection_id,
                                          const std::string& group_id) override;
  Result<int64_t> CountMembers(int64_t connection_id, const std::string& group_id) override;
  Result<std::vector<std::pair<std::string, std::string>>> GroupsOf(
      int64_t connection_id, const std::string& member_value) override;

  // --- directories and policies (policy_area.cpp)
  Result<std::vector<DirectoryRecord>> ListDirectories() override;
  Result<DirectoryRecord> GetDirectory(const std::string& name) override;
  Result<DirectoryRecord> PutDirectory(const DirectoryRecord& record) override;
  Result<PolicyVersion> GetPolicy(int64_t connection_id) override;
  Result<PolicyVersion> PutPolicy(const PolicyVersion& policy) override;
  Result<std::vector<PolicyVersion>> ListPolicyVersions(int64_t connection_id) override;
  Result<Json> GetPolicyApply(const std::string& directory) override;
  Status PutPolicyApply(const std::string& directory, const Json& record) override;
  Status DeletePolicyApply(const std::string& directory) override;
  bool KeepsPolicyApplies() const override { return true; }

  // --- effective users (effective_user_area.cpp)
  Result<EffectiveUserRow> GetEffectiveUser(const std::string& directory,
                                            const std::string& id) override;
  Result<EffectiveUserRow> FindEffectiveUserByUsername(const std::string& directory,
                                                       const std::string& username_key) override;
  Result<std::vector<EffectiveUserRow>> FindEffectiveUsersByLinkKey(
      const std::string& directory, const std::string& link_key) override;
  Result<EffectiveUserRow> PutEffectiveUser(EffectiveUserRow row) override;
  Status DeleteEffectiveUser(const std::string& directory, const std::string& id) override;
  Result<int64_t> CountEffectiveUsers(const std::string& directory) override;
  Result<std::vector<EffectiveUserRow>> ListEffectiveUsers(const std::string& directory,
                                                           int64_t offset, int64_t limit) override;
  Result<std::vector<std::pair<int64_t, EffectiveUserRow>>> EffectiveUsersAfter(
      const std::string& directory, int64_t after, int64_t limit) override;
  Status ScanEffectiveUsers(const std::string& directory,
                            const std::function<bool(const EffectiveUserRow&)>& visit) override;
  Result<EffectiveUserPage> SearchEffectiveUsers(const std::string& directory,
                                                 const EffectiveUserSearch& search) override;

  // --- links (link_area.cpp)
  Result<SourceLink> GetLink(int64_t connection_id, const std::string& source_user_id) override;
  Status PutLink(const SourceLink& link) override;
  Status DeleteLink(int64_t connection_id, const std::string& source_user_id) override;
  Result<std::vector<SourceLink>> LinksOf(const std::string& directory,
                                          const std::string& effective_user_id) override;
  Result<std::vector<SourceLink>> LinksOfConnection(int64_t connection_id) override;
  Result<std::vector<SourceLink>> FindTombstones(int64_t connection_id,
                                                 const std::string& source_name) override;

  // --- effective groups and memberships (effective_group_area.cpp)
  Result<EffectiveGroupRow> GetEffectiveGroup(const std::string& directory,
                                              const std::string& id) override;
  Result<EffectiveGroupRow> FindEffectiveGroupByName(const std::string& directory,
                                                     const std::string& name_key) override;
  Result<EffectiveGroupRow> PutEffectiveGroup(const EffectiveGroupRow& row) override;
  Status DeleteEffectiveGroup(const std::string& directory, const std::string& id) override;
  Status TouchEffectiveGroup(const std::string& directory, const std::string& id,
                             TimePoint when) override;
  Result<int64_t> CountEffectiveGroups(const std::string& directory) override;
  Result<std::vector<EffectiveGroupRow>> ListEffectiveGroups(const std::string& directory,
                                                             int64_t offset,
                                                             int64_t limit) override;
  Status ScanEffectiveGroups(const std::string& directory,
                             const std::function<bool(const EffectiveGroupRow&)>& visit) override;
  Result<bool> AddEffectiveMember(const std::string& directory, const std::string& group_id,
                                  const std::string& user_id) override;
  Result<bool> RemoveEffectiveMember(const std::string& directory, const std::string& group_id,
                                     const std::string& user_id) override;
  Result<std::vector<std::string>> ListEffectiveMembers(const std::string& directory,
                                                        const std::string& group_id) override;
  Result<int64_t> CountEffectiveMembers(const std::string& directory,
                                        const std::string& group_id) override;
  Result<std::vector<std::pair<std::string, std::string>>> EffectiveGroupsOf(
      const std::string& directory, const std::string& user_id) override;

  // --- change feed (change_feed_area.cpp)
  Result<int64_t> AppendChange(const ChangeRecord& change) override;
  Result<std::vector<ChangeRecord>> ListChanges(const std::string& directory, int64_t after_seq,
                                                int64_t limit) override;
  Result<std::vector<ChangeRecord>> ListChangesOf(const std::string& directory,
                                                  const std::string& entry_id, int64_t after_seq,
                                                  int64_t limit) override;
  Result<int64_t> LastChangeSeq(const std::string& directory) override;

  // --- conflicts (conflict_area.cpp)
  Status PutConflict(const ConflictRecord& conflict) override;
  Status DeleteConflict(int64_t connection_id, const std::string& source_user_id) override;
  Result<std::vector<ConflictRecord>> ListConflicts(const std::string& directory) override;
  Result<std::vector<ConflictRecord>> FindConflicts(const std::string& directory,
                                                    const ConflictLookup& wanted) override;

  // --- API tokens (api_token_area.cpp)
  Result<ApiToken> CreateApiToken(const ApiToken& token) override;
  Result<ApiToken> FindApiToken(const std::string& hash) override;
  Result<std::vector<ApiToken>> ListApiTokens() override;
  Status DeleteApiToken(const std::string& name) override;

  // --- pull sync runs, state and lease (sync_area.cpp)
  Result<int64_t> InsertSyncRun(const SyncRun& run) override;
  Status UpdateSyncRun(const SyncRun& run) override;
  Result<SyncRun> GetSyncRun(int64_t id) override;
  Result<std::vector<SyncRun>> ListSyncRuns(int64_t connection_id, int64_t limit) override;
  Result<int64_t> AbandonSyncRuns(int64_t connection_id, const std::string& owner,
                                  TimePoint when) override;
  Result<Json> GetSyncState(int64_t connection_id) override;
  Status PutSyncState(int64_t connection_id, const Json& state) override;
  Result<bool> AcquireSyncLease(int64_t connection_id, const std::string& owner, TimePoint now,
                                TimePoint expires) override;
  Status ReleaseSyncLease(int64_t connection_id, const std::string& owner) override;

  // --- secrets (secret_area.cpp)
  Status PutSecret(int64_t connection_id, const std::string& name,
                   const std::string& sealed) override;
  Result<std::string> GetSecret(int64_t connection_id, const std::string& name) override;

  // --- audit (audit_area.cpp)
  Status AppendAudit(const AuditRecord& record) override;
  Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& query) override;

 private:
  // The rows of a change-feed select (kListChanges, kListChangesOf), decoded.
  Result<std::vector<ChangeRecord>> ReadChanges(Statement& select);
  // connections and tokens (connection_area.cpp)
  Result<Connection> OneConnection(Statement& select, const std::string& name);

  // mirror resources and index (mirror_area.cpp)
  static Error NoResource(scim::ResourceType type, const std::string& id);
  // What Find reads of the body: parsed, its text, or nothing (pk, version and times only).
  enum class BodyRead { kParsed, kText, kNone };
  // (pk, resource) or (0, nullopt) when there is no such resource; `unique_key`, when given,
  // receives the stored unique key (nullopt: none).
  Result<std::pair<int64_t, std::optional<StoredResource>>> Find(
      int64_t connection_id, scim::ResourceType type, const std::string& id,
      BodyRead body = BodyRead::kParsed, std::optional<std::string>* unique_key = nullptr);
  Result<int64_t> PkOf(int64_t connection_id, scim::ResourceType type, const std::string& id);
  // Whether the resource at `pk` has exactly these index entries (as a set: duplicates are
  // stored once).
  Result<bool> SameIndex(int64_t pk, const std::vector<IndexEntry>& index);
  Result<int64_t> GroupPk(int64_t connection_id, const std::string& group_id);
  Result<std::vector<StoredResource>> Resources(Statement& select, std::string_view what,
                                                bool parse_body = true);
  // FindByIndex and FindByIndexText: index entries, or the unique key under kUniqueKeyAttr.
  Result<std::vector<StoredResource>> FindIndexed(int64_t connection_id, scim::ResourceType type,
                                                  const std::string& attr,
                                                  const std::string& folded_value, bool parse_body);
  // A page of a scope in pk order, by key from the nearest remembered boundary when there is
  // one (page_boundaries.h), else with OFFSET.
  Result<std::vector<StoredResource>> ListPage(int64_t connection_id, scim::ResourceType type,
                                               int64_t offset, int64_t limit, bool parse_body);
  // A mirror body: users compressed (body_codec.h); groups stay text, since kGroupsOf reads
  // their displayName with json_extract.
  void BindBody(Statement& statement, int index, scim::ResourceType type, const std::string& body);

  // links (link_area.cpp)
  Result<std::vector<SourceLink>> Links(Statement& select);

  // shared helpers (transaction.cpp)
  Status CheckWritable() const;
  static Status NoConnection(int64_t id);
  Result<int64_t> Count(Statement& select, std::string_view what);
  static Error NoEffective(std::string_view what, const std::string& directory,
                           const std::string& id);
  Result<int64_t> PkByDirectoryAndId(const char* text, std::string_view what,
                                     const std::string& directory, const std::string& id);
  Result<int64_t> EffectiveUserPk(const std::string& directory, const std::string& id);
  Result<int64_t> EffectiveGroupPk(const std::string& directory, const std::string& id);
  // kind: 0 users, 1 groups (as in effective_counts).
  Result<int64_t> CountEffective(const std::string& directory, int64_t kind);

  // Reads an effective-user row with this transaction's connection and codec.
  EffectiveUserReader ReadEUser() { return {Bodies{db_, codec_}}; }

  // Every row of a bound statement through `read` (a Read* function above).
  template <typename Row, typename ReadFn>
  Result<std::vector<Row>> Rows(Statement& select, std::string_view what, ReadFn read) {
    std::vector<Row> out;
    auto listed = ForEachRow(select, what, [&](const Statement& row) -> Status {
      auto value = read(row);
      if (!value) return value.error();
      out.push_back(std::move(*value));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  // The first row through `read`, or nullopt if there is none. The statement stays on that
  // row, so the caller may read more columns (the pk) before it goes out of scope.
  template <typename Row, typename ReadFn>
  Result<std::optional<Row>> OneRow(Statement& select, std::string_view what, ReadFn read) {
    auto row = select.Step(what);
    if (!row) return row.error();
    if (!*row) return std::optional<Row>();
    auto value = read(select);
    if (!value) return value.error();
    return std::optional<Row>(std::move(*value));
  }

  // Calls `visit` on a directory's rows in pk order, in chunks; each chunk's statement is
  // finished before `visit` runs, so the visitor may use this transaction (the statement
  // cache holds one instance of each statement). `text` takes ?1 directory, ?2 after pk,
  // ?3 limit and returns the pk in column 0.
  template <typename Row, typename ReadFn>
  Status ScanByPk(const char* text, const std::string& directory, std::string_view what,
                  ReadFn read, const std::function<bool(const Row&)>& visit) {
    int64_t after = 0;
    for (;;) {
      std::vector<std::pair<int64_t, Row>> chunk;
      {
        auto select = db_.Prepare(text);
        if (!select) return select.error();
        select->Bind(1, directory).Bind(2, after).Bind(3, kScanChunk);
        auto listed = ForEachRow(*select, what, [&](const Statement& row) -> Status {
          auto value = read(row);
          if (!value) return value.error();
          chunk.emplace_back(row.Int(0), std::move(*value));
          return Status::Ok();
        });
        if (!listed) return listed;
      }
      for (const auto& [pk, value] : chunk) {
        if (!visit(value)) return Status::Ok();
      }
      if (static_cast<int64_t>(chunk.size()) < kScanChunk) return Status::Ok();
      after = chunk.back().first;
    }
  }

  Database& db_;
  BodyCodec& codec_;
  const bool writable_;
  const Clock& clock_;
  PageBoundaries* boundaries_;
  // The user this transaction (one write job) last stored with PutResource, as a later
  // GetResource would read it: the derivation of the same job reads it back without
  // decompressing and parsing the row it has just written. Cleared by anything else that
  // changes mirror users (DeleteResource, TouchResource, DeleteConnection) and before every
  // PutResource, so that a failed one leaves nothing behind.
  struct WrittenUser {
    int64_t connection_id = 0;
    StoredResource resource;
  };
  std::optional<WrittenUser> written_user_;
  // The user row GetResourceVersion last found (pk, version, creation time, unique key; no
  // body): a PATCH checks its snapshot's version and then stores the user, and PutResource
  // takes the row from here instead of looking it up a second time. PutResource consumes it.
  struct FoundUser {
    int64_t connection_id = 0;
    int64_t pk = 0;
    StoredResource resource;
    std::optional<std::string> unique_key;
  };
  std::optional<FoundUser> found_user_;
  // Drops both memos above: called by every write to mirror users but PutResource (which
  // replaces one and consumes the other).
  void ForgetMirrorUsers() {
    written_user_.reset();
    found_user_.reset();
  }
  SqliteLdapArea ldap_;
  SqliteConsoleArea console_;
};

}  // namespace idsync::store::sqlite
