// Scaffolding shared by the tests that open a real SQLite store: a temporary data folder and a
// plain connection for looking at the file the way an administrator's sqlite3 would.
// Test code only; nothing outside *_test.cpp includes this header.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include "store/store.h"

namespace idsync::store::sqlite::test_support {

// An effective user of directory "users" whose username and keys are `name` as given.
inline EffectiveUserRow MakeEUser(const std::string& id, const std::string& name) {
  EffectiveUserRow row;
  row.directory = "users";
  row.id = id;
  row.username = name;
  row.username_key = name;
  row.state = "active";
  row.mail_key = name + "@example.com";
  row.body = {{"name", name}};
  row.created = FromUnixMillis(5000);
  row.last_modified = FromUnixMillis(5000);
  return row;
}

// An effective group of directory "users" whose name and key are `name` as given.
inline EffectiveGroupRow MakeEGroup(const std::string& id, const std::string& name) {
  EffectiveGroupRow g;
  g.directory = "users";
  g.id = id;
  g.name = name;
  g.name_key = name;
  g.created = FromUnixMillis(6000);
  g.last_modified = FromUnixMillis(6000);
  return g;
}

// A fresh folder under /tmp, removed with everything in it when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "idsync-test") {
    std::string pattern = "/tmp/" + prefix + "-XXXXXX";
    const char* made = mkdtemp(pattern.data());
    if (made == nullptr) std::abort();
    path_ = made;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `job` in a write (MustWrite) or a read (MustRead) of `store` and fails the test if it
// returns an error. The store fixtures of both back-ends forward to these.
inline void MustWrite(Store& store, const std::function<Status(Transaction&)>& job) {
  auto status = store.Write(job);
  ASSERT_TRUE(status) << status.error().detail;
}
inline void MustRead(Store& store, const std::function<Status(Transaction&)>& job) {
  auto status = store.Read(job);
  ASSERT_TRUE(status) << status.error().detail;
}

// Runs `sql` on a plain read-write connection to `path`. Returns the first column of every
// row as text: NULL as "NULL" and a blob as "<blob N>" (N its size in bytes).
inline std::vector<std::string> Query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::string> out;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db) << " in " << sql;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    if (sqlite3_column_type(stmt, 0) == SQLITE_BLOB) {
      out.push_back("<blob " + std::to_string(sqlite3_column_bytes(stmt, 0)) + ">");
      continue;
    }
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    out.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "NULL");
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

// Checkpoints the WAL of the database at `path` (`mode`: "PASSIVE", "TRUNCATE") from a plain
// connection and returns how many frames it held: after a TRUNCATE, the pages the writes since
// have written.
inline int WalFrames(const std::string& path, const std::string& mode) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  const std::string sql = "PRAGMA wal_checkpoint(" + mode + ")";
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  int frames = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    EXPECT_EQ(sqlite3_column_int(stmt, 0), 0) << "the checkpoint was blocked";
    frames = sqlite3_column_int(stmt, 1);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return frames;
}

}  // namespace idsync::store::sqlite::test_support
