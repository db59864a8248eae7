// SqliteTransaction's share of store/effective_user_area.h (effective users) over one SQLite
// connection. Its statements are in queries.h.
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/crypto.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

Result<EffectiveUserRow> SqliteTransaction::GetEffectiveUser(const std::string& directory,
                                                             const std::string& id) {
  auto select = db_.Prepare(sql::kGetEffectiveUser);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, id);
  auto found = OneRow<EffectiveUserRow>(*select, "reading an effective user", ReadEUser());
  if (!found) return found.error();
  if (!*found) return NoEffective("user", directory, id);
  return std::move(**found);
}

Result<EffectiveUserRow> SqliteTransaction::FindEffectiveUserByUsername(
    const std::string& directory, const std::string& username_key) {
  auto select = db_.Prepare(sql::kFindEffectiveUserByUsername);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, username_key);
  auto found = OneRow<EffectiveUserRow>(*select, "reading an effective user", ReadEUser());
  if (!found) return found.error();
  if (!*found) {
    return MakeError(ErrorCode::kNotFound,
                     "no user named \"" + username_key + "\" in directory " + directory);
  }
  return std::move(**found);
}

Result<std::vector<EffectiveUserRow>> SqliteTransaction::FindEffectiveUsersByLinkKey(
    const std::string& directory, const std::string& link_key) {
  if (link_key.empty()) return std::vector<EffectiveUserRow>{};  // "" is no link key
  auto select = db_.Prepare(sql::kFindEffectiveUsersByLinkKey);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, link_key);
  return Rows<EffectiveUserRow>(*select, "searching effective users", ReadEUser());
}

Result<EffectiveUserRow> SqliteTransaction::PutEffectiveUser(EffectiveUserRow row) {
  if (auto w = CheckWritable(); !w) return w.error();
  struct Existing {
    int64_t pk;
    int64_t version;
    int64_t created_ms;
    // The indexed columns as stored; the update sets only those that change.
    std::string username, username_key, link_key, state;
    std::optional<std::string> mail_key;  // NULL: stored before migration 8
  };
  std::optional<Existing> existing;
  {
    auto select = db_.Prepare(sql::kEffectiveUserVersion);
    if (!select) return select.error();
    select->Bind(1, row.directory).Bind(2, row.id);
    auto found = select->Step("reading an effective user");
    if (!found) return found.error();
    if (*found) {
      existing = Existing{select->Int(0),  select->Int(1),  select->Int(2),  select->Text(3),
                          select->Text(4), select->Text(5), select->Text(6), std::nullopt};
      if (!select->IsNull(7)) existing->mail_key = select->Text(7);
    }
  }
  std::optional<std::string> link_key;
  if (!row.link_key.empty()) link_key = row.link_key;
  auto taken = [&](const Error& error) -> Error {
    if (error.code != ErrorCode::kUniqueness) return error;
    return MakeError(ErrorCode::kUniqueness,
                     "username \"" + row.username + "\" is taken in directory " + row.directory);
  };
  // Encoded before the job was queued, or here.
  const EncodedBodyPtr encoded = std::move(row.encoded);
  auto bind_body = [&](Statement& statement, int param) {
    if (encoded) {
      BodyCodec::Bind(statement, param, *encoded);
    } else {
      codec_.Bind(statement, param, BodyKind::kEffectiveUser, DumpJson(row.body));
    }
  };
  if (existing) {
    const bool same_keys = existing->username_key == row.username_key &&
                           existing->link_key == row.link_key && existing->mail_key &&
                           *existing->mail_key == row.mail_key;
    const bool same_state = existing->state == row.state && existing->username == row.username;
    const char* sql = !same_keys    ? sql::kUpdateEffectiveUser
                      : !same_state ? sql::kUpdateEffectiveUserState
                                    : sql::kUpdateEffectiveUserBody;
    auto update = db_.Prepare(sql);
    if (!update) return update.error();
    const int64_t modified = ToUnixMillis(row.last_modified);
    update->Bind(1, existing->pk);
    if (!same_keys) {
      update->Bind(2, row.username)
          .Bind(3, row.username_key)
          .Bind(4, link_key)
          .Bind(5, row.state)
          .Bind(7, modified)
          .Bind(8, row.mail_key);
      bind_body(*update, 6);
    } else if (!same_state) {
      update->Bind(2, row.username).Bind(3, row.state).Bind(5, modified);
      bind_body(*update, 4);
    } else {
      update->Bind(3, modified);
      bind_body(*update, 2);
    }
    if (auto ran = update->Run("updating an effective user"); !ran) return taken(ran.error());
    row.version = existing->version + 1;
    row.created = FromUnixMillis(existing->created_ms);
  } else {
    auto insert = db_.Prepare(sql::kInsertEffectiveUser);
    if (!insert) return insert.error();
    insert->Bind(1, row.directory)
        .Bind(2, row.id)
        .Bind(3, row.username)
        .Bind(4, row.username_key)
        .Bind(5, link_key)
        .Bind(6, row.state)
        .Bind(8, ToUnixMillis(row.created))
        .Bind(9, ToUnixMillis(row.last_modified))
        .Bind(10, row.mail_key);
    bind_body(*insert, 7);
    if (auto ran = insert->Run("adding an effective user"); !ran) return taken(ran.error());
    row.version = 1;
    row.created = Stored(row.created);
  }
  row.last_modified = Stored(row.last_modified);
  return row;  // the caller's row, moved in and back out
}

