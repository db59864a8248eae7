// LdapSync: the `ldap` connection kind (issue #4). Pulls users and groups from an LDAP server
// (OpenLDAP, Active Directory) into the connection's source mirror and lets layer 2 derive the
// effective directory from it, in the same transactions (DirectoryService::OnMirrorChanged).
//
// - Connection settings live in store::Connection::settings (LdapConfigToJson form); the bind
//   password is sealed with SecretBox and kept in the store's secrets table, never in settings,
//   never printed, never returned.
// - Runs: full (complete paged scan; entries not seen are deprovisioned, but only after a
//   complete scan and within the mass-deprovision guard) or incremental (entries changed since
//   the stored high-water mark, plus an id-only scan for deletions). Each run is a row in
//   sync_runs with counts and progress updated while it runs.
// - Runs of one connection never overlap: an in-process mutex per connection plus a lease row in
//   the store (across processes: the CLI and the server).
// - Test connection / test search write nothing; login sync refreshes one user.
// See docs/ARCHITECTURE.md, "LDAP sync". Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/time.h"
#include "directory/directory_service.h"
#include "store/store.h"
#include "sync/ldap_config.h"
#include "sync/secrets/secret_box.h"

namespace idsync::sync {

struct RunOptions {
  bool full = false;            // full run even if an incremental one would do
  bool confirm = false;         // proceed past the mass-deprovision guard
  std::string trigger = "cli";  // "cli", "schedule", "admin:<name>"
  std::string request_id;
  // How long to wait while another process holds the connection's run lease.
  std::chrono::milliseconds wait_for_lease{std::chrono::minutes(10)};
  // Called once the run row exists (before the scan), with its id.
  std::function<void(int64_t)> on_started;
};

// {"id", "connection", "mode", "trigger", "outcome", "started", "ended", "counts",
//  "progress", "error"}
Json SyncRunToJson(const store::SyncRun& run, const std::string& connection_name);

class LdapSync {
 public:
  // `secrets` seals and opens bind passwords; not owned, must outlive this object.
  LdapSync(store::Store& store, directory::DirectoryService& directory, const SecretBox& secrets,
           const Clock& clock);
  ~LdapSync();

  // Creates an `ldap` connection in `directory` with `settings` (ParseLdapConfig) and the bind
  // password sealed. kInvalidValue (bad name, settings, unknown directory), kUniqueness.
  Result<store::Connection> AddConnection(const std::string& name, const std::string& directory,
                                          const Json& settings, const std::string& password,
                                          const std::string& actor);
  // Changes an ldap connection's settings: `changes` holds the settings to replace (keys of
  // LdapConfigToJson; null restores a setting's default), merged over the stored ones and
  // validated as on add (ParseLdapConfig, CheckForSave). Nothing in the mirror changes: the
  // next run reads with the new settings, and is a full run when the scope changed (url,
  // bind_dn, base_dns, filters, attributes, id/username/change attribute), so entries that came
  // into scope are read. The audit record ("connection.update") names each changed setting
  // with its old and new value (never the password). Unchanged settings write nothing.
  // kNotFound, kInvalidValue (not ldap, bad settings, a bind DN without a stored password).
  struct Update {
    store::Connection connection;
    std::vector<std::string> changed;  // setting names, sorted
  };
  Result<Update> UpdateConnection(const std::string& name, const Json& changes,
                                  const std::string& actor, const std::string& request_id = {});
  // Replaces the sealed bind password. kNotFound, kInvalidValue (not an ldap connection).
  Status SetPassword(const std::string& name, const std::string& password,
                     const std::string& actor);

  // Binds and reads the base DNs; with `username`, also finds that user and shows the raw
  // entry, the source user as the mirror would hold it, the effective attributes and groups
  // the connection's policy would give it. Writes nothing. {"ok": bool, "failure": kind or
  // null, "message", "user": {...} or null}. Errors only for an unknown connection or kind.
  Result<Json> Test(const std::string& name, const std::optional<std::string>& username);

  // One run (full or incremental, see the top of this file); blocks until it ends. The run
  // record is returned whatever the outcome ("succeeded", "failed", "needs_confirmation").
  // Errors (no run recorded): kNotFound, kInvalidValue (not ldap, disabled, bad settings),
  // kUnavailable (another process holds the lease past wait_for_lease, or the store fails).
  Result<store::SyncRun> Run(const std::string& name, const RunOptions& options);

  // Runs of the connection, newest first.
  Result<std::vector<store::SyncRun>> Runs(const std::string& name, int64_t limit);

  // Sync on login: reads `username` from the server and refreshes that one user (attributes
  // and group memberships) in the mirror and the effective directory. Returns
  // {"connection", "source_user", "mirror": "created"|"updated"|"unchanged",
  //  "effective": <DirectoryService::Explain> or null (not imported: see "warning")}.
  // kNotFound if the server has no such user (nothing is deprovisioned: one lookup is not a
  // complete scan); kUnavailable if the server cannot be read.
  Result<Json> LoginSync(const std::string& name, const std::string& username,
                         const directory::Actor& actor);

  // For the scheduler: the enabled ldap connections whose schedule is due at `now`, and whether
  // the due run should be full.
  struct Due {
    std::string name;
    bool full = false;
  };
  Result<std::vector<Due>> DueRuns(TimePoint now);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace idsync::sync
