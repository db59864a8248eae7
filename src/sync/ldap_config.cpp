#include "sync/ldap_config.h"

#include <set>

#include "base/strings.h"
#include "ldap/protocol/filter.h"
#include "service/connections.h"
#include "sync/common.h"

namespace idsync::sync {

namespace {

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

Status CheckForSave(const LdapConfig& c) {
  for (const auto& [key, filter] :
       {std::pair<const char*, const std::string*>{"user_filter", &c.ldap.user_filter},
        {"group_filter", &c.ldap.group_filter}}) {
    // The protocol layer's RFC 4515 parser: a single item may come without its parentheses
    // ("objectClass=user"), as ldapsearch and the client accept.
    if (auto parsed = ::idsync::ldap::ParseFilter(*filter); !parsed) {
      return Invalid(std::string(key) + ": \"" + *filter + "\"" +
                     " is not a valid LDAP filter (RFC 4515): " + parsed.error().detail);
    }
  }
  if (c.schedule.count() != 0 && c.schedule < kMinSchedule) {
    return Invalid("schedule: " + DurationText(c.schedule) +
                   " is shorter than one minute; use at least 1m, or 0 for no schedule");
  }
  return Status::Ok();
}

bool IsUsn(const LdapConfig& c) {
  return EqualsIgnoreAsciiCase(c.change_attribute, "uSNChanged");
}

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

}  // namespace idsync::sync
