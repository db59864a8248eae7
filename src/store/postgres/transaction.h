// PgTransaction: the store's Transaction (store.h) over one PostgreSQL connection inside one
// transaction (serializable for writes, repeatable read for reads). Private to store/postgres.
// Its members are defined one file per area, as in store/sqlite; the console's area is
// PgConsoleArea (console_area.h) and the LDAP server's PgLdapArea (ldap_area.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "store/postgres/console_area.h"
#include "store/postgres/ldap_area.h"
#include "store/postgres/pg_connection.h"
#include "store/store.h"

namespace idsync::store::postgres {

class PgTransaction final : public Transaction {
 public:
  PgTransaction(PgConnection& db, bool writable, const Clock& clock)
      : db_(db), writable_(writable), clock_(clock), console_(db, writable), ldap_(db, writable) {}

  // --- the admin console's area (console_area.cpp)
  ConsoleArea& Console() override { return console_; }
  // --- the LDAP server's area (ldap_area.cpp)
  LdapArea& Ldap() override { return ldap_; }

  // Whether this transaction appended to the change feed: its changes get their seq from the
  // sequencer after the commit (PostgresStore::Write).
  bool AppendedChanges() const { return appended_changes_; }

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

  // --- change feed (change_feed_area.cpp)
  Result<int64_t> AppendChange(const ChangeRecord& change) override;
  Result<std::vector<ChangeRecord>> ListChanges(const std::string& directory, int64_t after_seq,
                                                int64_t limit) override;
  Result<std::vector<ChangeRecord>> ListChangesOf(const std::string& directory,
                                                  const std::string& entry_id, int64_t after_seq,
                                                  int64_t limit) override;
  Result<int64_t> LastChangeSeq(const std::string& directory) override;

  // --- API tokens (api_token_area.cpp)
  Result<ApiToken> CreateApiToken(const ApiToken& token) override;
  Result<ApiToken> FindApiToken(const std::string& hash) override;
  Result<std::vector<ApiToken>> ListApiTokens() override;
  Status DeleteApiToken(const std::string& name) override;

  // --- mirror and its index (mirror_area.cpp)
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
  Result<std::vector<StoredResource>> ListResources(int64_t connection_id,
                                                    scim::ResourceType type, int64_t offset,
                                                    int64_t limit) override;
  Result<std::vector<StoredResource>> ListResourcesText(int64_t connection_id,
                                                        scim::ResourceType type, int64_t offset,
                                                        int64_t limit) override;
  Status ScanResources(int64_t connection_id, scim::ResourceType type,
                       const std::function<bool(const StoredResource&)>& visit) override;

  // --- members of the mirror's groups (member_area.cpp)
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
  // Records of policy applies in progress: the batched, resumable apply runs here as on SQLite.
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
                                                           int64_t offset,
                                                           int64_t limit) override;
  Status ScanEffectiveUsers(const std::string& directory,
                            const std::function<bool(const EffectiveUserRow&)>& visit) override;
  // --- the explorer's search and keyset pages in creation order (user_search.cpp)
  Result<EffectiveUserPage> SearchEffectiveUsers(const std::string& directory,
                                                 const EffectiveUserSearch& search) override;
  Result<std::vector<std::pair<int64_t, EffectiveUserRow>>> EffectiveUsersAfter(
      const std::string& directory, int64_t after, int64_t limit) override;

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

  // --- links (link_area.cpp)
  Result<SourceLink> GetLink(int64_t connection_id, const std::string& source_user_id) override;
  Status PutLink(const SourceLink& link) override;
  Status DeleteLink(int64_t connection_id, const std::string& source_user_id) override;
  Result<std::vector<SourceLink>> LinksOf(const std::string& directory,
                                          const std::string& effective_user_id) override;
  Result<std::vector<SourceLink>> LinksOfConnection(int64_t connection_id) override;
  Result<std::vector<SourceLink>> FindTombstones(int64_t connection_id,
                                                 const std::string& source_name) override;

  // --- conflicts (conflict_area.cpp)
  Status PutConflict(const ConflictRecord& conflict) override;
  Status DeleteConflict(int64_t connection_id, const std::string& source_user_id) override;
  Result<std::vector<ConflictRecord>> ListConflicts(const std::string& directory) override;
  Result<std::vector<ConflictRecord>> FindConflicts(const std::string& directory,
                                                    const ConflictLookup& wanted) override;

  // --- audit (audit_area.cpp)
  Status AppendAudit(const AuditRecord& record) override;
  Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& query) override;

  // --- pull sync runs, state and lease (sync_area.cpp); sealed secrets (secret_area.cpp)
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
  Status PutSecret(int64_t connection_id, const std::string& name,
                   const std::string& sealed) override;
  Result<std::string> GetSecret(int64_t connection_id, const std::string& name) override;

 private:
  Status CheckWritable() const;
  // mirror_area.cpp
  static Error NoResource(scim::ResourceType type, const std::string& id);
  Result<int64_t> PkOf(int64_t connection_id, scim::ResourceType type, const std::string& id);
  Result<std::vector<StoredResource>> Resources(Result<PgResult> r, bool parse_body);
  // FindByIndex and FindByIndexText: index entries, or the unique key under kUniqueKeyAttr.
  Result<std::vector<StoredResource>> FindIndexed(int64_t connection_id, scim::ResourceType type,
                                                  const std::string& attr,
                                                  const std::string& folded_value, bool parse_body);
  // effective_user_area.cpp / effective_group_area.cpp
  static Error NoEffective(const char* kind, const std::string& directory,
                           const std::string& id);
  Result<int64_t> EffectiveUserPk(const std::string& directory, const std::string& id);
  Result<int64_t> EffectiveGroupPk(const std::string& directory, const std::string& id);

  PgConnection& db_;
  bool writable_;
  const Clock& clock_;
  PgConsoleArea console_;
  PgLdapArea ldap_;
  bool appended_changes_ = false;
  // The user this job stored last (PutResource), with its connection id, until the next write
  // of mirror users (mirror_area.cpp): GetResource answers it from memory.
  std::optional<std::pair<int64_t, StoredResource>> written_user_;
};

}  // namespace idsync::store::postgres
