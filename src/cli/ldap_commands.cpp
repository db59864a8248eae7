#include "cli/ldap_commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include <termios.h>
#include <unistd.h>

#include "base/json.h"
#include "base/time.h"
#include "cli/fail.h"
#include "http/admin/admin_api.h"
#include "sync/ldap_sync.h"
#include "sync/scheduler.h"

namespace idsync::cli {

namespace {

// The bind password: from a file (first line), from standard input, or typed at a prompt
// without echo. Never from the command line, where ps and shell history would show it.
Result<std::string> ReadPassword(const std::string& file, bool from_stdin) {
  std::string line;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return MakeError(ErrorCode::kInvalidValue, "cannot read " + file);
    std::getline(in, line);
  } else if (from_stdin || !isatty(STDIN_FILENO)) {
    std::getline(std::cin, line);
  } else {
    std::fprintf(stderr, "Bind password: ");
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::getline(std::cin, line);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

void PrintRun(const Json& run) {
  std::cout << "run " << run["id"] << "  " << run["mode"].get<std::string>() << "  "
            << run["outcome"].get<std::string>() << "  started "
            << run["started"].get<std::string>()
            << (run["ended"].is_string() ? "  ended " + run["ended"].get<std::string>() : "")
            << "  (" << run["trigger"].get<std::string>() << ")\n";
  std::cout << "  progress:";
  for (auto it = run["progress"].begin(); it != run["progress"].end(); ++it) {
    std::cout << " " << it.key() << "=" << (it->is_string() ? it->get<std::string>() : it->dump());
  }
  std::cout << "\n  counts:";
  for (auto it = run["counts"].begin(); it != run["counts"].end(); ++it) {
    std::cout << " " << it.key() << "=" << it->dump();
  }
  std::cout << "\n";
  if (run["error"].is_string()) std::cout << "  " << run["error"].get<std::string>() << "\n";
}

}  // namespace

struct LdapCommands::Options {
  CLI::App* add = nullptr;
  CLI::App* set = nullptr;
  std::string kind = "scim";
  Json settings = Json::object();
  std::string settings_file;
  std::string url, ca_file, bind_dn, user_filter, group_filter, id_attribute, username_attribute,
      schedule, full_every, change_attribute, network_timeout, operation_timeout, password_file;
  bool start_tls = false, password_stdin = false;
  std::vector<std::string> base_dns, attributes;
  int page_size = 0;
  double guard = -1;