Status SqliteTransaction::DeleteEffectiveUser(const std::string& directory, const std::string& id) {
  if (auto w = CheckWritable(); !w) return w;
  auto pk = EffectiveUserPk(directory, id);
  if (!pk) return pk.error();
  // The groups the user leaves change too; bump them before the membership rows go.
  {
    auto touch = db_.Prepare(sql::kTouchEffectiveGroupsOfUser);
    if (!touch) return touch.error();
    touch->Bind(1, *pk).Bind(2, ToUnixMillis(clock_.Now()));
    if (auto ran = touch->Run("deleting an effective user"); !ran) return ran;
  }
  // Explicit rather than through ON DELETE CASCADE, so this does not depend on the
  // foreign_keys pragma of the connection.
  {
    auto unlink = db_.Prepare(sql::kDeleteEffectiveMembershipsOfUser);
    if (!unlink) return unlink.error();
    unlink->Bind(1, *pk);
    if (auto ran = unlink->Run("deleting an effective user"); !ran) return ran;
  }
  {
    auto links = db_.Prepare(sql::kDeleteLinksOfUser);
    if (!links) return links.error();
    links->Bind(1, directory).Bind(2, id);
    if (auto ran = links->Run("deleting an effective user"); !ran) return ran;
  }
  auto remove = db_.Prepare(sql::kDeleteEffectiveUser);
  if (!remove) return remove.error();
  remove->Bind(1, *pk);
  return remove->Run("deleting an effective user");
}

Result<int64_t> SqliteTransaction::CountEffectiveUsers(const std::string& directory) {
  return CountEffective(directory, 0);
}

Result<std::vector<EffectiveUserRow>> SqliteTransaction::ListEffectiveUsers(
    const std::string& directory, int64_t offset, int64_t limit) {
  auto select = db_.Prepare(sql::kListEffectiveUsers);
  if (!select) return select.error();
  select->Bind(1, directory)
      .Bind(2, std::max<int64_t>(offset, 0))
      .Bind(3, std::max<int64_t>(limit, 0));
  return Rows<EffectiveUserRow>(*select, "listing effective users", ReadEUser());
}

