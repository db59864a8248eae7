// PostgresStore's scheduler lease (store.h, HoldSchedulerLease): a session advisory lock
// (kSchedulerLock) on a connection of its own. The lock lives as long as that connection's
// session: when the holding instance dies (even SIGKILL) PostgreSQL ends the session and frees
// the lock at once, so the next instance to try takes it on its next scheduler tick. See
// docs/ARCHITECTURE.md, "The scheduler lease".
#include <string>

#include "store/postgres/migrations.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/queries.h"

namespace idsync::store::postgres {

Result<bool> PostgresStore::HoldSchedulerLease() {
  std::lock_guard lease_lock(lease_mu_);
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      lease_conn_.reset();
      lease_held_ = false;
      return false;
    }
  }
  if (lease_conn_ && !lease_conn_->Healthy()) {
    lease_conn_.reset();
    lease_held_ = false;
  }
  if (!lease_conn_) {
    auto conn = PgConnection::Open(url_);
    if (!conn) return conn.error();
    lease_conn_ = std::move(*conn);
  }
  const std::vector<PgParam> key{std::to_string(kSchedulerLock)};
  // Holding: ask the server whether this session still has the lock (the connection may have
  // been lost or its backend terminated: then the lock is gone and another instance may have
  // it). Not holding: try to take it, without waiting.
  auto r = lease_held_
               ? lease_conn_->Exec(sql::kHoldsAdvisoryLock, key, "check the scheduler lease")
               : lease_conn_->Exec(sql::kTryAdvisoryLock, key, "take the scheduler lease");
  if (!r) {
    // Whatever the session held ends with it; a new connection tries again next time.
    lease_conn_.reset();
    lease_held_ = false;
    return r.error();
  }
  lease_held_ = r->Rows() == 1 && r->Text(0, 0) == "t";
  return lease_held_;
}

void PostgresStore::ReleaseSchedulerLease() {
  std::lock_guard lease_lock(lease_mu_);
  if (lease_conn_ && lease_held_) {
    // Unlocked here rather than by the end of the session: PostgreSQL ends a closed session
    // asynchronously, and until it has, another instance trying at once would still find the
    // lock taken. (If this fails, closing the connection below frees it all the same.)
    (void)lease_conn_->Exec(sql::kAdvisoryUnlock, {std::to_string(kSchedulerLock)},
                            "give the scheduler lease up");
  }
  lease_conn_.reset();  // ends the session, which frees whatever advisory lock it still holds
  lease_held_ = false;
}

}  // namespace idsync::store::postgres
