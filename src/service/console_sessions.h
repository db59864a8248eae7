// Sign-in sessions of the admin console (issue #12). A session id is 256 bits from the CSPRNG;
// the browser holds it in a cookie, the store only its SHA-256, so a copy of the data folder
// opens no session. A session ends at logout, after `idle` without a request, `lifetime` after
// sign-in whatever its use, when its user is removed (the row cascades) and when the user's
// password is reset or changed elsewhere. Every check reads the store, so a removal by the CLI
// in another process takes effect on the next request. Thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/time.h"
#include "store/store.h"

namespace idsync::service {

struct SessionTimeouts {
  std::chrono::seconds idle{std::chrono::minutes(30)};
  std::chrono::seconds lifetime{std::chrono::hours(12)};
};

struct ActiveSession {
  std::string id_hash;     // SHA-256 hex of the id; what the store keys it by
  std::string csrf_token;  // derived from the id; sent back in X-CSRF-Token on every write
  store::AdminUser user;
};

class ConsoleSessions {
 public:
  ConsoleSessions(store::Store& store, const Clock& clock, SessionTimeouts timeouts = {})
      : store_(store), clock_(clock), timeouts_(timeouts) {}

  // A new session of `user`; returns its id (the cookie value), never stored. Audited
  // ("console.login") with `address` and `request_id`. Also drops expired sessions.
  Result<std::string> Start(const store::AdminUser& user, const std::string& address,
                            const std::string& request_id);

  // The session `id` names, with its user as now stored; kUnauthorized if there is none, it
  // has expired (idle or lifetime) or its user is gone. Records the use (at most one write a
  // minute per session, so that reading is not a write per request).
  Result<ActiveSession> Check(std::string_view id);

  // Audits a refused sign-in ("console.login" with `status`, 401 or 429) naming the user name
  // tried and the address, never the password. Best effort: a store failure is not the
  // caller's problem (the sign-in is refused either way).
  void SignInFailed(const std::string& name, const std::string& address,
                    const std::string& request_id, int status);

  // Ends the session; unknown ids are fine. Audited ("console.logout") when one ended.
  Status End(std::string_view id, const std::string& request_id);

  // The CSRF token of session `id`: SHA-256 of a label and the id. It reveals nothing of the id
  // (one-way) and needs nothing stored.
  static std::string CsrfTokenOf(std::string_view id);
  static std::string HashOf(std::string_view id);

  const SessionTimeouts& timeouts() const { return timeouts_; }

 private:
  store::Store& store_;
  const Clock& clock_;
  SessionTimeouts timeouts_;
};

}  // namespace idsync::service
