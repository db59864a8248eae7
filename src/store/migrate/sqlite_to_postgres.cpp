#include "store/migrate/sqlite_to_postgres.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/sha.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "store/postgres/pg_connection.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/body_codec.h"
#include "store/sqlite/database.h"
#include "store/sqlite/sqlite_store.h"

namespace idsync::store::migrate {

namespace {

using postgres::PgConnection;
using postgres::PgParam;
using sqlite::Database;

// Every table the two schemas hold, in an order that satisfies their foreign keys (a parent
// before its children). posix_uids and posix_gids come before the effective rows, whose insert
// triggers give a number only to an id that has none: the copied numbers are kept.
constexpr std::string_view kCopied[] = {
    "connections",      "tokens",          "api_tokens",      "directories",
    "policy_versions",  "resources",       "resource_index",  "group_members",
    "posix_uids",       "posix_gids",      "effective_users", "effective_groups",
    "effective_members", "source_links",   "conflicts",       "changes",
    "audit",            "sync_runs",       "sync_state",      "secrets",
    "admin_users",      "console_sessions", "ldap_accounts",  "ldap_settings",
    "policy_applies",
};

// Tables of one schema that are not copied, and why.
// SQLite: counts its triggers keep (PostgreSQL counts otherwise), its compression dictionaries
// (bodies are written out as text), its own bookkeeping.
constexpr std::string_view kSqliteOnly[] = {
    "resource_counts",
    "effective_counts",
    "effective_member_counts",
    "body_dictionaries",
    "schema_migrations",
    "config_generation",
    // The last uidNumber given, which is the highest copied one (rows are never deleted):
    // PostgreSQL's identity column continues after that (SetCounters).
    "posix_counters",
};
// PostgreSQL: the migration record, the configuration generation (bumped by the copy's own
// inserts, which is all a cache needs) and the change-feed counter (set from the copied feed).
constexpr std::string_view kPostgresOnly[] = {"schema_migrations", "config_generation",
                                              "feed_counter"};
// Columns only PostgreSQL has: the change feed's commit order and transaction id (migration 6,
// "The change feed, numbered after commit"); they take their defaults.
const std::set<std::pair<std::string, std::string>> kPostgresOnlyColumns = {
    {"changes", "pos"}, {"changes", "xact"}};

// The rows PostgreSQL's migrations insert into a copied table, which the copy replaces.
constexpr std::string_view kSeeded = "directories";
// Rows per INSERT statement (bounded by PostgreSQL's 65,535 parameters).
constexpr size_t kMaxParams = 30000;
constexpr size_t kMaxBatchRows = 500;
// Rows per FETCH when reading a table back.
constexpr int kFetch = 2000;

bool Contains(const auto& list, std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

Error Invalid(std::string detail) { return MakeError(ErrorCode::kInvalidValue, std::move(detail)); }

std::string QuoteIdent(std::string_view name) { return "\"" + std::string(name) + "\""; }

struct Column {
  std::string name;
  bool boolean = false;  // PostgreSQL boolean: SQLite's 0/1 become false/true
};

// A table's checksum, independent of row order (the two databases order text differently) and
// of size: each row's SHA-256 (over its values, each NULL or length-prefixed, so no two different
// rows hash the same bytes) added into four 64-bit lanes. Memory stays constant at any table size.
class TableSum {
 public:
  void Add(const std::vector<PgParam>& values) {
    std::string bytes;
    for (const auto& v : values) {
      if (!v) {
        bytes += "N;";
        continue;
      }
      bytes += std::to_string(v->size());
      bytes += ':';
      bytes += *v;
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
    for (int lane = 0; lane < 4; ++lane) {
      uint64_t part = 0;
      std::memcpy(&part, digest + lane * 8, 8);
      lanes_[lane] += part;  // modulo 2^64
    }
    ++rows_;
  }
  int64_t rows() const { return rows_; }
  std::string Hex() const {
    std::string out;
    char buf[17];
    for (uint64_t lane : lanes_) {
      std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(lane));
      out += buf;
    }
    return out;
  }

 private:
  uint64_t lanes_[4] = {0, 0, 0, 0};
  int64_t rows_ = 0;
};

class Copier {
 public:
  Copier(Database& source, sqlite::BodyCodec& codec, PgConnection& target)
      : source_(source), codec_(codec), target_(target) {}

  Status CheckTables();
  Status CheckTargetEmpty();
  // Copies one table; its row count and the SHA-256 of what was read.
  Result<TableCopy> CopyTable(std::string_view table);
  Status SetCounters();
  // Reads a copied table back and compares it with `copy` (after every table is copied, so
  // that what one table's triggers did to another is seen too).
  Status Verify(const TableCopy& copy);

 private:
  Result<std::vector<Column>> Columns(std::string_view table);
  Result<PgParam> SourceValue(const sqlite::Statement& row, int column, const Column& c,
                              std::string_view table);
  Status Insert(std::string_view table, const std::vector<Column>& columns,
                const std::vector<std::vector<PgParam>>& rows);
  Result<TableSum> ReadBack(std::string_view table, const std::vector<Column>& columns);

  Database& source_;
  sqlite::BodyCodec& codec_;
  PgConnection& target_;
  // Each table's columns, listed once (CopyTable and Verify both need them).
  std::map<std::string, std::vector<Column>> columns_;
};

Result<std::set<std::string>> SqliteTables(Database& db) {
  auto st = db.Prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  if (!st) return st.error();
  std::set<std::string> out;
  for (;;) {
    auto row = st->Step("listing the SQLite tables");
    if (!row) return row.error();
    if (!*row) break;
    out.insert(st->Text(0));
  }
  return out;
}

Result<std::set<std::string>> PostgresTables(PgConnection& pg) {
  auto r = pg.Exec(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
      "AND table_type = 'BASE TABLE'",
      {}, "listing the PostgreSQL tables");
  if (!r) return r.error();
  std::set<std::string> out;
  for (int i = 0; i < r->Rows(); ++i) out.insert(r->Text(i, 0));
  return out;
}

Status Copier::CheckTables() {
  auto sqlite_tables = SqliteTables(source_);
  if (!sqlite_tables) return sqlite_tables.error();
  auto pg_tables = PostgresTables(target_);
  if (!pg_tables) return pg_tables.error();
  for (const auto& t : *sqlite_tables) {
    if (!Contains(kCopied, t) && !Contains(kSqliteOnly, t)) {
      return MakeError(ErrorCode::kInternal, "the SQLite table " + t +
                                                 " is not handled by store migrate (this build "
                                                 "cannot copy it; nothing was copied)");
    }
  }
  for (const auto& t : *pg_tables) {
    if (!Contains(kCopied, t) && !Contains(kPostgresOnly, t)) {
      return MakeError(ErrorCode::kInternal, "the PostgreSQL table " + t +
                                                 " is not handled by store migrate (this build "
                                                 "cannot fill it; nothing was copied)");
    }
  }
  for (std::string_view t : kCopied) {
    if (!sqlite_tables->count(std::string(t)) || !pg_tables->count(std::string(t))) {
      return MakeError(ErrorCode::kInternal,
                       "table " + std::string(t) + " is missing from the " +
                           (sqlite_tables->count(std::string(t)) ? "PostgreSQL" : "SQLite") +
                           " schema");
    }
  }
  return Status::Ok();
}

Status Copier::CheckTargetEmpty() {
  for (std::string_view t : kCopied) {
    std::string sql = "SELECT EXISTS (SELECT 1 FROM " + QuoteIdent(t) + ")";
    if (t == kSeeded) {
      // What migration 1 inserted, untouched: the two built-in directories.
      sql =
          "SELECT EXISTS (SELECT 1 FROM directories WHERE name NOT IN ('users', 'customers') "
          "OR custom_attributes <> '[]' OR version <> 1)";
    }
    auto r = target_.Exec(sql, {}, "checking that the target is empty");
    if (!r) return r.error();
    if (r->Text(0, 0) == "t") {
      return Invalid("the PostgreSQL database " + target_.Where() + " is not empty (table " +
                     std::string(t) +
                     " has rows); migrate into a new, empty database (createdb), nothing was "
                     "copied");
    }
  }
  return Status::Ok();
}

Result<std::vector<Column>> Copier::Columns(std::string_view table) {
  if (auto known = columns_.find(std::string(table)); known != columns_.end()) {
    return known->second;
  }
  auto r = target_.Exec(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
      "current_schema() AND table_name = $1 ORDER BY ordinal_position",
      {std::string(table)}, "listing a table's columns");
  if (!r) return r.error();
  std::vector<Column> pg;
  for (int i = 0; i < r->Rows(); ++i) {
    if (kPostgresOnlyColumns.count({std::string(table), r->Text(i, 0)})) continue;
    pg.push_back({r->Text(i, 0), r->Text(i, 1) == "boolean"});
  }
  auto st = source_.Prepare("SELECT name FROM pragma_table_info(?1)");
  if (!st) return st.error();
  st->Bind(1, table);
  std::set<std::string> sqlite_columns;
  for (;;) {
    auto row = st->Step("listing a table's columns");
    if (!row) return row.error();
    if (!*row) break;
    sqlite_columns.insert(st->Text(0));
  }
  std::set<std::string> pg_columns;
  for (const auto& c : pg) pg_columns.insert(c.name);
  for (const auto& c : sqlite_columns) {
    if (!pg_columns.count(c)) {
      return MakeError(ErrorCode::kInternal, "column " + std::string(table) + "." + c +
                                                 " has no place in the PostgreSQL schema "
                                                 "(store migrate does not handle it)");
    }
  }
  for (const auto& c : pg_columns) {
    if (!sqlite_columns.count(c)) {
      return MakeError(ErrorCode::kInternal, "column " + std::string(table) + "." + c +
                                                 " is missing from the SQLite schema "
                                                 "(store migrate does not handle it)");
    }
  }
  columns_.emplace(std::string(table), pg);
  return pg;
}

Result<PgParam> Copier::SourceValue(const sqlite::Statement& row, int column, const Column& c,
                                    std::string_view table) {
  switch (sqlite3_column_type(row.handle(), column)) {
    case SQLITE_NULL:
      return PgParam();
    case SQLITE_INTEGER: {
      const int64_t v = row.Int(column);
      if (c.boolean) return PgParam(v != 0 ? "true" : "false");
      return PgParam(std::to_string(v));
    }
    case SQLITE_BLOB: {
      // A compressed body (body_codec.h): written out as its JSON text.
      auto text = codec_.Read(source_, row, column, std::string(table) + "." + c.name);
      if (!text) return text.error();
      return PgParam(std::move(*text));
    }
    case SQLITE_TEXT:
      return PgParam(row.Text(column));
    default:
      return MakeError(ErrorCode::kInternal, "column " + std::string(table) + "." + c.name +
                                                 " holds a floating-point value, which no idsync "
                                                 "column stores; nothing was copied");
  }
}

Status Copier::Insert(std::string_view table, const std::vector<Column>& columns,
                      const std::vector<std::vector<PgParam>>& rows) {
  if (rows.empty()) return Status::Ok();
  std::string sql = "INSERT INTO " + QuoteIdent(table) + " (";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) sql += ", ";
    sql += QuoteIdent(columns[i].name);
  }
  // Identity columns keep the source's numbers (ids, pks, audit seqs, POSIX numbers).
  sql += ") OVERRIDING SYSTEM VALUE VALUES ";
  std::vector<PgParam> params;
  params.reserve(rows.size() * columns.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    sql += r ? ", (" : "(";
    for (size_t i = 0; i < columns.size(); ++i) {
      if (i) sql += ", ";
      params.push_back(rows[r][i]);
      sql += "$" + std::to_string(params.size());
    }
    sql += ")";
  }
  auto done = target_.Exec(sql, params, "copying rows into " + std::string(table));
  if (!done) return done.error();
  return Status::Ok();
}

Result<TableSum> Copier::ReadBack(std::string_view table, const std::vector<Column>& columns) {
  std::string select = "SELECT ";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) select += ", ";
    select += QuoteIdent(columns[i].name) + "::text";
  }
  select += " FROM " + QuoteIdent(table);
  if (auto s = target_.ExecScript("DECLARE readback NO SCROLL CURSOR FOR " + select,
                                  "reading a copied table back");
      !s) {
    return s.error();
  }
  TableSum sum;
  for (;;) {
    auto r = target_.Exec("FETCH " + std::to_string(kFetch) + " FROM readback", {},
                          "reading a copied table back");
    if (!r) return r.error();
    for (int i = 0; i < r->Rows(); ++i) {
      std::vector<PgParam> values;
      values.reserve(columns.size());
      for (size_t c = 0; c < columns.size(); ++c) {
        const int col = static_cast<int>(c);
        values.push_back(r->IsNull(i, col) ? PgParam() : PgParam(r->Text(i, col)));
      }
      sum.Add(values);
    }
    if (r->Rows() < kFetch) break;
  }
  if (auto s = target_.ExecScript("CLOSE readback", "reading a copied table back"); !s) {
    return s.error();
  }
  return sum;
}

