// PostgresStore against a real PostgreSQL 15 (tools/pg-test-cluster.sh starts one and passes
// its URL in IDSYNC_TEST_PG_URL); every test gets a database of its own.
#include "store/postgres/postgres_store.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/postgres/migrations.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/queries.h"
#include "store/postgres/test_database.h"

namespace idsync::store::postgres {
namespace {

std::unique_ptr<PostgresStore> OpenStore(const TestDatabase& db, PostgresStoreOptions o = {}) {
  auto store = PostgresStore::Open(db.url(), o);
  EXPECT_TRUE(store) << (store ? "" : store.error().detail);
  return store ? std::move(*store) : nullptr;
}

Connection NewConnection(const std::string& name) {
  Connection c;
  c.name = name;
  c.directory = "users";
  c.kind = "scim";
  c.created = FromUnixMillis(1'700'000'000'123);
  c.settings = Json{{"k", "v"}};
  return c;
}

TEST(PostgresStore, RefusesWhatIsNotAPostgresUrl) {
  auto store = PostgresStore::Open("/var/lib/idsync");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidValue);
}

TEST(PostgresStore, UnreachableDatabaseIsUnavailableAndTheMessageHidesThePassword) {
  auto store = PostgresStore::Open("postgresql://u:s3cret@127.0.0.1:1/x?connect_timeout=2");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store.error().detail.find("s3cret"), std::string::npos) << store.error().detail;
  EXPECT_NE(store.error().detail.find("u:***@127.0.0.1:1"), std::string::npos)
      << store.error().detail;
}

TEST(PostgresStore, MigratesOnOpenAndAgainIsANoOp) {
  TestDatabase db;
  ASSERT_TRUE(OpenStore(db));
  ASSERT_TRUE(OpenStore(db));
  auto conn = db.Connect();
  auto r = conn->Exec("SELECT count(*), max(version) FROM schema_migrations", {}, "t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Int(0, 0), static_cast<int64_t>(Migrations().size()));
  EXPECT_EQ(r->Int(0, 1), Migrations().back().version);
}

// The PgConnection tests' table t(n, v), and its n values in v order, comma-separated.
constexpr std::string_view kNumbersTable = "CREATE TABLE t(n int NOT NULL, v int UNIQUE)";
std::string Numbers(PgConnection& conn) {
  auto r =
      conn.Exec("SELECT coalesce(string_agg(n::text, ',' ORDER BY v), '') FROM t", {}, "reading");
  EXPECT_TRUE(r) << (r ? "" : r.error().detail);
  return r ? r->Text(0, 0) : "?";
}

// PgConnection's deferred writes (ExecDeferred): they reach the database in order before the
// next statement, a failed one fails the call that sent it (COMMIT at the latest, so a failed
// write is never acknowledged), and Rollback drops them.

TEST(PgConnection, DeferredWritesGoFirstInOrderAndAFailedOneFailsTheCommit) {
  TestDatabase db;
  auto conn = db.Connect();
  ASSERT_TRUE(conn);
  ASSERT_TRUE(conn->ExecScript(kNumbersTable, "setting up"));
  auto rows = [&] { return Numbers(*conn); };

  ASSERT_TRUE(conn->ExecScript("BEGIN", "t"));
  conn->ExecDeferred("INSERT INTO t VALUES ($1::int, $2::int)", {"1", "10"}, "first");
  conn->ExecDeferred("UPDATE t SET n = n + $1::int", {"1"}, "second");
  conn->ExecDeferred("INSERT INTO t VALUES ($1::int, $2::int)", {"5", "20"}, "third");
  EXPECT_EQ(rows(), "2,5");  // both inserts and the update between them, in order
  ASSERT_TRUE(conn->Commit("committing"));
  EXPECT_EQ(rows(), "2,5");

  // A deferred write that fails: COMMIT sends it, fails naming it, and nothing is committed;
  // the connection is usable afterwards.
  ASSERT_TRUE(conn->ExecScript("BEGIN", "t"));
  conn->ExecDeferred("INSERT INTO t VALUES ($1::int, $2::int)", {"7", "30"}, "fine");
  conn->ExecDeferred("INSERT INTO t VALUES ($1::int, $2::int)", {std::nullopt, "40"},
                     "a missing number");
  auto committed = conn->Commit("committing");
  ASSERT_FALSE(committed);
  EXPECT_NE(committed.error().detail.find("a missing number"), std::string::npos)
      << committed.error().detail;
  EXPECT_EQ(rows(), "2,5");

  // Rollback drops what is queued.
  ASSERT_TRUE(conn->ExecScript("BEGIN", "t"));
  conn->ExecDeferred("INSERT INTO t VALUES ($1::int, $2::int)", {"8", "50"}, "dropped");
  ASSERT_TRUE(conn->Rollback("t"));
  EXPECT_EQ(rows(), "2,5");

  // A guarded statement after deferred ones: its expected error is still its own, the deferred
  // writes stay, and the transaction goes on.
  ASSERT_TRUE(conn->ExecScript("BEGIN", "t"));
  conn->ExecDeferred("INSERT INTO t VALUES ($1::int, $2::int)", {"9", "60"}, "kept");
  auto taken = conn->ExecGuarded("INSERT INTO t VALUES ($1::int, $2::int)", {"3", "10"}, "taken");
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ErrorCode::kUniqueness);
  ASSERT_TRUE(conn->Commit("committing"));
  EXPECT_EQ(rows(), "2,5,9");
}