  bool* json = nullptr;
  std::string name, username;
  bool full = false, confirm = false;
  int64_t limit = 20;
  CLI::App *ldap = nullptr, *test = nullptr, *set_password = nullptr, *sync = nullptr,
           *runs = nullptr;
};

LdapCommands::LdapCommands() : o_(std::make_unique<Options>()) {}
LdapCommands::~LdapCommands() = default;

void LdapCommands::RegisterConnectionAdd(CLI::App* add) {
  Options& o = *o_;
  o.add = add;
  add->add_option("--kind", o.kind, "scim (default) or ldap")
      ->check(CLI::IsMember({"scim", "ldap"}));
  AddLdapFlags(add, "LDAP (--kind ldap)");
}

void LdapCommands::RegisterConnectionSet(CLI::App* set) {
  o_->set = set;
  AddLdapFlags(set, "LDAP settings to change");
}

bool LdapCommands::IsSet() const {
  return o_->set && o_->set->parsed();
}

void LdapCommands::AddLdapFlags(CLI::App* add, const std::string& g) {
  Options& o = *o_;
  add->add_option("--url", o.url, "ldap://host[:port] or ldaps://host[:port]")->group(g);
  add->add_flag("--start-tls", o.start_tls, "Upgrade ldap:// with StartTLS before binding")
      ->group(g);
  add->add_option("--ca-file", o.ca_file, "PEM CA file that issued the server certificate")
      ->group(g);
  add->add_option("--bind-dn", o.bind_dn, "DN to bind as (empty: anonymous)")->group(g);
  add->add_option("--password-file", o.password_file,
                  "File whose first line is the bind password (default: prompt)")
      ->group(g);
  add->add_flag("--password-stdin", o.password_stdin, "Read the bind password from stdin")
      ->group(g);
  add->add_option("--base-dn", o.base_dns, "Subtree to read users and groups from (repeat)")
      ->group(g);
  add->add_option("--user-filter", o.user_filter, "LDAP filter of users")->group(g);
  add->add_option("--group-filter", o.group_filter, "LDAP filter of groups")->group(g);
  add->add_option("--attribute", o.attributes, "Attribute to read (repeat; default: all)")
      ->group(g);
  add->add_option("--id-attribute", o.id_attribute, "entryUUID (default) or objectGUID")->group(g);
  add->add_option("--username-attribute", o.username_attribute,
                  "uid (default), sAMAccountName or userPrincipalName")
      ->group(g);
  add->add_option("--change-attribute", o.change_attribute,
                  "modifyTimestamp (default) or uSNChanged (Active Directory)")
      ->group(g);
  add->add_option("--schedule", o.schedule, "Sync every, e.g. 15m (default: no schedule)")
      ->group(g);
  add->add_option("--full-every", o.full_every, "Full sync when the last is older (default 1d)")
      ->group(g);
  add->add_option("--page-size", o.page_size, "Entries per page (default 500)")->group(g);
  add->add_option("--network-timeout", o.network_timeout, "Connect timeout, e.g. 10s")->group(g);
  add->add_option("--operation-timeout", o.operation_timeout, "Per-request timeout, e.g. 60s")
      ->group(g);
  add->add_option("--deprovision-guard", o.guard,
                  "Share of users a run may deprovision without --confirm (default 0.1)")
      ->group(g);
  add->add_option("--settings", o.settings_file, "JSON file of LDAP settings (see README)")
      ->group(g);
}

bool LdapCommands::IsLdapAdd() const {
  return o_->add && o_->add->parsed() && o_->kind == "ldap";
}

void LdapCommands::Register(CLI::App& app, std::string& data, bool& json) {
  Options& o = *o_;
  o.json = &json;
  auto common = [&](CLI::App* sub) {
    sub->add_option("--data", data, "Data folder (default ./data)");
    sub->add_flag("--json", json, "Print JSON");
  };
  o.ldap = app.add_subcommand("ldap", "Check an LDAP connection");
  o.ldap->require_subcommand(1);
  o.test = o.ldap->add_subcommand(
      "test",
      "Bind and read the base DNs; with USERNAME, show that user as the policy maps it "
      "(writes nothing)");
  o.test->add_option("name", o.name, "Connection name")->required();
  o.test->add_option("username", o.username, "A username to look up");
  common(o.test);
  o.set_password = o.ldap->add_subcommand("set-password", "Replace the bind password");
  o.set_password->add_option("name", o.name, "Connection name")->required();
  o.set_password->add_option("--password-file", o.password_file, "File with the password");
  o.set_password->add_flag("--password-stdin", o.password_stdin, "Read it from stdin");
  common(o.set_password);

  o.sync = app.add_subcommand("sync", "Run an LDAP sync now (incremental unless --full)");
  o.sync->add_option("name", o.name, "Connection name");
  o.sync->add_flag("--full", o.full, "Read everything (finds deletions, recomputes groups)");
  o.sync->add_flag("--confirm", o.confirm,
                   "Proceed although more users would be deprovisioned than the guard allows");
  common(o.sync);
  o.runs = o.sync->add_subcommand("runs", "Show a connection's sync runs, newest first");
  o.runs->add_option("name", o.name, "Connection name")->required();
  o.runs->add_option("--limit", o.limit, "At most this many (default 20)");
  common(o.runs);
}

bool LdapCommands::Parsed() const {
  return o_->ldap->parsed() || o_->sync->parsed();
}

// The settings given on the command line: --settings FILE, then each flag over it.
Result<Json> LdapCommands::SettingsFromFlags() const {
  const Options& o = *o_;
  Json s = Json::object();
  if (!o.settings_file.empty()) {
    std::ifstream in(o.settings_file);
    if (!in) return MakeError(ErrorCode::kInvalidValue, "cannot read " + o.settings_file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto parsed = ParseJsonStrict(text);
    if (!parsed) {
      return MakeError(ErrorCode::kInvalidValue,
                       o.settings_file + " is not valid JSON: " + parsed.error().detail);
    }
    s = *parsed;
    if (!s.is_object()) {
      return MakeError(ErrorCode::kInvalidValue, o.settings_file + " must hold a JSON object");
    }
  }
  auto set = [&](const char* key, const std::string& v) {
    if (!v.empty()) s[key] = v;
  };
  set("url", o.url);
  set("ca_file", o.ca_file);
  set("bind_dn", o.bind_dn);
  set("user_filter", o.user_filter);
  set("group_filter", o.group_filter);
  set("id_attribute", o.id_attribute);
  set("username_attribute", o.username_attribute);
  set("change_attribute", o.change_attribute);
  set("schedule", o.schedule);
  set("full_every", o.full_every);
  set("network_timeout", o.network_timeout);
  set("operation_timeout", o.operation_timeout);
  if (o.start_tls) s["start_tls"] = true;
  if (!o.base_dns.empty()) s["base_dns"] = o.base_dns;
  if (!o.attributes.empty()) s["attributes"] = o.attributes;
  if (o.page_size > 0) s["page_size"] = o.page_size;
  if (o.guard >= 0) s["deprovision_guard"] = o.guard;
  return s;
}

int LdapCommands::RunAdd(App& app, const std::string& name, const std::string& directory,
                         bool json) {
  Options& o = *o_;
  auto flags = SettingsFromFlags();
  if (!flags) return Fail(flags.error().detail);
  Json s = std::move(*flags);
  std::string password;
  if (s.value("bind_dn", "") != "") {
    auto pw = ReadPassword(o.password_file, o.password_stdin);
    if (!pw) return Fail(pw.error().detail);
    password = std::move(*pw);
  }
  auto engine = app.ldap_sync();
  if (!engine) return Fail(engine.error().detail);
  auto c = (*engine)->AddConnection(name, directory, s, password, "cli");
  if (!c) return Fail(c.error().detail);
  if (json) {
    std::cout << DumpJson(Json{{"name", c->name},
                               {"id", c->uuid},
                               {"directory", c->directory},
                               {"kind", c->kind},
                               {"settings", c->settings}})
              << "\n";
  } else {
    std::cout << "LDAP connection \"" << name << "\" created in directory " << directory
              << ".\nCheck it: idsync ldap test " << name << " [USERNAME]\n"
              << "Then sync: idsync sync " << name << "\n";
  }
  return 0;
}

int LdapCommands::RunSet(App& app, const std::string& name, bool json) {
  Options& o = *o_;
  auto flags = SettingsFromFlags();
  if (!flags) return Fail(flags.error().detail);
  const bool new_password = !o.password_file.empty() || o.password_stdin;
  if (flags->empty() && !new_password) {
    return Fail(
        "connection set: nothing to change (give --settings FILE or a setting such as "
        "--user-filter; see idsync connection set --help)");
  }
  auto engine = app.ldap_sync();
  if (!engine) return Fail(engine.error().detail);
  if (new_password) {  // first, so that a new bind DN finds its password
    auto pw = ReadPassword(o.password_file, o.password_stdin);
    if (!pw) return Fail(pw.error().detail);
    if (Status st = (*engine)->SetPassword(name, *pw, "cli"); !st) return Fail(st.error().detail);
  }
  auto updated = (*engine)->UpdateConnection(name, *flags, "cli");
  if (!updated) return Fail(updated.error().detail);
  if (json) {
    std::cout << DumpJson(Json{{"name", updated->connection.name},
                               {"changed", updated->changed},
                               {"settings", updated->connection.settings}})
              << "\n";
  } else if (updated->changed.empty()) {
    std::cout << "Nothing changed: \"" << name << "\" already has these settings.\n";
  } else {
    std::cout << "LDAP connection \"" << name << "\" changed:";
    for (const auto& key : updated->changed) {
      const Json& v = updated->connection.settings[key];
      std::cout << " " << key << "=" << (v.is_string() ? v.get<std::string>() : v.dump());
    }
    std::cout << ".\nThe next run uses the new settings; nothing was deprovisioned.\n";
  }
  return 0;
}

Status LdapCommands::AddLdapDetails(store::Store& store, const store::Connection& c, Json& shown) {
  shown.erase("base_url");  // a pull connection has no SCIM endpoint
  shown.erase("tokens");
  shown["settings"] = c.settings;  // as stored: the password is sealed apart, never in them
  return store.Read([&](store::Transaction& tx) -> Status {
    auto secret = tx.GetSecret(c.id, "bind_password");
    if (!secret && secret.error().code != ErrorCode::kNotFound) return secret.error();
    shown["bind_password"] = secret ? "(set)" : "(none)";
    auto runs = tx.ListSyncRuns(c.id, 1);
    if (!runs) return runs.error();
    shown["last_run"] = runs->empty() ? Json(nullptr) : sync::SyncRunToJson(runs->front(), c.name);
    return Status::Ok();
  });
}

int LdapCommands::Run(App& app) {
  Options& o = *o_;
  const bool json = *o.json;
  auto made = app.ldap_sync();
  if (!made) return Fail(made.error().detail);
  sync::LdapSync& engine = **made;

  if (o.test->parsed()) {
    auto r = engine.Test(
        o.name, o.username.empty() ? std::nullopt : std::optional<std::string>(o.username));
    if (!r) return Fail(r.error().detail);
    if (json) {
      std::cout << r->dump(2) << "\n";
    } else {
      std::cout << ((*r)["ok"].get<bool>()
                        ? "OK: "
                        : "FAILED (" + (*r)["failure"].get<std::string>() + "): ")
                << (*r)["message"].get<std::string>() << "\n";
      if ((*r)["user"].is_object()) std::cout << (*r)["user"].dump(2) << "\n";
    }
    return (*r)["ok"].get<bool>() ? 0 : 1;
  }
  if (o.set_password->parsed()) {
    auto pw = ReadPassword(o.password_file, o.password_stdin);
    if (!pw) return Fail(pw.error().detail);
    if (Status st = engine.SetPassword(o.name, *pw, "cli"); !st) return Fail(st.error().detail);
    std::cout << "Bind password of \"" << o.name << "\" replaced.\n";
    return 0;
  }
  if (o.runs->parsed()) {
    auto runs = engine.Runs(o.name, o.limit);
    if (!runs) return Fail(runs.error().detail);
    Json arr = Json::array();
    for (const auto& r : *runs) arr.push_back(sync::SyncRunToJson(r, o.name));
    if (json) {
      std::cout << arr.dump(2) << "\n";
    } else {
      if (arr.empty()) std::cout << "No runs yet: idsync sync " << o.name << "\n";
      for (const auto& r : arr) PrintRun(r);
    }
    return 0;
  }
  if (o.sync->parsed()) {
    if (o.name.empty()) return Fail("sync: connection name required (idsync sync NAME)");
    sync::RunOptions options;
    options.full = o.full;
    options.confirm = o.confirm;
    options.trigger = "cli";
    auto run = engine.Run(o.name, options);
    if (!run) return Fail(run.error().detail);
    Json j = sync::SyncRunToJson(*run, o.name);
    if (json) {
      std::cout << j.dump(2) << "\n";
    } else {
      PrintRun(j);
    }
    return run->outcome == "succeeded" ? 0 : run->outcome == "needs_confirmation" ? 3 : 1;
  }
  return 0;
}

// The engine and the scheduler are the App's; this handle takes the admin API's LDAP routes
// away and stops the scheduler (waiting for runs in progress) when released.
struct LdapCommands::Server {
  App* app = nullptr;
  http::AdminApi* admin = nullptr;
  ~Server() {
    if (admin) admin->SetLdapSync(nullptr, nullptr);
    if (app) app->StopScheduler();
  }
};

Result<std::shared_ptr<LdapCommands::Server>> LdapCommands::StartServer(App& app,
                                                                        http::AdminApi& admin) {
  auto engine = app.ldap_sync();
  if (!engine) return engine.error();
  auto scheduler = app.StartScheduler();
  if (!scheduler) return scheduler.error();
  auto server = std::make_shared<Server>();
  server->app = &app;
  admin.SetLdapSync(*engine, *scheduler);
  server->admin = &admin;
  return server;
}

}  // namespace idsync::cli
