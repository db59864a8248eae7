// PgLdapArea: the LDAP server's share of the store, with the semantics of
// store/sqlite/ldap_area.cpp. Its statements are in queries.h.
//
// One difference, on purpose: users come back with their whole body, where SQLite's area cuts it
// to what the LDAP view reads (its LdapBodyScanner, a speed-up of its paged dumps). The view
// reads the same attributes from either; the LDAP server never writes these rows back.
#include "store/postgres/ldap_area.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"

namespace idsync::store::postgres {
namespace {

// Rows per statement of a keyset walk. Each chunk's rows are read before they are visited, so a
// visitor may use the transaction, and a large `limit` never holds more than a chunk of bodies.
constexpr int64_t kChunk = 256;

// Walks `sql` ($1 key, $2 after pk, $3 limit; the pk in column 0) from `after` for at most
// `limit` rows, in chunks, calling `visit(pk, row)` until it returns false.
template <typename Row, typename ReadFn, typename VisitFn>
Status Keyset(PgConnection& db, std::string_view sql, const std::string& key, int64_t after,
              int64_t limit, std::string_view what, ReadFn read, VisitFn visit) {
  while (limit > 0) {
    const int64_t want = std::min(limit, kChunk);
    auto r = db.Exec(sql, {key, Num(after), Num(want)}, what);
    if (!r) return r.error();
    for (int i = 0; i < r->Rows(); ++i) {
      Result<Row> value = read(*r, i);
      if (!value) return value.error();
      if (!visit(r->Int(i, 0), *value)) return Status::Ok();
    }
    if (r->Rows() < want) return Status::Ok();
    after = r->Int(r->Rows() - 1, 0);
    limit -= want;
  }
  return Status::Ok();
}

// Columns in the order of IDSYNC_PG_LDAP_ACCOUNT_COLUMNS.
LdapAccount ReadAccount(const PgResult& r, int row) {
  LdapAccount account;
  account.id = r.Int(row, 0);
  account.name = r.Text(row, 1);
  account.directory = r.Text(row, 2);
  account.hash = r.Text(row, 3);
  account.created = FromUnixMillis(r.Int(row, 4));
  account.rotated = FromUnixMillis(r.Int(row, 5));
  return account;
}

Error NoAccount(const std::string& name) {
  return MakeError(ErrorCode::kNotFound, "no LDAP account named \"" + name + "\"");
}

}  // namespace

Status PgLdapArea::CheckWritable() const {
  if (!writable_) return MakeError(ErrorCode::kInternal, "write through a read transaction");
  return Status::Ok();
}

Result<int64_t> PgLdapArea::PkOf(std::string_view sql, std::string_view what,
                                 const std::string& directory, const std::string& id) {
  auto r = db_.Exec(sql, {directory, id}, "reading an effective " + std::string(what));
  if (!r) return r.error();
  if (r->Rows() == 0) {
    return MakeError(ErrorCode::kNotFound,
                     std::string(what) + " " + id + " not found in directory " + directory);
  }
  return r->Int(0, 0);
}

// --- service accounts

Result<LdapAccount> PgLdapArea::CreateLdapAccount(const LdapAccount& account) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto r = db_.ExecGuarded(sql::kInsertLdapAccount,
                           {account.name, account.directory, account.hash, Millis(account.created),
                            Millis(account.rotated)},
                           "adding an LDAP account");
  if (!r) {
    if (r.error().code == ErrorCode::kUniqueness) {
      return MakeError(ErrorCode::kUniqueness,
                       "an LDAP account named \"" + account.name + "\" already exists");
    }
    return r.error();
  }
  LdapAccount stored = account;
  stored.id = r->Int(0, 0);
  stored.created = Stored(account.created);
  stored.rotated = Stored(account.rotated);
  return stored;
}

Result<LdapAccount> PgLdapArea::GetLdapAccount(const std::string& name) {
  auto r = db_.Exec(sql::kGetLdapAccount, {name}, "reading an LDAP account");
  if (!r) return r.error();
  if (r->Rows() == 0) return NoAccount(name);
  return ReadAccount(*r, 0);
}

