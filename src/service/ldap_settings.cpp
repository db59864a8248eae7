#include "service/ldap_settings.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace idsync::service {
namespace {

Error NoDirectory(const std::string& directory) {
  return MakeError(ErrorCode::kNotFound,
                   "no directory named \"" + directory + "\" (see `idsync directory list`)");
}

// Custom attribute names as DirectoryRecord::custom_attributes lists them
// (policy::CustomAttributeDefsToJson form: [{"name": ...}, ...]).
std::vector<std::string> CustomNames(const Json& defs) {
  std::vector<std::string> names;
  if (!defs.is_array()) return names;
  for (const auto& d : defs) {
    if (d.is_object() && d.contains("name") && d["name"].is_string()) {
      names.push_back(d["name"].get<std::string>());
    }
  }
  return names;
}

}  // namespace

Result<ldap::DirectorySettings> GetLdapSettings(store::Store& store, const std::string& directory) {
  ldap::DirectorySettings out;
  Status st = store.Read([&](store::Transaction& tx) -> Status {
    if (auto d = tx.GetDirectory(directory); !d) {
      return d.error().code == ErrorCode::kNotFound ? NoDirectory(directory) : d.error();
    }
    auto json = tx.Ldap().GetLdapSettings(directory);
    if (!json) return json.error();
    auto parsed = ldap::ParseDirectorySettings(*json);
    if (!parsed) {
      return MakeError(ErrorCode::kInternal, "stored LDAP settings of directory " + directory +
                                                 " are not valid: " + parsed.error().detail);
    }
    out = std::move(*parsed);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<ldap::DirectorySettings> PutLdapSettings(store::Store& store, const Clock& clock,
                                                const std::string& directory, const Json& json,
                                                const std::string& actor) {
  auto parsed = ldap::ParseDirectorySettings(json);
  if (!parsed) return parsed.error();
  Status st = store.Write([&](store::Transaction& tx) -> Status {
    auto d = tx.GetDirectory(directory);
    if (!d) return d.error().code == ErrorCode::kNotFound ? NoDirectory(directory) : d.error();
    const std::vector<std::string> defined = CustomNames(d->custom_attributes);
    for (const auto& [custom, ldap_name] : parsed->attribute_names) {
      if (std::find(defined.begin(), defined.end(), custom) != defined.end()) continue;
      std::string list;
      for (const auto& n : defined) list += (list.empty() ? "" : ", ") + n;
      return MakeError(ErrorCode::kInvalidValue,
                       "attribute_names." + custom + ": directory " + directory +
                           " has no custom attribute \"" + custom +
                           "\" (defined: " + (list.empty() ? "none" : list) + ")");
    }
    const Json full = ldap::DirectorySettingsToJson(*parsed);
    if (Status s = tx.Ldap().PutLdapSettings(directory, full); !s) return s;
    store::AuditRecord r;
    r.time = clock.Now();
    r.actor = actor;
    r.operation = "directory.ldap";
    r.resource_type = "Directory";
    r.resource_id = directory;
    r.status = 200;
    r.detail = DumpJson(full);
    return tx.AppendAudit(r);
  });
  if (!st) return st.error();
  return std::move(*parsed);
}

}  // namespace idsync::service