// A deferred BEGIN or savepoint goes out with the next statement; rolled back before that, it
// is dropped with what was queued after it and nothing reaches the server.
TEST(PgConnection, DeferredBeginAndSavepointGoOutWithTheNextStatement) {
  TestDatabase db;
  auto conn = db.Connect();
  ASSERT_TRUE(conn);
  ASSERT_TRUE(conn->ExecScript(kNumbersTable, "setting up"));
  auto rows = [&] { return Numbers(*conn); };
  // The transactions below are SERIALIZABLE; a statement outside them runs in the session's
  // default, READ COMMITTED.
  auto in_transaction = [&]() -> bool {
    auto r = conn->Exec("SELECT current_setting('transaction_isolation')", {}, "asking");
    EXPECT_TRUE(r) << (r ? "" : r.error().detail);
    return r && r->Text(0, 0) == "serializable";
  };
  const std::string insert = "INSERT INTO t VALUES ($1::int, $2::int)";

  // Rolled back before anything went out: nothing was written and no transaction is open.
  conn->DeferBegin("BEGIN ISOLATION LEVEL SERIALIZABLE");
  conn->ExecDeferred(insert, {"1", "10"}, "dropped");
  ASSERT_TRUE(conn->Rollback("t"));
  EXPECT_FALSE(in_transaction());
  EXPECT_EQ(rows(), "");

  // The BEGIN goes out with the first statement: the transaction is open after it.
  conn->DeferBegin("BEGIN ISOLATION LEVEL SERIALIZABLE");
  ASSERT_TRUE(conn->Exec(insert, {"1", "10"}, "first"));
  EXPECT_TRUE(in_transaction());
  // A savepoint rolled back before it went out: what was queued before it stays queued, what
  // followed it is dropped, and the transaction goes on.
  conn->ExecDeferred(insert, {"2", "20"}, "queued before the savepoint");
  conn->DeferSavepoint("job");
  conn->ExecDeferred(insert, {"3", "30"}, "dropped with the savepoint");
  ASSERT_TRUE(conn->Rollback("t", "job"));
  // A savepoint that went out is rolled back on the server.
  conn->DeferSavepoint("job");
  ASSERT_TRUE(conn->Exec(insert, {"4", "40"}, "undone"));
  ASSERT_TRUE(conn->Rollback("t", "job"));
  ASSERT_TRUE(conn->Exec(insert, {"5", "50"}, "after"));
  ASSERT_TRUE(conn->Commit("committing"));
  EXPECT_FALSE(in_transaction());
  EXPECT_EQ(rows(), "1,2,5");
}

