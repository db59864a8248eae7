#include "http/rate_limit.h"

#include <gtest/gtest.h>

namespace idsync::http {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, AllowsBurstThenRefusesWithRetryAfter) {
  RateLimiter limiter(2.0, 3.0);
  auto t0 = RateLimiter::Clock::time_point{} + 100s;
  int64_t retry = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("a", retry, t0)) << i;
  EXPECT_FALSE(limiter.Allow("a", retry, t0));
  EXPECT_EQ(retry, 1);
  // Another key has its own bucket.
  EXPECT_TRUE(limiter.Allow("b", retry, t0));
  // Half a second refills one token at 2/s.
  EXPECT_TRUE(limiter.Allow("a", retry, t0 + 500ms));
  EXPECT_FALSE(limiter.Allow("a", retry, t0 + 500ms));
}

TEST(RateLimiter, SetRateAppliesFromTheNextRequest) {
  RateLimiter limiter(0, 0);  // off
  auto t0 = RateLimiter::Clock::time_point{} + 100s;
  int64_t retry = 0;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.Allow("a", retry, t0)) << i;
  limiter.SetRate(1.0, 2.0);
  EXPECT_TRUE(limiter.enabled());
  EXPECT_TRUE(limiter.Allow("a", retry, t0));
  EXPECT_TRUE(limiter.Allow("a", retry, t0));
  EXPECT_FALSE(limiter.Allow("a", retry, t0));
  // A lower burst caps the tokens a bucket already holds.
  RateLimiter fast(100.0, 100.0);
  EXPECT_TRUE(fast.Allow("b", retry, t0));
  fast.SetRate(1.0, 1.0);
  EXPECT_TRUE(fast.Allow("b", retry, t0));
  EXPECT_FALSE(fast.Allow("b", retry, t0));
  fast.SetRate(0, 0);
  EXPECT_FALSE(fast.enabled());
  EXPECT_TRUE(fast.Allow("b", retry, t0));
}

TEST(RateLimiter, RetryAfterCoversSlowRates) {
  RateLimiter limiter(0.1, 1.0);  // one request every ten seconds
  auto t0 = RateLimiter::Clock::time_point{} + 100s;
  int64_t retry = 0;
  EXPECT_TRUE(limiter.Allow("a", retry, t0));
  EXPECT_FALSE(limiter.Allow("a", retry, t0));
  EXPECT_EQ(retry, 10);
}

TEST(RateLimiter, ZeroRateDisables) {
  RateLimiter limiter(0, 1);
  int64_t retry = 0;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.Allow("a", retry));
  EXPECT_FALSE(limiter.enabled());
}

TEST(RateLimiter, MemoryStaysBoundedUnderKeySpray) {
  RateLimiter limiter(1.0, 1.0, 100);
  auto t0 = RateLimiter::Clock::time_point{} + 100s;
  int64_t retry = 0;
  for (int i = 0; i < 10000; ++i) limiter.Allow("k" + std::to_string(i), retry, t0);
  // A throttled key stays throttled while the map is below its bound.
  RateLimiter small(1.0, 1.0, 100);
  EXPECT_TRUE(small.Allow("x", retry, t0));
  EXPECT_FALSE(small.Allow("x", retry, t0));
}

}  // namespace
}  // namespace idsync::http
