// PgTransaction's explorer search (EffectiveUserArea::SearchEffectiveUsers) and keyset pages in
// creation order (EffectiveUsersAfter, the streamed policy apply's walk), as
// store/sqlite/effective_user_area.cpp. Statements in queries.h, indexes in migration 7.
//
// Cursors are the same text as SQLite's ("<index letter>\n<key>\n<pk>", base64url) and ranges
// and order are byte order (COLLATE "C"), so a page means the same on both stores. A prefix's
// range is [prefix, prefix || U+10FFFF): SQLite appends the byte 0xFF, which PostgreSQL refuses
// in UTF-8 text; U+10FFFF (F4 8F BF BF) is the largest code point, so every key starting with
// the prefix is below it except one continuing with U+10FFFF itself, a noncharacter no name or
// e-mail holds.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "base/crypto.h"
#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {
namespace {

std::string UpperBound(const std::string& prefix) {
  return prefix + "\xF4\x8F\xBF\xBF";
}

char IndexLetter(UserSearchIndex index) {
  switch (index) {
    case UserSearchIndex::kUsername: return 'n';
    case UserSearchIndex::kMail: return 'm';
    case UserSearchIndex::kGroup: return 'g';
    case UserSearchIndex::kState: return 's';
  }
  return 'n';
}

// Whether `s` is text PostgreSQL accepts in a UTF-8 database: well-formed UTF-8 without NUL.
bool IsPgText(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

std::string EncodeCursor(UserSearchIndex index, const std::string& key, int64_t pk) {
  return Base64Url(std::string(1, IndexLetter(index)) + "\n" + key + "\n" + std::to_string(pk));
}

}  // namespace

Result<std::vector<std::pair<int64_t, EffectiveUserRow>>> PgTransaction::EffectiveUsersAfter(
    const std::string& directory, int64_t after, int64_t limit) {
  auto r =
      db_.Exec(sql::kScanEffectiveUsers, {directory, Num(after), Num(std::max<int64_t>(limit, 0))},
               "reading effective users");
  if (!r) return r.error();
  std::vector<std::pair<int64_t, EffectiveUserRow>> out;
  out.reserve(r->Rows());
  for (int i = 0; i < r->Rows(); ++i) {
    auto user = ReadEffectiveUser(*r, i);
    if (!user) return user.error();
    out.emplace_back(r->Int(i, 0), std::move(*user));
  }
  return out;
}

Result<EffectiveUserPage> PgTransaction::SearchEffectiveUsers(const std::string& directory,
                                                              const EffectiveUserSearch& search) {
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
    // A key PostgreSQL would refuse as text (not UTF-8, or a NUL) is no cursor this search gave.
    if (!IsPgText(after_key)) return bad();
  }
  // Stored keys are UTF-8 text; a prefix that is not (a client's stray byte) starts none of
  // them here. (SQLite compares bytes and could match a prefix cut inside a character.)
  if (!IsPgText(search.username_prefix) || !IsPgText(search.mail_prefix) ||
      !IsPgText(search.state)) {
    return page;
  }

  int64_t group_pk = 0;
  if (!search.group_id.empty()) {
    auto r = db_.Exec(sql::kEffectiveGroupPk, {directory, search.group_id},
                      "reading an effective group");
    if (!r) return r.error();
    if (r->Rows() == 0) return page;  // no such group: no members
    group_pk = r->Int(0, 0);
  }

  std::string_view text;
  switch (page.index) {
    case UserSearchIndex::kUsername: text = sql::kSearchUsersByName; break;
    case UserSearchIndex::kMail: text = sql::kSearchUsersByMail; break;
    case UserSearchIndex::kGroup: text = sql::kSearchUsersByGroup; break;
    case UserSearchIndex::kState: text = sql::kSearchUsersByState; break;
  }
  const int64_t limit = std::max<int64_t>(search.limit, 1);
  auto r = db_.Exec(
      text,
      {directory, search.username_prefix, UpperBound(search.username_prefix), search.mail_prefix,
       UpperBound(search.mail_prefix), search.state, Num(group_pk), after_key, Num(after_pk),
       Num(limit + 1)},  // one more tells whether a next page exists
      "searching effective users");
  if (!r) return r.error();
  for (int i = 0; i < r->Rows(); ++i) {
    if (static_cast<int64_t>(page.users.size()) == limit) {
      const EffectiveUserRow& last = page.users.back();
      page.next = EncodeCursor(
          page.index, page.index == UserSearchIndex::kMail ? last.mail_key : last.username_key,
          r->Int(i - 1, 0));
      break;
    }
    auto user = ReadEffectiveUser(*r, i);
    if (!user) return user.error();
    page.users.push_back(std::move(*user));
  }
  return page;
}

}  // namespace idsync::store::postgres
