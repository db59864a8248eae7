#include "cli/backup_commands.h"

#include <cstdio>
#include <iostream>

#include "cli/backup.h"

namespace idsync::cli {

void BackupCommands::Register(CLI::App& app, std::string& data) {
  backup_ = app.add_subcommand(
      "backup",
      "Write a consistent copy of the data folder (database, secret.key, server.json) to one "
      "archive with checksums; safe while serve runs");
  backup_->add_option("--data", data, "Data folder (default ./data)");
  backup_->add_option("--to", file_, "Archive to write (a new file, e.g. idsync.tar.zst)")
      ->required();
  backup_->add_flag("--json", json_, "Print JSON");
  restore_ = app.add_subcommand(
      "restore",
      "Restore an archive written by `idsync backup` into a new or empty data folder, after "
      "checking its checksums and the database's integrity");
  restore_->add_option("--from", file_, "Archive written by idsync backup")->required();
  restore_->add_option("--data", data, "New or empty data folder to restore into")->required();
  restore_->add_flag("--json", json_, "Print JSON");
}

bool BackupCommands::Parsed() const {
  return backup_->parsed() || restore_->parsed();
}

int BackupCommands::Run(const std::string& data) const {
  bool backup = backup_->parsed();
  auto description = backup ? BackupDataFolder(data, file_) : RestoreDataFolder(file_, data);
  if (!description) {
    std::fprintf(stderr, "idsync: %s\n", description.error().detail.c_str());
    return 1;
  }
  if (json_) {
    std::cout << DumpJson(*description) << "\n";
  } else if (backup) {
    std::cout << "Backup of " << data << " written to " << file_ << " ("
              << (*description)["files"].size() << " files, checksums in SHA256SUMS).\n";
  } else {
    std::cout << "Restored " << file_ << " (taken " << (*description)["created"].get<std::string>()
              << " by idsync " << (*description)["idsync_version"].get<std::string>() << ") into "
              << data << "; checksums and integrity_check passed.\n"
              << "Start the server on it: idsync serve --data " << data << "\n";
  }
  return 0;
}

}  // namespace idsync::cli