Result<std::vector<LdapAccount>> PgLdapArea::ListLdapAccounts() {
  auto r = db_.Exec(sql::kListLdapAccounts, {}, "listing LDAP accounts");
  if (!r) return r.error();
  std::vector<LdapAccount> out;
  for (int i = 0; i < r->Rows(); ++i) out.push_back(ReadAccount(*r, i));
  return out;
}

Status PgLdapArea::SetLdapAccountHash(const std::string& name, const std::string& hash,
                                      TimePoint rotated) {
  if (auto w = CheckWritable(); !w) return w;
  auto r =
      db_.Exec(sql::kSetLdapAccountHash, {name, hash, Millis(rotated)}, "rotating an LDAP account");
  if (!r) return r.error();
  if (r->Changed() == 0) return NoAccount(name);
  return Status::Ok();
}

Status PgLdapArea::DeleteLdapAccount(const std::string& name) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kDeleteLdapAccount, {name}, "removing an LDAP account");
  if (!r) return r.error();
  if (r->Changed() == 0) return NoAccount(name);
  return Status::Ok();
}

// --- settings

Result<Json> PgLdapArea::GetLdapSettings(const std::string& directory) {
  auto r = db_.Exec(sql::kGetLdapSettings, {directory}, "reading LDAP settings");
  if (!r) return r.error();
  if (r->Rows() == 0) return Json::object();
  return ParseStoredJson(r->Text(0, 0), "LDAP settings of directory " + directory);
}

Status PgLdapArea::PutLdapSettings(const std::string& directory, const Json& settings) {
  if (auto w = CheckWritable(); !w) return w;
  auto r =
      db_.Exec(sql::kPutLdapSettings, {directory, DumpJson(settings)}, "storing LDAP settings");
  if (!r) return r.error();
  return Status::Ok();
}

// --- keyset scans

Status PgLdapArea::UsersAfter(
    const std::string& directory, int64_t after_pk, int64_t limit,
    const std::function<bool(int64_t pk, const EffectiveUserRow&)>& visit) {
  return Keyset<EffectiveUserRow>(db_, sql::kScanEffectiveUsers, directory, after_pk, limit,
                                  "reading effective users", ReadEffectiveUser, visit);
}

Status PgLdapArea::GroupsAfter(
    const std::string& directory, int64_t after_pk, int64_t limit,
    const std::function<bool(int64_t pk, const EffectiveGroupRow&)>& visit) {
  return Keyset<EffectiveGroupRow>(db_, sql::kScanEffectiveGroups, directory, after_pk, limit,
                                   "reading effective groups", ReadEffectiveGroup, visit);
}

Status PgLdapArea::MembersAfter(
    const std::string& directory, const std::string& group_id, int64_t after_pk, int64_t limit,
    const std::function<bool(int64_t pk, const EffectiveUserRow&)>& visit) {
  auto group = GroupPk(directory, group_id);
  if (!group) return group.error();
  return Keyset<EffectiveUserRow>(db_, sql::kMembersAfter, Num(*group), after_pk, limit,
                                  "reading group members", ReadEffectiveUser, visit);
}

Status PgLdapArea::MemberNames(const std::string& directory, const std::string& group_id,
                               const std::function<bool(const MemberName&)>& visit) {
  auto group = GroupPk(directory, group_id);
  if (!group) return group.error();
  auto read = [](const PgResult& r, int row) -> Result<MemberName> {
    MemberName member;
    member.pk = r.Int(row, 0);
    member.id = r.Text(row, 1);
    member.username = r.Text(row, 2);
    member.state = r.Text(row, 3);
    return member;
  };
  return Keyset<MemberName>(db_, sql::kMemberNames, Num(*group), 0,
                            std::numeric_limits<int64_t>::max(), "reading group members", read,
                            [&](int64_t, const MemberName& member) { return visit(member); });
}

Result<int64_t> PgLdapArea::UserPk(const std::string& directory, const std::string& id) {
  return PkOf(sql::kEffectiveUserPk, "user", directory, id);
}

Result<int64_t> PgLdapArea::GroupPk(const std::string& directory, const std::string& id) {
  return PkOf(sql::kEffectiveGroupPk, "group", directory, id);
}

// --- lookups

