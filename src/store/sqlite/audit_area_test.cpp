// The audit log (store/audit_area.h) over SQLite.
#include "store/sqlite/sqlite_store.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite/migrations.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/store_fixture.h"
#include "store/sqlite/test_support.h"

namespace idsync::store::sqlite {
namespace {

using test_support::AsStatus;
using test_support::MakeConnection;
using test_support::MakeGroup;
using test_support::MakeUser;
using test_support::OpenOrDie;
using test_support::PutGroup;
using test_support::PutUser;
using test_support::Query;
using test_support::SqliteStoreTest;
using test_support::TempDir;

using scim::ResourceType;

TEST_F(SqliteStoreTest, AuditAppendAndQuery) {
  MustWrite([&](Transaction& tx) -> Status {
    for (int i = 0; i < 10; ++i) {
      AuditRecord r;
      r.time = FromUnixMillis(1000 * i);
      r.connection_id = i % 2 == 0 ? conn_ : 0;
      r.connection_name = "okta";
      r.request_id = "req" + std::to_string(i);
      r.actor = "scim";
      r.operation = "create";
      r.resource_type = "User";
      r.resource_id = "u" + std::to_string(i);
      r.status = 201;
      r.detail = "d";
      EXPECT_TRUE(tx.AppendAudit(r));
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto all = tx.ListAudit({});
    EXPECT_EQ(all->size(), 10u);
    for (size_t i = 1; i < all->size(); ++i) EXPECT_LT((*all)[i - 1].seq, (*all)[i].seq);
    EXPECT_EQ((*all)[3].request_id, "req3");
    EXPECT_EQ((*all)[3].status, 201);
    EXPECT_EQ(ToUnixMillis((*all)[3].time), 3000);

    AuditQuery by_conn;
    by_conn.connection_id = conn_;
    EXPECT_EQ(tx.ListAudit(by_conn)->size(), 5u);
    by_conn.since = FromUnixMillis(4000);
    EXPECT_EQ(tx.ListAudit(by_conn)->size(), 3u);  // 4, 6, 8

    AuditQuery page;
    page.after_seq = (*all)[6].seq;
    page.limit = 2;
    auto rest = tx.ListAudit(page);
    EXPECT_EQ(rest->size(), 2u);
    EXPECT_EQ((*rest)[0].request_id, "req7");

    AuditQuery since;
    since.since = FromUnixMillis(8000);
    EXPECT_EQ(tx.ListAudit(since)->size(), 2u);
    return Status::Ok();
  });
}

}  // namespace
}  // namespace idsync::store::sqlite
