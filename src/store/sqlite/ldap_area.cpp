#include "store/sqlite/ldap_area.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"

namespace idsync::store::sqlite {

namespace {

// Rows per statement of a keyset walk. Each chunk's statement is finished before its rows are
// visited, so a visitor may use the transaction (the statement cache holds one instance of
// each statement), and a large `limit` never holds more than a chunk of bodies at once.
constexpr int64_t kChunk = 256;

// Walks `sql` (?1 key, ?2 after pk, ?3 limit; the pk in column 0) from `after` for at most
// `limit` rows, in chunks, calling `visit(pk, row)` until it returns false.
template <typename Row, typename Key, typename ReadFn, typename VisitFn>
Status Keyset(Database& db, const char* sql, const Key& key, int64_t after, int64_t limit,
              std::string_view what, ReadFn read, VisitFn visit) {
  while (limit > 0) {
    const int64_t want = std::min(limit, kChunk);
    std::vector<std::pair<int64_t, Row>> chunk;
    {
      auto select = db.Prepare(sql);
      if (!select) return select.error();
      select->Bind(1, key).Bind(2, after).Bind(3, want);
      auto listed = ForEachRow(*select, what, [&](const Statement& row) -> Status {
        auto value = read(row);
        if (!value) return value.error();
        chunk.emplace_back(row.Int(0), std::move(*value));
        return Status::Ok();
      });
      if (!listed) return listed;
    }
    for (const auto& [pk, value] : chunk) {
      if (!visit(pk, value)) return Status::Ok();
    }
    if (static_cast<int64_t>(chunk.size()) < want) return Status::Ok();
    after = chunk.back().first;
    limit -= want;
  }
  return Status::Ok();
}

// Columns in the order of IDSYNC_LDAP_ACCOUNT_COLUMNS.
LdapAccount ReadAccount(const Statement& row) {
  LdapAccount account;
  account.id = row.Int(0);
  account.name = row.Text(1);
  account.directory = row.Text(2);
  account.hash = row.Text(3);
  account.created = FromUnixMillis(row.Int(4));
  account.rotated = FromUnixMillis(row.Int(5));
  return account;
}

Error NoAccount(const std::string& name) {
  return MakeError(ErrorCode::kNotFound, "no LDAP account named \"" + name + "\"");
}

}  // namespace

Status SqliteLdapArea::CheckWritable() const {
  if (writable_) return Status::Ok();
  return Internal("write attempted in a read transaction");
}

Result<int64_t> SqliteLdapArea::PkOf(const char* sql, std::string_view what,
                                     const std::string& directory, const std::string& id) {
  auto select = db_.Prepare(sql);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, id);
  auto row = select->Step("reading an effective " + std::string(what));
  if (!row) return row.error();
  if (!*row) {
    return MakeError(ErrorCode::kNotFound,
                     std::string(what) + " " + id + " not found in directory " + directory);
  }
  return select->Int(0);
}

// --- service accounts

Result<LdapAccount> SqliteLdapArea::CreateLdapAccount(const LdapAccount& account) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto insert = db_.Prepare(sql::kInsertLdapAccount);
  if (!insert) return insert.error();
  insert->Bind(1, account.name)
      .Bind(2, account.directory)
      .Bind(3, account.hash)
      .Bind(4, ToUnixMillis(account.created))
      .Bind(5, ToUnixMillis(account.rotated));
  if (auto ran = insert->Run("adding an LDAP account"); !ran) {
    if (ran.error().code == ErrorCode::kUniqueness) {
      return MakeError(ErrorCode::kUniqueness,
                       "an LDAP account named \"" + account.name + "\" already exists");
    }
    return ran.error();
  }
  LdapAccount stored = account;
  stored.id = db_.LastInsertRowid();
  stored.created = Stored(account.created);
  stored.rotated = Stored(account.rotated);
  return stored;
}

Result<LdapAccount> SqliteLdapArea::GetLdapAccount(const std::string& name) {
  auto select = db_.Prepare(sql::kGetLdapAccount);
  if (!select) return select.error();
  select->Bind(1, name);
  auto row = select->Step("reading an LDAP account");
  if (!row) return row.error();
  if (!*row) return NoAccount(name);
  return ReadAccount(*select);
}

