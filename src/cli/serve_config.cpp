#include "cli/serve_config.h"

#include "base/log.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <utility>
#include <variant>

#include <toml++/toml.h>

#include "service/connections.h"
#include "store/postgres/postgres_store.h"

namespace idsync::cli {
namespace {

using Binding = std::variant<std::string*, bool*, double*, int64_t*, size_t*>;

// One setting of `idsync serve`. The environment variable is IDSYNC_ and the key upper-cased
// with dots as underscores; the default is the value a fresh ServeOptions holds.
struct Setting {
  Setting(const char* key_, const char* flag_, const char* help_,
          std::function<Binding(ServeOptions&)> bind_, double min_ = 0, double max_ = 0,
          std::function<std::string(const std::string&)> check_ = {})
      : key(key_), flag(flag_), help(help_), bind(std::move(bind_)), min(min_), max(max_),
        check(std::move(check_)) {}
  const char* key;   // TOML key; "tls.cert" is `cert` in the `[tls]` table
  const char* flag;  // the `serve` flag
  const char* help;
  std::function<Binding(ServeOptions&)> bind;
  double min = 0, max = 0;                                // numbers: the allowed range
  std::function<std::string(const std::string&)> check;  // strings: "" or what is wrong
};

std::string CheckDuration(const std::string& text) {
  auto d = service::ParseDuration(text);
  if (!d || d->count() <= 0) return "must be a duration such as 30m or 12h";
  return "";
}

std::string CheckHostPort(const std::string& text) {
  if (text.empty()) return "";
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return "must be HOST:PORT, e.g. 127.0.0.1:8080";
  }
  for (size_t i = colon + 1; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return "port must be a number";
  }
  if (text.size() - colon - 1 > 5 || std::stol(text.substr(colon + 1)) > 65535) {
    return "port must be a number from 0 to 65535";
  }
  return "";
}

std::string CheckStoreUrl(const std::string& text) {
  if (text.empty() || store::postgres::IsPostgresUrl(text)) return "";
  return "must be a PostgreSQL URL, postgresql://USER@HOST:PORT/DB (SQLite needs no --store)";
}

constexpr double kMaxRate = 1e9;

// Every setting of `idsync serve`, in the order of the reference.
const std::vector<Setting>& Settings() {
  static const std::vector<Setting> settings = {
      {"data", "--data", "Data folder", [](ServeOptions& o) -> Binding { return &o.data; }},
      {"store", "--store",
       "Shared database, postgresql://USER@HOST:PORT/DB (password from the URL, PGPASSFILE or "
       "PGPASSWORD; TLS with ?sslmode=verify-full); default: SQLite in the data folder",
       [](ServeOptions& o) -> Binding { return &o.store; }, 0, 0, CheckStoreUrl},
      {"listen", "--listen", "HOST:PORT the HTTP server listens on",
       [](ServeOptions& o) -> Binding { return &o.listen; }, 0, 0, CheckHostPort},
      {"public_url", "--public-url",
       "URL identity providers use to reach this server (for meta.location); default: the "
       "listening address",
       [](ServeOptions& o) -> Binding { return &o.public_url; }},
      {"tls.cert", "--tls-cert", "PEM certificate chain for HTTPS (with tls.key)",
       [](ServeOptions& o) -> Binding { return &o.tls_cert; }},
      {"tls.key", "--tls-key", "PEM private key for HTTPS (with tls.cert)",
       [](ServeOptions& o) -> Binding { return &o.tls_key; }},
      {"limits.rate_per_connection", "--rate-per-connection",
       "SCIM requests per second allowed per connection, 0 = no limit",
       [](ServeOptions& o) -> Binding { return &o.rate_per_connection; }, 0, kMaxRate},
      {"limits.rate_per_address", "--rate-per-address",
       "Requests per second allowed per client address, SCIM, admin and read APIs together, "
       "0 = no limit",
       [](ServeOptions& o) -> Binding { return &o.rate_per_address; }, 0, kMaxRate},
      {"limits.rate_per_api_token", "--rate-per-api-token",
       "Admin and read API requests per second allowed per admin or read token, 0 = no limit",
       [](ServeOptions& o) -> Binding { return &o.rate_per_api_token; }, 0, kMaxRate},
      {"limits.auth_failures_per_address", "--auth-failures-per-address",
       "Failed authentications allowed per client address per minute before further ones get "
       "429, 0 = no throttle",
       [](ServeOptions& o) -> Binding { return &o.auth_failures_per_address; }, 0, 1000000},
      {"limits.max_connections", "--max-connections",
       "Open client connections allowed; beyond, 503 and close",
       [](ServeOptions& o) -> Binding { return &o.max_connections; }, 1, 1000000},
      {"limits.header_timeout", "--header-timeout",
       "Seconds a client has to send a request head",
       [](ServeOptions& o) -> Binding { return &o.header_timeout_seconds; }, 0.1, 3600},
      {"console.idle_timeout", "--console-idle-timeout",
       "A console session ends after this long without a request",
       [](ServeOptions& o) -> Binding { return &o.console_idle; }, 0, 0, CheckDuration},
      {"console.session_lifetime", "--console-session-lifetime",
       "A console session ends this long after sign-in, however used",
       [](ServeOptions& o) -> Binding { return &o.console_lifetime; }, 0, 0, CheckDuration},
      {"log.format", "--log-format",
       "Server log format, json (one object per line) or text; default: json unless stderr is a "
       "terminal",
       [](ServeOptions& o) -> Binding { return &o.log_format; }, 0, 0,
       [](const std::string& t) -> std::string {
         return t.empty() || log::ParseFormat(t) ? "" : "must be json or text";
       }},
      {"log.level", "--log-level", "Least severe log level written: debug, info, warn or error",
       [](ServeOptions& o) -> Binding { return &o.log_level; }, 0, 0,
       [](const std::string& t) -> std::string {
         return log::ParseLevel(t) ? "" : "must be debug, info, warn or error";
       }},
      {"ldap.listen", "--ldap-listen",
       "Serve the effective directory over LDAP (StartTLS offered) on HOST:PORT; default: off",
       [](ServeOptions& o) -> Binding { return &o.ldap.ldap_listen; }, 0, 0, CheckHostPort},
      {"ldap.ldaps_listen", "--ldaps-listen", "Serve it over LDAPS on HOST:PORT; default: off",
       [](ServeOptions& o) -> Binding { return &o.ldap.ldaps_listen; }, 0, 0, CheckHostPort},
      {"ldap.tls_cert", "--ldap-tls-cert",
       "PEM certificate chain for LDAPS and StartTLS; default: tls.cert",
       [](ServeOptions& o) -> Binding { return &o.ldap.tls_cert; }},
      {"ldap.tls_key", "--ldap-tls-key", "PEM private key for LDAPS and StartTLS; default: tls.key",
       [](ServeOptions& o) -> Binding { return &o.ldap.tls_key; }},
      {"ldap.allow_plaintext", "--ldap-allow-plaintext",
       "Allow binds and searches over plain LDAP from other hosts (passwords would cross the "
       "network in clear)",
       [](ServeOptions& o) -> Binding { return &o.ldap.allow_plaintext; }},
      {"ldap.suffix", "--ldap-suffix", "Base of the LDAP tree; each directory D is ou=D,<suffix>",
       [](ServeOptions& o) -> Binding { return &o.ldap.suffix; }},
      {"ldap.size_limit", "--ldap-size-limit",
       "Most entries a search returns without paging, and the largest page",
       [](ServeOptions& o) -> Binding { return &o.ldap.size_limit; }, 1, 1e9},
      {"ldap.time_limit", "--ldap-time-limit", "Longest a search may run, in seconds",
       [](ServeOptions& o) -> Binding { return &o.ldap.time_limit_seconds; }, 0.001, 86400},
      {"ldap.max_connections", "--ldap-max-connections", "Most LDAP connections at once",
       [](ServeOptions& o) -> Binding { return &o.ldap.max_connections; }, 1, 1000000},
      {"ldap.idle_timeout", "--ldap-idle-timeout",
       "Close LDAP connections idle for this many seconds",
       [](ServeOptions& o) -> Binding { return &o.ldap.idle_timeout_seconds; }, 0.001, 1e7},
      {"bench.mirror_only", "--bench-mirror-only",
       "Benchmark baseline only: SCIM writes skip the effective directory (never use in "
       "production: the directory stops following the identity providers)",
       [](ServeOptions& o) -> Binding { return &o.bench_mirror_only; }},
      {"bench.routes", "--bench-routes",
       "Serve GET /bench/static (fixed body, no store) for the benchmark's baseline",
       [](ServeOptions& o) -> Binding { return &o.bench_routes; }},
  };
  return settings;
}

std::string EnvName(const Setting& s) {
  std::string name = "IDSYNC_";
  for (const char* p = s.key; *p; ++p) {
    name += *p == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
  }
  return name;
}

const char* TypeName(const Binding& b) {
  switch (b.index()) {
    case 0: return "string";
    case 1: return "boolean";
    case 2: return "number";
    default: return "integer";
  }
}

std::string FormatNumber(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string ValueText(const Binding& b) {
  return std::visit(
      [](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::string>) return *p;
        else if constexpr (std::is_same_v<T, bool>) return *p ? "true" : "false";
        else if constexpr (std::is_same_v<T, double>) return FormatNumber(*p);
        else return std::to_string(*p);
      },
      b);
}

Status Invalid(const std::string& message) {
  return MakeError(ErrorCode::kInvalidValue, message);
}

// Range and form checks shared by the file and the environment; "" when the value is good.
std::string CheckValue(const Setting& s, const Binding& b) {
  if (auto* text = std::get_if<std::string*>(&b)) return s.check ? s.check(**text) : "";
  double v = 0;
  if (auto* d = std::get_if<double*>(&b)) v = **d;
  else if (auto* i = std::get_if<int64_t*>(&b)) v = static_cast<double>(**i);
  else if (auto* z = std::get_if<size_t*>(&b)) v = static_cast<double>(**z);
  else return "";
  if (!std::isfinite(v) || v < s.min || v > s.max) {
    return "must be from " + FormatNumber(s.min) + " to " + FormatNumber(s.max);
  }
  return "";
}

// Stores a TOML value into the binding; "" or what is wrong with its type.
std::string AssignToml(const toml::node& node, const Binding& b) {
  return std::visit(
      [&](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!node.is_string()) return "must be a string (in double quotes)";
          *p = node.as_string()->get();
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!node.is_boolean()) return "must be true or false (no quotes)";
          *p = node.as_boolean()->get();
        } else if constexpr (std::is_same_v<T, double>) {
          if (node.is_integer()) *p = static_cast<double>(node.as_integer()->get());
          else if (node.is_floating_point()) *p = node.as_floating_point()->get();
          else return "must be a number (no quotes)";
        } else {
          if (!node.is_integer()) return "must be a whole number (no quotes)";
          int64_t v = node.as_integer()->get();
          if (v < 0) return "must not be negative";
          *p = static_cast<T>(v);
        }
        return "";
      },
      b);
}

