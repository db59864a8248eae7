// `idsync serve`'s settings (issue #14): ServeOptions and the one table that lists every
// setting (TOML key, type, default, flag, environment variable, help). The table drives the
// flags, the configuration file (`serve --config FILE`, `config check FILE`), the IDSYNC_*
// environment variables and the generated reference (`idsync config reference`).
// Precedence: default < file < flag < environment variable.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/result.h"
#include "cli/ldap_serve.h"

namespace idsync::cli {

struct ServeOptions {
  std::string data = "./data";
  std::string store;  // "" = SQLite in `data`; postgresql://... = that database
  std::string listen = "127.0.0.1:8080";
  std::string public_url;
  std::string tls_cert, tls_key;
  bool bench_routes = false;
  bool bench_mirror_only = false;
  double rate_per_connection = 1000;
  double rate_per_address = 2000;
  double rate_per_api_token = 1000;
  int64_t auth_failures_per_address = 10;
  int64_t max_connections = 1024;
  double header_timeout_seconds = 10;
  std::string console_idle = "30m";
  std::string console_lifetime = "12h";
  std::string log_format;  // "" = json when stderr is not a terminal, else text
  std::string log_level = "info";
  LdapServeOptions ldap;
};

// The settings of `idsync serve`, bound to one ServeOptions.
class ServeSettings {
 public:
  explicit ServeSettings(ServeOptions& options) : options_(options) {}

  // Adds every setting's flag, and --config FILE, to `serve`.
  void RegisterFlags(CLI::App* serve);

  // After the command line is parsed: reads the configuration file (--config, else
  // IDSYNC_CONFIG, else none) for the settings no flag gave, then applies IDSYNC_* variables
  // over both. Errors name the file (or variable), line and key and say what to fix.
  Status Resolve(const CLI::App& serve);

  // SIGHUP: the settings as Resolve would give them now (the same flags and environment, the
  // configuration file read again), into a new ServeOptions; the running ones are untouched.
  // The same errors as Resolve.
  Result<ServeOptions> Reread(const CLI::App& serve) const;

  // A setting whose value differs between two ServeOptions; `reloadable` when a running server
  // applies it on SIGHUP (TLS certificate and key files, rate limits, log level), else it
  // needs a restart.
  struct Change {
    std::string key;
    std::string from, to;
    bool reloadable = false;
  };
  static std::vector<Change> Diff(const ServeOptions& running, const ServeOptions& next);
  // Copies the setting `key` from `from` into `to`.
  static void Take(const std::string& key, const ServeOptions& from, ServeOptions& to);

  // Checks a configuration file without applying it; the same errors as Resolve.
  static Status CheckFile(const std::string& path);

  // The Markdown reference of every setting (the README's configuration reference section).
  static std::string ReferenceMarkdown();

 private:
  Status ResolveInto(const CLI::App& serve, ServeOptions& options) const;

  ServeOptions& options_;
  std::string config_path_;
};

}  // namespace idsync::cli
