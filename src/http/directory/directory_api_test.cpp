// DirectoryApi in process, over a real SqliteStore in a temporary folder: routing, auth, the
// read-only rule, the change feed and the long-poll cap. The SCIM-to-effective-directory path
// end to end is covered by tests/e2e/test_read_api.py.
#include "http/directory/directory_api.h"

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/strings.h"
#include "directory/render.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/test_support.h"

namespace idsync::http {
namespace {

using store::sqlite::test_support::TempDir;

using namespace std::chrono_literals;

class DirectoryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::sqlite::SqliteStore::Open(dir_.path(), {});
    ASSERT_TRUE(opened) << opened.error().detail;
    store_ = std::move(*opened);
    reader_ = std::make_unique<directory::DirectoryReader>(*store_);
    directories_ = std::make_unique<directory::DirectoryService>(*store_, SystemClock::Instance());
    tokens_ = std::make_unique<service::ApiTokens>(*store_, SystemClock::Instance());
    UseLimits({});
    admin_ = Token("admin1", "admin", "");
    users_reader_ = Token("app1", "read", "users");
    customers_reader_ = Token("app2", "read", "customers");
  }
  void TearDown() override { store_->Close(); }

  void UseLimits(RequestLimitOptions options) {
    api_.reset();
    limits_ = std::make_unique<RequestLimits>(options);
    api_ = std::make_unique<DirectoryApi>(*reader_, *directories_, *tokens_, *store_, *limits_,
                                          "https://idsync.test", /*max_long_polls=*/1);
  }

  std::string Token(const std::string& name, const std::string& kind, const std::string& dir) {
    auto t = tokens_->Add(name, kind, dir, "test");
    EXPECT_TRUE(t) << t.error().detail;
    return t ? t->secret : "";
  }

  void AddUser(const std::string& id, const std::string& username) {
    ASSERT_TRUE(store_->Write([&](store::Transaction& tx) -> Status {
      store::EffectiveUserRow row;
      row.directory = "users";
      row.id = id;
      row.username = username;
      row.username_key = FoldCase(username);
      row.state = "active";
      row.body = {{"attributes", {{"username", {{"value", username}}}}}};
      row.created = row.last_modified = SystemClock::Instance().Now();
      auto put = tx.PutEffectiveUser(row);
      if (!put) return put.error();
      store::ChangeRecord c;
      c.time = row.created;
      c.directory = "users";
      c.type = "User";
      c.op = "upsert";
      c.id = id;
      c.resource = directory::RenderUserCore(*put);
      auto seq = tx.AppendChange(c);
      return seq ? Status::Ok() : Status(seq.error());
    }));
  }

  Response Get(const std::string& target, const std::string& token,
               const std::string& method = "GET") {
    Request r;
    r.method = method;
    r.target = target;
    size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string_view rest = std::string_view(target).substr(q + 1);
      while (!rest.empty()) {
        size_t amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        size_t eq = pair.find('=');
        r.query.emplace_back(std::string(pair.substr(0, eq)),
                             eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
      }
    }
    if (!token.empty()) r.headers.emplace_back("authorization", "Bearer " + token);
    r.headers.emplace_back("host", "ignored.example");
    r.remote_address = remote_address_;
    return api_->Handle(r);
  }

  static Json Body(const Response& r) {
    auto j = ParseJsonStrict(r.body);
    EXPECT_TRUE(j) << r.body;
    return j ? *j : Json();
  }

  TempDir dir_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  std::unique_ptr<directory::DirectoryReader> reader_;
  std::unique_ptr<directory::DirectoryService> directories_;
  std::unique_ptr<service::ApiTokens> tokens_;
  std::unique_ptr<RequestLimits> limits_;
  std::unique_ptr<DirectoryApi> api_;
  std::string remote_address_ = "127.0.0.1";
  std::string admin_, users_reader_, customers_reader_;
};

