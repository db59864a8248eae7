#include "cli/store_commands.h"

#include <iostream>

#include "base/json.h"
#include "cli/fail.h"
#include "store/migrate/sqlite_to_postgres.h"
#include "store/postgres/postgres_store.h"

namespace idsync::cli {

void StoreCommands::Register(CLI::App& app) {
  store_ = app.add_subcommand("store", "Move an installation between stores");
  store_->require_subcommand(1);
  migrate_ = store_->add_subcommand(
      "migrate",
      "Copy an SQLite data folder's database into a new, empty PostgreSQL database, keeping "
      "every id, token, policy version and change-feed position; verifies each table's rows "
      "and checksum before committing. Stop `idsync serve` on the folder first");
  migrate_->add_option("--from", from_, "Data folder `idsync serve --data` uses")->required();
  migrate_->add_option("--to", to_, "postgresql://USER@HOST:PORT/DB of an empty database")
      ->required();
  migrate_->add_flag("--json", json_, "Print JSON");
}

bool StoreCommands::Parsed() const { return migrate_->parsed(); }

int StoreCommands::Run() const {
  if (!store::postgres::IsPostgresUrl(to_)) {
    return Fail("--to must be a postgresql:// URL (the database to copy into), not \"" + to_ +
                "\"");
  }
  auto report = store::migrate::CopySqliteToPostgres(from_, to_);
  if (!report) return Fail(report.error().detail);
  if (json_) {
    std::cout << DumpJson(report->ToJson()) << "\n";
    return 0;
  }
  int64_t rows = 0;
  for (const auto& t : report->tables) rows += t.rows;
  std::cout << "Copied " << rows << " rows in " << report->tables.size() << " tables from "
            << from_ << " to " << store::postgres::RedactUrl(to_)
            << "; every table's count and checksum verified.\n"
            << "Serve from it (the data folder keeps secret.key and the local files):\n"
            << "  idsync serve --data " << from_ << " --store " << store::postgres::RedactUrl(to_)
            << "\n";
  return 0;
}

}  // namespace idsync::cli
