// The linking decision of the whole-directory plan, over a compact model (issue #13 items 1-2):
// which unlinked present source users join which stored effective users, which tombstones they
// replace, and which become new users, by the rules PlanDirectory (directory_plan.cpp) applies,
// without holding any source's values or groups. The streamed preview overlays it on the stored
// links; the streamed apply writes it first (phase 0), then merges the stored users in batches
// (phases 1-2) and writes the new users last (phase 3), WriteOrder's order.
// See docs/ARCHITECTURE.md, "Policy changes at scale". Internal to the directory layer.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "directory/scope.h"

namespace idsync::directory {

struct LinkingPlan {
  using SourceKey = std::pair<int64_t, std::string>;  // connection id, source user id
  struct Join {
    int64_t connection = 0;
    std::string source_user_id;
    std::string source_name;
    std::string user;      // the stored effective user it joins
    std::string replaced;  // source user id of the tombstone it replaces, "" for none
  };
  std::vector<Join> joins;         // in SourceBefore order
  std::vector<SourceKey> unlinked;  // every unlinked present source, in SourceBefore order
  std::vector<uint32_t> fresh;      // those that become new users: indexes into `unlinked`
  std::unordered_map<std::string, std::vector<size_t>> joins_of;  // user id -> joins
  std::set<SourceKey> dropped;     // tombstones replaced
  std::unordered_map<int64_t, int> ordinal;  // connection -> rank in SourceBefore order

  // Nothing to decide: every present source is linked (the steady state).
  bool Empty() const { return unlinked.empty(); }
  // SourceBefore for two sources given by key.
  bool Before(const SourceKey& a, const SourceKey& b) const;
};

// The decision, from one pass over the mirrors (each source mapped, its link read) and one over
// the stored users. Memory: per stored user its id, link key and present connections; per
// unlinked source its key and name; nothing per linked source.
Result<LinkingPlan> PlanLinking(store::Transaction& tx, const Scope& scope);

// Writes the joins (links, replaced tombstones dropped): phase 0 of a streamed apply. A join that
// a write since the decision made stale (the source linked meanwhile, the user gone) is skipped:
// the source stays unlinked and becomes a new user in phase 3, as the live rules decide.
Status WriteLinking(store::Transaction& tx, const Scope& scope, const LinkingPlan& plan);

// Whether the source is linked to an effective user of the scope's directory.
Result<bool> IsLinked(store::Transaction& tx, const Scope& scope, int64_t connection,
                      const std::string& source_user_id);

}  // namespace idsync::directory
