#include "store/migrate/sqlite_to_postgres.h"

#include <string>

#include <gtest/gtest.h>

#include "store/postgres/postgres_store.h"
#include "store/postgres/test_database.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/store_fixture.h"
#include "store/sqlite/test_support.h"

namespace idsync::store::migrate {
namespace {

using postgres::PostgresStore;
using postgres::TestDatabase;
using scim::ResourceType;
using sqlite::SqliteOptions;
using sqlite::SqliteStore;
using sqlite::test_support::Query;
using sqlite::test_support::TempDir;

StoredResource EntraUser(int i) {
  return sqlite::test_support::EntraUser("id-" + std::to_string(i), i);
}

int64_t Rows(const MigrationReport& report, const std::string& table) {
  for (const auto& t : report.tables) {
    if (t.table == table) return t.rows;
  }
  ADD_FAILURE() << "no table " << table << " in the report";
  return -1;
}

// A fresh installation of each kind: every table of both schemas is one the copy handles (a
// table or column added to either schema without teaching store migrate fails here).
TEST(StoreMigrate, CopiesAFreshInstallationAndHandlesEveryTable) {
  TempDir dir;
  {
    auto store = SqliteStore::Open(dir.path(), {});
    ASSERT_TRUE(store) << store.error().detail;
    (*store)->Close();
  }
  TestDatabase db;
  auto report = CopySqliteToPostgres(dir.path(), db.url());
  ASSERT_TRUE(report) << report.error().detail;
  EXPECT_EQ(report->tables.size(), 25u);
  EXPECT_EQ(Rows(*report, "directories"), 2);  // users and customers, as SQLite made them
  EXPECT_EQ(Rows(*report, "connections"), 0);
}

TEST(StoreMigrate, CopiesCompressedBodiesIdsAndSequencesAndContinuesThem) {
  TempDir dir;
  SqliteOptions options;
  options.compression_samples = 40;  // a dictionary early, so most bodies are compressed
  int64_t conn = 0;
  {
    auto store = SqliteStore::Open(dir.path(), options);
    ASSERT_TRUE(store) << store.error().detail;
    Status st = (*store)->Write([&](Transaction& tx) -> Status {
      auto dropped = tx.CreateConnection(sqlite::test_support::MakeConnection("dropped"));
      if (!dropped) return dropped.error();
      auto c = tx.CreateConnection(sqlite::test_support::MakeConnection("okta"));
      if (!c) return c.error();
      conn = c->id;
      // A gap in the ids: the copy keeps them as they are.
      return tx.DeleteConnection(dropped->id);
    });
    ASSERT_TRUE(st) << st.error().detail;
    auto put = [&](int from, int to) {
      Status s = (*store)->Write([&](Transaction& tx) -> Status {
        for (int i = from; i < to; ++i) {
          auto u = tx.PutResource(conn, EntraUser(i), "user" + std::to_string(i), {});
          if (!u) return u.error();
        }
        return Status::Ok();
      });
      ASSERT_TRUE(s) << s.error().detail;
    };
    put(0, 40);
    (*store)->WaitForTraining();  // the users' dictionary, trained on the first 40
    const std::string file = dir.path() + "/idsync.db";
    put(40, 80);
    Status audited = (*store)->Write([&](Transaction& tx) -> Status {
      AuditRecord r;
      r.time = FromUnixMillis(5000);
      r.connection_id = conn;
      r.connection_name = "okta";
      r.actor = "cli";
      r.operation = "create";
      r.status = 201;
      return tx.AppendAudit(r);
    });
    ASSERT_TRUE(audited) << audited.error().detail;
    (*store)->Close();
    ASSERT_NE(Query(file, "SELECT count(*) FROM resources WHERE typeof(body) = 'blob'")[0], "0")
        << "no compressed body: the test would not cover decoding";
  }

  TestDatabase db;
  auto report = CopySqliteToPostgres(dir.path(), db.url());
  ASSERT_TRUE(report) << report.error().detail;
  EXPECT_EQ(Rows(*report, "connections"), 1);
  EXPECT_EQ(Rows(*report, "resources"), 80);
  EXPECT_EQ(Rows(*report, "audit"), 1);
  EXPECT_EQ(report->ToJson()["tables"].size(), report->tables.size());

  auto pg = PostgresStore::Open(db.url());
  ASSERT_TRUE(pg) << pg.error().detail;
  Status read = (*pg)->Read([&](Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName("okta");
    if (!c) return c.error();
    EXPECT_EQ(c->id, conn);
    for (int i : {0, 39, 40, 79}) {
      auto u = tx.GetResource(conn, ResourceType::kUser, "id-" + std::to_string(i));
      if (!u) return u.error();
      EXPECT_EQ(u->body, EntraUser(i).body) << i;
      EXPECT_EQ(u->version, 1);
    }
    return Status::Ok();
  });
  ASSERT_TRUE(read) << read.error().detail;
  // New rows continue after the copied ones: no id or seq is handed out twice.
  Status wrote = (*pg)->Write([&](Transaction& tx) -> Status {
    auto c = tx.CreateConnection(sqlite::test_support::MakeConnection("entra"));
    if (!c) return c.error();
    EXPECT_GT(c->id, conn);
    AuditRecord r;
    r.time = FromUnixMillis(6000);
    r.actor = "cli";
    r.operation = "connection.add";
    r.status = 201;
    return tx.AppendAudit(r);
  });
  ASSERT_TRUE(wrote) << wrote.error().detail;
  Status audit = (*pg)->Read([&](Transaction& tx) -> Status {
    auto records = tx.ListAudit({});
    if (!records) return records.error();
    EXPECT_EQ(records->size(), 2u);
    if (records->size() == 2) {
      EXPECT_NE((*records)[0].seq, (*records)[1].seq);
    }
    return Status::Ok();
  });
  ASSERT_TRUE(audit) << audit.error().detail;
  (*pg)->Close();

  // A second copy into the same database is refused, and changes nothing.
  auto again = CopySqliteToPostgres(dir.path(), db.url());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kInvalidValue);
  EXPECT_NE(again.error().detail.find("not empty"), std::string::npos) << again.error().detail;
}

// The read-back check can fail: a target that changes what it is given (here a trigger that
// alters every copied connection's settings) fails the copy, and nothing stays behind.
TEST(StoreMigrate, ADifferenceAfterTheCopyFailsItAndLeavesTheTargetEmpty) {
  TempDir dir;
  {
    auto store = SqliteStore::Open(dir.path(), {});
    ASSERT_TRUE(store) << store.error().detail;
    Status st = (*store)->Write([&](Transaction& tx) -> Status {
      auto c = tx.CreateConnection(sqlite::test_support::MakeConnection("okta"));
      return c ? Status::Ok() : Status(c.error());
    });
    ASSERT_TRUE(st) << st.error().detail;
    (*store)->Close();
  }
  TestDatabase db;
  {
    auto pg = PostgresStore::Open(db.url());  // the schema, so that the trigger has a table
    ASSERT_TRUE(pg) << pg.error().detail;
    (*pg)->Close();
  }
  auto admin = db.Connect();
  auto made = admin->ExecScript(
      "CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "NEW.settings := '{}'; RETURN NEW; END $$; "
      "CREATE TRIGGER tamper BEFORE INSERT ON connections FOR EACH ROW "
      "EXECUTE FUNCTION tamper();",
      "adding a trigger");
  ASSERT_TRUE(made) << made.error().detail;

  auto report = CopySqliteToPostgres(dir.path(), db.url());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, ErrorCode::kInternal);
  EXPECT_NE(report.error().detail.find("table connections differs after the copy"),
            std::string::npos)
      << report.error().detail;
  auto left = admin->Exec("SELECT count(*) FROM connections", {}, "counting");
  ASSERT_TRUE(left) << left.error().detail;
  EXPECT_EQ(left->Int(0, 0), 0);
}

TEST(StoreMigrate, RefusesAMissingSource) {
  TempDir dir;
  TestDatabase db;
  auto report = CopySqliteToPostgres(dir.path(), db.url());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, ErrorCode::kInvalidValue);
  EXPECT_NE(report.error().detail.find("no idsync database"), std::string::npos);
}

}  // namespace
}  // namespace idsync::store::migrate
