// The fixture of the store-area tests that run against both back-ends (areas_test.cpp,
// console_ldap_areas_test.cpp, two_instances_test.cpp): a store of the parameter's kind
// ("sqlite" or "postgresql", a database of its own on the test cluster) with one connection.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "base/json.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/test_database.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/test_support.h"

namespace idsync::store {

inline StoredResource MakeResource(scim::ResourceType type, const std::string& id, const Json& body,
                                   int64_t ms) {
  StoredResource r;
  r.id = id;
  r.type = type;
  r.body = body;
  r.created = FromUnixMillis(ms);
  r.last_modified = FromUnixMillis(ms);
  return r;
}

inline Result<StoredResource> PutUser(Transaction& tx, int64_t conn, const std::string& id,
                                      const std::string& name) {
  return tx.PutResource(conn,
                        MakeResource(scim::ResourceType::kUser, id, {{"userName", name}}, 2000),
                        name, {{"id", id}});
}

inline Result<StoredResource> PutGroup(Transaction& tx, int64_t conn, const std::string& id,
                                       const std::string& name) {
  return tx.PutResource(conn,
                        MakeResource(scim::ResourceType::kGroup, id, {{"displayName", name}}, 3000),
                        name, {{"displayName", name}});
}

using sqlite::test_support::MakeEGroup;
using sqlite::test_support::MakeEUser;

template <typename T>
inline Status AsStatus(const Result<T>& r) {
  return r ? Status::Ok() : Status(r.error());
}

class StoreAreas : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = std::make_unique<sqlite::test_support::TempDir>();
      auto s = sqlite::SqliteStore::Open(dir_->path(), {});
      ASSERT_TRUE(s) << s.error().detail;
      store_ = std::move(*s);
    } else {
      db_ = std::make_unique<postgres::TestDatabase>();
      store_ = OpenAnother();
      ASSERT_TRUE(store_);
    }
    Connection c;
    c.name = "okta";
    c.directory = "users";
    c.kind = "scim";
    c.created = FromUnixMillis(1000);
    MustWrite([&](Transaction& tx) -> Status {
      auto made = tx.CreateConnection(c);
      if (!made) return made.error();
      conn_ = made->id;
      return Status::Ok();
    });
  }

  // A second instance on the same database (PostgreSQL only).
  std::unique_ptr<Store> OpenAnother() {
    auto s = postgres::PostgresStore::Open(db_->url());
    EXPECT_TRUE(s) << (s ? "" : s.error().detail);
    if (!s) return nullptr;
    return std::move(*s);
  }

  void MustWrite(const std::function<Status(Transaction&)>& job) {
    sqlite::test_support::MustWrite(*store_, job);
  }
  void MustRead(const std::function<Status(Transaction&)>& job) {
    sqlite::test_support::MustRead(*store_, job);
  }

  std::unique_ptr<sqlite::test_support::TempDir> dir_;
  std::unique_ptr<postgres::TestDatabase> db_;
  std::unique_ptr<Store> store_;
  int64_t conn_ = 0;
};

}  // namespace idsync::store
