// PostgreSQL plans of the statements that must read one index range (as SQLite's
// queries_test.cpp checks its EXPLAIN QUERY PLAN): the explorer's searches, whose prefix ranges
// are COLLATE "C" so that they stay index ranges whatever the database's collation, and the
// LDAP name lookups on their expression indexes. Sequential scans are disabled so that a tiny
// test table cannot hide a plan that could not use the index.
#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/postgres/pg_connection.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/queries.h"
#include "store/postgres/test_database.h"

namespace idsync::store::postgres {
namespace {

std::string Plan(PgConnection& db, std::string_view sql, const std::vector<PgParam>& params) {
  auto r = db.Exec("EXPLAIN " + std::string(sql), params, "explaining");
  EXPECT_TRUE(r) << (r ? "" : r.error().detail);
  if (!r) return "";
  std::string plan;
  for (int i = 0; i < r->Rows(); ++i) plan += r->Text(i, 0) + "\n";
  return plan;
}

TEST(PostgresQueryPlans, SearchesAndLdapLookupsReadOneIndexRange) {
  TestDatabase db;
  {
    auto store = PostgresStore::Open(db.url());
    ASSERT_TRUE(store) << store.error().detail;
  }
  auto conn = db.Connect();
  // 5,000 users in 50 groups of 100 in one directory, statistics gathered: the planner picks
  // among the indexes by cost, so the check needs a directory of some size.
  ASSERT_TRUE(conn->ExecScript(
      "INSERT INTO effective_users(directory, id, username, username_key, state, body, version, "
      "created_ms, modified_ms, mail_key) SELECT 'users', 'u' || i, 'user' || i, 'user' || i, "
      "CASE WHEN i % 10 = 0 THEN 'disabled' ELSE 'active' END, '{}', 1, 0, 0, "
      "'user' || i || '@example.com' FROM generate_series(1, 5000) i;"
      "INSERT INTO effective_groups(directory, id, name, name_key, body, version, created_ms, "
      "modified_ms) SELECT 'users', 'g' || i, 'group' || i, 'group' || i, '{}', 1, 0, 0 "
      "FROM generate_series(1, 50) i;"
      "INSERT INTO effective_members(group_pk, user_pk, ord) SELECT g.pk, u.pk, u.pk "
      "FROM effective_groups g, effective_users u WHERE g.pk = u.pk % 50 + 1;"
      "INSERT INTO connections(uuid, name, directory, kind, enabled, created_ms, settings) "
      "VALUES ('c1', 'c1', 'users', 'scim', true, 0, '{}');"
      "INSERT INTO source_links(connection_id, source_user_id, directory, effective_user_id, "
      "deleted) SELECT c.id, 's' || i, 'users', 'u' || i, false FROM connections c, "
      "generate_series(1, 5000) i;"
      "INSERT INTO changes(seq, directory, time_ms, type, op, id, member_id, resource, cause) "
      "SELECT i, 'users', 0, CASE WHEN i % 5 = 0 THEN 'Membership' ELSE 'User' END, 'upsert', "
      "CASE WHEN i % 5 = 0 THEN 'g' || (i % 50 + 1) ELSE 'u' || i END, "
      "CASE WHEN i % 5 = 0 THEN 'u' || i ELSE '' END, NULL, '{}' "
      "FROM generate_series(1, 5000) i;"
      "ANALYZE",
      "filling the directory"));
  ASSERT_TRUE(conn->ExecScript("SET enable_seqscan = off", "setting up"));
  // $1 directory, $2/$3 username range, $4/$5 mail range, $6 state, $7 group, $8/$9 cursor.
  auto search = [&](std::string_view sql, const std::string& name, const std::string& mail,
                    const std::string& state, const std::string& group) {
    return Plan(*conn, sql,
                {"users", name, name + "\xF4\x8F\xBF\xBF", mail, mail + "\xF4\x8F\xBF\xBF", state,
                 group, "", "0", "26"});
  };
  struct Case {
    std::string plan;
    std::string index;    // the index whose range drives
    std::string bound;    // a term of its Index Cond
    bool ordered = true;  // the index gives the order (no Sort)
  };
  const std::vector<Case> cases = {
      {search(sql::kSearchUsersByName, "user12", "", "", "0"), "effective_users_by_name_c",
       "username_key"},
      {search(sql::kSearchUsersByName, "", "", "", "0"), "effective_users_by_name_c",
       "username_key"},
      {search(sql::kSearchUsersByMail, "u", "user12", "active", "3"), "effective_users_by_mail_c",
       "mail_key"},
      {search(sql::kSearchUsersByState, "", "", "disabled", "0"), "effective_users_by_state",
       "state"},
      {search(sql::kSearchUsersByGroup, "u", "", "", "3"), "effective_members_pkey", "group_pk"},
      {Plan(*conn, sql::kUsersByLdapName, {"users", "user 12"}), "effective_users_by_ldap_name",
       "regexp_replace", false},
      {Plan(*conn, sql::kGroupsByLdapName, {"users", "group 3"}), "effective_groups_by_ldap_name",
       "regexp_replace", false},
      // Migration 10: the links of a user by the one index of links by effective user, and a
      // member's changes by the partial index of membership changes.
      {Plan(*conn, sql::kLinksOf, {"users", "u12"}), "source_links_by_effective",
       "effective_user_id", false},
      {Plan(*conn, sql::kDeleteLinksOfUser, {"users", "u12"}), "source_links_by_effective",
       "effective_user_id", false},
      {Plan(*conn, sql::kListChangesOf, {"users", "0", "10", "u15"}), "changes_by_member",
       "member_id", false},
  };
  for (const Case& c : cases) {
    EXPECT_NE(c.plan.find("Scan using " + c.index), std::string::npos) << c.plan;
    const size_t cond = c.plan.find("Index Cond:");
    ASSERT_NE(cond, std::string::npos) << c.plan;
    EXPECT_NE(c.plan.find(c.bound, cond), std::string::npos) << c.plan;
    EXPECT_EQ(c.plan.find("Seq Scan"), std::string::npos) << c.plan;
    if (c.ordered) {
      EXPECT_EQ(c.plan.find("Sort"), std::string::npos) << c.plan;
    }
  }
  // The username range itself is in the index condition (not a filter over the directory).
  const std::string by_name = cases[0].plan;
  const size_t cond = by_name.find("Index Cond:");
  const size_t filter = by_name.find("Filter:");
  const size_t range = by_name.find(">= 'user12'");
  ASSERT_NE(range, std::string::npos) << by_name;
  EXPECT_GT(range, cond);
  if (filter != std::string::npos) {
    EXPECT_LT(range, filter) << by_name;
  }
}

// FindConflicts (one round trip, four arms): each arm reads one index range of the directory,
// not its 2,000 conflicts. Statistics gathered and sequential scans allowed: the planner's own
// choice is the one checked.
TEST(PostgresQueryPlans, ConflictLookupsReadOneIndexRangePerKey) {
  TestDatabase db;
  {
    auto store = PostgresStore::Open(db.url());
    ASSERT_TRUE(store) << store.error().detail;
  }
  auto conn = db.Connect();
  ASSERT_TRUE(conn->ExecScript(
      "INSERT INTO connections(uuid, name, directory, kind, enabled, created_ms, settings) "
      "VALUES ('c1', 'okta', 'users', 'scim', true, 0, '{}'), "
      "('c2', 'entra', 'users', 'scim', true, 0, '{}');"
      "INSERT INTO conflicts(connection_id, source_user_id, directory, username, detail, time_ms, "
      "username_key, link_key, source_name) SELECT c.id, 's' || i, 'users', 'user' || i, '{}', 0, "
      "'user' || i, 'key' || i, 'user' || i FROM generate_series(1, 1000) i, connections c;"
      "INSERT INTO conflicts(connection_id, source_user_id, directory, username, detail, time_ms) "
      "SELECT c.id, 'old' || i, 'users', 'old' || i, '{}', 0 FROM generate_series(1, 3) i, "
      "connections c WHERE c.name = 'okta';"
      "ANALYZE",
      "filling the conflicts"));
  const std::string plan =
      Plan(*conn, sql::kFindConflicts,
           {"users", "{\"user12\"}", "{\"key40\",\"key41\"}", "{1}", "{\"user7\"}"});
  EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << plan;
  // Each arm's keys are its index's condition; the rows without keys are the username index's
  // range of NULLs.
  for (const char* cond :
       {"using conflicts_by_username", "(username_key = ANY (", "using conflicts_by_link_key",
        "(link_key = ANY (", "using conflicts_by_source_name", "(source_name = ANY (",
        "(username_key IS NULL)"}) {
    EXPECT_NE(plan.find(cond), std::string::npos) << cond << "\n" << plan;
  }
  const size_t nulls = plan.find("(username_key IS NULL)");
  if (nulls != std::string::npos) {
    const size_t line = plan.rfind('\n', nulls);
    EXPECT_NE(plan.substr(line, nulls - line).find("Index Cond:"), std::string::npos) << plan;
  }
}

// A bulk import through the store (an identity provider's first push) is planned with current
// statistics: the store analyzes a table that doubled (planner_statistics.h). Autovacuum is off
// for the table, so only the store's own ANALYZE can make the lookup by id read the UNIQUE
// index; on the statistics of an empty table the planner reads the smaller (connection, type,
// pk) index and walks the whole connection instead.
TEST(PostgresQueryPlans, LookupByIdReadsTheUniqueIndexAfterABulkImport) {
  TestDatabase db;
  auto store = PostgresStore::Open(db.url());
  ASSERT_TRUE(store) << store.error().detail;
  auto conn = db.Connect();
  ASSERT_TRUE(conn->ExecScript("ALTER TABLE resources SET (autovacuum_enabled = off)",
                               "turning autovacuum off"));
  int64_t connection_id = 0;
  ASSERT_TRUE((*store)->Write([&](Transaction& tx) -> Status {
    Connection c;
    c.name = "okta";
    c.directory = "users";
    c.kind = "scim";
    auto made = tx.CreateConnection(c);
    if (!made) return made.error();
    connection_id = made->id;
    return Status::Ok();
  }));
  // 2,000 creates from four threads, as a push does (group commit batches them).
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string n = std::to_string(t * 500 + i);
        Status s = (*store)->Write([&](Transaction& tx) -> Status {
          StoredResource r;
          r.id = "id-" + n;
          r.body = Json{{"userName", "user" + n}};
          auto put = tx.PutResource(connection_id, std::move(r), "user" + n, {});
          return put ? Status::Ok() : Status(put.error());
        });
        if (!s) ++failed;
      }
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_EQ(failed.load(), 0);
  const std::vector<PgParam> lookup = {std::to_string(connection_id), "0", "id-1234"};
  std::string plan;
  for (int i = 0; i < 300; ++i) {  // up to 30 s: the check runs at most once a second
    plan = Plan(*conn, sql::kGetResource, lookup);
    if (plan.find("resources_connection_id_type_id_key") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(plan.find("Index Cond: ((connection_id = '" + std::to_string(connection_id) +
                      "'::bigint) AND (type = '0'::smallint) AND (id = 'id-1234'::text))"),
            std::string::npos)
      << plan;
  EXPECT_EQ(plan.find("resources_by_scope"), std::string::npos) << plan;
}

}  // namespace
}  // namespace idsync::store::postgres