Result<std::vector<EffectiveUserRow>> PgLdapArea::FindUsersByMail(const std::string& directory,
                                                                  const std::string& mail_key) {
  std::vector<std::pair<int64_t, EffectiveUserRow>> rows;
  for (auto [text, params] :
       {std::pair{sql::kUsersByMail, std::vector<PgParam>{directory, mail_key}},
        std::pair{sql::kUsersWithoutMailKey, std::vector<PgParam>{directory}}}) {
    auto r = db_.Exec(text, params, "searching users by mail");
    if (!r) return r.error();
    for (int i = 0; i < r->Rows(); ++i) {
      auto user = ReadEffectiveUser(*r, i);
      if (!user) return user.error();
      rows.emplace_back(r->Int(i, 0), std::move(*user));
    }
  }
  // Creation order across both statements, as every other lookup returns.
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<EffectiveUserRow> out;
  out.reserve(rows.size());
  for (auto& [pk, row] : rows) out.push_back(std::move(row));
  return out;
}

Result<std::vector<EffectiveUserRow>> PgLdapArea::FindUsersByLdapName(const std::string& directory,
                                                                      const std::string& name_key) {
  return ReadEffectiveUsers(
      db_.Exec(sql::kUsersByLdapName, {directory, name_key}, "searching users by name"));
}

Result<std::vector<EffectiveGroupRow>> PgLdapArea::FindGroupsByLdapName(
    const std::string& directory, const std::string& name_key) {
  return ReadEffectiveGroups(
      db_.Exec(sql::kGroupsByLdapName, {directory, name_key}, "searching groups by name"));
}

// --- POSIX ids

Result<int64_t> PgLdapArea::PosixNumber(const std::string& directory, const std::string& kind,
                                        const std::string& id) {
  std::string_view text;
  if (kind == "user") {
    text = sql::kPosixUid;
  } else if (kind == "group") {
    text = sql::kPosixGid;
  } else {
    return MakeError(ErrorCode::kInternal, "POSIX number of an unknown kind \"" + kind + "\"");
  }
  auto r = db_.Exec(text, {directory, id}, "reading a POSIX number");
  if (!r) return r.error();
  if (r->Rows() == 0) {
    return MakeError(ErrorCode::kNotFound,
                     "no POSIX number for " + kind + " " + id + " in directory " + directory);
  }
  return r->Int(0, 0);
}

// --- change feed

Result<EntryUsn> PgLdapArea::UsnOf(const std::string& directory, const std::string& id) {
  EntryUsn usn;
  for (auto [text, out] : {std::pair{sql::kFirstChangeOf, &usn.created},
                           std::pair{sql::kLastChangeOf, &usn.changed}}) {
    auto r = db_.Exec(text, {directory, id}, "reading the change feed");
    if (!r) return r.error();
    *out = r->Rows() > 0 ? r->Int(0, 0) : 0;  // 0: the feed never named the entry
  }
  return usn;
}

Result<std::vector<ChangeKey>> PgLdapArea::ChangeKeysAfter(const std::string& directory,
                                                           int64_t after_seq, int64_t limit) {
  auto r =
      db_.Exec(sql::kChangeKeysAfter, {directory, Num(after_seq), Num(std::max<int64_t>(limit, 0))},
               "reading the change feed");
  if (!r) return r.error();
  std::vector<ChangeKey> out;
  out.reserve(r->Rows());
  for (int i = 0; i < r->Rows(); ++i) {
    ChangeKey key;
    key.seq = r->Int(i, 0);
    key.time = FromUnixMillis(r->Int(i, 1));
    key.type = r->Text(i, 2);
    key.op = r->Text(i, 3);
    key.id = r->Text(i, 4);
    key.member_id = r->Text(i, 5);
    out.push_back(std::move(key));
  }
  return out;
}

Result<Json> PgLdapArea::LastResourceOf(const std::string& directory, const std::string& id) {
  auto r = db_.Exec(sql::kLastResourceOf, {directory, id}, "reading the change feed");
  if (!r) return r.error();
  if (r->Rows() == 0) {
    return MakeError(ErrorCode::kNotFound,
                     "no stored form of " + id + " in the change feed of directory " + directory);
  }
  return ParseStoredJson(r->Text(0, 0), "last change of " + id);
}

}  // namespace idsync::store::postgres
