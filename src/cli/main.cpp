// `idsync`: the composition root. Parses the command line (CLI11), opens the App (cli/app.h: the
// concrete store and the services over it) and either serves or runs one administrative command.
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/time.h"
#include "cli/admin_user_commands.h"
#include "cli/allocator.h"
#include "cli/app.h"
#include "cli/backup_commands.h"
#include "cli/directory_commands.h"
#include "cli/fail.h"
#include "cli/ldap_account_commands.h"
#include "cli/ldap_commands.h"
#include "cli/ldap_serve.h"
#include "cli/serve_config.h"
#include "cli/service_notify.h"
#include "cli/store_commands.h"
#include "cli/version.h"
#include "directory/directory_service.h"
#include "directory/reader.h"
#include "http/admin/admin_api.h"
#include "http/console/console_api.h"
#include "http/directory/directory_api.h"
#include "http/ops/ops_api.h"
#include "http/request_limits.h"
#include "http/scim/scim_api.h"
#include "http/server.h"
#include "scim/schema/registry.h"
#include "service/admin_users.h"
#include "service/api_tokens.h"
#include "service/connections.h"
#include "service/console_sessions.h"
#include "service/scim_service.h"
#include "store/postgres/postgres_store.h"
#include "sync/scheduler.h"
#include "tls/server_context.h"

namespace idsync::cli {
namespace {

constexpr int kExitUsage = 2;

// A running server's failure goes to the server log (JSON lines for a log collector), not
// free text; a command's failure stays a plain line for the person who typed it.
int ServeFail(const std::string& message) {
  log::Error("cannot serve", {{"detail", message}});
  return kExitFailure;
}

std::string ServerFile(const std::string& data) {
  return data + "/server.json";
}

// The public URL of the server that last ran on this data folder (written by `serve`), so that
// `connection add` prints a base URL an administrator can paste.
std::string PublicUrl(const std::string& data) {
  std::ifstream in(ServerFile(data));
  if (in) {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto j = ParseJsonStrict(text);
    if (j && j->is_object() && j->contains("public_url") && (*j)["public_url"].is_string()) {
      return (*j)["public_url"].get<std::string>();
    }
  }
  return "http://127.0.0.1:8080";
}

Status WriteFileAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kUnavailable, "cannot write " + tmp);
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ok &= ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot write " + path);
  }
  return Status::Ok();
}

Json ConnectionJson(const store::Connection& c, const std::string& data) {
  return {{"name", c.name},
          {"id", c.uuid},
          {"directory", c.directory},
          {"kind", c.kind},
          {"enabled", c.enabled},
          {"created", FormatRfc3339(c.created)},
          {"base_url", PublicUrl(data) + "/scim/v2"}};
}

// What SIGHUP can change in a running server (ServeSettings::Diff lists the keys), and the TLS
// contexts it rebuilds. The HTTP and LDAP listeners share one context unless ldap.tls_cert/key
// name their own.
struct Reloadable {
  ServeOptions running;  // as started, plus what reloads applied
  std::shared_ptr<tls::ServerContext> http_tls;
  std::shared_ptr<tls::ServerContext> ldap_tls;  // == http_tls when shared
  http::RequestLimits* limits = nullptr;
};

std::string LdapCert(const ServeOptions& o) {
  return o.ldap.tls_cert.empty() ? o.tls_cert : o.ldap.tls_cert;
}
std::string LdapKey(const ServeOptions& o) {
  return o.ldap.tls_key.empty() ? o.tls_key : o.ldap.tls_key;
}

