#include "ldap/config/settings.h"

#include <array>
#include <cctype>
#include <utility>

namespace idsync::ldap {

namespace {

constexpr int64_t kMinIdBase = 1000;
constexpr int64_t kMaxIdBase = 2000000000;
constexpr int64_t kMaxTombstoneDays = 3650;
constexpr size_t kMaxPathLength = 1024;
constexpr size_t kMaxAttributeName = 64;

// Every attribute name the server (src/ldap/server/schema.cpp) produces or answers for, in
// both profiles, with their aliases: a custom attribute under one of these names would be
// ambiguous in filters and in results.
constexpr std::string_view kServed[] = {"uid",
                                        "userid",
                                        "cn",
                                        "commonName",
                                        "sn",
                                        "surname",
                                        "givenName",
                                        "gn",
                                        "displayName",
                                        "mail",
                                        "objectClass",
                                        "entryUUID",
                                        "entryDN",
                                        "memberOf",
                                        "member",
                                        "uniqueMember",
                                        "memberUid",
                                        "uidNumber",
                                        "gidNumber",
                                        "homeDirectory",
                                        "loginShell",
                                        "gecos",
                                        "description",
                                        "distinguishedName",
                                        "dn",
                                        "name",
                                        "ou",
                                        "organizationalUnitName",
                                        "dc",
                                        "o",
                                        "createTimestamp",
                                        "modifyTimestamp",
                                        "structuralObjectClass",
                                        "subschemaSubentry",
                                        "hasSubordinates",
                                        "objectGUID",
                                        "objectCategory",
                                        "sAMAccountName",
                                        "userPrincipalName",
                                        "userAccountControl",
                                        "whenCreated",
                                        "whenChanged",
                                        "uSNCreated",
                                        "uSNChanged",
                                        "isDeleted",
                                        "groupType",
                                        "idsyncEntitlement",
                                        "objectSid",
                                        "primaryGroupID",
                                        "accountExpires",
                                        "lastKnownParent",
                                        "userPassword"};

Error At(std::string_view field, std::string message) {
  return MakeError(ErrorCode::kInvalidValue, std::string(field) + ": " + std::move(message));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 4512 §1.4 descr: a letter, then letters, digits and hyphens.
bool IsDescr(std::string_view name) {
  if (name.empty() || name.size() > kMaxAttributeName) return false;
  if (!std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

Status ReadChoice(const Json& json, std::string_view key, std::string_view first,
                  std::string_view second, bool* is_second) {
  auto it = json.find(key);
  if (it == json.end()) return Status::Ok();
  std::string expected =
      "expected \"" + std::string(first) + "\" or \"" + std::string(second) + "\"";
  if (!it->is_string()) return At(key, expected);
  const auto& value = it->get_ref<const std::string&>();
  if (value == first) {
    *is_second = false;
  } else if (value == second) {
    *is_second = true;
  } else {
    return At(key, expected + ", not \"" + value + "\"");
  }
  return Status::Ok();
}

Status ReadInteger(const Json& json, std::string_view key, int64_t min, int64_t max,
                   std::string_view why, int64_t* out) {
  auto it = json.find(key);
  if (it == json.end()) return Status::Ok();
  std::string range = "expected an integer from " + std::to_string(min) + " to " +
                      std::to_string(max) + std::string(why);
  if (!it->is_number_integer()) return At(key, range);
  // nlohmann keeps large positives as unsigned: read both ways before comparing.
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(max)) {
    return At(key, range);
  }
  int64_t value = it->get<int64_t>();
  if (value < min || value > max) return At(key, range);
  *out = value;
  return Status::Ok();
}

bool HasControl(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

Status ReadPath(const Json& json, std::string_view key, bool template_uid, std::string* out) {
  auto it = json.find(key);
  if (it == json.end()) return Status::Ok();
  if (!it->is_string()) return At(key, "expected an absolute path (a string starting with /)");
  const auto& value = it->get_ref<const std::string&>();
  if (value.empty() || value[0] != '/') return At(key, "expected an absolute path starting with /");
  if (value.size() > kMaxPathLength) {
    return At(key, "longer than " + std::to_string(kMaxPathLength) + " characters");
  }
  if (HasControl(value)) return At(key, "contains a control character");
  for (size_t i = value.find('{'); i != std::string::npos; i = value.find('{', i + 1)) {
    if (!template_uid || value.compare(i, 5, "{uid}") != 0) {
      return At(key, template_uid ? "the only placeholder is {uid} (the username)"
                                  : "placeholders are not allowed here");
    }
  }
  if (template_uid && value.find('}') != std::string::npos) {
    // Every '}' must close a "{uid}".
    size_t closes = 0, uids = 0;
    for (char c : value) closes += c == '}';
    for (size_t i = value.find("{uid}"); i != std::string::npos; i = value.find("{uid}", i + 1)) {
      ++uids;
    }
    if (closes != uids) return At(key, "the only placeholder is {uid} (the username)");
  }
  *out = value;
  return Status::Ok();
}

Status ReadAttributeNames(const Json& json, std::map<std::string, std::string>* out) {
  auto it = json.find("attribute_names");
  if (it == json.end()) return Status::Ok();
  if (!it->is_object()) {
    return At("attribute_names", "expected an object of custom attribute -> LDAP attribute name");
  }
  std::map<std::string, std::string> names;
  std::map<std::string, std::string> taken;  // Lower(LDAP name) -> custom attribute
  for (const auto& [custom, value] : it->items()) {
    const std::string field = "attribute_names." + custom;
    if (custom.empty()) return At("attribute_names", "a custom attribute name is empty");
    if (!value.is_string()) return At(field, "expected an LDAP attribute name (a string)");
    const auto& ldap_name = value.get_ref<const std::string&>();
    if (!IsDescr(ldap_name)) {
      return At(field, "\"" + ldap_name +
                           "\" is not an LDAP attribute name (a letter, then letters, digits and "
                           "'-', at most " +
                           std::to_string(kMaxAttributeName) + ")");
    }
    if (IsServedAttribute(ldap_name)) {
      return At(field,
                "\"" + ldap_name + "\" is an attribute idsync serves itself; choose another name");
    }
    auto [prev, inserted] = taken.emplace(Lower(ldap_name), custom);
    if (!inserted) {
      return At(field,
                "\"" + ldap_name + "\" is already the name of custom attribute " + prev->second);
    }
    names.emplace(custom, ldap_name);
  }
  *out = std::move(names);
  return Status::Ok();
}

}  // namespace

std::string_view ProfileName(Profile profile) {
  switch (profile) {
    case Profile::kStandard: return "standard";
    case Profile::kActiveDirectory: return "active_directory";
  }
  return "standard";  // not reached
}

bool IsServedAttribute(std::string_view name) {
  for (std::string_view served : kServed) {
    if (EqualsIgnoreCase(served, name)) return true;
  }
  return false;
}

Result<DirectorySettings> ParseDirectorySettings(const Json& json) {
  static constexpr std::array<std::string_view, 9> kKeys = {
      "profile",       "disabled_users", "posix",           "uid_base",      "gid_base",
      "home_template", "login_shell",    "attribute_names", "tombstone_days"};
  if (!json.is_object()) return MakeError(ErrorCode::kInvalidValue, "expected a JSON object");
  for (const auto& [key, value] : json.items()) {
    bool known = false;
    for (std::string_view k : kKeys) known = known || k == key;
    if (!known) {
      std::string list;
      for (std::string_view k : kKeys) list += (list.empty() ? "" : ", ") + std::string(k);
      return At(key, "unknown setting (expected one of: " + list + ")");
    }
  }
  DirectorySettings s;
  bool ad = false;
  if (Status st = ReadChoice(json, "profile", "standard", "active_directory", &ad); !st)
    return st.error();
  s.profile = ad ? Profile::kActiveDirectory : Profile::kStandard;
  if (Status st = ReadChoice(json, "disabled_users", "hide", "show", &s.show_disabled); !st) {
    return st.error();
  }
  if (auto it = json.find("posix"); it != json.end()) {
    if (!it->is_boolean()) return At("posix", "expected true or false");
    s.posix = it->get<bool>();
  }
  const std::string_view system = " (below 1000 are system accounts)";
  if (Status st = ReadInteger(json, "uid_base", kMinIdBase, kMaxIdBase, system, &s.uid_base); !st) {
    return st.error();
  }
  if (Status st = ReadInteger(json, "gid_base", kMinIdBase, kMaxIdBase, system, &s.gid_base); !st) {
    return st.error();
  }
  if (Status st = ReadPath(json, "home_template", true, &s.home_template); !st) return st.error();
  if (Status st = ReadPath(json, "login_shell", false, &s.login_shell); !st) return st.error();
  if (Status st = ReadAttributeNames(json, &s.attribute_names); !st) return st.error();
  if (Status st = ReadInteger(json, "tombstone_days", 0, kMaxTombstoneDays, "", &s.tombstone_days);
      !st) {
    return st.error();
  }
  return s;
}

Json DirectorySettingsToJson(const DirectorySettings& settings) {
  Json names = Json::object();
  for (const auto& [custom, ldap_name] : settings.attribute_names) names[custom] = ldap_name;
  return Json{{"profile", std::string(ProfileName(settings.profile))},
              {"disabled_users", settings.show_disabled ? "show" : "hide"},
              {"posix", settings.posix},
              {"uid_base", settings.uid_base},
              {"gid_base", settings.gid_base},
              {"home_template", settings.home_template},
              {"login_shell", settings.login_shell},
              {"attribute_names", std::move(names)},
              {"tombstone_days", settings.tombstone_days}};
}

}  // namespace idsync::ldap
