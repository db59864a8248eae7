#include "http/request_limits.h"

#include <gtest/gtest.h>

namespace idsync::http {
namespace {

using namespace std::chrono_literals;

const auto kT0 = RequestLimits::Clock::time_point{} + 1000s;

TEST(RequestLimits, FailedAuthenticationsThrottledAfterAllowanceUntilWindowEnds) {
  RequestLimits limits({.auth_failures_before_throttle = 3, .auth_failure_window = 60s});
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limits.AuthenticationFailed("10.0.0.1", kT0)) << i;
  auto refused = limits.AuthenticationFailed("10.0.0.1", kT0 + 10s);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->retry_after, 50);  // the rest of the window that began at the first failure
  EXPECT_NE(refused->message.find("failed authentications"), std::string::npos);
  // Another address has its own allowance.
  EXPECT_FALSE(limits.AuthenticationFailed("10.0.0.2", kT0 + 10s));
  // Failures while throttled do not extend the window...
  EXPECT_TRUE(limits.AuthenticationFailed("10.0.0.1", kT0 + 59s));
  EXPECT_EQ(limits.AuthenticationFailed("10.0.0.1", kT0 + 59s)->retry_after, 1);
  // ...so after it the address starts afresh.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limits.AuthenticationFailed("10.0.0.1", kT0 + 61s));
  EXPECT_TRUE(limits.AuthenticationFailed("10.0.0.1", kT0 + 61s));
}

TEST(RequestLimits, ThrottledReportsThePastAllowanceStateWithoutCounting) {
  RequestLimits limits({.auth_failures_before_throttle = 2, .auth_failure_window = 60s});
  EXPECT_FALSE(limits.Throttled("10.0.0.1", kT0));
  EXPECT_FALSE(limits.AuthenticationFailed("10.0.0.1", kT0));
  EXPECT_FALSE(limits.Throttled("10.0.0.1", kT0));
  EXPECT_FALSE(limits.AuthenticationFailed("10.0.0.1", kT0));
  // Asking does not count: still two failures, and the allowance is used up.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limits.Throttled("10.0.0.1", kT0 + 1s));
  EXPECT_FALSE(limits.Throttled("10.0.0.2", kT0 + 1s));
  EXPECT_FALSE(limits.Throttled("10.0.0.1", kT0 + 61s));  // the window ended
}

TEST(RequestLimits, SignInFailuresCountPerUserApartFromAddresses) {
  RequestLimits limits({.auth_failures_before_throttle = 2, .auth_failure_window = 60s});
  // Failures for one user from many addresses add up for that user...
  EXPECT_FALSE(limits.SignInFailed("alice", kT0));
  EXPECT_FALSE(limits.SignInFailed("alice", kT0 + 1s));
  EXPECT_TRUE(limits.SignInThrottled("alice", kT0 + 2s));
  auto refused = limits.SignInFailed("alice", kT0 + 2s);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->retry_after, 58);
  EXPECT_NE(refused->message.find("sign-ins for this user"), std::string::npos);
  // ...and neither touch another user nor an address of the same spelling.
  EXPECT_FALSE(limits.SignInThrottled("bob", kT0 + 2s));
  EXPECT_FALSE(limits.Throttled("alice", kT0 + 2s));
  EXPECT_FALSE(limits.SignInThrottled("alice", kT0 + 61s));
}

TEST(RequestLimits, ThrottledAddressStillAdmittedWithAValidCredential) {
  // The throttle is consulted only on failure: the steps a valid request takes (address, then
  // its credential) do not look at the failure count.
  RequestLimits limits({.auth_failures_before_throttle = 1});
  limits.AuthenticationFailed("10.0.0.1", kT0);
  ASSERT_TRUE(limits.AuthenticationFailed("10.0.0.1", kT0));
  EXPECT_FALSE(limits.AdmitAddress("10.0.0.1", kT0));
  EXPECT_FALSE(limits.AdmitApiToken("console", kT0));
  EXPECT_FALSE(limits.AdmitConnection("c-uuid", "entra", kT0));
}

TEST(RequestLimits, ZeroAllowanceTurnsTheThrottleOff) {
  RequestLimits limits({.auth_failures_before_throttle = 0});
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(limits.AuthenticationFailed("10.0.0.1", kT0));
}

TEST(RequestLimits, EachCredentialKindHasItsOwnRateAndMessage) {
  RequestLimits limits({.rate_per_address = 0, .rate_per_connection = 1, .rate_per_api_token = 2});
  // Burst is twice the rate.
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(limits.AdmitConnection("c-uuid", "entra", kT0));
  auto c = limits.AdmitConnection("c-uuid", "entra", kT0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->retry_after, 1);
  EXPECT_EQ(c->message, "too many requests for connection \"entra\"; retry after 1 s");
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(limits.AdmitApiToken("app", kT0));
  auto t = limits.AdmitApiToken("app", kT0);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->message, "too many requests for token \"app\"; retry after 1 s");
  EXPECT_FALSE(limits.AdmitApiToken("other-app", kT0));
  // rate_per_address 0: no address limit.
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(limits.AdmitAddress("10.0.0.1", kT0));
}

TEST(RequestLimits, RefusedRequestsCostNothingSoWaitingRetryAfterAlwaysWorks) {
  // A consumer that keeps asking while refused (a long-poll loop ignoring Retry-After) must not
  // push its recovery further away: after Retry-After seconds it is served.
  RequestLimits limits({.rate_per_address = 1});
  EXPECT_FALSE(limits.AdmitAddress("10.0.0.1", kT0));
  EXPECT_FALSE(limits.AdmitAddress("10.0.0.1", kT0));
  auto refused = limits.AdmitAddress("10.0.0.1", kT0);
  ASSERT_TRUE(refused);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limits.AdmitAddress("10.0.0.1", kT0 + 100ms));
  EXPECT_FALSE(limits.AdmitAddress("10.0.0.1", kT0 + std::chrono::seconds(refused->retry_after)));
}

TEST(RequestLimits, FailureCountersStayBoundedUnderAddressSpray) {
  RequestLimits limits({.auth_failures_before_throttle = 1}, /*max_keys=*/100);
  for (int i = 0; i < 10000; ++i) limits.AuthenticationFailed("a" + std::to_string(i), kT0);
  // Expired counters are dropped first: a fresh throttle on one address still works after it.
  limits.AuthenticationFailed("victim", kT0 + 120s);
  EXPECT_TRUE(limits.AuthenticationFailed("victim", kT0 + 120s));
}

}  // namespace
}  // namespace idsync::http
