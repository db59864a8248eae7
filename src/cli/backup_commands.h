// `idsync backup` and `idsync restore` (issue #14): the command-line face of cli/backup.h.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace idsync::cli {

class BackupCommands {
 public:
  // Adds `backup` and `restore` to `app`; `data` is the shared --data target.
  void Register(CLI::App& app, std::string& data);
  bool Parsed() const;
  // Runs the parsed subcommand; the exit code. Neither opens the store: backup reads the
  // database file beside a running server, restore writes a folder no server uses yet.
  int Run(const std::string& data) const;

 private:
  std::string file_;
  bool json_ = false;
  CLI::App* backup_ = nullptr;
  CLI::App* restore_ = nullptr;
};

}  // namespace idsync::cli
