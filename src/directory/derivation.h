// Planning effective users from source users: loading a source user (mirror body mapped by its
// connection's policy, its source groups), merging an effective user's sources
// (policy::MergeUser), and re-deriving the users touched by a few source users (every mirror
// write). The whole-directory plan (policy preview, apply, re-derivation) is in
// directory_plan.cpp; both write through Writer (writer.h). Internal to the directory layer.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "directory/scope.h"

namespace idsync::directory {

// One source user as the derivation sees it.
struct SourceState {
  int64_t connection_id = 0;
  std::string source_user_id;
  bool present = false;   // in the mirror and mappable
  std::string link_key;   // "" when none
  std::string source_name;  // store::SourceLink::source_name; kept from the link when deleted
  policy::EffectiveUserValues values;
  std::vector<policy::SourceGroup> groups;
  std::string warning;    // why a present source is not mappable
};

// FoldCase of the source's own name in its mirror body: SCIM userName, or the LDAP
// connection's username attribute. "" when it has none.
std::string SourceNameOf(const Scope& scope, int64_t connection_id, const Json& body);

// A source user from its mirror body (mapped by its connection's policy) and source groups.
SourceState SourceFromBody(const Scope& scope, int64_t connection_id,
                           const std::string& source_user_id, Json body,
                           std::vector<policy::SourceGroup> groups);

// A source user from the mirror; deleted (not present) when gone. `known_name`: the link's
// source_name, kept for a deleted source.
Result<SourceState> LoadSource(store::Transaction& tx, const Scope& scope, int64_t connection_id,
                               const std::string& source_user_id, const std::string& known_name);

// Whether a local group exists, as `tx` sees the directory (for groups.import off). A lookup
// that fails other than with kNotFound (an I/O error, a stored row that does not read back) is
// not "no such group": that would drop memberships, and the job would commit the drop. The
// group then counts as existing and the first such error is kept in `*failed`; the caller
// fails its job with it (`failed` is Ok until then, and must outlive the predicate).
policy::GroupExists StoredGroups(store::Transaction& tx, const std::string& directory,
                                 Status* failed);

struct PlannedUser;   // writer.h
struct PreparedUser;  // prepared_user.h
struct WriteCounts;  // writer.h

// Orders sources as MergeUser does (priority descending, then connection, then source id), so
// that the first source of a new user is the one that decides.
bool SourceBefore(const Scope& scope, const SourceState& a, const SourceState& b);

// Merges `sources` (any order) into the planned user `id`; `previous` is its stored row.
// `link_key` "" takes the first present source's key.
PlannedUser Merge(const Scope& scope, std::string id, std::vector<SourceState> sources,
                  const std::optional<store::EffectiveUserRow>& previous, std::string link_key,
                  const policy::GroupExists& group_exists);

// Re-derives the effective users touched by `sources` (connection id, source user id) of one
// directory: each source is (re)linked by its link key, and every effective user that gains or
// loses a source is merged again and written.
// `prepared`: a SCIM create's derivation prepared before the job (prepared_user.h), or nullptr.
Result<WriteCounts> DeriveSources(DirectoryService::Impl& impl, store::Transaction& tx,
                                  const Scope& scope,
                                  const std::vector<std::pair<int64_t, std::string>>& sources,
                                  Json cause, TimePoint now,
                                  const PreparedUser* prepared = nullptr);

struct Writer;  // writer.h

// Re-derives the pending source users (conflicts) that what `w` wrote may now let in, and the
// sources whose groups.import-off memberships a group created by `w` now admits, until nothing
// more changes. Every live write path ends with it, so that the live directory is what a
// re-derivation of the whole directory makes of the same mirrors.
Status RetryPending(store::Transaction& tx, const Scope& scope, Writer& w);

// Re-derives every pending source user of the directory, then RetryPending: the end of a
// streamed apply outside the steady state, whose batches do not retry (the whole plan retries
// once, after its last write, with what all its writes made possible; a batch knows only its own
// writes).
Status RetryAllPending(store::Transaction& tx, const Scope& scope, Writer& w);

// Plans every effective user of the scope's directory and writes the plan (directory_plan.cpp):
// the preview JSON of what it did (at most `max_items` per list) plus "applied" counts.
Result<Json> ApplyPlan(DirectoryService::Impl& impl, store::Transaction& tx, Scope& scope,
                       const Json& cause, size_t max_items);

}  // namespace idsync::directory