// PrepareAll prepares what is new in one round trip, under the names Exec uses (Exec then
// prepares nothing more); a statement that does not prepare fails the call with its own error
// and leaves the connection usable; one the session already holds under its name (a pooler's
// session) counts as prepared.
TEST(PgConnection, PrepareAllPreparesWhatIsNewUnderTheNamesExecUses) {
  TestDatabase db;
  auto conn = db.Connect();
  ASSERT_TRUE(conn);
  const std::string plus = "SELECT $1::int + 1", times = "SELECT $1::int * 2";
  const std::string count = "SELECT count(*) FROM pg_prepared_statements";
  auto prepared = [&]() -> int64_t {
    auto r = conn->Exec(count, {}, "counting");
    EXPECT_TRUE(r) << (r ? "" : r.error().detail);
    return r ? r->Int(0, 0) : -1;
  };
  const std::vector<std::string_view> two = {plus, times, plus};
  ASSERT_TRUE(conn->PrepareAll(two, "t"));
  EXPECT_EQ(prepared(), 3);  // the two, and the count itself
  auto r = conn->Exec(plus, {"41"}, "t");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->Int(0, 0), 42);
  ASSERT_TRUE(conn->PrepareAll(two, "t"));  // nothing new: nothing sent
  EXPECT_EQ(prepared(), 3);

  const std::string minus = "SELECT $1::int - 1";
  const std::vector<std::string_view> bad = {minus, "SELECT nope FROM no_such_table"};
  auto failed = conn->PrepareAll(bad, "preparing");
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().detail.find("no_such_table"), std::string::npos)
      << failed.error().detail;
  r = conn->Exec(minus, {"43"}, "after a failed prepare");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->Int(0, 0), 42);

  // Already prepared on the session under the name PrepareAll would give it.
  const std::string divided = "SELECT $1::int / 2", modulo = "SELECT $1::int % 5";
  ASSERT_TRUE(
      conn->ExecScript("PREPARE " + PreparedStatementName(divided) + " AS " + divided, "t"));
  const std::vector<std::string_view> known = {divided, modulo};
  ASSERT_TRUE(conn->PrepareAll(known, "t"));
  r = conn->Exec(divided, {"84"}, "t");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->Int(0, 0), 42);
  r = conn->Exec(modulo, {"47"}, "t");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->Int(0, 0), 2);
}

// Warm opens every connection the pool may hold and prepares the hot statements on each (every
// one of them must prepare, or Warm fails): afterwards the database has max_connections
// sessions of the store's, each of which last parsed the list's last statement.
TEST(PostgresStore, WarmOpensThePoolWithTheHotStatementsPrepared) {
  TestDatabase db;
  auto store = OpenStore(db, {.max_connections = 4});
  ASSERT_TRUE(store);
  auto watcher = db.Connect();
  auto sessions = [&](bool warmed_only) -> int64_t {
    auto r = watcher->Exec(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
        "AND ($1::bool IS FALSE OR query = $2)",
        {warmed_only ? "true" : "false", std::string(std::end(sql::kHotStatements)[-1])}, "t");
    EXPECT_TRUE(r) << (r ? "" : r.error().detail);
    return r ? r->Int(0, 0) : -1;
  };
  EXPECT_EQ(sessions(false), 1);  // the one Open migrated on
  EXPECT_EQ(sessions(true), 0);
  auto warmed = store->Warm();
  ASSERT_TRUE(warmed) << warmed.error().detail;
  EXPECT_EQ(sessions(false), 4);
  EXPECT_EQ(sessions(true), 4);
  // The pool is usable and opens nothing more.
  ASSERT_TRUE(store->Write([](Transaction& tx) -> Status {
    auto c = tx.CreateConnection(NewConnection("warm"));
    return c ? Status::Ok() : Status(c.error());
  }));
  EXPECT_EQ(sessions(false), 4);
}