// Stores an environment variable's text into the binding; "" or what is wrong.
std::string AssignText(const std::string& text, const Binding& b) {
  return std::visit(
      [&](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::string>) {
          *p = text;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (text == "true" || text == "1") *p = true;
          else if (text == "false" || text == "0") *p = false;
          else return "must be true or false";
        } else {
          const char* begin = text.c_str();
          char* end = nullptr;
          errno = 0;
          if constexpr (std::is_same_v<T, double>) {
            double v = std::strtod(begin, &end);
            if (text.empty() || *end != '\0' || errno != 0) return "must be a number";
            *p = v;
          } else {
            long long v = std::strtoll(begin, &end, 10);
            if (text.empty() || *end != '\0' || errno != 0) return "must be a whole number";
            if (v < 0) return "must not be negative";
            *p = static_cast<T>(v);
          }
        }
        return "";
      },
      b);
}

std::string Where(const std::string& path, const toml::source_region& src) {
  return path + ":" + std::to_string(src.begin.line);
}

// Reads `path` into `options`, skipping the keys in `skip` (given as flags). Refuses unknown
// keys, wrong types and values out of range, naming file, line and key.
Status ApplyFile(const std::string& path, ServeOptions& options,
                 const std::function<bool(const Setting&)>& skip) {
  std::ifstream in(path);
  if (!in) return Invalid("cannot read configuration file " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return Invalid(Where(path, e.source()) + ": not valid TOML: " + std::string(e.description()));
  }
  std::map<std::string, const Setting*> by_key;
  std::set<std::string> tables;
  for (const auto& s : Settings()) {
    by_key[s.key] = &s;
    std::string key = s.key;
    if (auto dot = key.find('.'); dot != std::string::npos) tables.insert(key.substr(0, dot));
  }
  auto known_in = [&](const std::string& prefix) {
    std::string list;
    for (const auto& [k, s] : by_key) {
      if (prefix.empty() ? k.find('.') != std::string::npos : k.rfind(prefix + ".", 0) != 0)
        continue;
      list += (list.empty() ? "" : ", ") + (prefix.empty() ? k : k.substr(prefix.size() + 1));
    }
    if (prefix.empty()) {
      for (const auto& t : tables) list += ", [" + t + "]";
    }
    return list;
  };
  // Visits one table's entries; `prefix` is "" for the top level or the table's name.
  std::function<Status(const toml::table&, const std::string&)> visit =
      [&](const toml::table& table, const std::string& prefix) -> Status {
    for (auto&& [k, node] : table) {
      std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      std::string where = Where(path, k.source());
      if (prefix.empty() && tables.count(key)) {
        if (!node.is_table()) return Invalid(where + ": \"" + key + "\" must be a table [" + key + "]");
        if (Status st = visit(*node.as_table(), key); !st) return st;
        continue;
      }
      auto it = by_key.find(key);
      if (it == by_key.end()) {
        return Invalid(where + ": unknown key \"" + key + "\"; known keys" +
                       (prefix.empty() ? std::string(" at the top level") : " in [" + prefix + "]") +
                       ": " + known_in(prefix) + " (see idsync config reference)");
      }
      const Setting& s = *it->second;
      ServeOptions scratch = options;
      Binding target = s.bind(skip(s) ? scratch : options);
      std::string problem = AssignToml(node, target);
      if (problem.empty()) problem = CheckValue(s, target);
      if (!problem.empty()) {
        ServeOptions fresh;
        std::string example = ValueText(s.bind(fresh));
        if (target.index() == 0) example = "\"" + example + "\"";
        return Invalid(where + ": key \"" + key + "\" " + problem + ", e.g. " +
                       key.substr(key.rfind('.') + 1) + " = " + example);
      }
    }
    return Status::Ok();
  };
  return visit(root, "");
}

