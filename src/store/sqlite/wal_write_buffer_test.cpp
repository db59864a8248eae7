// The WAL write buffer (wal_write_buffer.h): a commit reaches the file in one write, every
// committed row is visible to other connections and after reopening, whatever the
// synchronous setting, and transactions that spill pages before committing (or roll back)
// leave a consistent database.
#include "store/sqlite/wal_write_buffer.h"

#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite/test_support.h"

namespace idsync::store::sqlite {
namespace {

using test_support::TempDir;

class Connection {
 public:
  Connection(const std::string& path, const char* vfs) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
    EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errstr(rc);
  }
  ~Connection() { sqlite3_close_v2(db_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Exec(const std::string& sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (message != nullptr ? message : "");
    sqlite3_free(message);
  }
  // The first column of the first row of `sql`, as text ("" if none).
  std::string Value(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << sqlite3_errmsg(db_);
    std::string value;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      value = text != nullptr ? reinterpret_cast<const char*>(text) : "";
    } else {
      EXPECT_EQ(rc, SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db_);
    }
    sqlite3_finalize(stmt);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Inserts `rows` rows of about 1,000 bytes numbered from `first` (about four per page).
std::string InsertRows(int first, int rows) {
  return "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(first) + " UNION ALL SELECT i + 1 " +
         "FROM n WHERE i < " + std::to_string(first + rows - 1) + ") " +
         "INSERT INTO t(i, pad) SELECT i, randomblob(1000) FROM n";
}

class WalWriteBufferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(WalWriteBufferVfs(), nullptr);
    path_ = dir_.path() + "/test.db";
    Connection setup(path_, nullptr);
    setup.Exec("PRAGMA journal_mode = WAL");
    setup.Exec("CREATE TABLE t(i INTEGER PRIMARY KEY, pad BLOB NOT NULL)");
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(WalWriteBufferTest, ACommitOfManyPagesIsOneWrite) {
  Connection writer(path_, WalWriteBufferVfs());
  writer.Exec("PRAGMA synchronous = FULL");
  writer.Exec("INSERT INTO t(i, pad) VALUES (0, x'00')");  // the WAL exists and has a header
  uint64_t before = WalRunsWritten();
  writer.Exec("BEGIN; " + InsertRows(1, 200) + "; COMMIT");
  EXPECT_EQ(WalRunsWritten() - before, 1u) << "50-odd frames, each two writes without the buffer";
  Connection reader(path_, nullptr);
  EXPECT_EQ(reader.Value("SELECT count(*) FROM t"), "201");
  EXPECT_EQ(reader.Value("SELECT sum(length(pad)) FROM t WHERE i > 0"), "200000");
}

TEST_F(WalWriteBufferTest, ACommitIsVisibleToOthersWithoutASync) {
  // With synchronous = OFF SQLite never syncs the WAL: only the commit frame's rule puts the
  // frames in the file before the wal-index tells other connections about them.
  Connection writer(path_, WalWriteBufferVfs());
  writer.Exec("PRAGMA synchronous = OFF");
  Connection reader(path_, nullptr);
  for (int round = 0; round < 5; ++round) {
    writer.Exec("BEGIN; " + InsertRows(round * 100, 100) + "; COMMIT");
    EXPECT_EQ(reader.Value("SELECT count(*) FROM t"), std::to_string((round + 1) * 100));
    EXPECT_EQ(reader.Value("SELECT sum(length(pad)) FROM t"), std::to_string((round + 1) * 100000));
  }
  EXPECT_EQ(reader.Value("PRAGMA integrity_check"), "ok");
}

TEST_F(WalWriteBufferTest, SpilledPagesAreReadBackAndRolledBack) {
  Connection writer(path_, WalWriteBufferVfs());
  writer.Exec("PRAGMA synchronous = FULL; PRAGMA cache_size = 5");  // spills to the WAL early
  writer.Exec("BEGIN; " + InsertRows(1, 500));
  // Reading the spilled pages back goes to the WAL, past frames still gathered.
  EXPECT_EQ(writer.Value("SELECT count(*) FROM t"), "500");
  EXPECT_EQ(writer.Value("SELECT sum(length(pad)) FROM t"), "500000");
  writer.Exec("ROLLBACK");
  writer.Exec("BEGIN; " + InsertRows(1000, 300) +
              "; UPDATE t SET pad = x'01' WHERE i % 7 = 0; "
              "COMMIT");
  Connection reader(path_, nullptr);
  EXPECT_EQ(reader.Value("SELECT count(*) FROM t"), "300");
  EXPECT_EQ(reader.Value("SELECT min(i) FROM t"), "1000");
  EXPECT_EQ(reader.Value("SELECT count(*) FROM t WHERE pad = x'01'"), "43");
  EXPECT_EQ(reader.Value("PRAGMA integrity_check"), "ok");
}

TEST_F(WalWriteBufferTest, ALargeTransactionIsWrittenInPiecesAndSurvivesReopening) {
  {
    Connection writer(path_, WalWriteBufferVfs());
    // The page cache (8 MiB) holds the whole transaction: its frames are written at COMMIT.
    writer.Exec("PRAGMA synchronous = FULL; PRAGMA cache_size = -8192");
    writer.Exec("INSERT INTO t(i, pad) VALUES (0, x'00')");
    uint64_t before = WalRunsWritten();
    writer.Exec("BEGIN; " + InsertRows(1, 5000) + "; COMMIT");  // about 5 MiB of frames
    uint64_t runs = WalRunsWritten() - before;
    EXPECT_GE(runs, 5u) << "runs of at most " << kMaxRunBytes << " bytes";
    EXPECT_LE(runs, 6u);
  }
  Connection reopened(path_, nullptr);  // also replays the WAL: its frames are all there
  EXPECT_EQ(reopened.Value("SELECT count(*) FROM t"), "5001");
  EXPECT_EQ(reopened.Value("SELECT sum(length(pad)) FROM t WHERE i > 0"), "5000000");
  EXPECT_EQ(reopened.Value("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace idsync::store::sqlite
