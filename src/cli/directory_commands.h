// The layer-2 commands of `idsync`: policy, explain, conflicts, directory, changes, and the
// admin/read API tokens. The same service calls as the admin API (src/http/admin).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/app.h"

namespace idsync::cli {

class DirectoryCommands {
 public:
  // Adds the subcommands to `app`; `data` and `json` are the shared --data/--json targets.
  void Register(CLI::App& app, std::string& data, bool& json);
  // Whether one of these subcommands was given.
  bool Parsed() const;
  // Runs the parsed subcommand; the exit code.
  int Run(App& app);

 private:
  bool* json_ = nullptr;
  bool whole_ = false;
  std::string name_, file_, directory_ = "users", kind_, group_;
  int64_t since_ = 0, limit_ = 1000, batch_ = 200, batch_ms_ = 40;
  double wait_ = 0;
  CLI::App* policy_ = nullptr;
  CLI::App *policy_get_ = nullptr, *policy_set_ = nullptr, *policy_preview_ = nullptr,
           *policy_validate_ = nullptr, *policy_versions_ = nullptr;
  CLI::App* explain_ = nullptr;
  CLI::App* membership_ = nullptr;
  CLI::App *grant_ = nullptr, *revoke_ = nullptr;
  CLI::App* conflicts_ = nullptr;
  CLI::App* rederive_ = nullptr;
  CLI::App* changes_ = nullptr;
  CLI::App* directory_cmd_ = nullptr;
  CLI::App *dir_list_ = nullptr, *dir_create_ = nullptr, *dir_custom_ = nullptr;
  CLI::App* admin_token_ = nullptr;
  CLI::App* read_token_ = nullptr;
  CLI::App *admin_add_ = nullptr, *admin_list_ = nullptr, *admin_remove_ = nullptr;
  CLI::App *read_add_ = nullptr, *read_list_ = nullptr, *read_remove_ = nullptr;
};

}  // namespace idsync::cli