std::string EscapeCell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

void ServeSettings::RegisterFlags(CLI::App* serve) {
  serve->add_option("--config", config_path_,
                    "TOML configuration file (see idsync config reference); flags override it and "
                    "IDSYNC_* environment variables override both (also IDSYNC_CONFIG)");
  ServeOptions defaults;
  for (const auto& s : Settings()) {
    Binding b = s.bind(options_);
    std::string help = std::string(s.help) + " [" + s.key + ", " + EnvName(s) + "]";
    if (auto* flag = std::get_if<bool*>(&b)) {
      serve->add_flag(s.flag, **flag, help);
      continue;
    }
    std::string def = ValueText(s.bind(defaults));
    if (!def.empty()) help += " (default " + def + ")";
    CLI::Option* opt = std::visit(
        [&](auto* p) { return serve->add_option(s.flag, *p, help); }, b);
    if (s.max > s.min) opt->check(CLI::Range(s.min, s.max));
  }
}

Status ServeSettings::Resolve(const CLI::App& serve) {
  return ResolveInto(serve, options_);
}

Status ServeSettings::ResolveInto(const CLI::App& serve, ServeOptions& options) const {
  std::string path = config_path_;
  if (path.empty()) {
    if (const char* env = std::getenv("IDSYNC_CONFIG")) path = env;
  }
  if (!path.empty()) {
    auto given_as_flag = [&](const Setting& s) { return serve.count(s.flag) > 0; };
    if (Status st = ApplyFile(path, options, given_as_flag); !st) return st;
  }
  for (const auto& s : Settings()) {
    const char* env = std::getenv(EnvName(s).c_str());
    if (env == nullptr) continue;
    Binding b = s.bind(options);
    std::string problem = AssignText(env, b);
    if (problem.empty()) problem = CheckValue(s, b);
    if (!problem.empty()) {
      return Invalid("environment variable " + EnvName(s) + " (key \"" + s.key + "\") " + problem);
    }
  }
  return Status::Ok();
}

