#include "sync/ldap_sync.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <unistd.h>

#include "base/crypto.h"
#include "base/strings.h"
#include "base/uuid.h"
#include "policy/mapping.h"
#include "policy/policy.h"
#include "service/connections.h"
#include "sync/ldap/client.h"
#include "sync/ldap/entry.h"
#include "sync/ldap/filter_escape.h"

namespace idsync::sync {

using ldap::LdapClient;
using ldap::LdapEntry;
using scim::ResourceType;

namespace {

constexpr std::string_view kPasswordSecret = "bind_password";
constexpr std::chrono::minutes kLeaseTtl{10};
constexpr std::chrono::milliseconds kLeasePoll{250};

Error Invalid(std::string detail) {
  return MakeError(ErrorCode::kInvalidValue, std::move(detail));
}

std::string SecretContext(const store::Connection& c) {
  return "idsync:" + c.uuid + ":" + std::string(kPasswordSecret);
}

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    if (c == 0) return false;
    if (c < 0x80) {
      n = 0;
    } else if ((c >> 5) == 6) {
      n = 1;
    } else if ((c >> 4) == 14) {
      n = 2;
    } else if ((c >> 3) == 30) {
      n = 3;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n + 1;
  }
  return true;
}

// DNs compare case-insensitively, without the spaces some tools put around ',' and '='
// (RFC 4514 allows them on input). Not a full RFC 4517 distinguishedNameMatch (no attribute
// type aliases, no escaping forms), which the servers we read do not need: they return the
// DNs they store, and member values are written by the same tools.
std::string DnKey(std::string_view dn) {
  std::string out;
  out.reserve(dn.size());
  for (size_t i = 0; i < dn.size(); ++i) {
    char c = dn[i];
    if (c == ' ' && (out.empty() || out.back() == ',' || out.back() == '=')) continue;
    if ((c == ',' || c == '=') && !out.empty() && out.back() == ' ' &&
        (out.size() < 2 || out[out.size() - 2] != '\\')) {
      out.pop_back();
    }
    out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// uniqueMember is a DN optionally followed by "#'0101'B" (RFC 4517 nameAndOptionalUID).
std::string UniqueMemberDn(std::string_view value) {
  auto hash = value.rfind("#'");
  if (hash != std::string_view::npos && value.size() > hash + 3 && value.back() == 'B') {
    return std::string(value.substr(0, hash));
  }
  return std::string(value);
}

// The mirror body of an LDAP user or group: {attribute: [values]} for every attribute read
// except the change attribute (it changes on every modification and would make every read look
// like a change), plus "dn". A value that is not UTF-8 (objectGUID, jpegPhoto) is kept as
// base64 under "<attribute>;binary".
Json EntryBody(const LdapEntry& entry, const LdapConfig& config) {
  Json body = Json::object();
  for (const auto& [name, values] : entry.attributes) {
    if (EqualsIgnoreAsciiCase(name, config.change_attribute)) continue;
    Json text = Json::array();
    Json binary = Json::array();
    for (const auto& v : values) {
      if (IsUtf8(v)) {
        text.push_back(v);
      } else {
        binary.push_back(Base64(v));
      }
    }
    if (!text.empty()) body[name] = std::move(text);
    if (!binary.empty()) body[name + ";binary"] = std::move(binary);
  }
  body["dn"] = entry.dn;
  return body;
}

// The raw entry for `ldap test`: every attribute, binary values as {"base64": ...}.
Json RawEntry(const LdapEntry& entry) {
  Json attrs = Json::object();
  for (const auto& [name, values] : entry.attributes) {
    Json list = Json::array();
    for (const auto& v : values) {
      if (IsUtf8(v)) {
        list.push_back(v);
      } else {
        list.push_back(Json{{"base64", Base64(v)}});
      }
    }
    attrs[name] = std::move(list);
  }
  return Json{{"dn", entry.dn}, {"attributes", std::move(attrs)}};
}

// ---------- change marks ----------
// modifyTimestamp is GeneralizedTime ("20240102030405Z", maybe with a fraction or an offset
// from slapd/AD: both send UTC with 'Z'). The mark is kept as its first 14 digits.
std::optional<std::string> TimestampDigits(std::string_view value) {
  if (value.size() < 15) return std::nullopt;
  for (size_t i = 0; i < 14; ++i) {
    if (value[i] < '0' || value[i] > '9') return std::nullopt;
  }
  return std::string(value.substr(0, 14));
}

std::string TimeDigits(TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// One second after the 14-digit mark, as GeneralizedTime: entries changed after the mark.
std::string NextSecond(const std::string& digits) {
  std::tm tm{};
  tm.tm_year = std::stoi(digits.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(digits.substr(4, 2)) - 1;
  tm.tm_mday = std::stoi(digits.substr(6, 2));
  tm.tm_hour = std::stoi(digits.substr(8, 2));
  tm.tm_min = std::stoi(digits.substr(10, 2));
  tm.tm_sec = std::stoi(digits.substr(12, 2)) + 1;
  std::time_t secs = timegm(&tm);
  return TimeDigits(std::chrono::system_clock::from_time_t(secs)) + "Z";
}

bool IsUsn(const LdapConfig& c) {
  return EqualsIgnoreAsciiCase(c.change_attribute, "uSNChanged");
}

// The filter of entries changed after `mark`, and-ed with `base_filter`.
std::string ChangedFilter(const std::string& base_filter, const LdapConfig& config,
                          const std::string& mark) {
  std::string from;
  if (IsUsn(config)) {
    from = std::to_string(std::stoll(mark) + 1);
  } else {
    from = NextSecond(mark);
  }
  std::string f = base_filter;
  if (f.empty() || f.front() != '(') f = "(" + f + ")";
  return "(&" + f + "(" + config.change_attribute + ">=" + from + "))";
}

std::string Parenthesized(const std::string& f) {
  return !f.empty() && f.front() == '(' ? f : "(" + f + ")";
}

// ---------- Active Directory's ranged member values ----------
// AD answers at most MaxValRange values of one attribute per read (1,500 by default): a larger
// group's `member` comes as "member;range=0-1499", and the next window is asked for by name
// ("member;range=1500-2999") until one ends in '*' ("member;range=1500-*").
constexpr std::string_view kLdapCapActiveDirectory = "1.2.840.113556.1.4.800";
constexpr uint64_t kMemberWindow = 1500;

// The upper bound of a "member;range=L-H" attribute name ("1499", or "*" for the last window);
// nullopt for any other name.
std::optional<std::string> MemberRangeEnd(std::string_view name) {
  constexpr std::string_view kPrefix = "member;range=";
  if (!StartsWithIgnoreAsciiCase(name, kPrefix)) return std::nullopt;
  auto dash = name.find('-', kPrefix.size());
  if (dash == std::string_view::npos) return std::nullopt;
  return std::string(name.substr(dash + 1));
}

// A window's numeric upper bound ("1499"); nullopt for anything else.
std::optional<uint64_t> WindowNumber(std::string_view text) {
  uint64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

Json ZeroCounts() {
  return Json{{"created", 0},
              {"updated", 0},
              {"unchanged", 0},
              {"disabled", 0},
              {"removed", 0},
              {"errors", 0},
              {"groups_created", 0},
              {"groups_updated", 0},
              {"groups_removed", 0},
              {"memberships_added", 0},
              {"memberships_removed", 0}};
}

void Bump(Json& counts, const char* key, int64_t n = 1) {
  counts[key] = counts.value(key, int64_t{0}) + n;
}

template <typename T>
Json StringList(const T& values) {
  Json out = Json::array();
  for (const auto& v : values) out.push_back(v);
  return out;
}

Result<std::chrono::seconds> DurationField(const Json& j, const std::string& key) {
  const Json& v = j.at(key);
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return std::chrono::seconds(v.get<int64_t>());
  if (v.is_string()) {
    const std::string text = v.get<std::string>();
    if (text == "0" || text == "off" || text.empty()) return std::chrono::seconds(0);
    auto parsed = service::ParseDuration(text);
    if (parsed) return *parsed;
  }
  return Invalid(key + ": expected a duration such as \"15m\", \"1h\", \"1d\" or seconds");
}

std::string DurationText(std::chrono::seconds s) {
  auto n = s.count();
  if (n == 0) return "0";
  if (n % 86400 == 0) return std::to_string(n / 86400) + "d";
  if (n % 3600 == 0) return std::to_string(n / 3600) + "h";
  if (n % 60 == 0) return std::to_string(n / 60) + "m";
  return std::to_string(n) + "s";
}

}  // namespace

// ---------- configuration ----------

Result<LdapConfig> ParseLdapConfig(const Json& settings) {
  if (!settings.is_object()) return Invalid("settings must be a JSON object");
  static const std::set<std::string> kKnown = {"url",
                                               "start_tls",
                                               "ca_file",
                                               "bind_dn",
                                               "base_dns",
                                               "user_filter",
                                               "group_filter",
                                               "attributes",
                                               "id_attribute",
                                               "username_attribute",
                                               "page_size",
                                               "network_timeout",
                                               "operation_timeout",
                                               "ignore_search_references",
                                               "change_attribute",
                                               "schedule",
                                               "full_every",
                                               "deprovision_guard",
                                               "incremental_deletions",
                                               "batch_size",
                                               "clock_skew"};
  for (auto it = settings.begin(); it != settings.end(); ++it) {
    if (!kKnown.count(it.key())) return Invalid(it.key() + ": unknown setting");
  }
  LdapConfig c;
  auto str = [&](const char* key, std::string* out) -> Status {
    if (!settings.contains(key)) return Status::Ok();
    if (!settings[key].is_string()) return Invalid(std::string(key) + ": expected a string");
    *out = settings[key].get<std::string>();
    return Status::Ok();
  };
  auto boolean = [&](const char* key, bool* out) -> Status {
    if (!settings.contains(key)) return Status::Ok();
    if (!settings[key].is_boolean()) return Invalid(std::string(key) + ": expected true or false");
    *out = settings[key].get<bool>();
    return Status::Ok();
  };
  auto list = [&](const char* key, std::vector<std::string>* out) -> Status {
    if (!settings.contains(key)) return Status::Ok();
    const Json& v = settings[key];
    if (!v.is_array()) return Invalid(std::string(key) + ": expected a list of strings");
    out->clear();
    for (const auto& e : v) {
      if (!e.is_string()) return Invalid(std::string(key) + ": expected a list of strings");
      out->push_back(e.get<std::string>());
    }
    return Status::Ok();
  };
  ldap::LdapSettings& l = c.ldap;
  for (Status s :
       {str("url", &l.url), boolean("start_tls", &l.start_tls), str("ca_file", &l.ca_file),
        str("bind_dn", &l.bind_dn), list("base_dns", &l.base_dns),
        str("user_filter", &l.user_filter), str("group_filter", &l.group_filter),
        list("attributes", &l.attributes), str("id_attribute", &l.id_attribute),
        str("username_attribute", &l.username_attribute),
        boolean("ignore_search_references", &l.ignore_search_references),
        str("change_attribute", &c.change_attribute),
        str("incremental_deletions", &c.incremental_deletions)}) {
    if (!s) return s.error();
  }
  if (settings.contains("page_size")) {
    if (!settings["page_size"].is_number_integer()) return Invalid("page_size: expected a number");
    l.page_size = settings["page_size"].get<int>();
  }
  if (settings.contains("batch_size")) {
    if (!settings["batch_size"].is_number_integer() || settings["batch_size"].get<int>() < 1 ||
        settings["batch_size"].get<int>() > 10000) {
      return Invalid("batch_size: expected a number from 1 to 10000");
    }
    c.batch_size = settings["batch_size"].get<int>();
  }
  if (settings.contains("deprovision_guard")) {
    const Json& g = settings["deprovision_guard"];
    if (!g.is_number() || g.get<double>() < 0 || g.get<double>() > 1) {
      return Invalid("deprovision_guard: expected a share from 0 to 1 (0.1 = 10%)");
    }
    c.deprovision_guard = g.get<double>();
  }
  for (const char* key : {"network_timeout", "operation_timeout"}) {
    if (!settings.contains(key)) continue;
    auto d = DurationField(settings, key);
    if (!d) return d.error();
    auto ms = std::chrono::milliseconds(*d);
    (std::string(key) == "network_timeout" ? l.network_timeout : l.operation_timeout) = ms;
  }
  for (const char* key : {"schedule", "full_every", "clock_skew"}) {
    if (!settings.contains(key)) continue;
    auto d = DurationField(settings, key);
    if (!d) return d.error();
    std::string k = key;
    (k == "schedule" ? c.schedule : k == "full_every" ? c.full_every : c.clock_skew) = *d;
  }
  if (!EqualsIgnoreAsciiCase(c.change_attribute, "modifyTimestamp") && !IsUsn(c)) {
    return Invalid(
        "change_attribute: use modifyTimestamp (OpenLDAP) or uSNChanged (Active "
        "Directory)");
  }
  if (c.incremental_deletions != "id_scan" && c.incremental_deletions != "full_only") {
    return Invalid("incremental_deletions: use id_scan or full_only");
  }
  // Validate as the client will, with a stand-in password when a bind DN is set (the real one
  // is sealed apart and checked when it is given).
  ldap::LdapSettings check = l;
  if (!check.bind_dn.empty()) check.bind_password = "x";
  if (Status s = ldap::Validate(check); !s) return s.error();
  return c;
}

Json LdapConfigToJson(const LdapConfig& c) {
  const ldap::LdapSettings& l = c.ldap;
  return Json{{"url", l.url},
              {"start_tls", l.start_tls},
              {"ca_file", l.ca_file},
              {"bind_dn", l.bind_dn},
              {"base_dns", StringList(l.base_dns)},
              {"user_filter", l.user_filter},
              {"group_filter", l.group_filter},
              {"attributes", StringList(l.attributes)},
              {"id_attribute", l.id_attribute},
              {"username_attribute", l.username_attribute},
              {"page_size", l.page_size},
              {"network_timeout",
               DurationText(std::chrono::duration_cast<std::chrono::seconds>(l.network_timeout))},
              {"operation_timeout",
               DurationText(std::chrono::duration_cast<std::chrono::seconds>(l.operation_timeout))},
              {"ignore_search_references", l.ignore_search_references},
              {"change_attribute", c.change_attribute},
              {"schedule", DurationText(c.schedule)},
              {"full_every", DurationText(c.full_every)},
              {"deprovision_guard", c.deprovision_guard},
              {"incremental_deletions", c.incremental_deletions},
              {"batch_size", c.batch_size},
              {"clock_skew", DurationText(c.clock_skew)}};
}

Json SyncRunToJson(const store::SyncRun& run, const std::string& connection_name) {
  return Json{{"id", run.id},
              {"connection", connection_name},
              {"mode", run.mode},
              {"trigger", run.trigger},
              {"outcome", run.outcome},
              {"started", FormatRfc3339(run.started)},
              {"ended", run.ended ? Json(FormatRfc3339(*run.ended)) : Json(nullptr)},
              {"counts", run.counts},
              {"progress", run.progress},
              {"error", run.error.empty() ? Json(nullptr) : Json(run.error)}};
}

// ---------- the engine ----------

namespace {

struct Loaded {
  store::Connection connection;
  LdapConfig config;
};

// One group as read from the server.
struct GroupInfo {
  std::string id;
  std::string dn;
  std::string name;
  std::vector<std::string> member_dns;   // DnKey of member and uniqueMember values
  std::vector<std::string> member_uids;  // memberUid values, folded
};

struct PendingUser {
  std::string id;
  Json body;
  std::string dn;
  std::string username;
  // Full runs: the ids of every group the user belongs to (nested groups included); the
  // user's memberships are set to exactly these in the job that writes the user.
  std::optional<std::set<std::string>> groups;
};

// Who is in which group, by DN, from a complete group scan (full runs): each user's groups are
// computed as its entry is read, so that a user is written and derived once, with its groups,
// instead of once for its attributes and again when the groups are applied.
struct MembershipIndex {
  const std::vector<GroupInfo>* groups = nullptr;
  std::unordered_map<std::string, size_t> by_dn;                       // group DnKey -> index
  std::unordered_map<std::string, std::vector<size_t>> by_member_dn;   // DnKey -> direct groups
  std::unordered_map<std::string, std::vector<size_t>> by_member_uid;  // folded memberUid
  std::vector<std::vector<size_t>> closure;  // per group: itself and every group containing it

  explicit MembershipIndex(const std::vector<GroupInfo>& all) : groups(&all) {
    for (size_t i = 0; i < all.size(); ++i) by_dn[DnKey(all[i].dn)] = i;
    std::vector<std::vector<size_t>> parents(all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      for (const auto& dn : all[i].member_dns) {
        if (auto g = by_dn.find(dn); g != by_dn.end()) {
          parents[g->second].push_back(i);
        } else {
          by_member_dn[dn].push_back(i);
        }
      }
      for (const auto& uid : all[i].member_uids) by_member_uid[uid].push_back(i);
    }
    // Ancestors by a walk with a visited set: a cycle (a in b, b in a) ends where it started.
    closure.resize(all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      std::vector<bool> visited(all.size(), false);
      std::vector<size_t> stack = {i};
      while (!stack.empty()) {
        size_t h = stack.back();
        stack.pop_back();
        if (visited[h]) continue;
        visited[h] = true;
        closure[i].push_back(h);
        for (size_t p : parents[h]) stack.push_back(p);
      }
    }
  }

  // The same membership the incremental path's Flatten gives: groups listing the user's DN,
  // its uid (memberUid) or named in its memberOf, and every group containing those.
  std::set<std::string> GroupsOf(const LdapEntry& entry, const std::string& username) const {
    std::vector<size_t> direct;
    auto add = [&](const std::vector<size_t>* list) {
      if (list) direct.insert(direct.end(), list->begin(), list->end());
    };
    auto find = [](const auto& map, const std::string& key) {
      auto it = map.find(key);
      return it == map.end() ? nullptr : &it->second;
    };
    add(find(by_member_dn, DnKey(entry.dn)));
    std::set<std::string> uids;
    if (!username.empty()) uids.insert(FoldCase(username));
    if (auto uid = entry.First("uid")) uids.insert(FoldCase(*uid));
    for (const auto& uid : uids) add(find(by_member_uid, uid));
    if (const auto* member_of = entry.Find("memberOf")) {
      for (const auto& dn : *member_of) {
        if (auto g = by_dn.find(DnKey(dn)); g != by_dn.end()) direct.push_back(g->second);
      }
    }
    std::set<std::string> out;
    for (size_t d : direct) {
      for (size_t g : closure[d]) out.insert((*groups)[g].id);
    }
    return out;
  }
};

// What a run knows while it runs.
struct RunContext {
  Loaded loaded;
  RunOptions options;
  store::SyncRun run;
  Json state = Json::object();
  TimePoint start;
  std::unique_ptr<LdapClient> client;
  std::unordered_map<std::string, std::string> user_by_dn;              // DnKey -> source user id
  std::unordered_map<std::string, std::string> user_by_uid;             // folded uid/username -> id
  std::unordered_map<std::string, std::vector<std::string>> member_of;  // group DnKey -> ids
  std::unordered_set<std::string> seen_users;
  std::string max_mark;           // highest change mark seen (timestamp digits)
  std::string usn_mark;           // highestCommittedUSN read before the scan (AD)
  bool active_directory = false;  // the root DSE names LDAP_CAP_ACTIVE_DIRECTORY_OID
  bool membership_dirty = false;  // a user appeared or moved: memberships must be recomputed
  const MembershipIndex* index = nullptr;  // full runs: memberships set with each user
  uint64_t entries_read = 0;
  std::vector<std::string> entry_errors;  // first few, for the run's error text

  const store::Connection& connection() const { return loaded.connection; }
  const LdapConfig& config() const { return loaded.config; }
};

std::string FailureText(LdapClient& client, const Error& e) {
  if (auto kind = client.last_failure()) {
    return std::string(ldap::FailureName(*kind)) + ": " + e.detail;
  }
  return e.detail;
}

std::string FirstValue(const Json& body, const std::string& attribute) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (EqualsIgnoreAsciiCase(it.key(), attribute) && it->is_array() && !it->empty() &&
        (*it)[0].is_string()) {
      return (*it)[0].get<std::string>();
    }
  }
  return {};
}

const Json* Values(const Json& body, const std::string& attribute) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (EqualsIgnoreAsciiCase(it.key(), attribute) && it->is_array()) return &*it;
  }
  return nullptr;
}

}  // namespace

struct LdapSync::Impl {
  store::Store& store;
  directory::DirectoryService& directory;
  const SecretBox& secrets;
  const Clock& clock;
  std::string owner;

