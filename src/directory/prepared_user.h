// A SCIM user create's derivation, prepared on the request's thread before its write job is
// queued (issue #13 item 3). One thread runs every write; half of a create's time there was the
// derivation, and most of that needs nothing the job reads: the new user's source state (its
// body mapped by the connection's policy), the merge of that one source into a new effective
// user, the stamped row body, its change-feed representation, and both encoded for the store.
//
// The job uses the preparation only where it is exactly what the job would compute itself:
// - the configuration generation the job's transaction reads is the one the preparation's scope
//   was cached at (so every policy, connection and custom attribute is the same);
// - the source is the prepared one and has no link (a created id has none);
// - the linking decision, made by the job as always, makes it a new user (no tombstone of the
//   same name to re-provision, no holder of its link key), and its username is free;
// - the merged user has no memberships (no group lookup, no group id to resolve).
// Anything else (a policy change in between, a conflict, a join) and the job derives the user
// itself, as before. The preparation is read-only for the job: PostgreSQL reruns a job after a
// serialization conflict with the same preparation.
#pragma once

#include <memory>
#include <string>

#include "directory/scope.h"
#include "directory/writer.h"
#include "service/mirror_observer.h"

namespace idsync::directory {

struct PreparedUser final : service::MirrorPreparation {
  int64_t generation = 0;  // the configuration generation the scope was cached at
  int64_t connection_id = 0;
  std::string source_user_id;
  TimePoint now;       // the derivation's time: the request's own
  SourceState source;  // what LoadSource returns for the new user
  PlannedUser plan;    // Merge of that one source as a new user under a new id
  // The row WriteUser stores for the plan, its body encoded (EffectiveUserRow::encoded), and
  // its change-feed representation (RenderUserCore) with its encoding.
  store::EffectiveUserRow row;
  Json core;
  store::EncodedBodyPtr encoded_core;
};

// The preparation of `user`, about to be created in `connection` by request `request_id`, for
// the committed configuration `generation` (0: read here; on PostgreSQL a round trip, so the
// request passes the one its authentication read); nullptr when there is nothing to prepare:
// no scope cached for that generation, a connection without a policy, a source that does not
// map or becomes no user, or a user with memberships.
std::shared_ptr<const PreparedUser> PrepareUser(DirectoryService::Impl& impl,
                                                const store::Connection& connection,
                                                const store::StoredResource& user,
                                                const std::string& request_id, int64_t generation);

}  // namespace idsync::directory