TEST_F(DirectoryApiTest, AuthenticatesAndScopesTokens) {
  AddUser("u1", "alice");
  EXPECT_EQ(Get("/directory/v2/users/Users", "").status, 401);
  EXPECT_EQ(Get("/directory/v2/users/Users", "idsync_read_garbagegarbagegarbage").status, 401);
  EXPECT_EQ(Get("/directory/v2/users/Users", customers_reader_).status, 403);
  EXPECT_EQ(Get("/directory/v2/customers/Users", customers_reader_).status, 200);
  Response ok = Get("/directory/v2/users/Users", users_reader_);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Body(ok)["totalResults"], 1);
  EXPECT_EQ(Body(ok)["Resources"][0]["meta"]["location"],
            "https://idsync.test/directory/v2/users/Users/u1");
  EXPECT_EQ(Get("/directory/v2/users/Users/u1", admin_).status, 200);
  EXPECT_EQ(Get("/directory/v2/customers/Users/u1", admin_).status, 404);
  EXPECT_EQ(Get("/directory/v2/nosuch/Users", admin_).status, 404);

  ASSERT_TRUE(tokens_->Remove("app1", "test"));
  EXPECT_EQ(Get("/directory/v2/users/Users", users_reader_).status, 401);  // at once
}

std::string HeaderOf(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST_F(DirectoryApiTest, FailedAuthenticationsThrottledPerAddressValidTokenStillServed) {
  UseLimits({.auth_failures_before_throttle = 2});
  EXPECT_EQ(Get("/directory/v2/users/Users", "").status, 401);
  EXPECT_EQ(Get("/directory/v2/users/Users", "idsync_read_wrongwrongwrongwrong").status, 401);
  Response throttled = Get("/directory/v2/users/Users", "idsync_scim_wrongkindwrongkind");
  ASSERT_EQ(throttled.status, 429) << throttled.body;
  EXPECT_EQ(Body(throttled)["status"], "429");  // a SCIM error, like every read-API error
  EXPECT_GE(std::stoi(HeaderOf(throttled, "Retry-After")), 1);
  // A valid token from the same address is served at once, and a token valid but for another
  // directory (403) is not a failed authentication: it stays 403.
  EXPECT_EQ(Get("/directory/v2/users/Users", users_reader_).status, 200);
  EXPECT_EQ(Get("/directory/v2/users/Users", customers_reader_).status, 403);
  // Another address has its own allowance.
  remote_address_ = "192.0.2.7";
  EXPECT_EQ(Get("/directory/v2/users/Users", "").status, 401);
}

TEST_F(DirectoryApiTest, RateLimitsPerTokenAndPerAddressWithRetryAfter) {
  UseLimits({.rate_per_address = 0, .rate_per_api_token = 1});  // burst 2
  EXPECT_EQ(Get("/directory/v2/users/Users", users_reader_).status, 200);
  EXPECT_EQ(Get("/directory/v2/users/changes", users_reader_).status, 200);
  Response limited = Get("/directory/v2/users/Users", users_reader_);
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(Body(limited)["status"], "429");
  EXPECT_EQ(HeaderOf(limited, "Retry-After"), "1");
  EXPECT_EQ(Get("/directory/v2/users/Users", admin_).status, 200);  // its own bucket

  UseLimits({.rate_per_address = 1, .rate_per_api_token = 0});
  remote_address_ = "192.0.2.8";
  EXPECT_EQ(Get("/directory/v2/users/Users", users_reader_).status, 200);
  EXPECT_EQ(Get("/directory/v2/users/Users", admin_).status, 200);
  limited = Get("/directory/v2/users/Users", admin_);  // any token: the address is over
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(HeaderOf(limited, "Retry-After"), "1");
  remote_address_ = "192.0.2.9";
  EXPECT_EQ(Get("/directory/v2/users/Users", admin_).status, 200);
}

TEST_F(DirectoryApiTest, IsReadOnly) {
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE"}) {
    Response r = Get("/directory/v2/users/Users", admin_, method);
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(Body(r)["status"], "405");
  }
  EXPECT_EQ(Get("/directory/v2/users/Nope", admin_).status, 404);
}