// A connection the pool opens later (here: to replace one the database dropped, as after an
// outage) prepares the hot statements as it opens, before any job uses it: inside the job, before
// its first statement, the session's last statement is the list's last.
TEST(PostgresStore, AConnectionOpenedLaterIsWarmBeforeItsFirstJob) {
  TestDatabase db;
  auto store = OpenStore(db, {.max_connections = 1});
  ASSERT_TRUE(store);
  auto watcher = db.Connect();
  auto sessions = [&](std::string_view sql, const std::vector<PgParam>& params = {}) -> int64_t {
    auto r = watcher->Exec(sql, params, "t");
    EXPECT_TRUE(r) << (r ? "" : r.error().detail);
    return r ? r->Int(0, 0) : -1;
  };
  const std::string_view others =
      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
      "AND pid <> pg_backend_pid() AND backend_type = 'client backend'";
  const std::string_view warm =
      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
      "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND query = $1";
  const std::string_view end_them =
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
      "current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'";
  ASSERT_EQ(sessions(others), 1);
  ASSERT_EQ(sessions(end_them), 1);
  for (int i = 0; i < 100 && sessions(others) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(sessions(others), 0);
  // The pool's idle connection is gone: the first job finds out and the pool drops it.
  Status first = store->Read([](Transaction& tx) -> Status {
    auto c = tx.ListConnections();
    return c ? Status::Ok() : Status(c.error());
  });
  EXPECT_FALSE(first);
  int64_t warm_in_job = -1;
  Status second = store->Read([&](Transaction& tx) -> Status {
    // Before this job's first statement.
    warm_in_job = sessions(warm, {std::string(std::end(sql::kHotStatements)[-1])});
    auto c = tx.ListConnections();
    return c ? Status::Ok() : Status(c.error());
  });
  ASSERT_TRUE(second) << second.error().detail;
  EXPECT_EQ(warm_in_job, 1);
}

TEST(PostgresStore, InstancesStartingTogetherApplyEachMigrationOnce) {
  TestDatabase db;
  std::vector<std::thread> starters;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    starters.emplace_back([&] {
      if (PostgresStore::Open(db.url())) ++opened;
    });
  }
  for (auto& t : starters) t.join();
  EXPECT_EQ(opened.load(), 4);
  auto r = db.Connect()->Exec("SELECT count(*) FROM schema_migrations", {}, "t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Int(0, 0), static_cast<int64_t>(Migrations().size()));
}

TEST(PostgresStore, RefusesADatabaseFromANewerBuild) {
  TestDatabase db;
  ASSERT_TRUE(OpenStore(db));
  ASSERT_TRUE(db.Connect()->Exec("INSERT INTO schema_migrations VALUES (9999, 0)", {}, "t"));
  auto store = PostgresStore::Open(db.url());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(store.error().detail.find("newer idsync"), std::string::npos) << store.error().detail;
}

TEST(PostgresStore, ConnectionsAndTokensRoundTrip) {
  TestDatabase db;
  auto store = OpenStore(db);
  ASSERT_TRUE(store);
  auto gen0 = store->ConfigGeneration();
  ASSERT_TRUE(gen0);
  int64_t id = 0;
  ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
    auto c = tx.CreateConnection(NewConnection("okta"));
    if (!c) return c.error();
    id = c->id;
    Token t;
    t.connection_id = id;
    t.hash = "h1";
    t.created = FromUnixMillis(1'700'000'000'000);
    return tx.AddToken(t);
  }));
  auto gen1 = store->ConfigGeneration();
  ASSERT_TRUE(gen1);
  EXPECT_GT(*gen1, *gen0);
  ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName("okta");
    EXPECT_TRUE(c);
    EXPECT_EQ(c->id, id);
    EXPECT_EQ(c->uuid.size(), 36u);
    EXPECT_TRUE(c->enabled);
    EXPECT_EQ(ToUnixMillis(c->created), 1'700'000'000'123);
    EXPECT_EQ(c->settings, (Json{{"k", "v"}}));
    auto t = tx.FindToken("h1");
    EXPECT_TRUE(t);
    EXPECT_EQ(t->connection_id, id);
    EXPECT_FALSE(t->expires);
    EXPECT_EQ(tx.FindToken("nope").error().code, ErrorCode::kNotFound);
    // A read transaction refuses writes.
    EXPECT_EQ(tx.CreateConnection(NewConnection("x")).error().code, ErrorCode::kInternal);
    return Status::Ok();
  }));
  ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
    return tx.ExpireTokens(id, FromUnixMillis(1'800'000'000'000));
  }));
  ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
    auto c = tx.GetConnection(id);
    if (!c) return c.error();
    c->enabled = false;
    return tx.UpdateConnection(*c);
  }));
  ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
    EXPECT_FALSE(tx.GetConnection(id)->enabled);
    EXPECT_EQ(ToUnixMillis(*tx.ListTokens(id)->at(0).expires), 1'800'000'000'000);
    return Status::Ok();
  }));
  ASSERT_TRUE(store->Write([&](Transaction& tx) { return tx.DeleteConnection(id); }));
  ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
    EXPECT_EQ(tx.GetConnection(id).error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.FindToken("h1").error().code, ErrorCode::kNotFound);  // cascaded
    return Status::Ok();
  }));
}