Result<std::vector<std::pair<int64_t, EffectiveUserRow>>> SqliteTransaction::EffectiveUsersAfter(
    const std::string& directory, int64_t after, int64_t limit) {
  auto select = db_.Prepare(sql::kScanEffectiveUsers);
  if (!select) return select.error();
  select->Bind(1, directory).Bind(2, after).Bind(3, std::max<int64_t>(limit, 0));
  std::vector<std::pair<int64_t, EffectiveUserRow>> out;
  auto reader = ReadEUser();
  auto listed = ForEachRow(*select, "reading effective users", [&](const Statement& row) -> Status {
    auto value = reader(row);
    if (!value) return value.error();
    out.emplace_back(row.Int(0), std::move(*value));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Status SqliteTransaction::ScanEffectiveUsers(
    const std::string& directory, const std::function<bool(const EffectiveUserRow&)>& visit) {
  return ScanByPk<EffectiveUserRow>(sql::kScanEffectiveUsers, directory, "reading effective users",
                                    ReadEUser(), visit);
}

}  // namespace idsync::store::sqlite

namespace idsync::store::sqlite {
namespace {

// [prefix, prefix + 0xFF): every key starting with `prefix` (UTF-8 never holds the byte 0xFF).
std::string UpperBound(const std::string& prefix) { return prefix + '\xff'; }

char IndexLetter(UserSearchIndex index) {
  switch (index) {
    case UserSearchIndex::kUsername: return 'n';
    case UserSearchIndex::kMail: return 'm';
    case UserSearchIndex::kGroup: return 'g';
    case UserSearchIndex::kState: return 's';
  }
  return 'n';
}

// The cursor: base64url of "<index letter>\n<key>\n<pk>", the last row's position in the
// driving index. Opaque to callers; checked against the search it resumes.
std::string EncodeCursor(UserSearchIndex index, const std::string& key, int64_t pk) {
  return Base64Url(std::string(1, IndexLetter(index)) + "\n" + key + "\n" + std::to_string(pk));
}

}  // namespace

Result<EffectiveUserPage> SqliteTransaction::SearchEffectiveUsers(
    const std::string& directory, const EffectiveUserSearch& search) {
  EffectiveUserPage page;
  page.index = DrivingIndex(search);

  std::string after_key;
  int64_t after_pk = 0;
  if (!search.after.empty()) {
    auto bad = [] {
      return MakeError(ErrorCode::kInvalidValue,
                       "after: not a cursor of this search (use the \"next\" value the previous "
                       "page returned, with the same criteria)");
    };
    auto decoded = DecodeBase64Url(search.after);
    if (!decoded) return bad();
    const size_t first = decoded->find('\n');
    const size_t last = decoded->rfind('\n');
    if (first != 1 || last == first || (*decoded)[0] != IndexLetter(page.index)) return bad();
    after_key = decoded->substr(first + 1, last - first - 1);
    const std::string pk_text = decoded->substr(last + 1);
    char* end = nullptr;
    after_pk = std::strtoll(pk_text.c_str(), &end, 10);
    if (pk_text.empty() || *end != '\0' || after_pk < 0) return bad();
  }

  int64_t group_pk = 0;
  if (!search.group_id.empty()) {
    auto select = db_.Prepare(sql::kEffectiveGroupPkById);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, search.group_id);
    auto row = select->Step("reading an effective group");
    if (!row) return row.error();
    if (!*row) return page;  // no such group: no members
    group_pk = select->Int(0);
  }

  const char* text = nullptr;
  switch (page.index) {
    case UserSearchIndex::kUsername: text = sql::kSearchUsersByName; break;
    case UserSearchIndex::kMail: text = sql::kSearchUsersByMail; break;
    case UserSearchIndex::kGroup: text = sql::kSearchUsersByGroup; break;
    case UserSearchIndex::kState: text = sql::kSearchUsersByState; break;
  }
  auto select = db_.Prepare(text);
  if (!select) return select.error();
  const int64_t limit = std::max<int64_t>(search.limit, 1);
  select->Bind(1, directory)
      .Bind(2, search.username_prefix)
      .Bind(3, UpperBound(search.username_prefix))
      .Bind(4, search.mail_prefix)
      .Bind(5, UpperBound(search.mail_prefix))
      .Bind(6, search.state)
      .Bind(7, group_pk)
      .Bind(8, after_key)
      .Bind(9, after_pk)
      .Bind(10, limit + 1);  // one more tells whether a next page exists
  int64_t last_pk = 0;
  std::string last_key;
  auto read = ReadEUser();
  Status status = ForEachRow(*select, "searching effective users", [&](Statement& row) -> Status {
    if (static_cast<int64_t>(page.users.size()) == limit) {
      page.next = EncodeCursor(page.index, last_key, last_pk);
      return Status::Ok();
    }
    auto user = read(row);
    if (!user) return user.error();
    last_pk = row.Int(0);
    last_key = page.index == UserSearchIndex::kMail ? user->mail_key : user->username_key;
    page.users.push_back(std::move(*user));
    return Status::Ok();
  });
  if (!status) return status.error();
  return page;
}

}  // namespace idsync::store::sqlite
