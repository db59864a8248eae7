// Scaffolding of the SqliteStore tests split by area (sqlite_store_test.cpp for the engine,
// <area>_test.cpp for each area): helpers that build connections and resources, and the
// SqliteStoreTest fixture (a fresh store with one connection). Test code only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/test_support.h"

namespace idsync::store::sqlite::test_support {

using scim::ResourceType;

inline std::unique_ptr<SqliteStore> OpenOrDie(const std::string& dir, const SqliteOptions& options = {}) {
  auto store = SqliteStore::Open(dir, options);
  if (!store) {
    ADD_FAILURE() << store.error().detail;
    return nullptr;
  }
  return std::move(*store);
}

inline Connection MakeConnection(const std::string& name) {
  Connection c;
  c.name = name;
  c.directory = "users";
  c.kind = "scim";
  c.created = FromUnixMillis(1000);
  c.settings = Json{{"k", "v"}};
  return c;
}

// An Entra-like user (user-i): alike in shape, different in values, so that zstd can train a
// dictionary on such bodies.
inline StoredResource EntraUser(const std::string& id, int i) {
  const std::string n = std::to_string(i);
  StoredResource r;
  r.id = id;
  r.type = ResourceType::kUser;
  r.body =
      Json{{"schemas",
            {"urn:ietf:params:scim:schemas:core:2.0:User",
             "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}},
           {"userName", "user" + n + "@contoso.example"},
           {"externalId", "ext-" + n},
           {"active", i % 7 != 0},
           {"displayName", "User Number " + n},
           {"name", {{"givenName", "User"}, {"familyName", "Number" + n}}},
           {"emails",
            {{{"primary", true}, {"type", "work"}, {"value", "user" + n + "@contoso.example"}}}},
           {"addresses",
            {{{"type", "work"},
              {"streetAddress", "1 Main Street"},
              {"locality", "Redmond"},
              {"country", "US"}}}},
           {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            {{"department", "Department " + std::to_string(i % 9)},
             {"employeeNumber", std::to_string(100000 + i)}}}};
  r.created = FromUnixMillis(2000);
  r.last_modified = FromUnixMillis(2000);
  return r;
}

inline StoredResource MakeUser(const std::string& id, const std::string& user_name) {
  StoredResource r;
  r.id = id;
  r.type = ResourceType::kUser;
  r.body = Json{{"userName", user_name}};
  r.created = FromUnixMillis(2000);
  r.last_modified = FromUnixMillis(2000);
  return r;
}

inline StoredResource MakeGroup(const std::string& id, const std::string& display_name) {
  StoredResource r;
  r.id = id;
  r.type = ResourceType::kGroup;
  r.body = Json{{"displayName", display_name}};
  r.created = FromUnixMillis(3000);
  r.last_modified = FromUnixMillis(3000);
  return r;
}

inline Result<StoredResource> PutUser(Transaction& tx, int64_t conn, const std::string& id,
                               const std::string& user_name) {
  return tx.PutResource(conn, MakeUser(id, user_name), user_name, {{"id", id}});
}

inline Result<StoredResource> PutGroup(Transaction& tx, int64_t conn, const std::string& id,
                                const std::string& name) {
  return tx.PutResource(conn, MakeGroup(id, name), name, {{"displayName", name}});
}

template <typename T>
Status AsStatus(const Result<T>& result) {
  return result ? Status::Ok() : Status(result.error());
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenOrDie(dir_.path());
    ASSERT_TRUE(store_);
    auto status = store_->Write([&](Transaction& tx) -> Status {
      auto c = tx.CreateConnection(MakeConnection("okta"));
      if (!c) return c.error();
      conn_ = c->id;
      return Status::Ok();
    });
    ASSERT_TRUE(status) << status.error().detail;
  }

  // Runs `job` in a write and fails the test if it returns an error.
  void MustWrite(const std::function<Status(Transaction&)>& job) {
    test_support::MustWrite(*store_, job);
  }
  void MustRead(const std::function<Status(Transaction&)>& job) {
    test_support::MustRead(*store_, job);
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  int64_t conn_ = 0;
};

}  // namespace idsync::store::sqlite::test_support
