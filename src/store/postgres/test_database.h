// TestDatabase: a fresh database on the test cluster (tools/pg-test-cluster.sh passes its URL
// in IDSYNC_TEST_PG_URL), dropped at the end. Test code only.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "store/postgres/pg_connection.h"

namespace idsync::store::postgres {

// A fresh database on the test cluster, dropped at the end.
class TestDatabase {
 public:
  TestDatabase() {
    const char* base = std::getenv("IDSYNC_TEST_PG_URL");
    if (base == nullptr) {
      ADD_FAILURE() << "IDSYNC_TEST_PG_URL is not set: run through tools/pg-test-cluster.sh";
      return;
    }
    base_ = base;
    name_ = "t_" + std::to_string(std::random_device{}()) + std::to_string(counter_++);
    auto admin = Admin();
    auto made = admin->Exec("CREATE DATABASE " + name_ + " TEMPLATE template1", {}, "createdb");
    EXPECT_TRUE(made) << made.error().detail;
  }
  ~TestDatabase() {
    if (base_.empty()) return;
    auto admin = Admin();
    (void)admin->Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)", {}, "dropdb");
  }
  std::string url() const { return base_ + "/" + name_; }
  std::unique_ptr<PgConnection> Connect() const { return std::move(*PgConnection::Open(url())); }

 private:
  std::unique_ptr<PgConnection> Admin() const {
    auto c = PgConnection::Open(base_ + "/postgres");
    EXPECT_TRUE(c) << (c ? "" : c.error().detail);
    return std::move(*c);
  }
  static inline std::atomic<int> counter_{0};
  std::string base_, name_;
};

}  // namespace idsync::store::postgres
