// `idsync admin-user add|list|remove|reset-password NAME [--role admin|viewer]`: the admin
// console's local users (issue #12). The same service calls as /api/v1/admin-users
// (src/http/admin/admin_users_routes.cpp). add and reset-password print a one-time password,
// which must be changed at the first sign-in.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/app.h"

namespace idsync::cli {

class AdminUserCommands {
 public:
  // Adds `admin-user` to `app`. `data` and `json` are the shared --data/--json targets.
  void Register(CLI::App& app, std::string& data, bool& json);
  bool Parsed() const;
  // Runs the parsed subcommand; the exit code.
  int Run(App& app);

 private:
  bool* json_ = nullptr;
  std::string name_, role_ = "admin";
  bool if_none_ = false;
  CLI::App* root_ = nullptr;
  CLI::App *add_ = nullptr, *list_ = nullptr, *remove_ = nullptr, *reset_ = nullptr;
};

}  // namespace idsync::cli