  std::mutex locks_mu;
  std::map<int64_t, std::shared_ptr<std::mutex>> locks;

  Impl(store::Store& s, directory::DirectoryService& d, const SecretBox& b, const Clock& c)
      : store(s), directory(d), secrets(b), clock(c) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    owner = std::string(host) + ":" + std::to_string(getpid()) + ":" + NewUuid().substr(0, 8);
  }

  std::shared_ptr<std::mutex> LockFor(int64_t connection_id) {
    std::lock_guard lock(locks_mu);
    auto& m = locks[connection_id];
    if (!m) m = std::make_shared<std::mutex>();
    return m;
  }

  Result<Loaded> Load(const std::string& name, bool with_password) {
    Loaded out;
    std::string sealed;
    Status st = store.Read([&](store::Transaction& tx) -> Status {
      auto c = tx.GetConnectionByName(name);
      if (!c) {
        if (c.error().code == ErrorCode::kNotFound) {
          return MakeError(ErrorCode::kNotFound, "no connection named \"" + name + "\"");
        }
        return c.error();
      }
      out.connection = *c;
      if (c->kind != kLdapKind) return Status::Ok();
      auto secret = tx.GetSecret(c->id, std::string(kPasswordSecret));
      if (secret) {
        sealed = *secret;
      } else if (secret.error().code != ErrorCode::kNotFound) {
        return secret.error();
      }
      return Status::Ok();
    });
    if (!st) return st.error();
    if (out.connection.kind != kLdapKind) {
      return Invalid("connection \"" + name + "\" is of kind " + out.connection.kind +
                     ", not ldap");
    }
    auto config = ParseLdapConfig(out.connection.settings);
    if (!config) return Invalid("stored settings of \"" + name + "\": " + config.error().detail);
    out.config = std::move(*config);
    if (with_password && !sealed.empty()) {
      auto plain = secrets.Unseal(sealed, SecretContext(out.connection));
      if (!plain) return plain.error();
      out.config.ldap.bind_password = std::move(*plain);
    }
    return out;
  }

