// The hook through which layer 2 (src/directory) follows layer 1: every mirror write calls it
// inside the write transaction, after the mirror change and before the commit, so the mirror
// and the effective directory commit together or not at all (docs/ARCHITECTURE.md).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "base/result.h"
#include "store/store.h"

namespace idsync::service {

// What a mirror write may have changed for the effective directory: the source users whose
// effective state must be re-derived. A user write names the user; a group write names the
// users it added or removed as members, and every member when the group was renamed, created or
// deleted (group-in-group members are not users and are not named: SCIM memberships are direct).
// Work an observer did for a write before its job was queued (MirrorObserver::
// PrepareCreatedUser), handed back to it in that job's MirrorChange. Opaque to layer 1.
struct MirrorPreparation {
  virtual ~MirrorPreparation() = default;
};

struct MirrorChange {
  const store::Connection* connection = nullptr;
  std::set<std::string> users;  // source user ids of this connection (deleted ones included)
  std::string request_id;
  std::string actor;      // "scim", "cli", "admin:<name>", "sync"
  std::string operation;  // "create", "replace", "patch", "delete"
  // What PrepareCreatedUser returned for this write, or nullptr.
  std::shared_ptr<const MirrorPreparation> prepared;
};

class MirrorObserver {
 public:
  virtual ~MirrorObserver() = default;
  // An error aborts the whole write (it rolls back with the mirror change).
  virtual Status OnMirrorChanged(store::Transaction& tx, const MirrorChange& change) = 0;
  // On the request's thread, before the job that creates SCIM user `user` in `connection` is
  // queued: whatever of OnMirrorChanged's work for it needs no stored state, done here instead
  // of on the store's one writer thread, for the committed configuration `generation` (0: the
  // observer reads it). The job passes it back in MirrorChange::prepared; OnMirrorChanged uses
  // it only where it is what it would compute itself. Reads nothing through a transaction and
  // writes nothing. Default: nothing to prepare.
  virtual std::shared_ptr<const MirrorPreparation> PrepareCreatedUser(
      const store::Connection& connection, const store::StoredResource& user,
      const std::string& request_id, int64_t generation) {
    (void)connection;
    (void)user;
    (void)request_id;
    (void)generation;
    return nullptr;
  }
  // Called after a write that called OnMirrorChanged has committed (or failed): wakes readers
  // of the change feed.
  virtual void AfterCommit() {}
};

}  // namespace idsync::service
