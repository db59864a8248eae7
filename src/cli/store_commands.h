// `idsync store migrate` (issue #15): the command-line face of store/migrate.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace idsync::cli {

class StoreCommands {
 public:
  // Adds `store migrate` to `app`.
  void Register(CLI::App& app);
  bool Parsed() const;
  // Runs the parsed subcommand; the exit code. It opens both databases itself.
  int Run() const;

 private:
  std::string from_;
  std::string to_;
  bool json_ = false;
  CLI::App* store_ = nullptr;
  CLI::App* migrate_ = nullptr;
};

}  // namespace idsync::cli
