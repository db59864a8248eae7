// The request limits the three authenticated faces of the server share: SCIM (/scim/v2,
// connection tokens), the admin API (/api/v1, admin tokens) and the read API (/directory/v2,
// read and admin tokens). One object serves all three, so a client address has one request
// budget and one allowance of failed authentications whichever API it calls; each API only
// renders a refusal in its own error format (429 with Retry-After).
//
// The order every API follows, and why:
//   1. AdmitAddress before the credential is looked at: bounds what one address can make the
//      server do, token lookups included, valid token or not.
//   2. AuthenticationFailed when the API would answer 401 (no token, an unknown one, one of
//      another kind that is not looked up): past `auth_failures_before_throttle` in the window
//      the answer is 429 instead. A request with a valid token never reaches this step, so a
//      legitimate client behind the same address (a NAT, a proxy) is not slowed. A valid token
//      that is refused for its scope (403: a read token on /api/v1, a disabled connection) is
//      not a failed authentication: its holder is not guessing.
//   3. AdmitConnection / AdmitApiToken once the credential is known: its own bucket.
// A refused request takes nothing from any bucket, so a client that waits Retry-After seconds
// is always served next (a long-polling feed consumer cannot lock itself out by being refused).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/rate_limit.h"

namespace idsync::http {

struct RequestLimitOptions {
  // Requests per second (token bucket, burst twice the rate); 0 turns that limit off.
  double rate_per_address = 2000;     // per client address, the three APIs together
  double rate_per_connection = 1000;  // per SCIM connection (its tokens together)
  double rate_per_api_token = 1000;   // per admin or read token
  // Failed authentications per client address within the window before further failures from
  // it are answered 429 (until the window, which starts at its first failure, ends).
  int auth_failures_before_throttle = 10;
  std::chrono::seconds auth_failure_window{60};
};

// A refused request: the API answers 429 with `message` in its error body and
// "Retry-After: <retry_after>".
struct Refusal {
  std::string message;
  int64_t retry_after = 1;  // whole seconds, at least 1
};

// Thread-safe. Memory is bounded: buckets as RateLimiter, failure counters by a cap past which
// expired ones are dropped (and, if all are live, all of them: an address-spraying attacker
// makes the throttle forget, never the process grow).
class RequestLimits {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RequestLimits(RequestLimitOptions options = {}, size_t max_keys = 100000);

  // Step 1 (see above): one request from `address`; nullopt if it may proceed.
  std::optional<Refusal> AdmitAddress(const std::string& address,
                                      Clock::time_point now = Clock::now());

  // Step 2: records a failed authentication from `address`. nullopt: answer the API's 401 as
  // usual; a Refusal: the address is past its allowance, answer 429 instead.
  std::optional<Refusal> AuthenticationFailed(const std::string& address,
                                              Clock::time_point now = Clock::now());

  // Whether `address` is past its allowance of failed authentications now (records nothing).
  // The LDAP server asks before a pass-through bind, so that a throttled address cannot use
  // idsync to guess passwords on the source directory (or lock its accounts out).
  bool Throttled(const std::string& address, Clock::time_point now = Clock::now());

  // The admin console's sign-in (http/console) counts a failed sign-in against the address
  // (AuthenticationFailed) and against the user name it named, with the same allowance and
  // window, so that guessing one user's password from many addresses is throttled too. The
  // price, a user locked out for the window by someone else's failures, is bounded by the
  // window (60 s by default) and is what every per-account throttle costs.
  std::optional<Refusal> SignInFailed(const std::string& user,
                                      Clock::time_point now = Clock::now());
  bool SignInThrottled(const std::string& user, Clock::time_point now = Clock::now());

  // Step 3: one request of the SCIM connection `uuid` (`name` is for the message only).
  std::optional<Refusal> AdmitConnection(const std::string& uuid, std::string_view name,
                                         Clock::time_point now = Clock::now());
  // Step 3: one request with the admin or read token named `name` (names are unique).
  std::optional<Refusal> AdmitApiToken(const std::string& name,
                                       Clock::time_point now = Clock::now());

  // New rates and allowance from the next request on (configuration reload, SIGHUP). The
  // failure window is kept.
  void SetOptions(const RequestLimitOptions& options);

 private:
  struct Failures {
    Clock::time_point window_start;
    int count = 0;
  };

  std::optional<Refusal> Failed(const std::string& key, const std::string& message,
                                Clock::time_point now);

  std::atomic<int> auth_failures_before_throttle_;
  const std::chrono::seconds auth_failure_window_;
  size_t max_keys_;
  RateLimiter per_address_;
  RateLimiter per_connection_;
  RateLimiter per_api_token_;
  std::mutex failures_mu_;
  std::unordered_map<std::string, Failures> failures_;
};

}  // namespace idsync::http