Result<ServeOptions> ServeSettings::Reread(const CLI::App& serve) const {
  // The flags' values are in options_ (CLI11 wrote them there at start); the file fills the
  // rest and the environment goes over both, as at start.
  ServeOptions fresh;
  for (const auto& s : Settings()) {
    if (serve.count(s.flag) > 0) Take(s.key, options_, fresh);
  }
  if (Status st = ResolveInto(serve, fresh); !st) return st.error();
  return fresh;
}

std::vector<ServeSettings::Change> ServeSettings::Diff(const ServeOptions& running,
                                                       const ServeOptions& next) {
  // What a running server applies on SIGHUP (cli/main.cpp, Reload); the rest needs a restart.
  static const std::set<std::string> kReloadable = {
      "tls.cert", "tls.key", "ldap.tls_cert", "ldap.tls_key",
      "limits.rate_per_connection", "limits.rate_per_address", "limits.rate_per_api_token",
      "limits.auth_failures_per_address", "log.level"};
  std::vector<Change> out;
  ServeOptions a = running, b = next;  // bind() wants non-const
  for (const auto& s : Settings()) {
    std::string from = ValueText(s.bind(a)), to = ValueText(s.bind(b));
    if (from != to) out.push_back({s.key, from, to, kReloadable.count(s.key) > 0});
  }
  return out;
}