  Status Audit(store::Transaction& tx, const store::Connection& c, const std::string& actor,
               const std::string& request_id, const std::string& operation, int status,
               const std::string& detail, const std::string& resource_id = {}) {
    store::AuditRecord a;
    a.time = clock.Now();
    a.connection_id = c.id;
    a.connection_name = c.name;
    a.request_id = request_id;
    a.actor = actor;
    a.operation = operation;
    a.resource_type = resource_id.empty() ? "Connection" : "User";
    a.resource_id = resource_id.empty() ? c.uuid : resource_id;
    a.status = status;
    a.detail = detail;
    return tx.AppendAudit(a);
  }

  // ----- writes shared by runs and login sync

  // Upserts one user; returns "created", "updated" or "unchanged". `moved` is set when the
  // user is new or its DN changed (memberships that name it by DN may now resolve differently).
  Result<std::string> PutUser(store::Transaction& tx, const store::Connection& c,
                              const PendingUser& p, bool* moved) {
    auto existing = tx.GetResource(c.id, ResourceType::kUser, p.id);
    std::string what;
    if (existing) {
      if (existing->body == p.body) return std::string("unchanged");
      what = "updated";
      if (existing->body.value("dn", "") != p.dn) *moved = true;
    } else if (existing.error().code == ErrorCode::kNotFound) {
      what = "created";
      *moved = true;
    } else {
      return existing.error();
    }
    store::StoredResource r;
    r.id = p.id;
    r.type = ResourceType::kUser;
    r.body = p.body;
    r.created = r.last_modified = clock.Now();
    std::vector<store::IndexEntry> index = {{"dn", DnKey(p.dn)}};
    if (!p.username.empty()) index.push_back({"username", FoldCase(p.username)});
    auto put = tx.PutResource(c.id, r, std::nullopt, index);
    if (!put) return put.error();
    return what;
  }

  // Puts a group's body; returns "created", "updated", "renamed" or "unchanged".
  Result<std::string> PutGroup(store::Transaction& tx, const store::Connection& c,
                               const GroupInfo& g) {
    Json body = {{"displayName", g.name}, {"dn", g.dn}};
    auto existing = tx.GetResource(c.id, ResourceType::kGroup, g.id);
    std::string what;
    if (existing) {
      if (existing->body == body) return std::string("unchanged");
      what = existing->body.value("displayName", "") != g.name ? "renamed" : "updated";
    } else if (existing.error().code == ErrorCode::kNotFound) {
      what = "created";
    } else {
      return existing.error();
    }
    store::StoredResource r;
    r.id = g.id;
    r.type = ResourceType::kGroup;
    r.body = std::move(body);
    r.created = r.last_modified = clock.Now();
    auto put = tx.PutResource(c.id, r, std::nullopt, {{"dn", DnKey(g.dn)}});
    if (!put) return put.error();
    return what;
  }

  Status Notify(store::Transaction& tx, const store::Connection& c, std::set<std::string> users,
                const std::string& request_id, const std::string& operation) {
    if (users.empty()) return Status::Ok();
    service::MirrorChange change;
    change.connection = &c;
    change.users = std::move(users);
    change.request_id = request_id;
    change.actor = "sync";
    change.operation = operation;
    return directory.OnMirrorChanged(tx, change);
  }

  Status RenewLease(store::Transaction& tx, RunContext& rc) {
    const TimePoint now = clock.Now();
    auto held = tx.AcquireSyncLease(rc.connection().id, owner, now, now + kLeaseTtl);
    if (!held) return held.error();
    if (!*held) {
      return MakeError(ErrorCode::kUnavailable,
                       "the run lost its lease to another process (a store write stalled for "
                       "more than 10 minutes)");
    }
    return Status::Ok();
  }

  // One store write job: `body` plus the lease renewal and the run's progress, then
  // AfterCommit. Counts change only if the job commits.
  Status WriteStep(RunContext& rc, const std::function<Status(store::Transaction&, Json&)>& body) {
    Json counts;
    Status st = store.Write([&](store::Transaction& tx) -> Status {
      counts = rc.run.counts;
      if (Status s = RenewLease(tx, rc); !s) return s;
      if (Status s = body(tx, counts); !s) return s;
      store::SyncRun r = rc.run;
      r.counts = counts;
      return tx.UpdateSyncRun(r);
    });
    directory.AfterCommit();
    if (st) rc.run.counts = std::move(counts);
    return st;
  }