Result<TableCopy> Copier::CopyTable(std::string_view table) {
  auto columns = Columns(table);
  if (!columns) return columns.error();
  if (table == kSeeded) {
    auto cleared = target_.Exec("DELETE FROM directories", {}, "replacing the directories");
    if (!cleared) return cleared.error();
  }
  std::string select = "SELECT ";
  for (size_t i = 0; i < columns->size(); ++i) {
    if (i) select += ", ";
    select += QuoteIdent((*columns)[i].name);
  }
  select += " FROM " + QuoteIdent(table);
  // The feed in seq order, so that PostgreSQL's commit order (pos) follows it.
  if (table == "changes") select += " ORDER BY seq";
  auto st = source_.Prepare(select);
  if (!st) return st.error();

  const size_t batch = std::max<size_t>(1, std::min(kMaxBatchRows, kMaxParams / columns->size()));
  std::vector<std::vector<PgParam>> rows;
  TableSum sum;
  for (;;) {
    auto more = st->Step("reading " + std::string(table));
    if (!more) return more.error();
    if (!*more) break;
    std::vector<PgParam> values;
    values.reserve(columns->size());
    for (size_t i = 0; i < columns->size(); ++i) {
      auto v = SourceValue(*st, static_cast<int>(i), (*columns)[i], table);
      if (!v) return v.error();
      values.push_back(std::move(*v));
    }
    sum.Add(values);
    rows.push_back(std::move(values));
    if (rows.size() >= batch) {
      if (auto s = Insert(table, *columns, rows); !s) return s.error();
      rows.clear();
    }
  }
  if (auto s = Insert(table, *columns, rows); !s) return s.error();
  TableCopy copy;
  copy.table = std::string(table);
  copy.rows = sum.rows();
  copy.sha256 = sum.Hex();
  return copy;
}

