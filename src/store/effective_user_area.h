// Layer 2, the effective directory (issue #3): its users. The store keeps what the directory
// layer (src/directory) derives and interprets none of the JSON bodies. Ids are UUID text;
// `directory` is a directory name ("users", "customers", ...).
//
// One area of the store (issue #15): Transaction (store.h) is the composition of all of them.
// Only store back-ends speak SQL; everything else sees this.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"
#include "store/encoded_body.h"

namespace idsync::store {

// One effective user. Users in state "removed" are not stored (their row is deleted).
struct EffectiveUserRow {
  std::string directory;
  std::string id;
  std::string username;      // effective username as mapped
  std::string username_key;  // FoldCase(username); unique per directory (kUniqueness)
  std::string link_key;      // policy::ComputeLinkKey result, "" when none
  std::string state;         // "active" | "disabled"
  // FoldCase of the effective e-mail, "" when the user has none. Rows written before
  // migration 8 and not rewritten since read as "" too (the column is NULL: not known yet);
  // LdapArea::FindUsersByMail returns those as candidates.
  std::string mail_key;
  Json body = Json::object();  // the directory layer's form (values with provenance, grants)
  // PutEffectiveUser: `body` as Store::EncodeBody encoded it before the job was queued
  // (store/encoded_body.h); null, it encodes `body` itself. Never set on what a store returns.
  EncodedBodyPtr encoded;
  int64_t version = 0;         // set by the store: 1 on insert, previous + 1 on update
  TimePoint created;           // kept by the store on update
  TimePoint last_modified;
};

// The explorer's user search (admin API GET /directories/{d}/user-search). Every criterion is
// optional; they combine with AND. Keys are folded (FoldCase) by the caller.
struct EffectiveUserSearch {
  std::string username_prefix;  // username_key starts with this
  std::string mail_prefix;      // mail_key starts with this (users without a mail_key never match)
  std::string group_id;         // member (directly) of this effective group; unknown: no users
  std::string state;            // "active" | "disabled" | "" (any)
  std::string after;            // the `next` of the previous page; "" for the first page
  int64_t limit = 25;
};

// Which criterion an index answered; the others were checked row by row.
enum class UserSearchIndex { kUsername, kMail, kGroup, kState };

// The criterion that drives a search, the same on every store: the most selective first (an
// e-mail prefix names few users, a username prefix usually few, a group as many as it has
// members). A state drives only when it is "disabled": nearly everyone is active, so "active"
// is the username order with the state checked row by row, and the state index holds only the
// users who are not active (SQLite migration 19, PostgreSQL 10). A fixed rule, not an estimate per
// call, keeps a cursor valid from page to page.
inline UserSearchIndex DrivingIndex(const EffectiveUserSearch& search) {
  if (!search.mail_prefix.empty()) return UserSearchIndex::kMail;
  if (!search.username_prefix.empty()) return UserSearchIndex::kUsername;
  if (!search.group_id.empty()) return UserSearchIndex::kGroup;
  if (!search.state.empty() && search.state != "active") return UserSearchIndex::kState;
  return UserSearchIndex::kUsername;
}

struct EffectiveUserPage {
  std::vector<EffectiveUserRow> users;
  std::string next;  // opaque cursor for the following page; "" when this page is the last
  UserSearchIndex index = UserSearchIndex::kUsername;
};

// Reached through a Transaction (store.h); valid as long as it. Not thread-safe. Writes through
// a read transaction fail with kInternal.
class EffectiveUserArea {
 public:
  virtual ~EffectiveUserArea() = default;

  virtual Result<EffectiveUserRow> GetEffectiveUser(const std::string& directory,
                                                    const std::string& id) = 0;  // kNotFound
  virtual Result<EffectiveUserRow> FindEffectiveUserByUsername(
      const std::string& directory, const std::string& username_key) = 0;  // kNotFound
  // Users with this link key (normally at most one).
  virtual Result<std::vector<EffectiveUserRow>> FindEffectiveUsersByLinkKey(
      const std::string& directory, const std::string& link_key) = 0;
  // Inserts or updates by (directory, id); kUniqueness if username_key is held by another user.
  // Returns `row` as stored (version, created). By value: a caller that moves its row in spares
  // a copy of the body on the writer.
  virtual Result<EffectiveUserRow> PutEffectiveUser(EffectiveUserRow row) = 0;
  // Deletes the user, its memberships (the groups' versions increase) and its links. kNotFound.
  virtual Status DeleteEffectiveUser(const std::string& directory, const std::string& id) = 0;
  virtual Result<int64_t> CountEffectiveUsers(const std::string& directory) = 0;
  // A page in creation order.
  virtual Result<std::vector<EffectiveUserRow>> ListEffectiveUsers(const std::string& directory,
                                                                   int64_t offset,
                                                                   int64_t limit) = 0;
  virtual Status ScanEffectiveUsers(const std::string& directory,
                                    const std::function<bool(const EffectiveUserRow&)>& visit) = 0;
  // One page of users matching every criterion of `search`. The back-end reads one index range
  // for the most selective criterion (e-mail, then username, then group, then state) and checks
  // the others on each row it reads, in that index's order; the cursor resumes that range.
  // kInvalidValue for a cursor this search did not produce.
  virtual Result<EffectiveUserPage> SearchEffectiveUsers(const std::string& directory,
                                                         const EffectiveUserSearch& search) = 0;
  // A keyset page in creation order (the order ScanEffectiveUsers visits): at most `limit`
  // users created after the one at `after` (0: from the first), each with its position, which
  // is the `after` of the next page. Positions only grow; a deleted user's is not reused.
  // Default body: "not implemented for this store" (the directory layer then plans whole).
  virtual Result<std::vector<std::pair<int64_t, EffectiveUserRow>>> EffectiveUsersAfter(
      const std::string& directory, int64_t after, int64_t limit) {
    (void)after;
    (void)limit;
    return MakeError(ErrorCode::kInternal,
                     "paging effective users by key is not implemented for this store (" +
                         directory + ")");
  }
};

}  // namespace idsync::store
