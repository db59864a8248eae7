// LdapArea (store/ldap_area.h) over one PostgreSQL transaction's connection, as
// store/sqlite/ldap_area.h is over SQLite's: service accounts, settings, keyset scans, member
// names, lookups, POSIX numbers and the change feed as the AD profile reads it. Migration 7
// holds its tables; its statements are in queries.h. Private to store/postgres: PgTransaction
// owns one and hands it out from Ldap().
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/ldap_area.h"
#include "store/postgres/pg_connection.h"
#include "store/store.h"

namespace idsync::store::postgres {

// Not thread-safe, like the transaction it belongs to. Writes through a read transaction
// (`writable` false) fail with kInternal.
class PgLdapArea final : public LdapArea {
 public:
  PgLdapArea(PgConnection& db, bool writable) : db_(db), writable_(writable) {}

  Result<LdapAccount> CreateLdapAccount(const LdapAccount& account) override;
  Result<LdapAccount> GetLdapAccount(const std::string& name) override;
  Result<std::vector<LdapAccount>> ListLdapAccounts() override;
  Status SetLdapAccountHash(const std::string& name, const std::string& hash,
                            TimePoint rotated) override;
  Status DeleteLdapAccount(const std::string& name) override;

  Result<Json> GetLdapSettings(const std::string& directory) override;
  Status PutLdapSettings(const std::string& directory, const Json& settings) override;

  Status UsersAfter(const std::string& directory, int64_t after_pk, int64_t limit,
                    const std::function<bool(int64_t pk, const EffectiveUserRow&)>& visit) override;
  Status GroupsAfter(
      const std::string& directory, int64_t after_pk, int64_t limit,
      const std::function<bool(int64_t pk, const EffectiveGroupRow&)>& visit) override;
  Status MembersAfter(
      const std::string& directory, const std::string& group_id, int64_t after_pk, int64_t limit,
      const std::function<bool(int64_t pk, const EffectiveUserRow&)>& visit) override;
  Status MemberNames(const std::string& directory, const std::string& group_id,
                     const std::function<bool(const MemberName&)>& visit) override;
  Result<int64_t> UserPk(const std::string& directory, const std::string& id) override;
  Result<int64_t> GroupPk(const std::string& directory, const std::string& id) override;

  Result<std::vector<EffectiveUserRow>> FindUsersByMail(const std::string& directory,
                                                        const std::string& mail_key) override;
  Result<std::vector<EffectiveUserRow>> FindUsersByLdapName(const std::string& directory,
                                                            const std::string& name_key) override;
  Result<std::vector<EffectiveGroupRow>> FindGroupsByLdapName(const std::string& directory,
                                                              const std::string& name_key) override;

  Result<int64_t> PosixNumber(const std::string& directory, const std::string& kind,
                              const std::string& id) override;

  Result<EntryUsn> UsnOf(const std::string& directory, const std::string& id) override;
  Result<std::vector<ChangeKey>> ChangeKeysAfter(const std::string& directory, int64_t after_seq,
                                                 int64_t limit) override;
  Result<Json> LastResourceOf(const std::string& directory, const std::string& id) override;

 private:
  Status CheckWritable() const;
  Result<int64_t> PkOf(std::string_view sql, std::string_view what, const std::string& directory,
                       const std::string& id);

  PgConnection& db_;
  bool writable_;
};

}  // namespace idsync::store::postgres