// SIGHUP: reads the configuration again (file, then the start's flags and environment) and
// applies what can change without a restart: the TLS certificates (read again even when their
// paths did not change: a renewed certificate is written over the old file), rate limits and
// the log level. Everything is checked before anything is applied: an invalid file or
// certificate leaves the running configuration whole. Each change is logged; a change that
// needs a restart is named and not applied.
void Reload(Reloadable& r, const std::function<Result<ServeOptions>()>& reread) {
  log::Info("SIGHUP: reading the configuration again");
  auto refuse = [](const std::string& why) {
    log::Error("configuration reload refused, the running configuration is kept",
               {{"detail", why}});
  };
  auto next = reread();
  if (!next) return refuse(next.error().detail);
  if (next->tls_cert.empty() != next->tls_key.empty()) {
    return refuse("tls.cert and tls.key must be given together");
  }
  if (next->ldap.tls_cert.empty() != next->ldap.tls_key.empty()) {
    return refuse("ldap.tls_cert and ldap.tls_key must be given together");
  }
  auto changes = ServeSettings::Diff(r.running, *next);
  std::set<std::string> restart;
  for (const auto& c : changes) {
    if (!c.reloadable) restart.insert(c.key);
  }
  // TLS switched on or off, or the LDAP listeners' certificate split from (or joined) the
  // HTTP one: the listeners were built for the other case.
  const bool ldap_own = r.ldap_tls && r.ldap_tls != r.http_tls;
  const bool ldap_own_next = !next->ldap.tls_cert.empty() && next->ldap.tls_cert != next->tls_cert;
  if (r.http_tls == nullptr && !next->tls_cert.empty()) restart.insert("tls.cert");
  if (r.http_tls != nullptr && next->tls_cert.empty()) restart.insert("tls.cert");
  if (r.ldap_tls != nullptr && (ldap_own != ldap_own_next || LdapCert(*next).empty())) {
    restart.insert("ldap.tls_cert");
  }
  // Build every context first.
  std::shared_ptr<boost::asio::ssl::context> http_ctx, ldap_ctx;
  if (r.http_tls && !restart.count("tls.cert")) {
    auto built = tls::ServerContext::Build(next->tls_cert, next->tls_key);
    if (!built) return refuse(built.error().detail);
    http_ctx = std::move(*built);
  }
  if (ldap_own && !restart.count("ldap.tls_cert")) {
    auto built = tls::ServerContext::Build(LdapCert(*next), LdapKey(*next));
    if (!built) return refuse(built.error().detail);
    ldap_ctx = std::move(*built);
  }
  // Apply.
  auto install = [](const char* listeners, tls::ServerContext& holder,
                    std::shared_ptr<boost::asio::ssl::context> ctx, const std::string& cert,
                    const std::string& key) {
    std::string before = holder.Fingerprint();
    holder.Install(std::move(ctx), cert, key);
    std::string after = holder.Fingerprint();
    log::Info(before == after ? "TLS certificate read again, unchanged" : "TLS certificate replaced",
              {{"listeners", listeners},
               {"cert", cert},
               {"subject", holder.Subject()},
               {"sha256", after},
               {"previous_sha256", before}});
  };
  if (http_ctx) {
    install(r.ldap_tls == r.http_tls ? "http,ldap" : "http", *r.http_tls, std::move(http_ctx),
            next->tls_cert, next->tls_key);
  }
  if (ldap_ctx) install("ldap", *r.ldap_tls, std::move(ldap_ctx), LdapCert(*next), LdapKey(*next));
  r.limits->SetOptions({.rate_per_address = next->rate_per_address,
                        .rate_per_connection = next->rate_per_connection,
                        .rate_per_api_token = next->rate_per_api_token,
                        .auth_failures_before_throttle =
                            static_cast<int>(next->auth_failures_per_address)});
  std::string applied, needs_restart;
  for (const auto& c : changes) {
    if (restart.count(c.key)) {
      log::Warn("configuration change needs a restart, not applied",
                {{"key", c.key}, {"running", c.from}, {"configured", c.to}});
      needs_restart += (needs_restart.empty() ? "" : ",") + c.key;
    } else {
      log::Info("configuration change applied", {{"key", c.key}, {"from", c.from}, {"to", c.to}});
      applied += (applied.empty() ? "" : ",") + c.key;
      ServeSettings::Take(c.key, *next, r.running);
    }
  }
  log::Info("configuration reloaded", {{"applied", applied}, {"needs_restart", needs_restart}});
  // Last, so that the lines above are written at the level they were asked at.
  log::SetLevel(log::ParseLevel(next->log_level).value_or(log::Level::kInfo));
}