Result<std::vector<LdapAccount>> SqliteLdapArea::ListLdapAccounts() {
  auto select = db_.Prepare(sql::kListLdapAccounts);
  if (!select) return select.error();
  std::vector<LdapAccount> out;
  auto listed = ForEachRow(*select, "listing LDAP accounts", [&](const Statement& row) {
    out.push_back(ReadAccount(row));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Status SqliteLdapArea::SetLdapAccountHash(const std::string& name, const std::string& hash,
                                          TimePoint rotated) {
  if (auto w = CheckWritable(); !w) return w;
  auto update = db_.Prepare(sql::kSetLdapAccountHash);
  if (!update) return update.error();
  update->Bind(1, name).Bind(2, hash).Bind(3, ToUnixMillis(rotated));
  if (auto ran = update->Run("rotating an LDAP account"); !ran) return ran;
  if (db_.Changes() == 0) return NoAccount(name);
  return Status::Ok();
}

Status SqliteLdapArea::DeleteLdapAccount(const std::string& name) {
  if (auto w = CheckWritable(); !w) return w;
  auto remove = db_.Prepare(sql::kDeleteLdapAccount);
  if (!remove) return remove.error();
  remove->Bind(1, name);
  if (auto ran = remove->Run("removing an LDAP account"); !ran) return ran;
  if (db_.Changes() == 0) return NoAccount(name);
  return Status::Ok();
}

// --- settings

Result<Json> SqliteLdapArea::GetLdapSettings(const std::string& directory) {
  auto select = db_.Prepare(sql::kGetLdapSettings);
  if (!select) return select.error();
  select->Bind(1, directory);
  auto row = select->Step("reading LDAP settings");
  if (!row) return row.error();
  if (!*row) return Json::object();
  return ParseStored(select->Text(0), "LDAP settings of directory " + directory);
}

Status SqliteLdapArea::PutLdapSettings(const std::string& directory, const Json& settings) {
  if (auto w = CheckWritable(); !w) return w;
  auto put = db_.Prepare(sql::kPutLdapSettings);
  if (!put) return put.error();
  put->Bind(1, directory).Bind(2, DumpJson(settings));
  return put->Run("storing LDAP settings");
}

// --- keyset scans

Status SqliteLdapArea::UsersAfter(
    const std::string& directory, int64_t after_pk, int64_t limit,
    const std::function<bool(int64_t pk, const EffectiveUserRow&)>& visit) {
  return Keyset<EffectiveUserRow>(db_, sql::kScanEffectiveUsers, directory, after_pk, limit,
                                  "reading effective users",
                                  EffectiveUserReader{Bodies{db_, codec_}}, visit);
}

Status SqliteLdapArea::GroupsAfter(
    const std::string& directory, int64_t after_pk, int64_t limit,
    const std::function<bool(int64_t pk, const EffectiveGroupRow&)>& visit) {
  return Keyset<EffectiveGroupRow>(db_, sql::kScanEffectiveGroups, directory, after_pk, limit,
                                   "reading effective groups", ReadEffectiveGroup, visit);
}

Status SqliteLdapArea::MembersAfter(
    const std::string& directory, const std::string& group_id, int64_t after_pk, int64_t limit,
    const std::function<bool(int64_t pk, const EffectiveUserRow&)>& visit) {
  auto group = GroupPk(directory, group_id);
  if (!group) return group.error();
  return Keyset<EffectiveUserRow>(db_, sql::kMembersAfter, *group, after_pk, limit,
                                  "reading group members", EffectiveUserReader{Bodies{db_, codec_}},
                                  visit);
}

Status SqliteLdapArea::MemberNames(const std::string& directory, const std::string& group_id,
                                   const std::function<bool(const MemberName&)>& visit) {
  auto group = GroupPk(directory, group_id);
  if (!group) return group.error();
  auto read = [](const Statement& row) -> Result<MemberName> {
    MemberName member;
    member.pk = row.Int(0);
    member.id = row.Text(1);
    member.username = row.Text(2);
    member.state = row.Text(3);
    return member;
  };
  return Keyset<MemberName>(db_, sql::kMemberNames, *group, 0, std::numeric_limits<int64_t>::max(),
                            "reading group members", read,
                            [&](int64_t, const MemberName& member) { return visit(member); });
}

Result<int64_t> SqliteLdapArea::UserPk(const std::string& directory, const std::string& id) {
  return PkOf(sql::kEffectiveUserPk, "user", directory, id);
}

Result<int64_t> SqliteLdapArea::GroupPk(const std::string& directory, const std::string& id) {
  return PkOf(sql::kEffectiveGroupPk, "group", directory, id);
}

// --- lookups

Result<std::vector<EffectiveUserRow>> SqliteLdapArea::FindUsersByMail(const std::string& directory,
                                                                      const std::string& mail_key) {
  std::vector<std::pair<int64_t, EffectiveUserRow>> rows;
  EffectiveUserReader read{Bodies{db_, codec_}};
  for (const char* text : {sql::kUsersByMail, sql::kUsersWithoutMailKey}) {
    auto select = db_.Prepare(text);
    if (!select) return select.error();
    select->Bind(1, directory);
    if (text == sql::kUsersByMail) select->Bind(2, mail_key);
    auto listed = ForEachRow(*select, "searching users by mail", [&](const Statement& row) {
      auto user = read(row);
      if (!user) return Status(user.error());
      rows.emplace_back(row.Int(0), std::move(*user));
      return Status::Ok();
    });
    if (!listed) return listed.error();
  }
  // Creation order across both statements, as every other lookup returns.
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<EffectiveUserRow> out;
  out.reserve(rows.size());
  for (auto& [pk, row] : rows) out.push_back(std::move(row));
  return out;
}

Result<std::vector<EffectiveUserRow>> SqliteLdapArea::FindUsersByLdapName(
    const std::string& directory, const std::string& name_key) {
  auto select = db_.Prepare(sql::kUsersByLdapName);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, name_key);
  EffectiveUserReader read{Bodies{db_, codec_}};
  std::vector<EffectiveUserRow> out;
  auto listed = ForEachRow(*select, "searching users by name", [&](const Statement& row) {
    auto user = read(row);
    if (!user) return Status(user.error());
    out.push_back(std::move(*user));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Result<std::vector<EffectiveGroupRow>> SqliteLdapArea::FindGroupsByLdapName(
    const std::string& directory, const std::string& name_key) {
  auto select = db_.Prepare(sql::kGroupsByLdapName);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, name_key);
  std::vector<EffectiveGroupRow> out;
  auto listed = ForEachRow(*select, "searching groups by name", [&](const Statement& row) {
    auto group = ReadEffectiveGroup(row);
    if (!group) return Status(group.error());
    out.push_back(std::move(*group));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

// --- POSIX ids

Result<int64_t> SqliteLdapArea::PosixNumber(const std::string& directory, const std::string& kind,
                                            const std::string& id) {
  const char* text = nullptr;
  if (kind == "user") {
    text = sql::kPosixUid;
  } else if (kind == "group") {
    text = sql::kPosixGid;
  } else {
    return Internal("POSIX number of an unknown kind \"" + kind + "\"");
  }
  auto select = db_.Prepare(text);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, id);
  auto row = select->Step("reading a POSIX number");
  if (!row) return row.error();
  if (!*row) {
    return MakeError(ErrorCode::kNotFound,
                     "no POSIX number for " + kind + " " + id + " in directory " + directory);
  }
  return select->Int(0);
}

// --- change feed

Result<EntryUsn> SqliteLdapArea::UsnOf(const std::string& directory, const std::string& id) {
  EntryUsn usn;
  for (auto [text, out] : {std::pair{sql::kFirstChangeOf, &usn.created},
                           std::pair{sql::kLastChangeOf, &usn.changed}}) {
    auto select = db_.Prepare(text);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, id);
    auto row = select->Step("reading the change feed");
    if (!row) return row.error();
    *out = *row ? select->Int(0) : 0;  // 0: the feed never named the entry
  }
  return usn;
}

Result<std::vector<ChangeKey>> SqliteLdapArea::ChangeKeysAfter(const std::string& directory,
                                                               int64_t after_seq, int64_t limit) {
  auto select = db_.Prepare(sql::kChangeKeysAfter);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, after_seq).Bind(3, std::max<int64_t>(limit, 0));
  std::vector<ChangeKey> out;
  auto listed = ForEachRow(*select, "reading the change feed", [&](const Statement& row) {
    ChangeKey key;
    key.seq = row.Int(0);
    key.time = FromUnixMillis(row.Int(1));
    key.type = row.Text(2);
    key.op = row.Text(3);
    key.id = row.Text(4);
    key.member_id = row.Text(5);
    out.push_back(std::move(key));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Result<Json> SqliteLdapArea::LastResourceOf(const std::string& directory, const std::string& id) {
  auto select = db_.Prepare(sql::kLastResourceOf);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, id);
  auto row = select->Step("reading the change feed");
  if (!row) return row.error();
  if (!*row) {
    return MakeError(ErrorCode::kNotFound,
                     "no stored form of " + id + " in the change feed of directory " + directory);
  }
  const std::string what = "last change of " + id;
  auto text = codec_.Read(db_, *select, 0, what);
  if (!text) return text.error();
  return ParseStored(*text, what);
}

}  // namespace idsync::store::sqlite
