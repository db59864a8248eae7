// The LDAP server's share of the store (issue #10): service accounts, each directory's LDAP
// settings, keyset scans of the effective directory (paged searches that stream), member names
// (member DNs without one read per member), mail lookups, stable POSIX ids, and the change-feed
// queries behind the Active Directory profile's USNs and tombstones.
//
// Users this area returns carry only the body parts the LDAP view reads (attributes.<name>.value
// and entitlements, render.h's layout), not the provenance: they are for the LDAP server, never
// to be written back.
//
// Reached through Transaction::Ldap(); the other areas are interfaces Transaction is composed
// of (store.h, issue #15).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"

namespace idsync::store {

struct EffectiveUserRow;
struct EffectiveGroupRow;

// A service account that applications bind as. It reads exactly one directory.
struct LdapAccount {
  int64_t id = 0;         // assigned by the store
  std::string name;       // unique among LDAP accounts; the cn of its bind DN
  std::string directory;  // the only directory it may read
  std::string hash;       // argon2id in PHC string form ($argon2id$v=19$...); never the password
  TimePoint created;
  TimePoint rotated;      // when the hash was last set (= created until the first rotation)
};

// A member of an effective group, with what its DN and visibility need; no body is decoded.
struct MemberName {
  int64_t pk = 0;
  std::string id;
  std::string username;
  std::string state;  // "active" | "disabled"
};

// One change-feed entry without its resource (nothing decompressed).
struct ChangeKey {
  int64_t seq = 0;
  TimePoint time;
  std::string type;  // "User" | "Group" | "Membership"
  std::string op;    // "upsert" | "delete" | "add" | "remove"
  std::string id;    // user or group id (Membership: the group)
  std::string member_id;
};

// The first and last change-feed sequence numbers that name an entry (by its id); 0 when none.
// For a group, membership changes count (they change the group's member attribute).
struct EntryUsn {
  int64_t created = 0;
  int64_t changed = 0;
};

class LdapArea {
 public:
  virtual ~LdapArea() = default;

  // --- service accounts
  virtual Result<LdapAccount> CreateLdapAccount(const LdapAccount& account) = 0;  // kUniqueness
  virtual Result<LdapAccount> GetLdapAccount(const std::string& name) = 0;        // kNotFound
  virtual Result<std::vector<LdapAccount>> ListLdapAccounts() = 0;                // by name
  // Replaces the hash and sets `rotated`. kNotFound.
  virtual Status SetLdapAccountHash(const std::string& name, const std::string& hash,
                                    TimePoint rotated) = 0;
  virtual Status DeleteLdapAccount(const std::string& name) = 0;  // kNotFound

  // --- a directory's LDAP settings (src/ldap interprets them); {} when never put.
  virtual Result<Json> GetLdapSettings(const std::string& directory) = 0;
  virtual Status PutLdapSettings(const std::string& directory, const Json& settings) = 0;

  // --- keyset scans, in creation (pk) order (the store key, never reused while the row lives),
  // so that a paged search continues after the last entry it sent instead of an OFFSET: rows with pk > after_pk, at most `limit`.
  virtual Status UsersAfter(const std::string& directory, int64_t after_pk, int64_t limit,
                            const std::function<bool(int64_t pk, const EffectiveUserRow&)>&
                                visit) = 0;
  virtual Status GroupsAfter(const std::string& directory, int64_t after_pk, int64_t limit,
                             const std::function<bool(int64_t pk, const EffectiveGroupRow&)>&
                                 visit) = 0;
  // Members of the group (by id) with user pk > after_pk, in user pk order, at most `limit`,
  // as full rows: the candidates of a `memberOf=<group DN>` search. kNotFound for no group.
  virtual Status MembersAfter(const std::string& directory, const std::string& group_id,
                              int64_t after_pk, int64_t limit,
                              const std::function<bool(int64_t pk, const EffectiveUserRow&)>&
                                  visit) = 0;
  // Every member of the group (by id): pk, id, username, state, in user pk order; reads no
  // body. kNotFound for no group.
  virtual Status MemberNames(const std::string& directory, const std::string& group_id,
                             const std::function<bool(const MemberName&)>& visit) = 0;
  // The store key of a user or group by id; kNotFound.
  virtual Result<int64_t> UserPk(const std::string& directory, const std::string& id) = 0;
  virtual Result<int64_t> GroupPk(const std::string& directory, const std::string& id) = 0;

  // --- lookups the LDAP filter planner uses (EffectiveUserRow.mail_key)
  // Users whose mail_key equals `mail_key`, plus users whose mail_key is not known yet (rows
  // written before migration 8 and not rewritten since): a superset the caller filters.
  virtual Result<std::vector<EffectiveUserRow>> FindUsersByMail(const std::string& directory,
                                                                const std::string& mail_key) = 0;

  // Users whose username (groups: whose name) equals `name_key` as LDAP compares uid and cn:
  // ignoring case and leading, trailing and repeated spaces. `name_key` is the folded name
  // with its spaces squeezed (ldap::NormalizeValue of caseIgnoreMatch). Normally at most one:
  // two names that differ only in spaces are one DN to LDAP.
  virtual Result<std::vector<EffectiveUserRow>> FindUsersByLdapName(const std::string& directory,
                                                                    const std::string& name_key) = 0;
  virtual Result<std::vector<EffectiveGroupRow>> FindGroupsByLdapName(
      const std::string& directory, const std::string& name_key) = 0;

  // --- POSIX ids: every effective user and group gets a number when first stored (users and
  // groups count apart), kept for ever by its id, never reused. kNotFound if none.
  virtual Result<int64_t> PosixNumber(const std::string& directory, const std::string& kind,
                                      const std::string& id) = 0;  // kind "user" | "group"

  // --- the change feed as the AD profile reads it
  virtual Result<EntryUsn> UsnOf(const std::string& directory, const std::string& id) = 0;
  // Entries with seq > after_seq in seq order, at most `limit`, without resources.
  virtual Result<std::vector<ChangeKey>> ChangeKeysAfter(const std::string& directory,
                                                         int64_t after_seq, int64_t limit) = 0;
  // The resource of the entry's newest upsert (its last visible form, for a tombstone);
  // kNotFound if it never had one.
  virtual Result<Json> LastResourceOf(const std::string& directory, const std::string& id) = 0;
};

}  // namespace idsync::store
