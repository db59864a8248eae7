// The whole-directory plan, streamed (issue #13 items 1-2): the policy preview reads the
// directory in key-ordered batches and keeps only counts, a bounded sample and the current batch;
// the apply writes it in batches, each its own transaction, with a durable record of its
// progress (store::PolicyArea::PutPolicyApply) so that an apply killed half-way is resumed.
//
// In the steady state (every present source user of the directory linked to a stored effective
// user: every mirror write links its source at once) there is no global linking decision left.
// Otherwise (a source pending, one the new policy makes mappable, link keys the policy changes)
// the decision is made first over a compact model (linking_plan.h): the preview overlays it on
// the stored links, the apply writes it as its phase 0.
//
// The order is directory_plan.cpp's WriteOrder, pass by pass: users leaving and users keeping
// their username in one pass over the directory in creation order, then the users whose
// username changes, in creation order, then the new users (phase 3) in SourceBefore order.
// See docs/ARCHITECTURE.md, "Policy changes at scale".
// Internal to the directory layer.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "directory/derivation.h"
#include "directory/linking_plan.h"
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
// for Merge. `linking`: a decision not written yet, overlaid on the stored links.
Result<PlannedUser> PlanStoredUser(store::Transaction& tx, const Scope& scope,
                                   const store::EffectiveUserRow& row,
                                   const policy::GroupExists& exists,
                                   const LinkingPlan* linking = nullptr);

// The plan of a new user from one unlinked source (nothing written); nullopt when the source is
// not present.
Result<std::optional<PlannedUser>> PlanNewUser(store::Transaction& tx, const Scope& scope,
                                               int64_t connection, const std::string& source,
                                               const policy::GroupExists& exists);

// WriteOrder's rank of a planned stored user: 0 leaving, 1 keeping its username, 2 renamed.
int WriteRank(const PlannedUser& u, const store::EffectiveUserRow& row);

// Local groups that the plan's grants create, for groups.import off (directory_plan.cpp does
// the same over its whole plan); `exists` is set to "created here, or stored". Reads every user.
// `linking`: a decision not written yet (null: none, or written already), whose new users are
// counted too.
// `joins_written`: the decision's joins are stored links already (a resumed apply past phase 0),
// and every unlinked source is a new user.
Status PlannedGroups(store::Transaction& tx, const Scope& scope, std::set<std::string>* created,
                     bool* needed, const LinkingPlan* linking = nullptr,
                     bool joins_written = false);
// Whether a group exists for MergeUser: stored (StoredGroups, failures kept in `*failed`) or
// in `created`; null `created`: every group exists.
policy::GroupExists ExistsWith(store::Transaction& tx, const Scope& scope,
                               const std::set<std::string>* created, Status* failed);

// The preview of the scope's directory (overrides included), streamed: DiffToJson's shape plus
// "conflicts". `linking`: the decision (null or empty in the steady state).
Result<Json> StreamPreview(store::Transaction& tx, const Scope& scope, size_t max_items,
                           const LinkingPlan* linking = nullptr);

// Phases of a streamed apply's record.
inline constexpr int kPhaseLink = 0;     // write the linking decision
inline constexpr int kPhaseStored = 1;   // stored users leaving or keeping their username
inline constexpr int kPhaseRenamed = 2;  // stored users whose username changes
inline constexpr int kPhaseNew = 3;      // new users (only with "linking")
inline constexpr int kPhaseDone = 4;

// One batch of a streamed apply, in `tx`: reads the record's cursor ({"phase": 0..3, "after":
// position, "source": [connection, source user id] in phase 3}), writes the batch (phase 0: the
// linking decision, all of it; phase 1: leaving then keeping their name; phase 2: renamed;
// phase 3: new users), then RetryPending, and moves the cursor on; "phase": kPhaseDone when the
// last batch is done. `linking`: the decision (phase 0) or the unlinked sources (phase 3),
// needed when the record says "linking". `tally` and `applied` accumulate what was written.
Status ApplyBatch(DirectoryService::Impl& impl, store::Transaction& tx, const Scope& scope,
                  const std::set<std::string>* created, const LinkingPlan* linking, Json& record,
                  DiffTally& tally, WriteCounts& applied, int64_t batch);

// The directory of the connection named `name` (kNotFound naming it), and the connection.
Result<std::string> DirectoryOfConnection(store::Store& store, const std::string& name,
                                          store::Connection* out);

// WriteCounts <-> CountsJson.
WriteCounts CountsFromJson(const Json& j);
void AddCounts(WriteCounts& into, const WriteCounts& c);

}  // namespace idsync::directory