  Status FlushUsers(RunContext& rc, std::vector<PendingUser>& batch) {
    if (batch.empty()) return Status::Ok();
    bool moved = false;
    Status st = WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
      moved = false;
      std::set<std::string> changed;
      const store::Connection& c = rc.connection();
      for (const auto& p : batch) {
        auto what = PutUser(tx, c, p, &moved);
        if (!what) return what.error();
        Bump(counts, what->c_str());
        if (*what != "unchanged") changed.insert(p.id);
        if (!p.groups) continue;
        auto have = tx.GroupsOf(c.id, p.id);
        if (!have) return have.error();
        std::set<std::string> had;
        for (const auto& [gid, gname] : *have) had.insert(gid);
        for (const auto& gid : *p.groups) {
          if (had.count(gid)) continue;
          auto added = tx.AddMember(c.id, gid, store::Member{p.id, "User", ""});
          if (!added) return added.error();
          if (Status s = tx.TouchResource(c.id, ResourceType::kGroup, gid, clock.Now()); !s) {
            return s;
          }
          changed.insert(p.id);
          Bump(counts, "memberships_added");
        }
        for (const auto& gid : had) {
          if (p.groups->count(gid)) continue;
          auto removed = tx.RemoveMember(c.id, gid, p.id);
          if (!removed) return removed.error();
          if (Status s = tx.TouchResource(c.id, ResourceType::kGroup, gid, clock.Now()); !s) {
            return s;
          }
          changed.insert(p.id);
          Bump(counts, "memberships_removed");
        }
      }
      return Notify(tx, rc.connection(), std::move(changed), rc.options.request_id, "sync");
    });
    if (st && moved) rc.membership_dirty = true;
    batch.clear();
    return st;
  }

  void NoteMark(RunContext& rc, const LdapEntry& entry) {
    if (IsUsn(rc.config())) return;
    if (auto v = entry.First(rc.config().change_attribute)) {
      if (auto digits = TimestampDigits(*v); digits && *digits > rc.max_mark) rc.max_mark = *digits;
    }
  }

  // Whether user entries are read with memberOf (all attributes, or memberOf listed).
  bool ReadsMemberOf(RunContext& rc) {
    for (const auto& a : rc.client->AttributesToRead()) {
      if (a == "*" || EqualsIgnoreAsciiCase(a, "memberOf")) return true;
    }
    return false;
  }

  std::vector<std::string> UserAttributes(RunContext& rc) {
    std::vector<std::string> attrs = rc.client->AttributesToRead();
    attrs.push_back(rc.config().change_attribute);
    return attrs;
  }

  // Reads users matching `filter` from every base DN and upserts them in batches.
  Status ScanUsers(RunContext& rc, const std::string& filter, const char* phase) {
    const LdapConfig& config = rc.config();
    std::vector<PendingUser> batch;
    rc.run.progress["phase"] = phase;
    for (const auto& base : config.ldap.base_dns) {
      ldap::SearchRequest request{base, ldap::SearchScope::kSubtree, filter, UserAttributes(rc), 0,
                                  true};
      Status flushed = Status::Ok();
      Status st = rc.client->PagedSearch(
          request,
          [&](const LdapEntry& entry) -> Status {
            ++rc.entries_read;
            auto id = ldap::StableId(entry, config.ldap.id_attribute);
            if (!id) {
              Bump(rc.run.counts, "errors");
              if (rc.entry_errors.size() < 5) rc.entry_errors.push_back(id.error().detail);
              return Status::Ok();
            }
            NoteMark(rc, entry);
            PendingUser p;
            p.id = *id;
            p.body = EntryBody(entry, config);
            p.dn = entry.dn;
            p.username = entry.First(config.ldap.username_attribute).value_or("");
            rc.seen_users.insert(p.id);
            rc.user_by_dn[DnKey(p.dn)] = p.id;
            if (!p.username.empty()) rc.user_by_uid[FoldCase(p.username)] = p.id;
            if (auto uid = entry.First("uid")) rc.user_by_uid.emplace(FoldCase(*uid), p.id);
            if (const auto* groups = entry.Find("memberOf")) {
              for (const auto& g : *groups) rc.member_of[DnKey(g)].push_back(p.id);
            }
            if (rc.index) p.groups = rc.index->GroupsOf(entry, p.username);
            batch.push_back(std::move(p));
            if (static_cast<int>(batch.size()) >= config.batch_size) {
              rc.run.progress["entries_read"] = rc.entries_read;
              flushed = FlushUsers(rc, batch);
              if (!flushed) return flushed;
            }
            return Status::Ok();
          },
          [&](const ldap::SearchProgress& progress) {
            rc.run.progress["entries_read"] = rc.entries_read;
            if (progress.server_estimate && *progress.server_estimate > 0) {
              rc.run.progress["total"] = *progress.server_estimate;
            }
          });
      if (!flushed) return flushed;
      if (!st) return MakeError(st.error().code, FailureText(*rc.client, st.error()));
    }
    rc.run.progress["entries_read"] = rc.entries_read;
    return FlushUsers(rc, batch);
  }

  // Reads every group (complete scan) into memory.
  Result<std::vector<GroupInfo>> ScanGroups(RunContext& rc, const std::string& filter) {
    const LdapConfig& config = rc.config();
    std::vector<GroupInfo> groups;
    rc.run.progress["phase"] = "groups";
    // On AD the first window of member values is asked for by name (see MemberRangeEnd), so
    // that a large group is read the same way whatever the server's MaxValRange.
    std::vector<std::string> attrs = {"cn",
                                      rc.active_directory
                                          ? "member;range=0-" + std::to_string(kMemberWindow - 1)
                                          : std::string("member"),
                                      "uniqueMember",
                                      "memberUid",
                                      config.ldap.id_attribute,
                                      config.change_attribute};
    std::vector<std::pair<size_t, std::string>> windowed;  // group index, end of its first window
    for (const auto& base : config.ldap.base_dns) {
      ldap::SearchRequest request{base, ldap::SearchScope::kSubtree, filter, attrs, 0, true};
      Status st = rc.client->PagedSearch(request, [&](const LdapEntry& entry) -> Status {
        ++rc.entries_read;
        auto id = ldap::StableId(entry, config.ldap.id_attribute);
        if (!id) {
          Bump(rc.run.counts, "errors");
          if (rc.entry_errors.size() < 5) rc.entry_errors.push_back(id.error().detail);
          return Status::Ok();
        }
        NoteMark(rc, entry);
        GroupInfo g;
        g.id = *id;
        g.dn = entry.dn;
        g.name = entry.First("cn").value_or(entry.dn);
        for (const char* attr : {"member", "uniqueMember"}) {
          if (const auto* values = entry.Find(attr)) {
            for (const auto& v : *values) g.member_dns.push_back(DnKey(UniqueMemberDn(v)));
          }
        }
        if (const auto* values = entry.Find("memberUid")) {
          for (const auto& v : *values) g.member_uids.push_back(FoldCase(v));
        }
        for (const auto& [name, values] : entry.attributes) {
          auto end = MemberRangeEnd(name);
          if (!end) continue;
          for (const auto& v : values) g.member_dns.push_back(DnKey(v));
          if (*end != "*") windowed.emplace_back(groups.size(), *end);
        }
        groups.push_back(std::move(g));
        return Status::Ok();
      });
      if (!st) return MakeError(st.error().code, FailureText(*rc.client, st.error()));
    }
    // The following windows, after the scan (one connection, one search at a time).
    for (const auto& [i, end] : windowed) {
      if (Status s = ReadMemberWindows(rc, groups[i].dn, end, &groups[i].member_dns); !s) {
        return s.error();
      }
    }
    rc.run.progress["entries_read"] = rc.entries_read;
    return groups;
  }

  // The member values of group `dn` after the window ending at `end`, one base-scope read per
  // window until the server's answer ends in '*' (or has nothing more: the group shrank).
  Status ReadMemberWindows(RunContext& rc, const std::string& dn, std::string end,
                           std::vector<std::string>* out) {
    auto cut_short = [&](const std::string& why) -> Status {
      return MakeError(ErrorCode::kUnavailable,
                       "group '" + dn + "': " + why + "; its members cannot be read completely");
    };
    while (end != "*") {
      const auto last = WindowNumber(end);
      if (!last) return cut_short("the server answered a window ending at '" + end + "'");
      const std::string range =
          "member;range=" + std::to_string(*last + 1) + "-" + std::to_string(*last + kMemberWindow);
      ldap::SearchRequest request;
      request.base = dn;
      request.scope = ldap::SearchScope::kBase;
      request.attributes = {range};
      request.paged = false;
      std::optional<std::string> next;
      Status st = rc.client->PagedSearch(request, [&](const LdapEntry& entry) -> Status {
        for (const auto& [name, values] : entry.attributes) {
          auto e = MemberRangeEnd(name);
          if (!e) continue;
          next = *e;
          for (const auto& v : values) out->push_back(DnKey(v));
        }
        return Status::Ok();
      });
      if (!st) return MakeError(st.error().code, FailureText(*rc.client, st.error()));
      if (!next) break;  // nothing after `last`: the group shrank while it was read
      if (*next != "*") {
        const auto n = WindowNumber(*next);
        if (!n || *n <= *last) {
          return cut_short("the server answered " + range + " with a window ending at '" + *next +
                           "'");
        }
      }
      end = *next;
    }
    return Status::Ok();
  }

  // The mirror's users as the group pass needs them (incremental runs, where the scan did not
  // see every user).
  Status LoadUserMaps(RunContext& rc) {
    rc.user_by_dn.clear();
    rc.user_by_uid.clear();
    rc.member_of.clear();
    const std::string& username_attr = rc.config().ldap.username_attribute;
    return store.Read([&](store::Transaction& tx) -> Status {
      return tx.ScanResources(rc.connection().id, ResourceType::kUser,
                              [&](const store::StoredResource& r) {
                                rc.user_by_dn[DnKey(r.body.value("dn", ""))] = r.id;
                                std::string name = FirstValue(r.body, username_attr);
                                if (!name.empty()) rc.user_by_uid[FoldCase(name)] = r.id;
                                std::string uid = FirstValue(r.body, "uid");
                                if (!uid.empty()) rc.user_by_uid.emplace(FoldCase(uid), r.id);
                                if (const Json* groups = Values(r.body, "memberOf")) {
                                  for (const auto& g : *groups) {
                                    if (g.is_string()) {
                                      rc.member_of[DnKey(g.get<std::string>())].push_back(r.id);
                                    }
                                  }
                                }
                                return true;
                              });
    });
  }

  // Flattens nested groups: the users of each group, through member groups at any depth.
  // A cycle ends where a group is met again.
  std::vector<std::set<std::string>> Flatten(RunContext& rc, const std::vector<GroupInfo>& groups) {
    std::unordered_map<std::string, size_t> by_dn;
    for (size_t i = 0; i < groups.size(); ++i) by_dn[DnKey(groups[i].dn)] = i;
    std::vector<std::set<std::string>> out(groups.size());
    for (size_t i = 0; i < groups.size(); ++i) {
      std::vector<bool> visited(groups.size(), false);
      std::vector<size_t> stack = {i};
      while (!stack.empty()) {
        size_t h = stack.back();
        stack.pop_back();
        if (visited[h]) continue;
        visited[h] = true;
        for (const auto& dn : groups[h].member_dns) {
          if (auto u = rc.user_by_dn.find(dn); u != rc.user_by_dn.end()) {
            out[i].insert(u->second);
          } else if (auto g = by_dn.find(dn); g != by_dn.end()) {
            stack.push_back(g->second);
          }
        }
        for (const auto& uid : groups[h].member_uids) {
          if (auto u = rc.user_by_uid.find(uid); u != rc.user_by_uid.end()) {
            out[i].insert(u->second);
          }
        }
        if (auto m = rc.member_of.find(DnKey(groups[h].dn)); m != rc.member_of.end()) {
          out[i].insert(m->second.begin(), m->second.end());
        }
      }
    }
    return out;
  }

  // Writes groups and their flattened memberships, in batches.
  Status ApplyGroups(RunContext& rc, const std::vector<GroupInfo>& groups) {
    auto members = Flatten(rc, groups);
    const size_t step = std::max<size_t>(1, static_cast<size_t>(rc.config().batch_size) / 5);
    for (size_t from = 0; from < groups.size(); from += step) {
      const size_t to = std::min(groups.size(), from + step);
      Status st = WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
        const store::Connection& c = rc.connection();
        std::set<std::string> affected;
        for (size_t i = from; i < to; ++i) {
          const GroupInfo& g = groups[i];
          auto what = PutGroup(tx, c, g);
          if (!what) return what.error();
          if (*what == "created") Bump(counts, "groups_created");
          if (*what == "updated" || *what == "renamed") Bump(counts, "groups_updated");
          auto current = tx.ListMembers(c.id, g.id);
          if (!current) return current.error();
          std::set<std::string> have;
          for (const auto& m : *current) have.insert(m.value);
          bool touched = false;
          for (const auto& id : members[i]) {
            if (have.count(id)) continue;
            auto added = tx.AddMember(c.id, g.id, store::Member{id, "User", ""});
            if (!added) return added.error();
            affected.insert(id);
            touched = true;
            Bump(counts, "memberships_added");
          }
          for (const auto& id : have) {
            if (members[i].count(id)) continue;
            auto removed = tx.RemoveMember(c.id, g.id, id);
            if (!removed) return removed.error();
            affected.insert(id);
            touched = true;
            Bump(counts, "memberships_removed");
          }
          if (*what == "renamed") affected.insert(members[i].begin(), members[i].end());
          if (touched && *what == "unchanged") {
            if (Status s = tx.TouchResource(c.id, ResourceType::kGroup, g.id, clock.Now()); !s) {
              return s;
            }
          }
        }
        return Notify(tx, c, std::move(affected), rc.options.request_id, "sync");
      });
      if (!st) return st;
    }
    return Status::Ok();
  }

  // The ids in the mirror. Pages of bodies as text (ListResourcesText), because parsing 20,000
  // JSON bodies only to read their ids was most of an idle incremental run.
  Result<std::vector<std::string>> MirrorIds(RunContext& rc, ResourceType type) {
    std::vector<std::string> ids;
    constexpr int64_t kPage = 5000;
    Status st = store.Read([&](store::Transaction& tx) -> Status {
      for (int64_t offset = 0;; offset += kPage) {
        auto page = tx.ListResourcesText(rc.connection().id, type, offset, kPage);
        if (!page) return page.error();
        for (const auto& r : *page) ids.push_back(r.id);
        if (static_cast<int64_t>(page->size()) < kPage) return Status::Ok();
      }
    });
    if (!st) return st.error();
    return ids;
  }

  Status DeleteGroups(RunContext& rc, const std::vector<std::string>& ids) {
    if (ids.empty()) return Status::Ok();
    return WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
      const store::Connection& c = rc.connection();
      std::set<std::string> affected;
      for (const auto& id : ids) {
        auto current = tx.ListMembers(c.id, id);
        if (!current) return current.error();
        for (const auto& m : *current) affected.insert(m.value);
        if (Status s = tx.DeleteResource(c.id, ResourceType::kGroup, id); !s) return s;
        Bump(counts, "groups_removed");
      }
      return Notify(tx, c, std::move(affected), rc.options.request_id, "sync");
    });
  }

  // Deletes source users from the mirror; the policy's on_delete decides their effective fate.
  // Counts each as "disabled" when its effective user ended disabled, else "removed".
  Status DeleteUsers(RunContext& rc, const std::vector<std::string>& ids) {
    rc.run.progress["phase"] = "deletions";
    const size_t step = static_cast<size_t>(rc.config().batch_size);
    for (size_t from = 0; from < ids.size(); from += step) {
      const size_t to = std::min(ids.size(), from + step);
      Status st = WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
        const store::Connection& c = rc.connection();
        std::set<std::string> gone(ids.begin() + static_cast<std::ptrdiff_t>(from),
                                   ids.begin() + static_cast<std::ptrdiff_t>(to));
        for (const auto& id : gone) {
          if (Status s = tx.DeleteResource(c.id, ResourceType::kUser, id);
              !s && s.error().code != ErrorCode::kNotFound) {
            return s;
          }
        }
        if (Status s = Notify(tx, c, gone, rc.options.request_id, "delete"); !s) return s;
        for (const auto& id : gone) {
          bool disabled = false;
          if (auto link = tx.GetLink(c.id, id)) {
            if (auto user = tx.GetEffectiveUser(link->directory, link->effective_user_id)) {
              disabled = user->state == "disabled";
            }
          }
          Bump(counts, disabled ? "disabled" : "removed");
        }
        return Status::Ok();
      });
      if (!st) return st;
    }
    return Status::Ok();
  }

  // The mass-deprovision guard. True when the run may go on.
  Result<bool> GuardAllows(RunContext& rc, size_t to_delete) {
    if (to_delete == 0 || rc.options.confirm) return true;
    int64_t total = 0;
    Status st = store.Read([&](store::Transaction& tx) -> Status {
      auto n = tx.CountResources(rc.connection().id, ResourceType::kUser);
      if (!n) return n.error();
      total = *n;
      return Status::Ok();
    });
    if (!st) return st.error();
    const double allowed = rc.config().deprovision_guard * static_cast<double>(total);
    if (static_cast<double>(to_delete) <= allowed) return true;
    char share[32];
    std::snprintf(
        share, sizeof share, "%.1f%%",
        total > 0 ? 100.0 * static_cast<double>(to_delete) / static_cast<double>(total) : 100.0);
    rc.run.outcome = "needs_confirmation";
    rc.run.error = std::to_string(to_delete) + " of " + std::to_string(total) + " users (" + share +
                   ") would be deprovisioned, more than the guard allows (" +
                   std::to_string(static_cast<int>(rc.config().deprovision_guard * 100)) +
                   "%); nothing was deprovisioned. Check the server and the settings, then "
                   "confirm: idsync sync " +
                   rc.connection().name + " --full --confirm";
    rc.run.progress["pending_deletions"] = to_delete;
    return false;
  }

  // The root DSE, before the scans: highestCommittedUSN (the mark of a uSNChanged run) and
  // whether the server is Active Directory (Samba AD says so too), whose large groups are read
  // in windows. A server that does not show its root DSE is read as before (not AD) unless the
  // run needs the USN.
  Status ReadRootDse(RunContext& rc) {
    std::string usn;
    ldap::SearchRequest request{"",
                                ldap::SearchScope::kBase,
                                "(objectClass=*)",
                                {"highestCommittedUSN", "supportedCapabilities"},
                                0,
                                false};
    Status st = rc.client->PagedSearch(request, [&](const LdapEntry& e) -> Status {
      usn = e.First("highestCommittedUSN").value_or("");
      if (const auto* caps = e.Find("supportedCapabilities")) {
        rc.active_directory =
            std::find(caps->begin(), caps->end(), kLdapCapActiveDirectory) != caps->end();
      }
      return Status::Ok();
    });
    if (!IsUsn(rc.config())) return Status::Ok();
    if (!st) return MakeError(st.error().code, FailureText(*rc.client, st.error()));
    if (usn.empty() || usn.find_first_not_of("0123456789") != std::string::npos) {
      return MakeError(ErrorCode::kUnavailable,
                       "the server's root DSE has no highestCommittedUSN: uSNChanged needs Active "
                       "Directory; use change_attribute modifyTimestamp");
    }
    rc.usn_mark = usn;
    return Status::Ok();
  }

  // Group bodies (created, updated, renamed) without touching memberships; a renamed group's
  // members are re-derived (their effective groups follow the name).
  Status PutGroups(RunContext& rc, const std::vector<GroupInfo>& groups) {
    const size_t step = static_cast<size_t>(rc.config().batch_size);
    for (size_t from = 0; from < groups.size(); from += step) {
      const size_t to = std::min(groups.size(), from + step);
      Status st = WriteStep(rc, [&](store::Transaction& tx, Json& counts) -> Status {
        const store::Connection& c = rc.connection();
        std::set<std::string> affected;
        for (size_t i = from; i < to; ++i) {
          auto what = PutGroup(tx, c, groups[i]);
          if (!what) return what.error();
          if (*what == "created") Bump(counts, "groups_created");
          if (*what == "updated" || *what == "renamed") Bump(counts, "groups_updated");
          if (*what == "renamed") {
            auto members = tx.ListMembers(c.id, groups[i].id);
            if (!members) return members.error();
            for (const auto& m : *members) affected.insert(m.value);
          }
        }
        return Notify(tx, c, std::move(affected), rc.options.request_id, "sync");
      });
      if (!st) return st;
    }
    return Status::Ok();
  }

  Status Full(RunContext& rc) {
    const LdapConfig& config = rc.config();
    if (Status s = ReadRootDse(rc); !s) return s;
    // Groups first (few, held in memory): each user is then written with its memberships in
    // the same job, so it is derived once. A failed group scan has written nothing.
    auto groups = ScanGroups(rc, config.ldap.group_filter);
    if (!groups) return groups.error();
    if (Status s = PutGroups(rc, *groups); !s) return s;
    MembershipIndex index(*groups);
    rc.index = &index;
    Status scanned = ScanUsers(rc, config.ldap.user_filter, "users");
    rc.index = nullptr;
    if (!scanned) return scanned;
    // Both scans completed: now, and only now, may anything disappear.
    auto mirror_users = MirrorIds(rc, ResourceType::kUser);
    if (!mirror_users) return mirror_users.error();
    std::vector<std::string> gone_users;
    for (const auto& id : *mirror_users) {
      if (!rc.seen_users.count(id)) gone_users.push_back(id);
    }
    auto allowed = GuardAllows(rc, gone_users.size());
    if (!allowed) return allowed.error();
    if (!*allowed) return Status::Ok();
    auto mirror_groups = MirrorIds(rc, ResourceType::kGroup);
    if (!mirror_groups) return mirror_groups.error();
    std::unordered_set<std::string> seen_groups;
    for (const auto& g : *groups) seen_groups.insert(g.id);
    std::vector<std::string> gone_groups;
    for (const auto& id : *mirror_groups) {
      if (!seen_groups.count(id)) gone_groups.push_back(id);
    }
    if (Status s = DeleteGroups(rc, gone_groups); !s) return s;
    return DeleteUsers(rc, gone_users);
  }

  // Ids of every entry matching `filter` (id attribute only), or an error if the scan did not
  // complete. With `member_of`, also each entry's memberOf (group DnKey -> ids).
  Result<std::unordered_set<std::string>> ScanIds(
      RunContext& rc, const std::string& filter,
      std::unordered_map<std::string, std::vector<std::string>>* member_of = nullptr) {
    std::unordered_set<std::string> ids;
    const std::string& id_attr = rc.config().ldap.id_attribute;
    std::vector<std::string> attrs = {id_attr};
    if (member_of) attrs.emplace_back("memberOf");
    for (const auto& base : rc.config().ldap.base_dns) {
      ldap::SearchRequest request{base, ldap::SearchScope::kSubtree, filter, attrs, 0, true};
      Status st = rc.client->PagedSearch(request, [&](const LdapEntry& entry) -> Status {
        auto id = ldap::StableId(entry, id_attr);
        if (!id) return Status::Ok();
        ids.insert(*id);
        const auto* groups = member_of ? entry.Find("memberOf") : nullptr;
        if (groups) {
          for (const auto& g : *groups) (*member_of)[DnKey(g)].push_back(*id);
        }
        return Status::Ok();
      });
      if (!st) return MakeError(st.error().code, FailureText(*rc.client, st.error()));
    }
    return ids;
  }

  Status Incremental(RunContext& rc) {
    const LdapConfig& config = rc.config();
    const std::string mark = rc.state.value("mark", "");
    if (Status s = ReadRootDse(rc); !s) return s;
    if (Status s = ScanUsers(rc, ChangedFilter(config.ldap.user_filter, config, mark), "users");
        !s) {
      return s;
    }
    auto changed_groups = ScanGroups(rc, ChangedFilter(config.ldap.group_filter, config, mark));
    if (!changed_groups) return changed_groups.error();
    std::optional<std::vector<GroupInfo>> all_groups;
    if (!changed_groups->empty() || rc.membership_dirty) {
      // Memberships are flattened over every group, so one changed group (or a user that
      // appeared or moved) means reading all groups: few entries next to the users.
      auto groups = ScanGroups(rc, config.ldap.group_filter);
      if (!groups) return groups.error();
      all_groups = std::move(*groups);
    }
    std::vector<std::string> gone_users, gone_groups;
    // memberOf is a back-link: adding a user to a group changes the group's uSNChanged (or
    // modifyTimestamp), not the user's, so the mirror's copy is stale for every user this run
    // did not read. When memberships are recomputed, every user's memberOf is read again, in
    // the scan that also finds deletions.
    const bool fresh_member_of = all_groups.has_value() && ReadsMemberOf(rc);
    std::unordered_map<std::string, std::vector<std::string>> member_of;
    if (fresh_member_of && config.incremental_deletions != "id_scan") {
      rc.run.progress["phase"] = "member_of";
      auto ids = ScanIds(rc, config.ldap.user_filter, &member_of);
      if (!ids) return ids.error();
    }
    if (config.incremental_deletions == "id_scan") {
      rc.run.progress["phase"] = "id_scan";
      auto ids = ScanIds(rc, config.ldap.user_filter, fresh_member_of ? &member_of : nullptr);
      if (!ids) return ids.error();
      auto mirror_users = MirrorIds(rc, ResourceType::kUser);
      if (!mirror_users) return mirror_users.error();
      for (const auto& id : *mirror_users) {
        if (!ids->count(id)) gone_users.push_back(id);
      }
      std::unordered_set<std::string> group_ids;
      if (all_groups) {
        for (const auto& g : *all_groups) group_ids.insert(g.id);
      } else {
        auto scanned = ScanIds(rc, config.ldap.group_filter);
        if (!scanned) return scanned.error();
        group_ids = std::move(*scanned);
      }
      auto mirror_groups = MirrorIds(rc, ResourceType::kGroup);
      if (!mirror_groups) return mirror_groups.error();
      for (const auto& id : *mirror_groups) {
        if (!group_ids.count(id)) gone_groups.push_back(id);
      }
    }
    auto allowed = GuardAllows(rc, gone_users.size());
    if (!allowed) return allowed.error();
    if (!*allowed) return Status::Ok();
    if (all_groups) {
      if (Status s = LoadUserMaps(rc); !s) return s;
      if (fresh_member_of) {
        // Users of the mirror only (one that entered the scope after the users were read
        // waits for the next run, as it would without memberOf).
        std::unordered_set<std::string> known;
        for (const auto& [dn, id] : rc.user_by_dn) known.insert(id);
        for (auto& [group, ids] : member_of) {
          std::erase_if(ids, [&](const std::string& id) { return !known.count(id); });
        }
        rc.member_of = std::move(member_of);
      }
      if (Status s = ApplyGroups(rc, *all_groups); !s) return s;
    }
    if (Status s = DeleteGroups(rc, gone_groups); !s) return s;
    return DeleteUsers(rc, gone_users);
  }

  // The state after a successful run.
  Json NextState(const RunContext& rc, bool full) {
    Json state = rc.state.is_object() ? rc.state : Json::object();
    state["change_attribute"] = rc.config().change_attribute;
    if (IsUsn(rc.config())) {
      state["mark"] = rc.usn_mark;
    } else {
      // See docs/ARCHITECTURE.md "LDAP sync": never past the run's start minus the clock skew
      // allowance, so an entry changed during the scan after it was read is read again.
      const std::string ceiling = TimeDigits(rc.start - rc.config().clock_skew);
      std::string seen = rc.max_mark.empty() ? ceiling : std::min(rc.max_mark, ceiling);
      std::string prev = full ? std::string() : rc.state.value("mark", "");
      state["mark"] = std::max(prev, seen);
    }
    if (full) state["last_full"] = FormatRfc3339(rc.start);
    state["last_success"] = FormatRfc3339(rc.start);
    return state;
  }
};