TEST(PostgresStore, DuplicateNameIsUniquenessAndAFailedJobWritesNothing) {
  TestDatabase db;
  auto store = OpenStore(db);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Write([&](Transaction& tx) {
    auto c = tx.CreateConnection(NewConnection("a"));
    return c ? Status::Ok() : Status(c.error());
  }));
  Status second = store->Write([&](Transaction& tx) -> Status {
    auto b = tx.CreateConnection(NewConnection("b"));
    if (!b) return b.error();
    auto a = tx.CreateConnection(NewConnection("a"));
    return a ? Status::Ok() : Status(a.error());
  });
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kUniqueness);
  ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
    EXPECT_EQ(tx.ListConnections()->size(), 1u);  // "b" rolled back with the job
    return Status::Ok();
  }));
}

// Two writers incrementing one value read in their own transaction: serializable isolation
// with retry loses no increment (the SQLite store's "no lost update", across connections).
TEST(PostgresStore, ConcurrentReadModifyWritesLoseNoUpdate) {
  TestDatabase db;
  PostgresStoreOptions o;
  o.max_connections = 8;
  auto store = OpenStore(db, o);
  auto second = OpenStore(db, o);  // as a second instance would
  ASSERT_TRUE(store && second);
  int64_t id = 0;
  ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
    auto c = tx.CreateConnection(NewConnection("counter"));
    if (!c) return c.error();
    id = c->id;
    return Status::Ok();
  }));
  constexpr int kThreads = 6, kEach = 15;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      PostgresStore& s = t % 2 ? *second : *store;
      for (int i = 0; i < kEach; ++i) {
        Status st = s.Write([&](Transaction& tx) -> Status {
          auto c = tx.GetConnection(id);
          if (!c) return c.error();
          c->settings["n"] = c->settings.value("n", 0) + 1;
          return tx.UpdateConnection(*c);
        });
        if (!st) {
          ++failures;
          ADD_FAILURE() << st.error().detail;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
    EXPECT_EQ(tx.GetConnection(id)->settings.value("n", 0), kThreads * kEach);
    return Status::Ok();
  }));
}

ChangeRecord NewChange(const std::string& id) {
  ChangeRecord c;
  c.time = FromUnixMillis(1'700'000'000'000);
  c.directory = "users";
  c.type = "User";
  c.op = "upsert";
  c.id = id;
  c.resource = Json{{"id", id}};
  c.cause = Json{{"connection", "okta"}};
  return c;
}