void ServeSettings::Take(const std::string& key, const ServeOptions& from, ServeOptions& to) {
  ServeOptions source = from;
  for (const auto& s : Settings()) {
    if (key != s.key) continue;
    Binding src = s.bind(source), dst = s.bind(to);
    std::visit(
        [&](auto* d) {
          using P = decltype(d);
          *d = **std::get_if<P>(&src);
        },
        dst);
  }
}

Status ServeSettings::CheckFile(const std::string& path) {
  ServeOptions scratch;
  return ApplyFile(path, scratch, [](const Setting&) { return false; });
}

std::string ServeSettings::ReferenceMarkdown() {
  ServeOptions defaults;
  std::string out =
      "| Key | Type | Default | Flag | Environment variable | Meaning |\n"
      "|---|---|---|---|---|---|\n";
  for (const auto& s : Settings()) {
    Binding b = s.bind(defaults);
    std::string key = s.key;
    if (auto dot = key.find('.'); dot != std::string::npos) {
      key = "[" + key.substr(0, dot) + "] " + key.substr(dot + 1);
    }
    std::string def = ValueText(b);
    out += "| `" + key + "` | " + TypeName(b) + " | " +
           (def.empty() ? std::string("(none)") : "`" + def + "`") + " | `" + s.flag + "` | `" +
           EnvName(s) + "` | " + EscapeCell(s.help) + " |\n";
  }
  return out;
}

}  // namespace idsync::cli