Status Copier::Verify(const TableCopy& copy) {
  auto columns = Columns(copy.table);
  if (!columns) return columns.error();
  auto target = ReadBack(copy.table, *columns);
  if (!target) return target.error();
  const std::string read_back = target->Hex();
  if (target->rows() != copy.rows || read_back != copy.sha256) {
    return MakeError(ErrorCode::kInternal, "table " + copy.table + " differs after the copy (" +
                                               std::to_string(copy.rows) + " rows read, " +
                                               std::to_string(target->rows()) +
                                               " read back, checksums " +
                                               copy.sha256.substr(0, 12) + " and " +
                                               read_back.substr(0, 12) + "); nothing was copied");
  }
  return Status::Ok();
}

// The high-water marks SQLite keeps for its AUTOINCREMENT tables (audit, changes): a number
// handed out once is never handed out again, even when the newest rows were pruned.
Result<std::map<std::string, int64_t>> SqliteSequences(Database& db) {
  std::map<std::string, int64_t> out;
  auto exists = db.Prepare(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'");
  if (!exists) return exists.error();
  auto has = exists->Step("reading sqlite_sequence");
  if (!has) return has.error();
  if (exists->Int(0) == 0) return out;
  auto st = db.Prepare("SELECT name, seq FROM sqlite_sequence");
  if (!st) return st.error();
  for (;;) {
    auto row = st->Step("reading sqlite_sequence");
    if (!row) return row.error();
    if (!*row) break;
    out[st->Text(0)] = st->Int(1);
  }
  return out;
}

Status Copier::SetCounters() {
  auto sequences = SqliteSequences(source_);
  if (!sequences) return sequences.error();
  // Identity columns continue after the highest copied number (or SQLite's high-water mark).
  auto identities = target_.Exec(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
      "current_schema() AND is_identity = 'YES'",
      {}, "listing identity columns");
  if (!identities) return identities.error();
  for (int i = 0; i < identities->Rows(); ++i) {
    const std::string table = identities->Text(i, 0), column = identities->Text(i, 1);
    int64_t floor = 0;
    if (auto it = sequences->find(table); it != sequences->end()) floor = it->second;
    auto set = target_.Exec(
        "SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(COALESCE((SELECT max(" +
            QuoteIdent(column) + ") FROM " + QuoteIdent(table) + "), 0), $3::bigint) + 1, false)",
        {QuoteIdent(table), column, std::to_string(floor)}, "continuing an identity");
    if (!set) return set.error();
  }
  // The change feed's next seq follows the copied feed (or its high-water mark).
  int64_t feed_floor = 0;
  if (auto it = sequences->find("changes"); it != sequences->end()) feed_floor = it->second;
  auto feed = target_.Exec(
      "UPDATE feed_counter SET seq = GREATEST(COALESCE((SELECT max(seq) FROM changes), 0), "
      "$1::bigint) WHERE id = 1",
      {std::to_string(feed_floor)}, "continuing the change feed");
  if (!feed) return feed.error();
  return Status::Ok();
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

Json MigrationReport::ToJson() const {
  Json out = {{"tables", Json::array()}};
  int64_t rows = 0;
  for (const auto& t : tables) {
    out["tables"].push_back({{"table", t.table}, {"rows", t.rows}, {"sha256", t.sha256}});
    rows += t.rows;
  }
  out["rows"] = rows;
  return out;
}

Result<MigrationReport> CopySqliteToPostgres(const std::string& data_dir,
                                             const std::string& url) {
  const std::string path = data_dir + "/idsync.db";
  if (!FileExists(path)) {
    return Invalid("no idsync database in " + data_dir + " (" + path +
                   " does not exist); pass the --from folder `idsync serve --data` uses");
  }
  // Both schemas brought to this build's version (and a newer source refused), by the stores
  // themselves; then closed, so the copy reads and writes the files and tables directly.
  {
    auto source = sqlite::SqliteStore::Open(data_dir, {});
    if (!source) return source.error();
    (*source)->Close();
    auto target = postgres::PostgresStore::Open(url);
    if (!target) return target.error();
    (*target)->Close();
  }
  auto source = Database::Open(path, SQLITE_OPEN_READONLY);
  if (!source) return source.error();
  sqlite::BodyCodec codec(0);
  if (auto s = codec.Load(**source); !s) return s.error();
  auto target = PgConnection::Open(url);
  if (!target) return target.error();

  // One snapshot of the source, one transaction on the target.
  if (auto s = (*source)->Exec("BEGIN", "reading the SQLite database"); !s) return s.error();
  if (auto s = (*target)->ExecScript("BEGIN ISOLATION LEVEL SERIALIZABLE",
                                     "starting the copy");
      !s) {
    return s.error();
  }
  auto rollback = [&](Error e) -> Result<MigrationReport> {
    (void)(*target)->Rollback("abandoning the copy");
    (void)(*source)->Exec("ROLLBACK", "ending the read");
    return e;
  };
  Copier copier(**source, codec, **target);
  if (auto s = copier.CheckTables(); !s) return rollback(s.error());
  if (auto s = copier.CheckTargetEmpty(); !s) return rollback(s.error());
  MigrationReport report;
  for (std::string_view table : kCopied) {
    auto copy = copier.CopyTable(table);
    if (!copy) return rollback(copy.error());
    report.tables.push_back(std::move(*copy));
  }
  if (auto s = copier.SetCounters(); !s) return rollback(s.error());
  for (const auto& copy : report.tables) {
    if (auto s = copier.Verify(copy); !s) return rollback(s.error());
  }
  if (auto s = (*target)->Commit("committing the copy"); !s) return rollback(s.error());
  (void)(*source)->Exec("COMMIT", "ending the read");
  return report;
}

}  // namespace idsync::store::migrate