TEST(PostgresStore, ChangeFeedRoundTrip) {
  TestDatabase db;
  auto store = OpenStore(db);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
    for (const char* id : {"u1", "u2"}) {
      auto seq = tx.AppendChange(NewChange(id));
      if (!seq) return seq.error();
    }
    ChangeRecord m = NewChange("g1");
    m.type = "Membership";
    m.op = "add";
    m.member_id = "u1";
    m.resource = nullptr;
    auto seq = tx.AppendChange(m);
    return seq ? Status::Ok() : Status(seq.error());
  }));
  ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
    auto all = tx.ListChanges("users", 0, 10);
    EXPECT_EQ(all->size(), 3u);
    EXPECT_EQ(all->at(0).seq, 1);
    EXPECT_EQ(all->at(0).resource, (Json{{"id", "u1"}}));
    EXPECT_TRUE(all->at(2).resource.is_null());
    EXPECT_EQ(tx.ListChanges("users", 1, 1)->at(0).id, "u2");
    auto of_u1 = tx.ListChangesOf("users", "u1", 0, 10);
    if (of_u1->size() != 2u) return MakeError(ErrorCode::kInternal, "want its upsert and membership");
    EXPECT_EQ(of_u1->at(1).member_id, "u1");
    EXPECT_EQ(*tx.LastChangeSeq("users"), 3);
    EXPECT_EQ(*tx.LastChangeSeq("customers"), 0);
    EXPECT_TRUE(tx.ListChanges("customers", 0, 10)->empty());
    return Status::Ok();
  }));
}

// Writers on two "instances" append to the feed, some transactions roll back, while a reader
// follows from cursor 0: every seq it reads is exactly its cursor + 1 (none skipped, none
// appearing later below the cursor), and at the end the feed holds exactly the committed
// appends. A sequence-numbered feed fails this: a later-committing writer holds a lower seq.
TEST(PostgresStore, ChangeFeedIsReadInOneGapFreeOrderWhileInstancesWrite) {
  TestDatabase db;
  PostgresStoreOptions o;
  o.max_connections = 8;
  auto a = OpenStore(db, o);
  auto b = OpenStore(db, o);
  ASSERT_TRUE(a && b);
  constexpr int kWriters = 4, kEach = 25;
  std::atomic<int> committed{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      PostgresStore& s = w % 2 ? *b : *a;
      for (int i = 0; i < kEach; ++i) {
        bool roll_back = i % 5 == 4;
        Status st = s.Write([&](Transaction& tx) -> Status {
          auto seq = tx.AppendChange(NewChange("w" + std::to_string(w) + "-" + std::to_string(i)));
          if (!seq) return seq.error();
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          if (roll_back) return MakeError(ErrorCode::kConflict, "rolled back on purpose");
          return Status::Ok();
        });
        if (st) {
          ++committed;
        } else if (st.error().code != ErrorCode::kConflict) {
          ADD_FAILURE() << st.error().detail;
        }
      }
    });
  }
  int64_t cursor = 0;
  int64_t out_of_order = 0;
  auto follow = [&] {
    ASSERT_TRUE(b->Read([&](Transaction& tx) -> Status {
      auto page = tx.ListChanges("users", cursor, 50);
      if (!page) return page.error();
      for (const auto& c : *page) {
        if (c.seq != cursor + 1) ++out_of_order;
        cursor = c.seq;
      }
      return Status::Ok();
    }));
  };
  std::thread stopper([&] {
    for (auto& t : writers) t.join();
    done = true;
  });
  while (!done) follow();
  stopper.join();
  follow();
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(cursor, committed.load());
  EXPECT_EQ(committed.load(), kWriters * kEach * 4 / 5);
}