TEST_F(DirectoryApiTest, EtagIsTheVersion) {
  AddUser("u1", "alice");
  Response r = Get("/directory/v2/users/Users/u1", admin_);
  ASSERT_EQ(r.status, 200);
  std::string etag;
  for (const auto& [k, v] : r.headers) {
    if (k == "ETag") etag = v;
  }
  EXPECT_EQ(etag, "W/\"1\"");
}

TEST_F(DirectoryApiTest, ChangeFeedPagesWithCursor) {
  AddUser("u1", "alice");
  AddUser("u2", "bob");
  Response all = Get("/directory/v2/users/changes?since=0", users_reader_);
  ASSERT_EQ(all.status, 200) << all.body;
  Json j = Body(all);
  ASSERT_EQ(j["changes"].size(), 2u);
  EXPECT_EQ(j["next"], j["last"]);
  int64_t first = j["changes"][0]["seq"].get<int64_t>();

  Json page = Body(Get("/directory/v2/users/changes?since=0&limit=1", users_reader_));
  ASSERT_EQ(page["changes"].size(), 1u);
  EXPECT_EQ(page["next"], first);
  Json rest =
      Body(Get("/directory/v2/users/changes?since=" + std::to_string(first), users_reader_));
  ASSERT_EQ(rest["changes"].size(), 1u);
  EXPECT_EQ(rest["changes"][0]["id"], "u2");

  Json none = Body(Get("/directory/v2/customers/changes?since=0", admin_));
  EXPECT_EQ(none["changes"].size(), 0u);
  EXPECT_EQ(none["next"], 0);

  for (const char* bad : {"since=-1", "since=abc", "limit=0", "wait=-1", "wait=x"}) {
    Response r = Get(std::string("/directory/v2/users/changes?") + bad, users_reader_);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(Body(r)["scimType"], "invalidValue") << bad;
  }
}

TEST_F(DirectoryApiTest, LongPollIsWokenAndCapped) {
  AddUser("u1", "alice");
  Json j = Body(Get("/directory/v2/users/changes?since=0", admin_));
  std::string since = std::to_string(j["last"].get<int64_t>());

  auto waiting = std::async(std::launch::async, [&] {
    return Get("/directory/v2/users/changes?wait=20&since=" + since, admin_);
  });
  auto until = std::chrono::steady_clock::now() + 10s;
  while (api_->active_long_polls() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(api_->active_long_polls(), 1);

  // The cap is 1: a second long poll is answered at once, empty, with Retry-After.
  auto t0 = std::chrono::steady_clock::now();
  Response refused = Get("/directory/v2/users/changes?wait=20&since=" + since, admin_);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(refused.status, 200);
  EXPECT_EQ(Body(refused)["changes"].size(), 0u);
  bool retry_after = false;
  for (const auto& [k, v] : refused.headers) retry_after |= k == "Retry-After";
  EXPECT_TRUE(retry_after);

  AddUser("u2", "bob");  // wakes the first poll (within its 500 ms re-check at worst)
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  Json woke = Body(waiting.get());
  ASSERT_EQ(woke["changes"].size(), 1u);
  EXPECT_EQ(woke["changes"][0]["id"], "u2");
  EXPECT_EQ(api_->active_long_polls(), 0);

  // An elapsed wait answers empty with the cursor unchanged.
  std::string now = std::to_string(woke["next"].get<int64_t>());
  t0 = std::chrono::steady_clock::now();
  Json empty = Body(Get("/directory/v2/users/changes?wait=1&since=" + now, admin_));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);
  EXPECT_EQ(empty["changes"].size(), 0u);
  EXPECT_EQ(std::to_string(empty["next"].get<int64_t>()), now);
}

TEST_F(DirectoryApiTest, ShutdownEndsLongPolls) {
  auto waiting = std::async(std::launch::async,
                            [&] { return Get("/directory/v2/users/changes?wait=30", admin_); });
  auto until = std::chrono::steady_clock::now() + 10s;
  while (api_->active_long_polls() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  api_->Shutdown();
  EXPECT_EQ(waiting.wait_for(3s), std::future_status::ready);
  EXPECT_EQ(waiting.get().status, 200);
}

}  // namespace
}  // namespace idsync::http
