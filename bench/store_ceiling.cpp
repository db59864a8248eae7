// Store ceiling for bench/run.sh: how many durable single-row transactions per second this
// machine's disk and SQLite allow, with no server in the way. The benchmark compares the
// server's create and PATCH rates against this number.
//
// Usage: store_ceiling DIR [SECONDS=5] [ROW_BYTES=1024]
// Writes DIR/ceiling.db (WAL, synchronous=FULL), one ~ROW_BYTES row per transaction,
// sequentially, for SECONDS, then prints one JSON line:
//   {"inserts":N,"seconds":S,"inserts_per_s":R,"row_bytes":B,"cpu_ms_per_insert":C}
// Exit status is non-zero with a message on stderr if SQLite reports an error.
#include <sqlite3.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

bool Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "store_ceiling: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: store_ceiling DIR [SECONDS] [ROW_BYTES]\n");
    return 2;
  }
  const std::string path = std::string(argv[1]) + "/ceiling.db";
  const double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
  const int row_bytes = argc > 3 ? std::atoi(argv[3]) : 1024;

  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::fprintf(stderr, "store_ceiling: cannot open %s\n", path.c_str());
    return 1;
  }
  // The server's settings for its write path: WAL, and a commit is on disk when it returns.
  if (!Exec(db, "PRAGMA journal_mode=WAL") || !Exec(db, "PRAGMA synchronous=FULL") ||
      !Exec(db, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, k TEXT UNIQUE, body TEXT)")) {
    return 1;
  }
  sqlite3_stmt* ins = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO t(k, body) VALUES(?, ?)", -1, &ins, nullptr) !=
      SQLITE_OK) {
    std::fprintf(stderr, "store_ceiling: prepare: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  std::string body(static_cast<size_t>(row_bytes), 'x');
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  long long n = 0;
  while (Clock::now() < until) {
    if (!Exec(db, "BEGIN IMMEDIATE")) return 1;
    std::string key = "user" + std::to_string(n) + "@example.com";
    body.replace(0, key.size(), key);
    sqlite3_bind_text(ins, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 2, body.c_str(), static_cast<int>(body.size()), SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE) {
      std::fprintf(stderr, "store_ceiling: insert: %s\n", sqlite3_errmsg(db));
      return 1;
    }
    sqlite3_reset(ins);
    if (!Exec(db, "COMMIT")) return 1;
    ++n;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  sqlite3_finalize(ins);
  sqlite3_close(db);
  // CPU time (user + system) per transaction: how much of the ceiling is the CPU, how much the
  // disk (bench/write_path.py sets it against the CPU the server and the client spend per write).
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::printf(
      "{\"inserts\":%lld,\"seconds\":%.3f,\"inserts_per_s\":%.1f,\"row_bytes\":%d,"
      "\"cpu_ms_per_insert\":%.4f}\n",
      n, elapsed, n / elapsed, row_bytes, n ? cpu_s * 1000.0 / static_cast<double>(n) : 0.0);
  return 0;
}
