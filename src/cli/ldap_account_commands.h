// `idsync ldap-account add|list|remove|rotate` (service accounts applications bind to the LDAP
// server with) and `idsync directory ldap NAME [options]` (a directory's LDAP settings). The
// same service calls as the admin API (src/http/admin/ldap_accounts_routes.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "service/ldap_accounts.h"
#include "store/store.h"

namespace idsync::cli {

class LdapAccountCommands {
 public:
  // Adds `ldap-account` to `app` and `ldap` to its existing `directory` command (registered
  // by DirectoryCommands before this). `data` and `json` are the shared --data/--json targets.
  void Register(CLI::App& app, std::string& data, bool& json);
  // Whether one of these subcommands was given. Check it before DirectoryCommands::Parsed,
  // which also answers true for `directory ldap`.
  bool Parsed() const;
  // Runs the parsed subcommand; the exit code.
  int Run(App& app);

 private:
  int RunAccounts(service::LdapAccounts& accounts, const std::string& data);
  int RunSettings(store::Store& store);

  bool* json_ = nullptr;
  std::string name_, directory_;
  CLI::App* account_ = nullptr;
  CLI::App *add_ = nullptr, *list_ = nullptr, *remove_ = nullptr, *rotate_ = nullptr;
  CLI::App* settings_ = nullptr;
  std::string profile_, disabled_users_, posix_, home_, shell_;
  int64_t uid_base_ = 0, gid_base_ = 0, tombstone_days_ = 0;
  std::vector<std::string> attributes_;
  CLI::Option *profile_opt_ = nullptr, *disabled_opt_ = nullptr, *posix_opt_ = nullptr,
              *uid_opt_ = nullptr, *gid_opt_ = nullptr, *home_opt_ = nullptr, *shell_opt_ = nullptr,
              *attribute_opt_ = nullptr, *tombstone_opt_ = nullptr;
};

}  // namespace idsync::cli
