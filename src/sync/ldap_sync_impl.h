// Internals of LdapSync shared by its source files; not part of the sync's interface.
// - ldap_sync_impl.cpp: LdapSync::Impl's core: loading a connection, audit records, and the
//   mirror writes shared by runs and login sync.
// - ldap_run.cpp: runs (full, incremental), their lease, guard and history;
//   ldap_run_scan.cpp their user and group scans; ldap_run_groups.cpp their groups and deletions;
//   ldap_membership_index.{h,cpp} who is in which group during a full run.
// - ldap_lookup.cpp: one user read from the server (ldap test, sync on login).
// - ldap_sync.cpp: connection administration and the scheduler's due runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sync/common.h"
#include "sync/ldap/client.h"
#include "sync/ldap/entry.h"
#include "sync/ldap_sync.h"

namespace idsync::sync {

inline constexpr std::string_view kPasswordSecret = "bind_password";
// A run's lease on its connection (sync_state.lease_owner) expires kLeaseTtl after its last
// renewal; a heartbeat (LeaseHeartbeat, ldap_run.cpp) renews it every kLeaseRenew while the run
// lasts, so a run whose instance died blocks the next run for at most kLeaseTtl (issue #15).
inline constexpr std::chrono::seconds kLeaseTtl{20};
inline constexpr std::chrono::seconds kLeaseRenew{5};
inline constexpr std::chrono::milliseconds kLeasePoll{250};

// The sealing context of a connection's bind password.
std::string SecretContext(const store::Connection& c);

// A run's counts, all zero.
Json ZeroCounts();
inline void Bump(Json& counts, const char* key, int64_t n = 1) {
  counts[key] = counts.value(key, int64_t{0}) + n;
}

// The client's failure kind and the error's words ("timeout: ...").
std::string FailureText(ldap::LdapClient& client, const Error& e);

struct Loaded {
  store::Connection connection;
  LdapConfig config;
};

// One group as read from the server.
struct GroupInfo {
  std::string id;
  std::string dn;
  std::string name;
  std::vector<std::string> member_dns;   // DnKey of member and uniqueMember values
  std::vector<std::string> member_uids;  // memberUid values, folded
};

struct PendingUser {
  std::string id;
  Json body;
  std::string dn;
  std::string username;
  // Full runs: the ids of every group the user belongs to (nested groups included); the
  // user's memberships are set to exactly these in the job that writes the user.
  std::optional<std::set<std::string>> groups;
};

struct MembershipIndex;  // ldap_membership_index.h

// What a run knows while it runs.
struct RunContext {
  Loaded loaded;
  RunOptions options;
  store::SyncRun run;
  Json state = Json::object();
  TimePoint start;
  std::unique_ptr<ldap::LdapClient> client;
  std::unordered_map<std::string, std::string> user_by_dn;              // DnKey -> source user id
  std::unordered_map<std::string, std::string> user_by_uid;             // folded uid/username -> id
  std::unordered_map<std::string, std::vector<std::string>> member_of;  // group DnKey -> ids
  std::unordered_set<std::string> seen_users;
  std::string max_mark;           // highest change mark seen (timestamp digits)
  std::string usn_mark;           // highestCommittedUSN read before the scan (AD)
  bool active_directory = false;  // the root DSE names LDAP_CAP_ACTIVE_DIRECTORY_OID
  bool membership_dirty = false;  // a user appeared or moved: memberships must be recomputed
  const MembershipIndex* index = nullptr;  // full runs: memberships set with each user
  uint64_t entries_read = 0;
  std::vector<std::string> entry_errors;  // first few, for the run's error text

  const store::Connection& connection() const { return loaded.connection; }
  const LdapConfig& config() const { return loaded.config; }
};

struct LdapSync::Impl {
  store::Store& store;
  directory::DirectoryService& directory;
  const SecretBox& secrets;
  const Clock& clock;
  std::string owner;

  std::mutex locks_mu;
  std::map<int64_t, std::shared_ptr<std::mutex>> locks;

  Impl(store::Store& s, directory::DirectoryService& d, const SecretBox& b, const Clock& c);

  std::shared_ptr<std::mutex> LockFor(int64_t connection_id);
  Result<Loaded> Load(const std::string& name, bool with_password);
  Status Audit(store::Transaction& tx, const store::Connection& c, const std::string& actor,
               const std::string& request_id, const std::string& operation, int status,
               const std::string& detail, const std::string& resource_id = {});