LdapSync::LdapSync(store::Store& store, directory::DirectoryService& directory,
                   const SecretBox& secrets, const Clock& clock)
    : impl_(std::make_unique<Impl>(store, directory, secrets, clock)) {}

LdapSync::~LdapSync() = default;

Result<store::Connection> LdapSync::AddConnection(const std::string& name,
                                                  const std::string& directory,
                                                  const Json& settings, const std::string& password,
                                                  const std::string& actor) {
  if (!service::ValidConnectionName(name)) {
    return Invalid("connection name \"" + name +
                   "\" is not valid: use 1-64 letters, digits, '.', '-' or '_'");
  }
  auto config = ParseLdapConfig(settings);
  if (!config) return config.error();
  if (!config->ldap.bind_dn.empty() && password.empty()) {
    return Invalid(
        "bind_password: required with a bind DN (an empty password would be an "
        "unauthenticated bind)");
  }
  store::Connection created;
  Status st = impl_->store.Write([&](store::Transaction& tx) -> Status {
    if (auto d = tx.GetDirectory(directory); !d) {
      if (d.error().code != ErrorCode::kNotFound) return d.error();
      return Invalid("unknown directory \"" + directory + "\"");
    }
    store::Connection c;
    c.uuid = NewUuid();
    c.name = name;
    c.directory = directory;
    c.kind = std::string(kLdapKind);
    c.enabled = true;
    c.created = impl_->clock.Now();
    c.settings = LdapConfigToJson(*config);
    auto made = tx.CreateConnection(c);
    if (!made) return made.error();
    created = *made;
    if (!password.empty()) {
      auto sealed = impl_->secrets.Seal(password, SecretContext(created));
      if (!sealed) return sealed.error();
      if (Status s = tx.PutSecret(created.id, std::string(kPasswordSecret), *sealed); !s) return s;
    }
    return impl_->Audit(tx, created, actor, "", "connection.add", 201,
                        "ldap " + DescribeForLog(config->ldap));
  });
  if (!st) return st.error();
  return created;
}