int Serve(const std::string& data, const ServeOptions& o,
          const std::function<Result<ServeOptions>()>& reread) {
  http::ServerOptions so;
  auto colon = o.listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    std::fprintf(stderr, "idsync: --listen must be HOST:PORT, e.g. 127.0.0.1:8080\n");
    return kExitUsage;
  }
  so.host = o.listen.substr(0, colon);
  if (so.host.size() > 2 && so.host.front() == '[' && so.host.back() == ']') {
    so.host = so.host.substr(1, so.host.size() - 2);
  }
  try {
    size_t used = 0;
    int port = std::stoi(o.listen.substr(colon + 1), &used);
    if (used != o.listen.size() - colon - 1 || port < 0 || port > 65535)
      throw std::out_of_range("");
    so.port = static_cast<uint16_t>(port);
  } catch (const std::exception&) {
    std::fprintf(stderr, "idsync: --listen port must be a number from 0 to 65535\n");
    return kExitUsage;
  }
  so.max_connections = static_cast<size_t>(o.max_connections);
  so.header_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.header_timeout_seconds * 1000));
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    std::fprintf(stderr, "idsync: --tls-cert and --tls-key must be given together\n");
    return kExitUsage;
  }
  service::SessionTimeouts console_timeouts;
  for (auto [text, target, flag] :
       {std::tuple{&o.console_idle, &console_timeouts.idle, "--console-idle-timeout"},
        std::tuple{&o.console_lifetime, &console_timeouts.lifetime,
                   "--console-session-lifetime"}}) {
    auto d = service::ParseDuration(*text);
    if (!d || d->count() <= 0) {
      std::fprintf(stderr, "idsync: %s must be a duration such as 30m or 12h\n", flag);
      return kExitUsage;
    }
    *target = *d;
  }
  Reloadable reloadable;
  reloadable.running = o;
  if (!o.tls_cert.empty()) {
    auto loaded = tls::ServerContext::Load(o.tls_cert, o.tls_key);
    if (!loaded) return ServeFail(loaded.error().detail);
    reloadable.http_tls = *loaded;
    so.tls_cert_file = o.tls_cert;
    so.tls_key_file = o.tls_key;
    so.tls = reloadable.http_tls;
  }
  if (!o.ldap.ldap_listen.empty() || !o.ldap.ldaps_listen.empty()) {
    if (!o.ldap.tls_cert.empty() && !o.ldap.tls_key.empty() &&
        (o.ldap.tls_cert != o.tls_cert || o.ldap.tls_key != o.tls_key)) {
      auto loaded = tls::ServerContext::Load(o.ldap.tls_cert, o.ldap.tls_key);
      if (!loaded) return ServeFail(loaded.error().detail);
      reloadable.ldap_tls = *loaded;
    } else if (o.ldap.tls_cert.empty() == o.ldap.tls_key.empty()) {
      reloadable.ldap_tls = reloadable.http_tls;
    }
  }

  ConfigureAllocator();
  so.worker_threads = 16;  // enough concurrent writes for group commit; see ARCHITECTURE.md

  // Block the stop signals before any thread exists (the store starts its writer thread), so
  // that every thread inherits the mask and only the sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto opened = App::Open(data, {.mirror_only = o.bench_mirror_only, .store = o.store});
  if (!opened) return ServeFail(opened.error().detail);
  App& app = **opened;
  service::ScimService& scim = app.scim();
  directory::DirectoryService& directories = app.directories();
  // Another instance's change (PostgreSQL: LISTEN/NOTIFY) wakes this one's change-feed long
  // polls at once instead of at their next 500 ms re-check.
  app.store().OnForeignChanges([&directories] { directories.WakeAll(); });
  http::ApiOptions api_options;
  api_options.public_url = o.public_url;
  // One set of limits for the three APIs: an address has one budget whichever it calls.
  http::RequestLimits limits({.rate_per_address = o.rate_per_address,
                              .rate_per_connection = o.rate_per_connection,
                              .rate_per_api_token = o.rate_per_api_token,
                              .auth_failures_before_throttle =
                                  static_cast<int>(o.auth_failures_per_address)});
  while (!api_options.public_url.empty() && api_options.public_url.back() == '/') {
    api_options.public_url.pop_back();
  }
  http::ScimApi api(scim, app.connections(), app.registry(), limits, api_options);
  http::OpsApi ops(app.store(), o.bench_routes);
  directory::DirectoryReader reader(app.store(), scim.limits());
  http::DirectoryApi read_api(reader, directories, app.api_tokens(), app.store(), limits,
                              api_options.public_url);
  http::AdminApi admin_api(directories, app.connections(), app.api_tokens(), app.store(), limits,
                           api_options.public_url);
  admin_api.SetLdapSuffix(o.ldap.suffix);
  // The admin console (issue #12): its pages and sign-in at /console/, its sessions accepted
  // by the admin API in place of a token.
  service::ConsoleSessions console_sessions(app.store(), app.clock(), console_timeouts);
  http::ConsoleApi console(app.admin_users(), console_sessions, limits, api_options.public_url);
  admin_api.SetSessionAuthenticator(console.Authenticator());
  // LDAP sync (issue #4): the scheduler and the admin API's LDAP routes; stopped before the
  // store closes (the destructor waits for runs in progress).
  auto ldap_server = LdapCommands::StartServer(app, admin_api);
  if (!ldap_server) return ServeFail(ldap_server.error().detail);

  // One server, five faces: the operational endpoints (/healthz, /readyz, /metrics), the admin
  // API (/api/v1), the admin console (/console/), the read API for applications (/directory/v2)
  // and SCIM (the rest).
  auto route = [&](const http::Request& r) {
    if (ops.Handles(r.path)) return ops.Handle(r);
    if (http::AdminApi::Matches(r.path)) return admin_api.Handle(r);
    if (http::ConsoleApi::Matches(r.path)) return console.Handle(r);
    if (http::DirectoryApi::Handles(r.path)) return read_api.Handle(r);
    return api.Handle(r);
  };
  // PostgreSQL: the pool's connections opened and their statements prepared before the first
  // request, not by it (a load balancer's first requests to a new instance waited up to
  // seconds for them under load).
  if (Status warmed = app.store().Warm(); !warmed) {
    log::Warn("could not ready the store's connections before listening; they open on first use",
              {{"error", warmed.error().detail}});
  }
  auto server = http::Server::Start(so, route);
  if (!server) {
    ldap_server->reset();
    return ServeFail(server.error().detail);
  }
  http::Server* srv = server->get();
  // The LDAP face (issue #10), when a listener is asked for: read-only LDAP over the effective
  // directory, sharing the failed-authentication allowance with the HTTP APIs.
  reloadable.limits = &limits;
  auto ldap_face = StartLdapFace(o.ldap, reloadable.ldap_tls, app.store(), limits);
  if (!ldap_face) {
    srv->Stop();
    ldap_server->reset();
    return ServeFail(ldap_face.error().detail);
  }
  LdapFace* ldap = ldap_face->get();
  sync::SyncScheduler* scheduler = app.scheduler();
  ops.SetMetrics([srv, ldap, &scim, scheduler] {
    return BuildInfoMetric() + srv->metrics().Render() + (ldap ? ldap->Metrics() : std::string()) +
           scim.RenderMetrics() + (scheduler ? scheduler->RenderMetrics() : std::string());
  });
  std::string scheme = so.tls_cert_file ? "https" : "http";
  std::string host = so.host == "0.0.0.0" || so.host == "::" ? "127.0.0.1" : so.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  std::string url = scheme + "://" + host + ":" + std::to_string(srv->port());
  std::string public_url = api_options.public_url.empty() ? url : api_options.public_url;
  if (Status s =
          WriteFileAtomically(ServerFile(data), DumpJson(Json{{"public_url", public_url},
                                                               {"ldap_suffix", o.ldap.suffix}}) +
                                                  "\n");
      !s) {
    if (ldap) ldap->Stop();
    srv->Stop();
    ldap_server->reset();
    return ServeFail(s.error().detail);
  }
  // The LDAP line goes first: scripts read it once the readiness line below is on stdout.
  if (ldap) {
    log::Fields fields;
    for (const std::string& ldap_url : ldap->UrlList()) {
      fields.emplace_back(ldap_url.substr(0, ldap_url.find(':')), ldap_url);
    }
    fields.emplace_back("base", "ou=<directory>," + o.ldap.suffix);
    fields.emplace_back("hint", "bind as a service account: idsync ldap-account add NAME "
                                "--directory users --data " + data);
    log::Info("LDAP listening", fields);
  }
  std::printf("idsync: listening on %s\n", url.c_str());
  std::fflush(stdout);
  // stdout carries exactly the one readiness line (scripts wait for it); the rest is stderr.
  log::Info("listening", {{"url", url},
                         {"scim_base_url", public_url + "/scim/v2"},
                         {"console", public_url + "/console/"},
                         {"hint", "create a token: idsync connection add NAME --data " + data +
                                      "; a console user: idsync admin-user add NAME --data " +
                                      data}});
  NotifyReady("listening on " + url);  // systemd Type=notify: the listeners accept now

  // A policy apply that a killed process left half-done is finished in the background, batch
  // by batch, while the server serves (issue #13 item 2); a stop signal ends it between two
  // batches and the next start resumes it.
  std::atomic<bool> stop_resume{false};
  std::thread resume([&directories, &stop_resume] {
    auto resumed = directories.ResumeApplies(&stop_resume);
    if (!resumed) {
      log::Error("resuming a policy apply failed", {{"error", resumed.error().detail}});
      return;
    }
    for (const auto& r : *resumed) {
      log::Info("resumed the policy apply",
                {{"directory", r.value("directory", "")},
                 {"counts", r["result"].value("counts", Json()).dump()}});
    }
  });

  // Freed memory stays resident until the allocator hands it back: hand free pages back every
  // few seconds while waiting for the stop signal (see ARCHITECTURE.md, "Resident memory").
  int sig = 0;
  const timespec trim_period{5, 0};
  for (;;) {
    sig = sigtimedwait(&signals, nullptr, &trim_period);
    if (sig == SIGINT || sig == SIGTERM) break;
    if (sig == SIGHUP) Reload(reloadable, reread);
    ReleaseFreeMemory();
  }
  NotifyStopping();
  log::Info("stopping: finishing in-flight requests",
            {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  stop_resume = true;
  resume.join();
  read_api.Shutdown();
  directories.WakeAll();
  if (ldap) ldap->Stop();
  srv->Stop();
  ldap_server->reset();
  app.Close();
  log::Info("stopped");
  return 0;
}

void PrintLog(const std::vector<store::AuditRecord>& records, bool json) {
  if (json) {
    Json arr = Json::array();
    for (const auto& r : records) {
      arr.push_back({{"seq", r.seq},
                     {"time", FormatRfc3339(r.time)},
                     {"connection", r.connection_name},
                     {"request_id", r.request_id},
                     {"actor", r.actor},
                     {"operation", r.operation},
                     {"resource_type", r.resource_type},
                     {"resource_id", r.resource_id},
                     {"status", r.status},
                     {"detail", r.detail}});
    }
    std::cout << arr.dump(2) << "\n";
    return;
  }
  for (const auto& r : records) {
    std::cout << FormatRfc3339(r.time) << "  "
              << (r.connection_name.empty() ? "-" : r.connection_name) << "  " << r.operation
              << "  " << (r.resource_type.empty() ? "-" : r.resource_type) << "  "
              << (r.resource_id.empty() ? "-" : r.resource_id) << "  " << r.status << "  "
              << (r.request_id.empty() ? "-" : r.request_id)
              << (r.detail.empty() ? "" : "  " + r.detail) << "\n";
  }
}

int Main(int argc, char** argv) {
  CLI::App app{"idsync: user and group provisioning server (SCIM 2.0)", "idsync"};
  app.require_subcommand(1);
  app.set_version_flag(
      "--version", [] { return BuildInfoText(); },
      "Print the version, commit and library versions, then exit");
  std::string data = "./data";
  // --store URL: every command but `serve` (whose settings table has its own) takes it after
  // the subcommand; fallthrough passes it up to here from any depth.
  std::string store_url;
  app.fallthrough();
  app.add_option("--store", store_url,
                 "Shared PostgreSQL database, postgresql://USER@HOST:PORT/DB (default: SQLite "
                 "in the data folder)");
  bool version_json = false;
  auto* version = app.add_subcommand("version", "Print the version, commit and library versions");
  version->add_flag("--json", version_json, "Print JSON");

  ServeOptions serve_options;
  auto* serve = app.add_subcommand("serve", "Run the server in the foreground");
  ServeSettings serve_settings(serve_options);
  serve_settings.RegisterFlags(serve);

  auto* config = app.add_subcommand("config", "Check a configuration file, print the reference");
  config->require_subcommand(1);
  std::string config_file;
  auto* config_check = config->add_subcommand(
      "check", "Check a configuration file for idsync serve --config (exit 1 when refused)");
  config_check->add_option("file", config_file, "TOML configuration file")->required();
  auto* config_reference = config->add_subcommand(
      "reference", "Print the reference of every setting (Markdown: key, flag, variable)");

  auto* conn =
      app.add_subcommand("connection", "Manage SCIM connections (one per identity provider)");
  conn->require_subcommand(1);
  conn->add_option("--data", data, "Data folder (default ./data)");
  bool json = false;
  std::string name, directory = "users", keep_old_for;
  auto* add = conn->add_subcommand("add", "Create a connection and print its base URL and token");
  add->add_option("name", name, "Connection name")->required();
  add->add_option("--directory", directory, "users or customers (default users)");
  LdapCommands ldap_commands;
  ldap_commands.RegisterConnectionAdd(add);
  auto* set = conn->add_subcommand(
      "set", "Change an LDAP connection's settings (kept: its users, groups and run history)");
  set->add_option("name", name, "Connection name")->required();
  ldap_commands.RegisterConnectionSet(set);
  auto* list = conn->add_subcommand("list", "List connections");
  auto* show = conn->add_subcommand("show", "Show one connection");
  show->add_option("name", name)->required();
  auto* disable = conn->add_subcommand("disable", "Refuse the connection's requests from now on");
  disable->add_option("name", name)->required();
  auto* enable = conn->add_subcommand("enable", "Accept the connection's requests again");
  enable->add_option("name", name)->required();
  auto* remove = conn->add_subcommand("remove", "Delete the connection, its tokens and its mirror");
  remove->add_option("name", name)->required();
  auto* rotate = conn->add_subcommand("rotate-token", "Issue a new token");
  rotate->add_option("name", name)->required();
  rotate->add_option("--keep-old-for", keep_old_for,
                     "How long the old token keeps working, e.g. 10m, 1h (default: stops now)");
  for (auto* sub : {add, set, list, show, disable, enable, remove, rotate}) {
    sub->add_option("--data", data, "Data folder (default ./data)");
    sub->add_flag("--json", json, "Print JSON");
  }

  auto* log = app.add_subcommand("log", "Show the audit trail");
  std::string log_connection, since;
  int64_t limit = 1000;
  log->add_option("--data", data, "Data folder (default ./data)");
  log->add_option("--connection", log_connection, "Only this connection");
  log->add_option("--since", since, "Only records at or after this RFC 3339 time");
  log->add_option("--limit", limit, "At most this many records (default 1000)");
  log->add_flag("--json", json, "Print JSON");

  DirectoryCommands directory_commands;
  directory_commands.Register(app, data, json);
  ldap_commands.Register(app, data, json);
  LdapAccountCommands ldap_account_commands;  // after directory_commands: adds `directory ldap`
  ldap_account_commands.Register(app, data, json);
  AdminUserCommands admin_user_commands;
  admin_user_commands.Register(app, data, json);
  BackupCommands backup_commands;
  backup_commands.Register(app, data);
  StoreCommands store_commands;
  store_commands.Register(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion&) {
    std::cout << BuildInfoText();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    std::fprintf(stderr, "idsync: %s (see idsync --help)\n", what.c_str());
    return kExitUsage;
  }

  if (version->parsed()) {
    std::cout << (version_json ? DumpJson(BuildInfoJson()) + "\n" : BuildInfoText());
    return 0;
  }
  if (serve->parsed()) {
    if (Status st = serve_settings.Resolve(*serve); !st) {
      std::fprintf(stderr, "idsync: %s\n", st.error().detail.c_str());
      return kExitUsage;
    }
    log::Configure(serve_options.log_format.empty() ? log::DefaultFormat()
                                                    : *log::ParseFormat(serve_options.log_format),
                   log::ParseLevel(serve_options.log_level).value_or(log::Level::kInfo));
    return Serve(serve_options.data, serve_options,
                 [&serve_settings, serve] { return serve_settings.Reread(*serve); });
  }
  if (config_reference->parsed()) {
    std::cout << ServeSettings::ReferenceMarkdown();
    return 0;
  }
  if (config_check->parsed()) {
    if (Status st = ServeSettings::CheckFile(config_file); !st) {
      std::fprintf(stderr, "idsync: %s\n", st.error().detail.c_str());
      return kExitFailure;
    }
    std::cout << config_file << ": OK\n";
    return 0;
  }
  if (backup_commands.Parsed()) {
    if (!store_url.empty()) {
      std::fprintf(stderr,
                   "idsync: backup and restore copy an SQLite data folder; back up a PostgreSQL "
                   "store with PostgreSQL's own tools (pg_dump, base backups)\n");
      return kExitUsage;
    }
    return backup_commands.Run(data);
  }
  if (store_commands.Parsed()) return store_commands.Run();

  // Every command runs on the same object graph as `serve` (cli/app.h); the App closes the
  // store when it goes out of scope.
  if (!store_url.empty() && !store::postgres::IsPostgresUrl(store_url)) {
    std::fprintf(stderr,
                 "idsync: --store must be a PostgreSQL URL, postgresql://USER@HOST:PORT/DB\n");
    return kExitUsage;
  }
  auto opened = App::Open(data, {.store = store_url});
  if (!opened) return Fail(opened.error().detail);
  App& graph = **opened;
  if (admin_user_commands.Parsed()) return admin_user_commands.Run(graph);
  // Before directory_commands: `directory ldap` is ldap_account_commands'.
  if (ldap_account_commands.Parsed()) return ldap_account_commands.Run(graph);
  if (directory_commands.Parsed()) return directory_commands.Run(graph);
  if (ldap_commands.Parsed() || ldap_commands.IsLdapAdd() || ldap_commands.IsSet()) {
    return ldap_commands.IsLdapAdd() ? ldap_commands.RunAdd(graph, name, directory, json)
           : ldap_commands.IsSet()   ? ldap_commands.RunSet(graph, name, json)
                                     : ldap_commands.Run(graph);
  }
  service::Connections& connections = graph.connections();
  int rc = 0;
  const std::string actor = "cli";

  if (conn->parsed()) {
    if (add->parsed()) {
      auto c = connections.Add(name, directory, actor);
      if (!c) {
        rc = Fail(c.error().detail);
      } else {
        Json j = {{"name", c->connection.name},
                  {"id", c->connection.uuid},
                  {"directory", c->connection.directory},
                  {"base_url", PublicUrl(data) + "/scim/v2"},
                  {"token", c->token}};
        if (json) {
          std::cout << DumpJson(j) << "\n";
        } else {
          std::cout
              << "Connection \"" << name << "\" created in directory " << directory << ".\n"
              << "SCIM base URL: " << j["base_url"].get<std::string>() << "\n"
              << "Bearer token:  " << c->token << "\n"
              << "The token is shown only this once; store it in your identity provider now.\n";
        }
      }
    } else if (list->parsed()) {
      auto all = connections.List();
      if (!all) {
        rc = Fail(all.error().detail);
      } else if (json) {
        Json arr = Json::array();
        for (const auto& c : *all) arr.push_back(ConnectionJson(c, data));
        std::cout << arr.dump(2) << "\n";
      } else {
        if (all->empty()) std::cout << "No connections. Create one: idsync connection add NAME\n";
        for (const auto& c : *all) {
          std::cout << c.name << "  " << c.directory << "  " << c.kind << "  "
                    << (c.enabled ? "enabled" : "disabled") << "  " << c.uuid << "\n";
        }
      }
    } else if (show->parsed()) {
      auto c = connections.Get(name);
      if (!c) {
        rc = Fail(c.error().detail);
      } else {
        Json j = ConnectionJson(*c, data);
        Status st = graph.store().Read([&](store::Transaction& tx) -> Status {
          auto tokens = tx.ListTokens(c->id);
          if (!tokens) return tokens.error();
          Json arr = Json::array();
          for (const auto& t : *tokens) {
            Json tj = {{"created", FormatRfc3339(t.created)}};
            tj["expires"] = t.expires ? Json(FormatRfc3339(*t.expires)) : Json(nullptr);
            arr.push_back(tj);
          }
          j["tokens"] = arr;
          for (auto type : {scim::ResourceType::kUser, scim::ResourceType::kGroup}) {
            auto n = tx.CountResources(c->id, type);
            if (!n) return n.error();
            j[type == scim::ResourceType::kUser ? "users" : "groups"] = *n;
          }
          return Status::Ok();
        });
        if (st && c->kind == "ldap") st = LdapCommands::AddLdapDetails(graph.store(), *c, j);
        if (!st) {
          rc = Fail(st.error().detail);
        } else if (json) {
          std::cout << j.dump(2) << "\n";
        } else {
          for (auto it = j.begin(); it != j.end(); ++it) {
            if (it.key() == "settings" && it->is_object()) {  // one setting a line
              std::cout << "settings:\n";
              for (auto s = it->begin(); s != it->end(); ++s) {
                std::cout << "  " << s.key() << ": "
                          << (s->is_string() ? s->get<std::string>() : s->dump()) << "\n";
              }
              continue;
            }
            std::cout << it.key() << ": " << (it->is_string() ? it->get<std::string>() : it->dump())
                      << "\n";
          }
        }
      }
    } else if (disable->parsed() || enable->parsed()) {
      Status st = connections.SetEnabled(name, enable->parsed(), actor);
      if (!st)
        rc = Fail(st.error().detail);
      else if (json)
        std::cout << DumpJson(Json{{"name", name}, {"enabled", enable->parsed()}}) << "\n";
      else
        std::cout << "Connection \"" << name << "\" " << (enable->parsed() ? "enabled" : "disabled")
                  << ".\n";
    } else if (remove->parsed()) {
      Status st = connections.Remove(name, actor);
      if (!st)
        rc = Fail(st.error().detail);
      else if (json)
        std::cout << DumpJson(Json{{"name", name}, {"removed", true}}) << "\n";
      else
        std::cout << "Connection \"" << name << "\" removed with its users and groups.\n";
    } else if (rotate->parsed()) {
      std::chrono::seconds keep{0};
      if (!keep_old_for.empty()) {
        auto d = service::ParseDuration(keep_old_for);
        if (!d) {
          std::fprintf(stderr, "idsync: --keep-old-for: %s\n", d.error().detail.c_str());
          return kExitUsage;
        }
        keep = *d;
      }
      auto t = connections.RotateToken(name, keep, actor);
      if (!t) {
        rc = Fail(t.error().detail);
      } else if (json) {
        Json j = {{"name", name}, {"token", t->token}};
        j["old_token_expires"] =
            t->old_expires ? Json(FormatRfc3339(*t->old_expires)) : Json(nullptr);
        std::cout << DumpJson(j) << "\n";
      } else {
        std::cout << "New bearer token for \"" << name << "\": " << t->token << "\n"
                  << (keep.count() > 0 ? "The previous token works until " +
                                             FormatRfc3339(*t->old_expires) + ".\n"
                                       : std::string("The previous token no longer works.\n"));
      }
    }
  } else if (log->parsed()) {
    if (limit < 1) {
      std::fprintf(stderr, "idsync: --limit must be 1 or more\n");
      return kExitUsage;
    }
    store::AuditQuery q;
    q.limit = limit + 1;  // one more tells whether the limit cut the list
    if (!since.empty()) {
      auto t = ParseRfc3339(since);
      if (!t) {
        std::fprintf(stderr,
                     "idsync: --since must be an RFC 3339 time such as 2026-11-23T05:00:00Z\n");
        return kExitUsage;
      }
      q.since = *t;
    }
    if (!log_connection.empty()) {
      auto c = connections.Get(log_connection);
      if (!c) {
        return Fail(c.error().detail);
      }
      q.connection_id = c->id;
    }
    std::vector<store::AuditRecord> records;
    Status st = graph.store().Read([&](store::Transaction& tx) -> Status {
      auto r = tx.ListAudit(q);
      if (!r) return r.error();
      records = std::move(*r);
      return Status::Ok();
    });
    if (!st) {
      rc = Fail(st.error().detail);
    } else {
      std::optional<store::AuditRecord> next;
      if (records.size() > static_cast<size_t>(limit)) {
        next = std::move(records.back());
        records.pop_back();
      }
      PrintLog(records, json);
      // Oldest first, so a cut list misses the newest records: say so, and where to go on.
      if (next) {
        std::fprintf(stderr,
                     "idsync: showing the first %lld records; more follow: rerun with --since "
                     "%s or a larger --limit\n",
                     static_cast<long long>(limit), FormatRfc3339(next->time).c_str());
      }
    }
  }
  return rc;
}

}  // namespace
}  // namespace idsync::cli

int main(int argc, char** argv) {
  try {
    return idsync::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "idsync: internal error: %s\n", e.what());
    return 1;
  }
}
