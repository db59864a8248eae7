// LdapArea (store/ldap_area.h) over one SQLite transaction's connection. Migration 8 holds its
// tables; its statements are in queries.h. Private to store/sqlite: SqliteTransaction owns one
// and hands it out from Ldap().
#pragma once

#include "store/ldap_area.h"
#include "store/sqlite/body_codec.h"
#include "store/sqlite/database.h"
#include "store/store.h"

namespace idsync::store::sqlite {

// Not thread-safe, like the transaction it belongs to. Writes through a read transaction
// (`writable` false) fail with kInternal.
class SqliteLdapArea final : public LdapArea {
 public:
  SqliteLdapArea(Database& db, BodyCodec& codec, bool writable)
      : db_(db), codec_(codec), writable_(writable) {}

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

  Result<std::vector<EffectiveUserRow>> FindUsersByLdapName(const std::string& directory,
                                                            const std::string& name_key) override;
  Result<std::vector<EffectiveGroupRow>> FindGroupsByLdapName(const std::string& directory,
                                                              const std::string& name_key) override;
  Result<std::vector<EffectiveUserRow>> FindUsersByMail(const std::string& directory,
                                                        const std::string& mail_key) override;

  Result<int64_t> PosixNumber(const std::string& directory, const std::string& kind,
                              const std::string& id) override;

  Result<EntryUsn> UsnOf(const std::string& directory, const std::string& id) override;
  Result<std::vector<ChangeKey>> ChangeKeysAfter(const std::string& directory, int64_t after_seq,
                                                 int64_t limit) override;
  Result<Json> LastResourceOf(const std::string& directory, const std::string& id) override;

 private:
  Status CheckWritable() const;
  Result<int64_t> PkOf(const char* sql, std::string_view what, const std::string& directory,
                       const std::string& id);

  Database& db_;
  BodyCodec& codec_;
  const bool writable_;
};

}  // namespace idsync::store::sqlite
