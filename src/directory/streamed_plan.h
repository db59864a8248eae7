// The whole-directory plan, streamed (issue #13 items 1-2): the policy preview reads the
// directory in key-ordered batches and keeps only counts, a bounded sample and the current batch;
// the apply writes it in batches, each its own transaction, with a durable record of its
// progress (store::PolicyArea::PutPolicyApply) so that an apply killed half-way is resumed.
//
// Streaming needs no global linking decision: it is used when every present source user of
// the directory is linked to a stored effective user (the steady state: every mirror write
// links its source at once). Otherwise (a source pending, or one the new policy makes
// mappable) the whole plan of directory_plan.cpp runs, in one transaction, as before.
//
// The order is directory_plan.cpp's WriteOrder, pass by pass: users leaving and users keeping
// their username in one pass over the directory in creation order, then the users whose
// username changes, in creation order. See docs/ARCHITECTURE.md, "Policy changes at scale".
// Internal to the directory layer.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "directory/derivation.h"
#include "directory/writer.h"
#include "policy/diff.h"

namespace idsync::directory {

// Users per page read by the preview (the apply's batch is ApplyOptions::batch).
inline constexpr int64_t kPreviewPage = 1000;

// Whether the scope's directory can be planned user by user (see above). Reads every source
// user of the directory's connections, one at a time.
Result<bool> Streamable(store::Transaction& tx, const Scope& scope);

// A policy::DirectoryDiff added to one user at a time: complete counts, lists cut at
// `max_items` + 1 entries (DiffToJson marks them truncated), and local groups tallied by their
// member count before the first change seen (read from the store then) and the net change since.
class DiffTally {
 public:
  explicit DiffTally(size_t max_items) : max_items_(max_items) {}

  // `before`, `after`: the user's snapshot, nullopt when absent (or removed / not imported).
  Status Add(store::Transaction& tx, const std::string& directory, const std::string& id,
             const std::optional<policy::UserSnapshot>& before,
             const std::optional<policy::UserSnapshot>& after);
  // policy::DiffToJson's shape, "conflicts" included.
  Json ToJson() const;
  // Reads the member count of a group before anything changes it (the apply calls it for the
  // groups a batch will change, before writing them).
  Status Prime(store::Transaction& tx, const std::string& directory, const std::string& group) {
    return Touch(tx, directory, group, 0);
  }
  // Counts and group tallies (not the sample lists), for the apply record; Load reads it back.
  Json Save() const;
  Status Load(const Json& saved);

  int64_t conflicts = 0;

 private:
  struct GroupTally {
    std::string name;
    int64_t before = 0;
    int64_t net = 0;
  };
  Status Touch(store::Transaction& tx, const std::string& directory, const std::string& group,
               int64_t delta);

  size_t max_items_;
  policy::DirectoryDiff diff_;
  std::map<std::string, GroupTally> groups_;  // by FoldCase(name)
};

// A stored user's snapshot, nullopt when its state counts as absent.
std::optional<policy::UserSnapshot> SnapshotOfRow(const store::EffectiveUserRow& row);

// The plan of one stored user from the sources linked to it (nothing written). `exists`: as
// for Merge.
Result<PlannedUser> PlanStoredUser(store::Transaction& tx, const Scope& scope,
                                   const store::EffectiveUserRow& row,
                                   const policy::GroupExists& exists);

// WriteOrder's rank of a planned stored user: 0 leaving, 1 keeping its username, 2 renamed.
int WriteRank(const PlannedUser& u, const store::EffectiveUserRow& row);

// Local groups that the plan's grants create, for groups.import off (directory_plan.cpp does
// the same over its whole plan); `exists` is set to "created here, or stored". Reads every user.
Status PlannedGroups(store::Transaction& tx, const Scope& scope, std::set<std::string>* created,
                     bool* needed);
policy::GroupExists ExistsWith(store::Transaction& tx, const Scope& scope,
                               const std::set<std::string>* created);

// The preview of the scope's directory (overrides included), streamed: DiffToJson's shape plus
// "conflicts". Only when Streamable.
Result<Json> StreamPreview(store::Transaction& tx, const Scope& scope, size_t max_items);

// One batch of a streamed apply, in `tx`: reads the record's cursor ({"phase": 1|2, "after":
// position}), writes the batch's users (phase 1: leaving then keeping their name; phase 2:
// renamed, then RetryPending), and moves the cursor on; "phase": 3 when the last batch is done.
// `tally` and `applied` accumulate what was written.
Status ApplyBatch(DirectoryService::Impl& impl, store::Transaction& tx, const Scope& scope,
                  const std::set<std::string>* created, Json& record, DiffTally& tally,
                  WriteCounts& applied, int64_t batch);

// The directory of the connection named `name` (kNotFound naming it), and the connection.
Result<std::string> DirectoryOfConnection(store::Store& store, const std::string& name,
                                          store::Connection* out);

// WriteCounts <-> CountsJson.
WriteCounts CountsFromJson(const Json& j);
void AddCounts(WriteCounts& into, const WriteCounts& c);

}  // namespace idsync::directory
