#include "http/request_limits.h"

#include <algorithm>

namespace idsync::http {

namespace {

Refusal TooMany(std::string what, int64_t retry_after) {
  return Refusal{
      "too many requests " + what + "; retry after " + std::to_string(retry_after) + " s",
      retry_after};
}

}  // namespace

RequestLimits::RequestLimits(RequestLimitOptions options, size_t max_keys)
    : auth_failures_before_throttle_(options.auth_failures_before_throttle),
      auth_failure_window_(options.auth_failure_window),
      max_keys_(max_keys),
      per_address_(options.rate_per_address, 2 * options.rate_per_address, max_keys),
      per_connection_(options.rate_per_connection, 2 * options.rate_per_connection, max_keys),
      per_api_token_(options.rate_per_api_token, 2 * options.rate_per_api_token, max_keys) {}

void RequestLimits::SetOptions(const RequestLimitOptions& options) {
  per_address_.SetRate(options.rate_per_address, 2 * options.rate_per_address);
  per_connection_.SetRate(options.rate_per_connection, 2 * options.rate_per_connection);
  per_api_token_.SetRate(options.rate_per_api_token, 2 * options.rate_per_api_token);
  auth_failures_before_throttle_.store(options.auth_failures_before_throttle,
                                       std::memory_order_relaxed);
}

std::optional<Refusal> RequestLimits::AdmitAddress(const std::string& address,
                                                   Clock::time_point now) {
  int64_t retry_after = 0;
  if (per_address_.Allow(address, retry_after, now)) return std::nullopt;
  return TooMany("from this address", retry_after);
}

std::optional<Refusal> RequestLimits::AuthenticationFailed(const std::string& address,
                                                           Clock::time_point now) {
  return Failed(address,
                "too many failed authentications from this address; retry later with a valid "
                "token",
                now);
}

// Console user names live in the same table as addresses under a key no address can have
// (addresses never hold a newline), so one cap and one expiry rule cover both.
std::optional<Refusal> RequestLimits::SignInFailed(const std::string& user, Clock::time_point now) {
  return Failed("user\n" + user, "too many failed sign-ins for this user; wait before trying again",
                now);
}

bool RequestLimits::SignInThrottled(const std::string& user, Clock::time_point now) {
  return Throttled("user\n" + user, now);
}

std::optional<Refusal> RequestLimits::Failed(const std::string& key, const std::string& message,
                                             Clock::time_point now) {
  const std::string& address = key;
  const int allowance = auth_failures_before_throttle_.load(std::memory_order_relaxed);
  if (allowance <= 0) return std::nullopt;
  const auto window = auth_failure_window_;
  std::lock_guard lock(failures_mu_);
  auto it = failures_.find(address);
  if (it != failures_.end() && now - it->second.window_start > window) {
    failures_.erase(it);
    it = failures_.end();
  }
  if (it == failures_.end()) {
    MakeRoomForNewKey(failures_, max_keys_,
                      [&](const auto& kv) { return now - kv.second.window_start > window; });
    it = failures_.emplace(address, Failures{now, 0}).first;
  }
  Failures& f = it->second;
  if (++f.count <= allowance) return std::nullopt;
  // Fixed window from the first failure: failures while throttled do not extend it, so the
  // address gets its 401s back when the window ends, however long a guesser kept going.
  auto left = std::chrono::duration_cast<std::chrono::seconds>(window - (now - f.window_start));
  return Refusal{message, std::max<int64_t>(1, left.count())};
}

bool RequestLimits::Throttled(const std::string& address, Clock::time_point now) {
  const int allowance = auth_failures_before_throttle_.load(std::memory_order_relaxed);
  if (allowance <= 0) return false;
  std::lock_guard lock(failures_mu_);
  auto it = failures_.find(address);
  if (it == failures_.end() || now - it->second.window_start > auth_failure_window_) {
    return false;
  }
  return it->second.count >= allowance;
}

std::optional<Refusal> RequestLimits::AdmitConnection(const std::string& uuid,
                                                      std::string_view name,
                                                      Clock::time_point now) {
  int64_t retry_after = 0;
  if (per_connection_.Allow(uuid, retry_after, now)) return std::nullopt;
  return TooMany("for connection \"" + std::string(name) + "\"", retry_after);
}

std::optional<Refusal> RequestLimits::AdmitApiToken(const std::string& name,
                                                    Clock::time_point now) {
  int64_t retry_after = 0;
  if (per_api_token_.Allow(name, retry_after, now)) return std::nullopt;
  return TooMany("for token \"" + name + "\"", retry_after);
}

}  // namespace idsync::http
