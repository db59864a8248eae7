// The admin console's share of the store (issue #12): local admin users and their sign-in
// sessions. Reached through Transaction::Console().
//
// A session row holds the SHA-256 of the session id, never the id itself, so the data folder
// holds nothing a browser could present. Sessions cascade on their user: removing a user (or
// DeleteSessionsOf, as a password reset does) ends its sessions on the next request, in this
// process and in any other that reads the same database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/time.h"

namespace idsync::store {

// A person who signs in to the console.
struct AdminUser {
  int64_t id = 0;                    // assigned by the store
  std::string name;                  // unique, compared exactly
  std::string role;                  // "admin" (may change everything) | "viewer" (reads only)
  std::string hash;                  // argon2id in PHC string form; never the password
  bool must_change_password = true;  // set by add and reset: the password was a one-time one
  TimePoint created;
  TimePoint password_changed;  // when the hash was last set
};

struct ConsoleSession {
  std::string id_hash;  // SHA-256 hex of the session id (the cookie value)
  int64_t user_id = 0;
  TimePoint created;
  TimePoint last_seen;
};

// One hour of a connection's provisioning activity (the Overview chart), derived from the audit
// log and the change feed, so it covers every process that wrote and survives restarts.
struct HourlyActivity {
  int64_t hour = 0;      // start of the hour, Unix milliseconds (a multiple of 3,600,000)
  int64_t requests = 0;  // provisioning audit records: SCIM operations (done or refused), LDAP runs
  int64_t errors = 0;    // of which with status >= 400
  int64_t changes = 0;   // change-feed entries of the connection's directory
};

class ConsoleArea {
 public:
  virtual ~ConsoleArea() = default;

  // --- admin users
  virtual Result<AdminUser> CreateAdminUser(const AdminUser& user) = 0;  // kUniqueness on name
  virtual Result<AdminUser> GetAdminUser(const std::string& name) = 0;   // kNotFound
  virtual Result<AdminUser> GetAdminUserById(int64_t id) = 0;            // kNotFound
  virtual Result<std::vector<AdminUser>> ListAdminUsers() = 0;           // by name
  // Replaces hash, must_change_password and sets password_changed. kNotFound.
  virtual Status SetAdminPassword(const std::string& name, const std::string& hash,
                                  bool must_change, TimePoint changed) = 0;
  virtual Status DeleteAdminUser(const std::string& name) = 0;  // kNotFound; sessions go too

  // --- sessions
  virtual Status CreateSession(const ConsoleSession& session) = 0;
  virtual Result<ConsoleSession> GetSession(const std::string& id_hash) = 0;  // kNotFound
  virtual Status TouchSession(const std::string& id_hash, TimePoint last_seen) = 0;
  virtual Status DeleteSession(const std::string& id_hash) = 0;  // none: Ok
  // Every session of the user but the one whose hash is `except_hash` ("": all of them).
  virtual Status DeleteSessionsOf(int64_t user_id, const std::string& except_hash) = 0;
  // Sessions idle since before `idle_before` or created before `created_before`; returns how
  // many were deleted.
  virtual Result<int64_t> DeleteExpiredSessions(TimePoint idle_before,
                                                TimePoint created_before) = 0;

  // --- activity (Overview)
  // The hours since `since` that have any activity, oldest first. Reads the audit log through
  // its time index and the directory's change feed from the first entry at or after `since`
  // (found by a binary search on seq, which grows with time), so the cost follows the window,
  // not the size of either table.
  virtual Result<std::vector<HourlyActivity>> ActivityByHour(int64_t connection_id,
                                                             const std::string& directory,
                                                             TimePoint since) = 0;
  // When the connection's newest provisioning audit record (as counted in `requests`) was
  // written; nullopt if it has none.
  virtual Result<std::optional<TimePoint>> LastAuditTime(int64_t connection_id) = 0;
};

}  // namespace idsync::store
