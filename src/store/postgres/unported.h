// The areas of the store the PostgreSQL back-end does not implement yet (issue #15 ports them
// area by area): every method answers kUnavailable naming itself, so a caller gets a clear
// error, never a wrong answer. Generated from the store/*_area.h interfaces; a ported area's
// methods move out of this file into PgTransaction (transaction.h) and its own .cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

// The parameters are named as in the interfaces (readable), and unused until ported.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"

namespace idsync::store::postgres {

inline Error NotPorted(const char* method) {
  return MakeError(ErrorCode::kUnavailable,
                   std::string("the PostgreSQL store does not implement ") + method + " yet");
}

class UnportedLdapArea final : public LdapArea {
 public:
  Result<LdapAccount> CreateLdapAccount(const LdapAccount& account) override { return NotPorted("CreateLdapAccount"); }
  Result<LdapAccount> GetLdapAccount(const std::string& name) override { return NotPorted("GetLdapAccount"); }
  Result<std::vector<LdapAccount>> ListLdapAccounts() override { return NotPorted("ListLdapAccounts"); }
  Status SetLdapAccountHash(const std::string& name, const std::string& hash, TimePoint rotated) override { return NotPorted("SetLdapAccountHash"); }
  Status DeleteLdapAccount(const std::string& name) override { return NotPorted("DeleteLdapAccount"); }
  Result<Json> GetLdapSettings(const std::string& directory) override { return NotPorted("GetLdapSettings"); }
  Status PutLdapSettings(const std::string& directory, const Json& settings) override { return NotPorted("PutLdapSettings"); }
  Status UsersAfter(const std::string& directory, int64_t after_pk, int64_t limit, const std::function<bool(int64_t pk, const EffectiveUserRow&)>& visit) override { return NotPorted("UsersAfter"); }
  Status GroupsAfter(const std::string& directory, int64_t after_pk, int64_t limit, const std::function<bool(int64_t pk, const EffectiveGroupRow&)>& visit) override { return NotPorted("GroupsAfter"); }
  Status MembersAfter(const std::string& directory, const std::string& group_id, int64_t after_pk, int64_t limit, const std::function<bool(int64_t pk, const EffectiveUserRow&)>& visit) override { return NotPorted("MembersAfter"); }
  Status MemberNames(const std::string& directory, const std::string& group_id, const std::function<bool(const MemberName&)>& visit) override { return NotPorted("MemberNames"); }
  Result<int64_t> UserPk(const std::string& directory, const std::string& id) override { return NotPorted("UserPk"); }
  Result<int64_t> GroupPk(const std::string& directory, const std::string& id) override { return NotPorted("GroupPk"); }
  Result<std::vector<EffectiveUserRow>> FindUsersByMail(const std::string& directory, const std::string& mail_key) override { return NotPorted("FindUsersByMail"); }
  Result<std::vector<EffectiveUserRow>> FindUsersByLdapName(const std::string& directory, const std::string& name_key) override { return NotPorted("FindUsersByLdapName"); }
  Result<std::vector<EffectiveGroupRow>> FindGroupsByLdapName(const std::string& directory, const std::string& name_key) override { return NotPorted("FindGroupsByLdapName"); }
  Result<int64_t> PosixNumber(const std::string& directory, const std::string& kind, const std::string& id) override { return NotPorted("PosixNumber"); }
  Result<EntryUsn> UsnOf(const std::string& directory, const std::string& id) override { return NotPorted("UsnOf"); }
  Result<std::vector<ChangeKey>> ChangeKeysAfter(const std::string& directory, int64_t after_seq, int64_t limit) override { return NotPorted("ChangeKeysAfter"); }
  Result<Json> LastResourceOf(const std::string& directory, const std::string& id) override { return NotPorted("LastResourceOf"); }
};

class UnportedConsoleArea final : public ConsoleArea {
 public:
  Result<AdminUser> CreateAdminUser(const AdminUser& user) override { return NotPorted("CreateAdminUser"); }
  Result<AdminUser> GetAdminUser(const std::string& name) override { return NotPorted("GetAdminUser"); }
  Result<AdminUser> GetAdminUserById(int64_t id) override { return NotPorted("GetAdminUserById"); }
  Result<std::vector<AdminUser>> ListAdminUsers() override { return NotPorted("ListAdminUsers"); }
  Status SetAdminPassword(const std::string& name, const std::string& hash, bool must_change, TimePoint changed) override { return NotPorted("SetAdminPassword"); }
  Status DeleteAdminUser(const std::string& name) override { return NotPorted("DeleteAdminUser"); }
  Status CreateSession(const ConsoleSession& session) override { return NotPorted("CreateSession"); }
  Result<ConsoleSession> GetSession(const std::string& id_hash) override { return NotPorted("GetSession"); }
  Status TouchSession(const std::string& id_hash, TimePoint last_seen) override { return NotPorted("TouchSession"); }
  Status DeleteSession(const std::string& id_hash) override { return NotPorted("DeleteSession"); }
  Status DeleteSessionsOf(int64_t user_id, const std::string& except_hash) override { return NotPorted("DeleteSessionsOf"); }
  Result<int64_t> DeleteExpiredSessions(TimePoint idle_before, TimePoint created_before) override { return NotPorted("DeleteExpiredSessions"); }
  Result<std::vector<HourlyActivity>> ActivityByHour(int64_t connection_id, const std::string& directory, TimePoint since) override { return NotPorted("ActivityByHour"); }
  Result<std::optional<TimePoint>> LastAuditTime(int64_t connection_id) override { return NotPorted("LastAuditTime"); }
};

// The base of PgTransaction: the Transaction areas not ported yet.
class UnportedAreas : public Transaction {
 public:
  LdapArea& Ldap() override { return ldap_; }
  ConsoleArea& Console() override { return console_; }