Status LdapSync::SetPassword(const std::string& name, const std::string& password,
                             const std::string& actor) {
  auto loaded = impl_->Load(name, false);
  if (!loaded) return loaded.error();
  if (password.empty()) return Invalid("bind_password: must not be empty");
  auto sealed = impl_->secrets.Seal(password, SecretContext(loaded->connection));
  if (!sealed) return sealed.error();
  return impl_->store.Write([&](store::Transaction& tx) -> Status {
    if (Status s = tx.PutSecret(loaded->connection.id, std::string(kPasswordSecret), *sealed); !s) {
      return s;
    }
    return impl_->Audit(tx, loaded->connection, actor, "", "connection.set_password", 200, "");
  });
}

namespace {

// The groups `user` belongs to, read from the server: groups naming it (member, uniqueMember,
// memberUid), groups in its memberOf, and every group containing those, at any depth.
Result<std::vector<GroupInfo>> GroupsOfEntry(LdapClient& client, const LdapConfig& config,
                                             const LdapEntry& user) {
  std::vector<GroupInfo> out;
  std::set<std::string> seen;         // DnKey
  std::vector<std::string> frontier;  // filters still to run
  const std::string group_filter = Parenthesized(config.ldap.group_filter);
  auto by_member = [&](const std::string& dn, const std::string& uid) {
    std::string f = "(|(member=" + ldap::EscapeFilterValue(dn) +
                    ")(uniqueMember=" + ldap::EscapeFilterValue(dn) + ")";
    if (!uid.empty()) f += "(memberUid=" + ldap::EscapeFilterValue(uid) + ")";
    return "(&" + group_filter + f + "))";
  };
  std::vector<std::string> attrs = {"cn", config.ldap.id_attribute};
  auto take = [&](const LdapEntry& e) -> Status {
    if (!seen.insert(DnKey(e.dn)).second) return Status::Ok();
    auto id = ldap::StableId(e, config.ldap.id_attribute);
    if (!id) return Status::Ok();
    GroupInfo g;
    g.id = *id;
    g.dn = e.dn;
    g.name = e.First("cn").value_or(e.dn);
    out.push_back(std::move(g));
    return Status::Ok();
  };
  std::string uid =
      user.First("uid").value_or(user.First(config.ldap.username_attribute).value_or(""));
  frontier.push_back(by_member(user.dn, uid));
  if (const auto* member_of = user.Find("memberOf")) {
    for (const auto& dn : *member_of) {
      ldap::SearchRequest request{dn, ldap::SearchScope::kBase, group_filter, attrs, 0, false};
      Status st = client.PagedSearch(request, take);
      if (!st && client.last_failure() != ldap::LdapFailure::kBaseDnNotFound) return st.error();
    }
  }
  size_t expanded = 0;
  while (!frontier.empty()) {
    std::string filter = frontier.back();
    frontier.pop_back();
    for (const auto& base : config.ldap.base_dns) {
      ldap::SearchRequest request{base, ldap::SearchScope::kSubtree, filter, attrs, 0, true};
      if (Status st = client.PagedSearch(request, take); !st) return st.error();
    }
    // Parents of the groups found so far (nested groups; `seen` ends cycles).
    for (; expanded < out.size(); ++expanded) frontier.push_back(by_member(out[expanded].dn, ""));
  }
  return out;
}

Json MappedValuesJson(const policy::EffectiveUserValues& values) {
  Json out = Json::object();
  for (const auto& [name, v] : values.values) {
    out[name] = Json{{"value", v.value}, {"source", v.source}, {"rule", v.rule}};
  }
  return out;
}

}  // namespace