  // ----- writes shared by runs and login sync (ldap_sync_impl.cpp)
  // Upserts one user; returns "created", "updated" or "unchanged". `moved` is set when the
  // user is new or its DN changed (memberships that name it by DN may now resolve differently).
  Result<std::string> PutUser(store::Transaction& tx, const store::Connection& c,
                              const PendingUser& p, bool* moved);
  // Puts a group's body; returns "created", "updated", "renamed" or "unchanged".
  Result<std::string> PutGroup(store::Transaction& tx, const store::Connection& c,
                               const GroupInfo& g);
  Status Notify(store::Transaction& tx, const store::Connection& c, std::set<std::string> users,
                const std::string& request_id, const std::string& operation);

  // ----- runs (ldap_run.cpp)
  Status RenewLease(store::Transaction& tx, RunContext& rc);
  // One store write job: `body` plus the lease renewal and the run's progress, then
  // AfterCommit. Counts change only if the job commits.
  Status WriteStep(RunContext& rc, const std::function<Status(store::Transaction&, Json&)>& body);
  Status FlushUsers(RunContext& rc, std::vector<PendingUser>& batch);
  void NoteMark(RunContext& rc, const ldap::LdapEntry& entry);
  // One entry of a scan: counts it as read and notes its change mark; its stable id, or nullopt
  // when it has none (counted as an error, the first few kept for the run's error text).
  std::optional<std::string> ReadEntryId(RunContext& rc, const ldap::LdapEntry& entry);
  std::vector<std::string> UserAttributes(RunContext& rc);
  // Whether user entries are read with memberOf (all attributes, or memberOf listed).
  bool ReadsMemberOf(RunContext& rc);
  // Reads users matching `filter` from every base DN and upserts them in batches.
  Status ScanUsers(RunContext& rc, const std::string& filter, const char* phase);
  // Reads every group (complete scan) into memory.
  Result<std::vector<GroupInfo>> ScanGroups(RunContext& rc, const std::string& filter);
  // The member values of group `dn` after the window ending at `end` (Active Directory's
  // ranged retrieval), one base-scope read per window until the server's answer ends in '*'
  // (or has nothing more: the group shrank).
  Status ReadMemberWindows(RunContext& rc, const std::string& dn, std::string end,
                           std::vector<std::string>* out);
  // The mirror's users as the group pass needs them (incremental runs, where the scan did not
  // see every user).
  Status LoadUserMaps(RunContext& rc);
  // Flattens nested groups: the users of each group, through member groups at any depth.
  // A cycle ends where a group is met again.
  std::vector<std::set<std::string>> Flatten(RunContext& rc, const std::vector<GroupInfo>& groups);
  // Writes groups and their flattened memberships, in batches.
  Status ApplyGroups(RunContext& rc, const std::vector<GroupInfo>& groups);
  // The ids in the mirror. Pages of bodies as text (ListResourcesText), because parsing 20,000
  // JSON bodies only to read their ids was most of an idle incremental run.
  Result<std::vector<std::string>> MirrorIds(RunContext& rc, scim::ResourceType type);
  Status DeleteGroups(RunContext& rc, const std::vector<std::string>& ids);
  // Deletes source users from the mirror; the policy's on_delete decides their effective fate.
  // Counts each as "disabled" when its effective user ended disabled, else "removed".
  Status DeleteUsers(RunContext& rc, const std::vector<std::string>& ids);
  // The mass-deprovision guard. True when the run may go on.
  Result<bool> GuardAllows(RunContext& rc, size_t to_delete);
  // The root DSE, before the scans: highestCommittedUSN (the mark of a uSNChanged run) and
  // whether the server is Active Directory (Samba AD says so too), whose large groups are read
  // in windows. A server that does not show its root DSE is read as before (not AD) unless the
  // run needs the USN.
  Status ReadRootDse(RunContext& rc);
  // Group bodies (created, updated, renamed) without touching memberships; a renamed group's
  // members are re-derived (their effective groups follow the name).
  Status PutGroups(RunContext& rc, const std::vector<GroupInfo>& groups);
  Status Full(RunContext& rc);
  // Ids of every entry matching `filter` (id attribute only), or an error if the scan did not
  // complete. With `member_of`, also each entry's memberOf (group DnKey -> ids).
  Result<std::unordered_set<std::string>> ScanIds(
      RunContext& rc, const std::string& filter,
      std::unordered_map<std::string, std::vector<std::string>>* member_of = nullptr);
  Status Incremental(RunContext& rc);
  // The state after a successful run.
  Json NextState(const RunContext& rc, bool full);
};

}  // namespace idsync::sync
