#include "store/sqlite/ldap_area.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
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

// The part of an effective user's body the LDAP view reads (src/ldap/server/view.cpp):
// attributes.<name>.value and the entitlements. Every scan here feeds LDAP searches, which read
// each user's whole body (about 2 KB, most of it the provenance of every attribute: connection,
// rule, source, time); parsing all of it with nlohmann was a third of a paged dump's time, and
// freeing the tree another tenth. This scanner skips what the view does not read and parses
// only the values. Stored text comes from DumpJson; anything the scanner does not expect
// (escaped keys, another layout) falls back to the full parse, so it never changes an answer.
class LdapBodyScanner {
 public:
  explicit LdapBodyScanner(std::string_view text) : s_(text) {}

  std::optional<Json> Scan() {
    Json body = Json::object();
    if (!Eat('{')) return std::nullopt;
    if (Eat('}')) return End() ? std::optional<Json>(std::move(body)) : std::nullopt;
    do {
      std::string_view key;
      if (!Key(key)) return std::nullopt;
      if (key == "attributes") {
        if (!Attributes(body["attributes"])) return std::nullopt;
      } else if (key == "entitlements") {
        if (!Value(body["entitlements"])) return std::nullopt;
      } else if (!Skip(0)) {
        return std::nullopt;
      }
    } while (Eat(','));
    if (!Eat('}') || !End()) return std::nullopt;
    return body;
  }

 private:
  static constexpr int kMaxDepth = 64;

  void Space() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  bool Eat(char c) {
    Space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool End() {
    Space();
    return i_ == s_.size();
  }
  // A string at i_; `raw` is its text between the quotes, `escaped` whether it has escapes.
  // The closing quote is the first one after an even number of backslashes (memchr: bodies
  // are mostly strings).
  bool String(std::string_view* raw, bool* escaped) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    const char* begin = s_.data() + i_ + 1;
    const char* end = s_.data() + s_.size();
    for (const char* p = begin;;) {
      const auto* q = static_cast<const char*>(std::memchr(p, '"', static_cast<size_t>(end - p)));
      if (q == nullptr) return false;
      const char* b = q;
      while (b > begin && b[-1] == '\\') --b;
      if ((q - b) % 2 == 1) {  // an escaped quote
        p = q + 1;
        continue;
      }
      const auto n = static_cast<size_t>(q - begin);
      if (raw != nullptr) *raw = std::string_view(begin, n);
      if (escaped != nullptr) *escaped = std::memchr(begin, '\\', n) != nullptr;
      i_ = static_cast<size_t>(q + 1 - s_.data());
      return true;
    }
  }
  bool Key(std::string_view& key) {
    Space();
    bool escaped = false;
    return String(&key, &escaped) && !escaped && Eat(':');
  }
  bool Skip(int depth) {
    Space();
    if (i_ >= s_.size() || depth > kMaxDepth) return false;
    const char c = s_[i_];
    if (c == '"') return String(nullptr, nullptr);
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++i_;
      if (Eat(close)) return true;
      do {
        if (c == '{') {
          Space();
          if (!String(nullptr, nullptr) || !Eat(':')) return false;
        }
        if (!Skip(depth + 1)) return false;
      } while (Eat(','));
      return Eat(close);
    }
    const size_t start = i_;  // number, true, false, null
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                              s_[i_] == '+' || s_[i_] == '.')) {
      ++i_;
    }
    return i_ > start;
  }
  // The value at i_: a string without escapes or a literal directly, anything else parsed by
  // nlohmann (only its own text).
  bool Value(Json& out) {
    Space();
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '"') {
      std::string_view raw;
      bool escaped = false;
      if (!String(&raw, &escaped)) return false;
      if (!escaped) {
        out = std::string(raw);
        return true;
      }
    } else if (!Skip(0)) {
      return false;
    }
    const std::string_view text = s_.substr(start, i_ - start);
    if (text == "true" || text == "false") {
      out = text == "true";
      return true;
    }
    if (text == "null") {
      out = nullptr;
      return true;
    }
    out = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    return !out.is_discarded();
  }
  // {"<name>": {"value": V, <provenance>...}, ...} -> {"<name>": {"value": V}, ...}
  bool Attributes(Json& out) {
    out = Json::object();
    if (!Eat('{')) return false;
    if (Eat('}')) return true;
    do {
      std::string_view name;
      if (!Key(name)) return false;
      Json& attribute = out[std::string(name)];
      if (!Eat('{')) {  // not the usual {"value": ...}: kept whole
        if (!Value(attribute)) return false;
        continue;
      }
      attribute = Json::object();
      if (Eat('}')) continue;
      do {
        std::string_view key;
        if (!Key(key)) return false;
        if (key == "value") {
          if (!Value(attribute["value"])) return false;
        } else if (!Skip(0)) {
          return false;
        }
      } while (Eat(','));
      if (!Eat('}')) return false;
    } while (Eat(','));
    return Eat('}');
  }

  std::string_view s_;
  size_t i_ = 0;
};

