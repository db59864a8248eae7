// Every statement queries.h lists as indexed plans as an index search (EXPLAIN QUERY PLAN).
#include "store/sqlite/queries.h"

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

TEST_F(SqliteStoreTest, HotQueriesSearchIndexesNeverScan) {
  for (const auto& [name, text] : sql::IndexedQueries()) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(store_->path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    std::string explain = std::string("EXPLAIN QUERY PLAN ") + text;
    ASSERT_EQ(sqlite3_prepare_v2(db, explain.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << name << ": " << sqlite3_errmsg(db);
    std::string plan;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      plan += "; ";
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    EXPECT_NE(plan.find("SEARCH "), std::string::npos) << name << ": " << plan;
    EXPECT_EQ(plan.find("SCAN "), std::string::npos) << name << ": " << plan;
    // These sort only the groups of one member (or the tombstones of one name); the activity
    // counts group a bounded window of one connection's or directory's records by hour.
    // The holders of one link key are one or two rows from two ranges.
    if (name != "GroupsOf" && name != "EffectiveGroupsOf" && name != "AuditByHour" &&
        name != "ChangesByHour" && name != "FindTombstones" &&
        name != "FindEffectiveUsersByLinkKey") {
      EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << name << ": " << plan;
    }
    // Not the primary key's range over every link of the connection (issue #13 item 3).
    if (name == "FindTombstones") {
      EXPECT_NE(plan.find("source_links_by_tombstone (connection_id=? AND source_name=?)"),
                std::string::npos)
          << plan;
    }
    // One index range per key, not every conflict of the directory; and the list of them all
    // keeps the directory's index, in its order (migration 17 added indexes it could take).
    const std::pair<std::string_view, std::string_view> conflict_indexes[] = {
        {"ListConflicts", "conflicts_by_directory (directory=?)"},
        {"FindConflictsByUsername", "conflicts_by_username (directory=? AND username_key=?)"},
        {"FindConflictsByLinkKey", "conflicts_by_link_key (directory=? AND link_key=?)"},
        {"FindConflictsBySourceName",
         "conflicts_by_source_name (directory=? AND connection_id=? AND source_name=?)"},
        {"FindUnkeyedConflicts", "conflicts_by_username (directory=? AND username_key=?)"},
    };
    // Partial indexes (migration 19) that the queries must still take.
    if (name == "FindEffectiveUsersByLinkKey") {
      EXPECT_NE(plan.find("effective_users_by_link (directory=? AND link_key=?)"),
                std::string::npos)
          << plan;
      EXPECT_NE(plan.find("(directory=? AND username_key=?)"), std::string::npos) << plan;
    }
    if (name == "SearchUsersByState") {
      EXPECT_NE(plan.find("effective_users_by_state"), std::string::npos) << plan;
    }
    if (name == "ListChangesOf") {
      EXPECT_NE(plan.find("changes_by_member"), std::string::npos) << plan;
    }
    // LDAP names: the unique username key, or the partial index of keys with spaces.
    if (name == "UsersByLdapNameUnspaced") {
      EXPECT_NE(plan.find("(directory=? AND username_key=?)"), std::string::npos) << plan;
    }
    if (name == "UsersByLdapNameSpaced") {
      EXPECT_NE(plan.find("effective_users_by_ldap_name"), std::string::npos) << plan;
    }
    for (const auto& [query, index] : conflict_indexes) {
      if (name == query) {
        EXPECT_NE(plan.find(index), std::string::npos) << name << ": " << plan;
      }
    }
  }
}

// A create adds nothing to the LDAP-name index unless its username has spaces to squeeze: the
// index is partial (migration 18), one random page less per create.
TEST_F(SqliteStoreTest, LdapNameIndexHoldsOnlyKeysWithSpacesToSqueeze) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(store_->path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT sql FROM sqlite_master WHERE type = 'index' AND "
                               "name = 'effective_users_by_ldap_name'",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const std::string index_sql = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  EXPECT_NE(index_sql.find("WHERE username_key <> trim("), std::string::npos) << index_sql;
}

}  // namespace
}  // namespace idsync::store::sqlite