Result<Json> LdapSync::Test(const std::string& name, const std::optional<std::string>& username) {
  auto loaded = impl_->Load(name, true);
  if (!loaded) return loaded.error();
  auto fail = [](std::string_view kind, const std::string& message) {
    return Json{{"ok", false}, {"failure", kind}, {"message", message}, {"user", nullptr}};
  };
  auto client = LdapClient::Connect(loaded->config.ldap);
  if (!client) return fail("invalid_settings", client.error().detail);
  if (Status st = client->TestConnection(); !st) {
    auto kind = client->last_failure().value_or(ldap::LdapFailure::kOther);
    return fail(ldap::FailureName(kind), st.error().detail);
  }
  Json out = {{"ok", true},
              {"failure", nullptr},
              {"message", "bound to " + loaded->config.ldap.url + " and read every base DN"},
              {"user", nullptr}};
  if (!username) return out;
  auto found = client->FindUser(*username);
  if (!found) {
    auto kind = client->last_failure().value_or(ldap::LdapFailure::kOther);
    return fail(ldap::FailureName(kind), found.error().detail);
  }
  if (!*found) {
    out["message"] = "connection works; no user with " + loaded->config.ldap.username_attribute +
                     "=" + *username + " matches the user filter";
    return out;
  }
  const LdapEntry& entry = **found;
  Json user = {{"entry", RawEntry(entry)}};
  auto id = ldap::StableId(entry, loaded->config.ldap.id_attribute);
  Json body = EntryBody(entry, loaded->config);
  user["source_user"] = body;
  user["id"] = id ? Json(*id) : Json(nullptr);
  if (!id) user["warning"] = id.error().detail;
  auto groups = GroupsOfEntry(*client, loaded->config, entry);
  if (!groups) {
    auto kind = client->last_failure().value_or(ldap::LdapFailure::kOther);
    return fail(ldap::FailureName(kind), groups.error().detail);
  }
  Json source_groups = Json::array();
  std::vector<policy::SourceGroup> sg;
  for (const auto& g : *groups) {
    source_groups.push_back(Json{{"id", g.id}, {"name", g.name}, {"dn", g.dn}});
    sg.push_back({g.id, g.name});
  }
  user["source_groups"] = source_groups;
  // The connection's policy as the derivation would use it; read only.
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto dir = tx.GetDirectory(loaded->connection.directory);
    if (!dir) return dir.error();
    auto custom = policy::ParseCustomAttributeDefs(dir->custom_attributes);
    if (!custom) return custom.error();
    policy::PolicyContext ctx;
    ctx.kind = policy::SourceKind::kLdap;
    ctx.ldap_username_attribute = loaded->config.ldap.username_attribute;
    ctx.custom = *custom;
    policy::Policy pol = policy::DefaultPolicy(ctx);
    if (auto stored = tx.GetPolicy(loaded->connection.id)) {
      auto parsed = policy::ParsePolicy(stored->body, ctx);
      if (!parsed) return parsed.error();
      pol = std::move(*parsed);
    } else if (stored.error().code != ErrorCode::kNotFound) {
      return stored.error();
    }
    Json mapped_input = body;
    mapped_input["id"] = id ? *id : std::string();
    auto values = policy::MapUser(pol, mapped_input, *custom);
    if (!values) {
      user["effective"] = nullptr;
      user["not_imported"] = values.error().detail;
    } else {
      user["effective"] = MappedValuesJson(*values);
      if (!values->warnings.empty()) user["warnings"] = StringList(values->warnings);
    }
    auto mapped = policy::MapGroups(pol, sg, true);
    Json local = Json::array();
    for (const auto& [key, g] : mapped.groups) local.push_back(g.name);
    user["groups"] = local;
    user["groups_ignored"] = StringList(mapped.ignored);
    return Status::Ok();
  });
  if (!st) return st.error();
  out["user"] = std::move(user);
  out["message"] = "connection works; found " + entry.dn;
  return out;
}