// EffectiveUserRow with the body cut to what the LDAP view reads (LdapBodyScanner).
struct LdapUserReader {
  Bodies bodies;
  Result<EffectiveUserRow> operator()(const Statement& row) const {
    EffectiveUserRow user;
    user.directory = row.Text(1);
    user.id = row.Text(2);
    user.username = row.Text(3);
    user.username_key = row.Text(4);
    user.link_key = row.Text(5);
    user.state = row.Text(6);
    auto text = bodies(row, 7, "effective user " + user.id);
    if (!text) return text.error();
    if (auto body = LdapBodyScanner(*text).Scan()) {
      user.body = std::move(*body);
    } else {
      auto parsed = ParseStored(*text, "effective user " + user.id);
      if (!parsed) return parsed.error();
      user.body = std::move(*parsed);
    }
    user.version = row.Int(8);
    user.created = FromUnixMillis(row.Int(9));
    user.last_modified = FromUnixMillis(row.Int(10));
    user.mail_key = row.Text(11);
    return user;
  }
};

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

// The users of several statements over disjoint rows, in creation order across them (pk, their
// first column), as every other lookup returns users. `bind(text, statement)` binds each one.
template <typename Reader, typename Bind>
Result<std::vector<EffectiveUserRow>> UsersInCreationOrder(
    Database& db, const Reader& read, std::initializer_list<const char*> statements,
    const Bind& bind, const char* what) {
  std::vector<std::pair<int64_t, EffectiveUserRow>> rows;
  for (const char* text : statements) {
    auto select = db.Prepare(text);
    if (!select) return select.error();
    bind(text, *select);
    auto listed = ForEachRow(*select, what, [&](const Statement& row) {
      auto user = read(row);
      if (!user) return Status(user.error());
      rows.emplace_back(row.Int(0), std::move(*user));
      return Status::Ok();
    });
    if (!listed) return listed.error();
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<EffectiveUserRow> out;
  out.reserve(rows.size());
  for (auto& [pk, row] : rows) out.push_back(std::move(row));
  return out;
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
                                  "reading effective users", LdapUserReader{Bodies{db_, codec_}},
                                  visit);
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
                                  "reading group members", LdapUserReader{Bodies{db_, codec_}},
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
  return UsersInCreationOrder(
      db_, LdapUserReader{Bodies{db_, codec_}}, {sql::kUsersByMail, sql::kUsersWithoutMailKey},
      [&](const char* text, Statement& select) {
        select.Bind(1, directory);
        if (text == sql::kUsersByMail) select.Bind(2, mail_key);
      },
      "searching users by mail");
}

Result<std::vector<EffectiveUserRow>> SqliteLdapArea::FindUsersByLdapName(
    const std::string& directory, const std::string& name_key) {
  return UsersInCreationOrder(
      db_, EffectiveUserReader{Bodies{db_, codec_}},
      {sql::kUsersByLdapNameUnspaced, sql::kUsersByLdapNameSpaced},
      [&](const char*, Statement& select) { select.Bind(1, directory).Bind(2, name_key); },
      "searching users by name");
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