  // --- mirror (store/mirror_area.h)
  Result<StoredResource> GetResource(int64_t connection_id, scim::ResourceType type, const std::string& id) override { return NotPorted("GetResource"); }
  Result<StoredResource> GetResourceText(int64_t connection_id, scim::ResourceType type, const std::string& id) override { return NotPorted("GetResourceText"); }
  Result<StoredResource> PutResource(int64_t connection_id, const StoredResource& resource, const std::optional<std::string>& unique_key, const std::vector<IndexEntry>& index) override { return NotPorted("PutResource"); }
  Status DeleteResource(int64_t connection_id, scim::ResourceType type, const std::string& id) override { return NotPorted("DeleteResource"); }
  Status TouchResource(int64_t connection_id, scim::ResourceType type, const std::string& id, TimePoint when) override { return NotPorted("TouchResource"); }
  Result<std::vector<StoredResource>> FindByIndex(int64_t connection_id, scim::ResourceType type, const std::string& attr, const std::string& folded_value) override { return NotPorted("FindByIndex"); }
  Result<std::vector<StoredResource>> FindByIndexText(int64_t connection_id, scim::ResourceType type, const std::string& attr, const std::string& folded_value) override { return NotPorted("FindByIndexText"); }
  Result<int64_t> CountResources(int64_t connection_id, scim::ResourceType type) override { return NotPorted("CountResources"); }
  Result<std::vector<StoredResource>> ListResources(int64_t connection_id, scim::ResourceType type, int64_t offset, int64_t limit) override { return NotPorted("ListResources"); }
  Result<std::vector<StoredResource>> ListResourcesText(int64_t connection_id, scim::ResourceType type, int64_t offset, int64_t limit) override { return NotPorted("ListResourcesText"); }
  Status ScanResources(int64_t connection_id, scim::ResourceType type, const std::function<bool(const StoredResource&)>& visit) override { return NotPorted("ScanResources"); }
  // --- member (store/member_area.h)
  Result<bool> AddMember(int64_t connection_id, const std::string& group_id, const Member& member) override { return NotPorted("AddMember"); }
  Result<bool> RemoveMember(int64_t connection_id, const std::string& group_id, const std::string& value) override { return NotPorted("RemoveMember"); }
  Status ClearMembers(int64_t connection_id, const std::string& group_id) override { return NotPorted("ClearMembers"); }
  Result<std::vector<Member>> ListMembers(int64_t connection_id, const std::string& group_id) override { return NotPorted("ListMembers"); }
  Result<int64_t> CountMembers(int64_t connection_id, const std::string& group_id) override { return NotPorted("CountMembers"); }
  Result<std::vector<std::pair<std::string, std::string>>> GroupsOf(int64_t connection_id, const std::string& member_value) override { return NotPorted("GroupsOf"); }
  // --- policy (store/policy_area.h)
  Result<std::vector<DirectoryRecord>> ListDirectories() override { return NotPorted("ListDirectories"); }
  Result<DirectoryRecord> GetDirectory(const std::string& name) override { return NotPorted("GetDirectory"); }
  Result<DirectoryRecord> PutDirectory(const DirectoryRecord& record) override { return NotPorted("PutDirectory"); }
  Result<PolicyVersion> GetPolicy(int64_t connection_id) override { return NotPorted("GetPolicy"); }
  Result<PolicyVersion> PutPolicy(const PolicyVersion& policy) override { return NotPorted("PutPolicy"); }
  Result<std::vector<PolicyVersion>> ListPolicyVersions(int64_t connection_id) override { return NotPorted("ListPolicyVersions"); }
  // --- effective user (store/effective_user_area.h)
  Result<EffectiveUserRow> GetEffectiveUser(const std::string& directory, const std::string& id) override { return NotPorted("GetEffectiveUser"); }
  Result<EffectiveUserRow> FindEffectiveUserByUsername(const std::string& directory, const std::string& username_key) override { return NotPorted("FindEffectiveUserByUsername"); }
  Result<std::vector<EffectiveUserRow>> FindEffectiveUsersByLinkKey(const std::string& directory, const std::string& link_key) override { return NotPorted("FindEffectiveUsersByLinkKey"); }
  Result<EffectiveUserRow> PutEffectiveUser(const EffectiveUserRow& row) override { return NotPorted("PutEffectiveUser"); }
  Status DeleteEffectiveUser(const std::string& directory, const std::string& id) override { return NotPorted("DeleteEffectiveUser"); }
  Result<int64_t> CountEffectiveUsers(const std::string& directory) override { return NotPorted("CountEffectiveUsers"); }
  Result<std::vector<EffectiveUserRow>> ListEffectiveUsers(const std::string& directory, int64_t offset, int64_t limit) override { return NotPorted("ListEffectiveUsers"); }
  Status ScanEffectiveUsers(const std::string& directory, const std::function<bool(const EffectiveUserRow&)>& visit) override { return NotPorted("ScanEffectiveUsers"); }
  Result<EffectiveUserPage> SearchEffectiveUsers(const std::string& directory, const EffectiveUserSearch& search) override { return NotPorted("SearchEffectiveUsers"); }
  // --- link (store/link_area.h)
  Result<SourceLink> GetLink(int64_t connection_id, const std::string& source_user_id) override { return NotPorted("GetLink"); }
  Status PutLink(const SourceLink& link) override { return NotPorted("PutLink"); }
  Status DeleteLink(int64_t connection_id, const std::string& source_user_id) override { return NotPorted("DeleteLink"); }
  Result<std::vector<SourceLink>> LinksOf(const std::string& directory, const std::string& effective_user_id) override { return NotPorted("LinksOf"); }
  Result<std::vector<SourceLink>> LinksOfConnection(int64_t connection_id) override { return NotPorted("LinksOfConnection"); }
  Result<std::vector<SourceLink>> FindTombstones(int64_t connection_id, const std::string& source_name) override { return NotPorted("FindTombstones"); }
  // --- effective group (store/effective_group_area.h)
  Result<EffectiveGroupRow> GetEffectiveGroup(const std::string& directory, const std::string& id) override { return NotPorted("GetEffectiveGroup"); }
  Result<EffectiveGroupRow> FindEffectiveGroupByName(const std::string& directory, const std::string& name_key) override { return NotPorted("FindEffectiveGroupByName"); }
  Result<EffectiveGroupRow> PutEffectiveGroup(const EffectiveGroupRow& row) override { return NotPorted("PutEffectiveGroup"); }
  Status DeleteEffectiveGroup(const std::string& directory, const std::string& id) override { return NotPorted("DeleteEffectiveGroup"); }
  Status TouchEffectiveGroup(const std::string& directory, const std::string& id, TimePoint when) override { return NotPorted("TouchEffectiveGroup"); }
  Result<int64_t> CountEffectiveGroups(const std::string& directory) override { return NotPorted("CountEffectiveGroups"); }
  Result<std::vector<EffectiveGroupRow>> ListEffectiveGroups(const std::string& directory, int64_t offset, int64_t limit) override { return NotPorted("ListEffectiveGroups"); }
  Status ScanEffectiveGroups(const std::string& directory, const std::function<bool(const EffectiveGroupRow&)>& visit) override { return NotPorted("ScanEffectiveGroups"); }
  Result<bool> AddEffectiveMember(const std::string& directory, const std::string& group_id, const std::string& user_id) override { return NotPorted("AddEffectiveMember"); }
  Result<bool> RemoveEffectiveMember(const std::string& directory, const std::string& group_id, const std::string& user_id) override { return NotPorted("RemoveEffectiveMember"); }
  Result<std::vector<std::string>> ListEffectiveMembers(const std::string& directory, const std::string& group_id) override { return NotPorted("ListEffectiveMembers"); }
  Result<int64_t> CountEffectiveMembers(const std::string& directory, const std::string& group_id) override { return NotPorted("CountEffectiveMembers"); }
  Result<std::vector<std::pair<std::string, std::string>>> EffectiveGroupsOf(const std::string& directory, const std::string& user_id) override { return NotPorted("EffectiveGroupsOf"); }
  // --- conflict (store/conflict_area.h)
  Status PutConflict(const ConflictRecord& conflict) override { return NotPorted("PutConflict"); }
  Status DeleteConflict(int64_t connection_id, const std::string& source_user_id) override { return NotPorted("DeleteConflict"); }
  Result<std::vector<ConflictRecord>> ListConflicts(const std::string& directory) override { return NotPorted("ListConflicts"); }
  // --- sync (store/sync_area.h)
  Result<int64_t> InsertSyncRun(const SyncRun& run) override { return NotPorted("InsertSyncRun"); }
  Status UpdateSyncRun(const SyncRun& run) override { return NotPorted("UpdateSyncRun"); }
  Result<SyncRun> GetSyncRun(int64_t id) override { return NotPorted("GetSyncRun"); }
  Result<std::vector<SyncRun>> ListSyncRuns(int64_t connection_id, int64_t limit) override { return NotPorted("ListSyncRuns"); }
  Result<int64_t> AbandonSyncRuns(int64_t connection_id, const std::string& owner, TimePoint when) override { return NotPorted("AbandonSyncRuns"); }
  Result<Json> GetSyncState(int64_t connection_id) override { return NotPorted("GetSyncState"); }
  Status PutSyncState(int64_t connection_id, const Json& state) override { return NotPorted("PutSyncState"); }
  Result<bool> AcquireSyncLease(int64_t connection_id, const std::string& owner, TimePoint now, TimePoint expires) override { return NotPorted("AcquireSyncLease"); }
  Status ReleaseSyncLease(int64_t connection_id, const std::string& owner) override { return NotPorted("ReleaseSyncLease"); }
  // --- secret (store/secret_area.h)
  Status PutSecret(int64_t connection_id, const std::string& name, const std::string& sealed) override { return NotPorted("PutSecret"); }
  Result<std::string> GetSecret(int64_t connection_id, const std::string& name) override { return NotPorted("GetSecret"); }
  // --- audit (store/audit_area.h)
  Status AppendAudit(const AuditRecord& record) override { return NotPorted("AppendAudit"); }
  Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& query) override { return NotPorted("ListAudit"); }

 private:
  UnportedLdapArea ldap_;
  UnportedConsoleArea console_;
};

}  // namespace idsync::store::postgres

#pragma GCC diagnostic pop