TEST(PostgresStore, ApiTokensRoundTripAndBumpTheConfigurationGeneration) {
  TestDatabase db;
  auto store = OpenStore(db);
  ASSERT_TRUE(store);
  auto gen0 = store->ConfigGeneration();
  ASSERT_TRUE(gen0);
  ApiToken t;
  t.name = "reader";
  t.kind = "read";
  t.directory = "users";
  t.hash = "abc";
  t.created = FromUnixMillis(1'700'000'000'456);
  ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
    auto made = tx.CreateApiToken(t);
    if (!made) return made.error();
    EXPECT_GT(made->id, 0);
    auto again = tx.CreateApiToken(t);
    EXPECT_FALSE(again);
    if (!again) {
      EXPECT_EQ(again.error().code, ErrorCode::kUniqueness);
    }
    // The failed insert left the transaction usable, as in SQLite.
    EXPECT_TRUE(tx.ListApiTokens());
    return Status::Ok();
  }));
  EXPECT_GT(*store->ConfigGeneration(), *gen0);
  ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
    auto found = tx.FindApiToken("abc");
    EXPECT_TRUE(found);
    EXPECT_EQ(found->name, "reader");
    EXPECT_EQ(found->directory, "users");
    EXPECT_EQ(ToUnixMillis(found->created), 1'700'000'000'456);
    EXPECT_EQ(tx.ListApiTokens()->size(), 1u);
    return Status::Ok();
  }));
  ASSERT_TRUE(store->Write([&](Transaction& tx) { return tx.DeleteApiToken("reader"); }));
  Status gone = store->Write([&](Transaction& tx) { return tx.DeleteApiToken("reader"); });
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

// The scheduler lease (issue #15): of two instances on one database only one holds it; when the
// holder goes (its session ends) the other takes it on its next try.
TEST(PostgresStore, SchedulerLeaseIsHeldByOneInstanceAndPassesOnWhenTheHolderCloses) {
  TestDatabase db;
  auto a = OpenStore(db);
  auto b = OpenStore(db);
  ASSERT_TRUE(a && b);
  auto a1 = a->HoldSchedulerLease();
  ASSERT_TRUE(a1) << a1.error().detail;
  EXPECT_TRUE(*a1);
  auto b1 = b->HoldSchedulerLease();
  ASSERT_TRUE(b1) << b1.error().detail;
  EXPECT_FALSE(*b1);
  // Asking again confirms it, and changes nothing for the other.
  EXPECT_TRUE(*a->HoldSchedulerLease());
  EXPECT_FALSE(*b->HoldSchedulerLease());

  a->Close();
  EXPECT_FALSE(*a->HoldSchedulerLease());  // a closed store never holds it
  EXPECT_TRUE(*b->HoldSchedulerLease());
  EXPECT_TRUE(*b->HoldSchedulerLease());

  // Released on purpose (the scheduler stopping): a third instance takes it.
  auto c = OpenStore(db);
  ASSERT_TRUE(c);
  EXPECT_FALSE(*c->HoldSchedulerLease());
  b->ReleaseSchedulerLease();
  EXPECT_TRUE(*c->HoldSchedulerLease());
}

// A holder whose session the server ends (its process killed, the connection dropped) loses the
// lease: its next try says so, another instance takes it, and the first gets it back only once
// it is free again.
TEST(PostgresStore, SchedulerLeaseIsLostWithTheHoldersSession) {
  TestDatabase db;
  auto a = OpenStore(db);
  auto b = OpenStore(db);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(*a->HoldSchedulerLease());
  ASSERT_FALSE(*b->HoldSchedulerLease());
  // End a's lease session from outside, as PostgreSQL does when its client dies.
  auto admin = db.Connect();
  auto killed = admin->Exec(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
      "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
      "AND ((classid::bigint << 32) | objid::bigint) = $1::bigint",
      {std::to_string(kSchedulerLock)}, "t");
  ASSERT_TRUE(killed) << killed.error().detail;
  EXPECT_EQ(killed->Int(0, 0), 1);
  // Termination is asynchronous: wait (bounded) until the lock is free for b.
  bool taken = false;
  for (int i = 0; i < 100 && !taken; ++i) {
    auto r = b->HoldSchedulerLease();
    taken = r && *r;
    if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(taken);
  auto lost = a->HoldSchedulerLease();
  EXPECT_FALSE(lost && *lost);  // an error (connection gone) or false: not held either way
  EXPECT_FALSE(*a->HoldSchedulerLease());  // reconnected, the lock is b's
  b->Close();
  EXPECT_TRUE(*a->HoldSchedulerLease());
}

}  // namespace
}  // namespace idsync::store::postgres
