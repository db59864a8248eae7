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

// The base of PgTransaction: the Transaction areas not ported yet (the console's is
// PgConsoleArea, console_area.h).
class UnportedAreas : public Transaction {
 public:
  LdapArea& Ldap() override { return ldap_; }

 private:
  UnportedLdapArea ldap_;
};

}  // namespace idsync::store::postgres

#pragma GCC diagnostic pop
