// The LDAP commands of `idsync` (issue #4): `connection add NAME --kind ldap ...`,
// `ldap test NAME [USERNAME]`, `ldap set-password NAME`, `sync NAME [--full] [--confirm]`,
// `sync runs NAME`, and the server's share: the scheduler and the admin API's LDAP routes.
// The same LdapSync calls as the admin API.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "base/json.h"
#include "base/result.h"
#include "cli/app.h"
#include "store/store.h"

namespace idsync::http {
class AdminApi;
}

namespace idsync::cli {

class LdapCommands {
 public:
  LdapCommands();
  ~LdapCommands();
  // Adds `--kind` and the LDAP options to `connection add`.
  void RegisterConnectionAdd(CLI::App* add);
  // Adds `ldap ...` and `sync ...` to `app`; `data` and `json` are the shared targets.
  void Register(CLI::App& app, std::string& data, bool& json);
  // Adds the same LDAP options to `connection set` (settings of an existing ldap connection).
  void RegisterConnectionSet(CLI::App* set);
  // `connection set` was given.
  bool IsSet() const;
  // Runs `connection set NAME`: the given settings replace the stored ones (the mirror is kept;
  // the next run uses them); the exit code.
  int RunSet(App& app, const std::string& name, bool json);
  // `connection show` of an ldap connection: its settings (never the password), whether a bind
  // password is set, and the last run. Added to `shown`.
  static Status AddLdapDetails(store::Store& store, const store::Connection& c, Json& shown);
  // `connection add` was given --kind ldap.
  bool IsLdapAdd() const;
  // Whether one of the `ldap`/`sync` subcommands was given.
  bool Parsed() const;
  // Runs `connection add --kind ldap`; the exit code.
  int RunAdd(App& app, const std::string& name, const std::string& directory, bool json);
  // Runs the parsed `ldap`/`sync` subcommand; the exit code.
  int Run(App& app);

  // For `serve`: starts the App's scheduler and gives the admin API its LDAP routes. Takes the
  // routes away and stops the scheduler (waiting for runs in progress) when destroyed.
  struct Server;
  // A shared_ptr so that callers need not see Server (its deleter is bound here).
  static Result<std::shared_ptr<Server>> StartServer(App& app, http::AdminApi& admin);

 private:
  struct Options;
  void AddLdapFlags(CLI::App* sub, const std::string& group);
  Result<Json> SettingsFromFlags() const;
  std::unique_ptr<Options> o_;
};

}  // namespace idsync::cli
