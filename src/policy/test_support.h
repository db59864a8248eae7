// Helpers the policy tests share: JSON and policies from literals. Test code only.
#pragma once

#include <gtest/gtest.h>

#include "base/json.h"
#include "policy/policy.h"

namespace idsync::policy::test_support {

inline Json J(const char* text) {
  return Json::parse(text);
}

// The policy `json` describes; a test failure (and the default policy) if it does not parse.
inline Policy Parse(const char* json, const PolicyContext& ctx = {}) {
  auto p = ParsePolicy(J(json), ctx);
  EXPECT_TRUE(p) << p.error().detail;
  return p ? *p : DefaultPolicy(ctx);
}

}  // namespace idsync::policy::test_support