Result<store::SyncRun> LdapSync::Run(const std::string& name, const RunOptions& options) {
  Impl& m = *impl_;
  auto loaded = m.Load(name, true);
  if (!loaded) return loaded.error();
  if (!loaded->connection.enabled) {
    return Invalid("connection \"" + name + "\" is disabled; enable it to sync");
  }
  auto lock_ptr = m.LockFor(loaded->connection.id);
  std::lock_guard in_process(*lock_ptr);  // runs of this process wait their turn

  const int64_t cid = loaded->connection.id;
  const auto deadline = std::chrono::steady_clock::now() + options.wait_for_lease;
  while (true) {
    bool held = false;
    Status st = m.store.Write([&](store::Transaction& tx) -> Status {
      const TimePoint now = m.clock.Now();
      auto got = tx.AcquireSyncLease(cid, m.owner, now, now + kLeaseTtl);
      if (!got) return got.error();
      held = *got;
      return Status::Ok();
    });
    if (!st) return st.error();
    if (held) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      return MakeError(ErrorCode::kUnavailable,
                       "connection \"" + name + "\" is being synced by another process; try later");
    }
    std::this_thread::sleep_for(kLeasePoll);
  }

  RunContext rc;
  rc.loaded = std::move(*loaded);
  rc.options = options;
  rc.start = m.clock.Now();
  Status setup = m.store.Write([&](store::Transaction& tx) -> Status {
    auto abandoned = tx.AbandonSyncRuns(cid, m.owner, rc.start);
    if (!abandoned) return abandoned.error();
    auto state = tx.GetSyncState(cid);
    if (!state) return state.error();
    rc.state = *state;
    const bool can_increment =
        rc.state.contains("mark") &&
        rc.state.value("change_attribute", "") == rc.config().change_attribute;
    rc.run.connection_id = cid;
    rc.run.mode = options.full || !can_increment ? "full" : "incremental";
    rc.run.trigger = options.trigger;
    rc.run.outcome = "running";
    rc.run.started = rc.start;
    rc.run.counts = ZeroCounts();
    rc.run.progress = Json{{"phase", "connecting"}, {"entries_read", 0}, {"total", nullptr}};
    rc.run.owner = m.owner;
    auto id = tx.InsertSyncRun(rc.run);
    if (!id) return id.error();
    rc.run.id = *id;
    return Status::Ok();
  });
  if (!setup) {
    (void)m.store.Write([&](store::Transaction& tx) { return tx.ReleaseSyncLease(cid, m.owner); });
    return setup.error();
  }
  if (options.on_started) options.on_started(rc.run.id);

  const bool full = rc.run.mode == "full";
  Status result = Status::Ok();
  try {
    auto client = LdapClient::Connect(rc.config().ldap);
    if (!client) {
      result = client.error();
    } else {
      rc.client = std::make_unique<LdapClient>(std::move(*client));
      result = full ? m.Full(rc) : m.Incremental(rc);
    }
  } catch (const std::exception& e) {
    result = MakeError(ErrorCode::kInternal, std::string("unexpected failure: ") + e.what());
  }
  rc.client.reset();

  rc.run.ended = m.clock.Now();
  if (!result) {
    rc.run.outcome = "failed";
    rc.run.error = result.error().detail +
                   " (nothing was deprovisioned; the mirror keeps its last complete state)";
  } else if (rc.run.outcome == "running") {
    rc.run.outcome = "succeeded";
    if (!rc.entry_errors.empty()) {
      std::string text = "entries skipped: ";
      for (size_t i = 0; i < rc.entry_errors.size(); ++i) {
        text += (i ? "; " : "") + rc.entry_errors[i];
      }
      rc.run.error = text;
    }
  }
  rc.run.progress["phase"] = "done";
  rc.run.progress["entries_read"] = rc.entries_read;
  Status done = m.store.Write([&](store::Transaction& tx) -> Status {
    if (Status s = tx.UpdateSyncRun(rc.run); !s) return s;
    if (rc.run.outcome == "succeeded") {
      if (Status s = tx.PutSyncState(cid, m.NextState(rc, full)); !s) return s;
    }
    if (Status s = tx.ReleaseSyncLease(cid, m.owner); !s) return s;
    const int status = rc.run.outcome == "succeeded"            ? 200
                       : rc.run.outcome == "needs_confirmation" ? 409
                                                                : 503;
    return m.Audit(tx, rc.connection(), options.trigger, options.request_id, "sync." + rc.run.mode,
                   status,
                   "run " + std::to_string(rc.run.id) + ": " + rc.run.outcome +
                       (rc.run.error.empty() ? "" : ": " + rc.run.error));
  });
  m.directory.AfterCommit();
  if (!done) return done.error();
  return rc.run;
}

Result<std::vector<store::SyncRun>> LdapSync::Runs(const std::string& name, int64_t limit) {
  auto loaded = impl_->Load(name, false);
  if (!loaded) return loaded.error();
  std::vector<store::SyncRun> runs;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto list = tx.ListSyncRuns(loaded->connection.id, limit);
    if (!list) return list.error();
    runs = std::move(*list);
    return Status::Ok();
  });
  if (!st) return st.error();
  return runs;
}

Result<Json> LdapSync::LoginSync(const std::string& name, const std::string& username,
                                 const directory::Actor& actor) {
  Impl& m = *impl_;
  auto loaded = m.Load(name, true);
  if (!loaded) return loaded.error();
  if (!loaded->connection.enabled) {
    return Invalid("connection \"" + name + "\" is disabled");
  }
  if (username.empty()) return Invalid("username: required");
  auto client = LdapClient::Connect(loaded->config.ldap);
  if (!client) return client.error();
  auto found = client->FindUser(username);
  if (!found) {
    return MakeError(ErrorCode::kUnavailable, FailureText(*client, found.error()));
  }
  if (!*found) {
    return MakeError(ErrorCode::kNotFound, "the LDAP server has no user with " +
                                               loaded->config.ldap.username_attribute + "=" +
                                               username + " matching the user filter");
  }
  const LdapEntry& entry = **found;
  auto id = ldap::StableId(entry, loaded->config.ldap.id_attribute);
  if (!id) return id.error();
  auto groups = GroupsOfEntry(*client, loaded->config, entry);
  if (!groups) return MakeError(ErrorCode::kUnavailable, FailureText(*client, groups.error()));
  PendingUser p;
  p.id = *id;
  p.body = EntryBody(entry, loaded->config);
  p.dn = entry.dn;
  p.username = entry.First(loaded->config.ldap.username_attribute).value_or("");
  const store::Connection& c = loaded->connection;
  std::string mirror;
  Status st = m.store.Write([&](store::Transaction& tx) -> Status {
    bool moved = false;
    auto what = m.PutUser(tx, c, p, &moved);
    if (!what) return what.error();
    mirror = *what;
    std::set<std::string> want;
    std::set<std::string> notify = {p.id};
    bool membership_changed = false;
    for (const auto& g : *groups) {
      auto put = m.PutGroup(tx, c, g);
      if (!put) return put.error();
      want.insert(g.id);
      if (*put == "renamed") {  // every member's effective groups follow the new name
        auto members = tx.ListMembers(c.id, g.id);
        if (!members) return members.error();
        for (const auto& member : *members) notify.insert(member.value);
      }
    }
    auto have = tx.GroupsOf(c.id, p.id);
    if (!have) return have.error();
    std::set<std::string> had;
    for (const auto& [gid, gname] : *have) had.insert(gid);
    for (const auto& gid : want) {
      if (had.count(gid)) continue;
      auto added = tx.AddMember(c.id, gid, store::Member{p.id, "User", ""});
      if (!added) return added.error();
      if (Status s = tx.TouchResource(c.id, ResourceType::kGroup, gid, m.clock.Now()); !s) return s;
      membership_changed = true;
    }
    for (const auto& gid : had) {
      if (want.count(gid)) continue;
      auto removed = tx.RemoveMember(c.id, gid, p.id);
      if (!removed) return removed.error();
      if (Status s = tx.TouchResource(c.id, ResourceType::kGroup, gid, m.clock.Now()); !s) return s;
      membership_changed = true;
    }
    if (mirror != "unchanged" || membership_changed || notify.size() > 1) {
      if (Status s = m.Notify(tx, c, std::move(notify), actor.request_id, "login"); !s) return s;
    }
    return m.Audit(tx, c, actor.name, actor.request_id, "sync.login", 200,
                   "mirror " + mirror + (membership_changed ? ", memberships changed" : ""), p.id);
  });
  m.directory.AfterCommit();
  if (!st) return st.error();
  Json out = {
      {"connection", c.name}, {"source_user", p.id}, {"mirror", mirror}, {"effective", nullptr}};
  std::string effective_id, directory_name;
  Status read = m.store.Read([&](store::Transaction& tx) -> Status {
    auto link = tx.GetLink(c.id, p.id);
    if (link && !link->deleted) {
      effective_id = link->effective_user_id;
      directory_name = link->directory;
    }
    return Status::Ok();
  });
  if (!read) return read.error();
  if (effective_id.empty()) {
    out["warning"] =
        "the policy did not import this user (see idsync conflicts, or the policy's "
        "import_new and username mapping)";
    return out;
  }
  auto explained = m.directory.Explain(directory_name, effective_id);
  if (!explained) return explained.error();
  out["effective"] = std::move(*explained);
  return out;
}

Result<std::vector<LdapSync::Due>> LdapSync::DueRuns(TimePoint now) {
  std::vector<Due> due;
  Status st = impl_->store.Read([&](store::Transaction& tx) -> Status {
    auto all = tx.ListConnections();
    if (!all) return all.error();
    for (const auto& c : *all) {
      if (c.kind != kLdapKind || !c.enabled) continue;
      auto config = ParseLdapConfig(c.settings);
      if (!config || config->schedule.count() == 0) continue;
      auto runs = tx.ListSyncRuns(c.id, 1);
      if (!runs) return runs.error();
      if (!runs->empty() && now - runs->front().started < config->schedule) continue;
      auto state = tx.GetSyncState(c.id);
      if (!state) return state.error();
      bool full = !state->contains("mark");
      auto last_full = ParseRfc3339(state->value("last_full", ""));
      if (!last_full || now - *last_full >= config->full_every) full = true;
      due.push_back({c.name, full});
    }
    return Status::Ok();
  });
  if (!st) return st.error();
  return due;
}

}  // namespace idsync::sync
