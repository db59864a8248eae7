// The persistence interface: Transaction (the composition of the per-area interfaces in
// store/*_area.h) and Store. Only store back-ends speak SQL; everything else sees this.
// SqliteStore (store/sqlite) is the embedded default; a PostgreSQL back-end implements the
// same interface later (see docs/ARCHITECTURE.md, "Store").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"
#include "scim/types.h"
#include "store/api_token_area.h"
#include "store/audit_area.h"
#include "store/change_feed_area.h"
#include "store/conflict_area.h"
#include "store/connection_area.h"
#include "store/console_area.h"
#include "store/effective_group_area.h"
#include "store/effective_user_area.h"
#include "store/encoded_body.h"
#include "store/ldap_area.h"
#include "store/link_area.h"
#include "store/member_area.h"
#include "store/mirror_area.h"
#include "store/policy_area.h"
#include "store/secret_area.h"
#include "store/sync_area.h"

namespace idsync::store {

// One unit of work. Everything written through it becomes visible at commit or never.
// Not thread-safe: used by one job at a time. Writes through a read transaction fail with
// kInternal.
//
// The composition of the store's areas, one interface each in its own header (issue #15):
// callers keep writing tx.GetResource(...), and a function that needs one area can take just
// that interface (MirrorArea&, AuditArea&, ...).
class Transaction : public ConnectionArea,
                    public MirrorArea,
                    public MemberArea,
                    public PolicyArea,
                    public EffectiveUserArea,
                    public LinkArea,
                    public EffectiveGroupArea,
                    public ChangeFeedArea,
                    public ConflictArea,
                    public ApiTokenArea,
                    public SyncArea,
                    public SecretArea,
                    public AuditArea {
 public:
  ~Transaction() override = default;

  // --- configuration generation
  // Store::ConfigGeneration() as this transaction sees it: in a write transaction it includes
  // the transaction's own uncommitted changes. So a value read here can be one that is never
  // committed (rolled back, then reused by the next change); callers that cache by it must only
  // fill the cache with values not above Store::ConfigGeneration().
  virtual Result<int64_t> ConfigGeneration() = 0;

  // --- the LDAP server's area (service accounts, LDAP settings, keyset scans, POSIX ids):
  // ldap_area.h. Valid as long as this transaction; reads and writes go through it.
  virtual LdapArea& Ldap() = 0;

  // --- the admin console's area (admin users, sessions): console_area.h.
  virtual ConsoleArea& Console() = 0;
};

// Thread-safe.
class Store {
 public:
  virtual ~Store() = default;

  // Runs `job` on a consistent read snapshot; reads run concurrently with each other and with
  // the writer. Returns the job's status, or kUnavailable if the database cannot be read.
  virtual Status Read(const std::function<Status(Transaction&)>& job) = 0;

  // Runs `job` in a write transaction and returns only once the transaction is durable
  // (committed and synced). Concurrent calls are batched into one commit (group commit); each
  // job runs in its own savepoint, so a job that returns an error rolls back only its own
  // changes and gets its own error back. Jobs run one at a time, in arrival order, so a job
  // sees every change of the jobs before it (no lost updates).
  virtual Status Write(const std::function<Status(Transaction&)>& job) = 0;

  // A number that changes whenever connections or tokens change, by this process or another one
  // (the CLI). Cheap enough to call per request (no transaction in the common case), so that
  // callers can cache what they derive from connections and tokens and still see a change on
  // the next request. kUnavailable if the database cannot be read.
  virtual Result<int64_t> ConfigGeneration() = 0;

  // Calls `wake`, from a thread of the store's and until Close, whenever the change feed may
  // have grown by another process's or instance's commit, so that waiting long polls re-read it.
  // Default: never (SQLite: this process's writes wake waiters directly, other processes' are
  // polled); PostgreSQL: LISTEN/NOTIFY.
  virtual void OnForeignChanges(std::function<void()> wake) { (void)wake; }

  // Readies now what the first requests would otherwise wait for. `serve` calls it before it
  // listens, so that an instance a load balancer adds answers its first requests as fast as the
  // others. An error is only a warning: the store still opens what it needs on first use.
  // Default: nothing to ready (SQLite opens its connections with the store); PostgreSQL: every
  // connection of the pool, each with the hot statements prepared (sql::kHotStatements).
  virtual Status Warm() { return Status::Ok(); }

  // `body` encoded as this store's writes encode a body of `kind` (store/encoded_body.h), on the
  // caller's thread, for a write that hands it back with that same body. Thread-safe.
  // SQLite: the compact JSON compressed against the kind's dictionary; PostgreSQL: the JSON text.
  // Default (a store without encoding of its own, a test's wrapper): nullptr, which a write
  // takes as "encode the body yourself".
  virtual EncodedBodyPtr EncodeBody(BodyKind kind, const Json& body) {
    (void)kind;
    (void)body;
    return nullptr;
  }

  // Stops accepting writes, finishes queued ones, closes the database cleanly. Idempotent.
  virtual void Close() = 0;

  // The scheduler lease (issue #15): true while this instance is the one of those sharing the
  // database that fires scheduled LDAP syncs. Each call takes the lease if it is free and
  // otherwise checks that it is still held (PostgreSQL: a session advisory lock on a connection
  // of its own, one cheap statement; when the holder dies its session ends and the lock frees
  // at once). kUnavailable if the database cannot be reached: the lease is then not held.
  // Default: always held (SQLite: one serving process per database).
  virtual Result<bool> HoldSchedulerLease() { return true; }
  // Gives the lease up, so that another instance takes it on its next try. Idempotent.
  virtual void ReleaseSchedulerLease() {}

  // Write() calls and the transactions that committed them since the store was opened, for
  // /metrics: their ratio is how many writes group commit shares one fsync among. A store
  // that does not count them answers zeros. `reruns`: transactions run again because they
  // lost a serialization conflict to another writer (PostgreSQL; SQLite's one writer never
  // conflicts).
  struct WriteStats {
    int64_t jobs = 0;
    int64_t commits = 0;
    int64_t reruns = 0;
  };
  virtual WriteStats WriteCounts() const { return {}; }
};

}  // namespace idsync::store
