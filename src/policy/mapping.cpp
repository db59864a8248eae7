#include "policy/mapping.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include <re2/re2.h>

#include "base/strings.h"
#include "base/time.h"

namespace idsync::policy {
namespace {

std::string SourceText(const Source& source) {
  if (const auto* p = std::get_if<SourcePath>(&source)) return p->text();
  return std::get<Template>(source).text();
}

std::optional<Json> Convert(const Json& v, AttributeType type) {
  switch (type) {
    case AttributeType::kString: {
      auto text = ScalarText(v);
      if (!text || text->empty()) return std::nullopt;
      return Json(std::move(*text));
    }
    case AttributeType::kBoolean:
      if (v.is_boolean()) return v;
      if (v.is_string()) {
        // Entra ID without aadOptscim062020 sends "True"/"False" (IDP-QUIRKS E-2); LDAP
        // booleans are "TRUE"/"FALSE" (RFC 4517 §3.3.3).
        const std::string& s = v.get_ref<const std::string&>();
        if (EqualsIgnoreAsciiCase(s, "true")) return Json(true);
        if (EqualsIgnoreAsciiCase(s, "false")) return Json(false);
      }
      return std::nullopt;
    case AttributeType::kInteger: {
      if (v.is_number_integer()) return v;
      if (v.is_number_float()) {
        double d = v.get<double>();
        if (std::trunc(d) == d && std::fabs(d) < 9.0e15) return Json(static_cast<int64_t>(d));
        return std::nullopt;
      }
      if (!v.is_string()) return std::nullopt;
      const std::string& s = v.get_ref<const std::string&>();
      int64_t n = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
      return Json(n);
    }
    case AttributeType::kDateTime: {
      if (!v.is_string()) return std::nullopt;
      auto t = ParseRfc3339(v.get_ref<const std::string&>());
      if (!t) return std::nullopt;
      return Json(FormatRfc3339(*t));  // UTC, so that equal instants compare equal in diffs
    }
  }
  return std::nullopt;
}

std::string Describe(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

void AddGrant(MappedGroups* out, const std::string& name, GroupGrant grant) {
  LocalGroup& g = out->groups[FoldCase(name)];
  if (g.name.empty()) g.name = name;
  if (std::find(g.grants.begin(), g.grants.end(), grant) == g.grants.end()) {
    g.grants.push_back(std::move(grant));
  }
}

// What a grant records as its source group: the name, or the id of a nameless group.
std::string SourceGroupName(const SourceGroup& group) {
  return group.name.empty() ? group.id : group.name;
}

void TakeOnTheFly(const Policy& policy, const SourceGroup& group, const std::string& label,
                  std::string_view detail, MappedGroups* out) {
  const GroupRules& rules = policy.groups;
  if (group.name.empty()) {
    out->ignored.push_back(label + ": has no name to create a local group with");
    return;
  }
  if (!rules.include.empty()) {
    bool included = false;
    for (const Regex& r : rules.include) included = included || RE2::FullMatch(group.name, *r.re);
    if (!included) {
      out->ignored.push_back(label + ": not matched by groups.include");
      return;
    }
  }
  for (size_t i = 0; i < rules.exclude.size(); ++i) {
    if (RE2::FullMatch(group.name, *rules.exclude[i].re)) {
      out->ignored.push_back(label + ": matched by groups.exclude[" + std::to_string(i) + "]");
      return;
    }
  }
  std::optional<std::string> name = ApplyTransforms(rules.name_transforms, group.name, Json());
  if (!name) {
    out->warnings.push_back(label + ": groups.name_transforms left an empty name");
    out->ignored.push_back(label + ": empty name after groups.name_transforms");
    return;
  }
  AddGrant(out, *name,
           GroupGrant{MembershipRule::kOnTheFly, SourceGroupName(group), std::string(detail),
                      !rules.import});
}

}  // namespace

const MappedValue* EffectiveUserValues::Find(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

std::string EffectiveUserValues::username() const {
  const MappedValue* v = Find("username");
  return v && v->value.is_string() ? v->value.get<std::string>() : std::string();
}

std::string EffectiveUserValues::email() const {
  const MappedValue* v = Find("email");
  return v && v->value.is_string() ? v->value.get<std::string>() : std::string();
}

bool EffectiveUserValues::active() const {
  const MappedValue* v = Find("active");
  return !v || !v->value.is_boolean() || v->value.get<bool>();
}

std::optional<std::string> ApplyTransforms(const std::vector<Transform>& transforms,
                                           std::string value, const Json& source_user) {
  for (const Transform& t : transforms) {
    if (std::holds_alternative<Lower>(t)) {
      value = FoldCase(value);
    } else if (std::holds_alternative<StripDomain>(t)) {
      if (size_t at = value.rfind('@'); at != std::string::npos) value.resize(at);
    } else if (std::holds_alternative<AccountEnabled>(t)) {
      // userAccountControl is a decimal 32-bit mask; AD writes it signed on some paths.
      int64_t mask = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), mask);
      if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
      value = (mask & 0x2) != 0 ? "false" : "true";
    } else if (const auto* r = std::get_if<RegexReplace>(&t)) {
      RE2::GlobalReplace(&value, *r->regex.re, r->replacement);
    } else {
      std::optional<std::string> rendered = std::get<Template>(t).Render(source_user, &value);
      if (!rendered) return std::nullopt;
      value = std::move(*rendered);
    }
  }
  if (value.empty()) return std::nullopt;
  return value;
}

Result<EffectiveUserValues> MapUser(const Policy& policy, const Json& source_user,
                                    const CustomAttributeDefs& custom) {
  EffectiveUserValues out;
  for (const auto& [name, mapping] : policy.attributes) {
    const std::string field = "attributes." + name;
    AttributeType type = AttributeType::kString;
    bool multi = false;
    if (name == "active") {
      type = AttributeType::kBoolean;
    } else if (!IsBuiltinAttribute(name)) {
      const CustomAttributeDef* def = FindCustom(custom, name);
      if (!def) {
        out.warnings.push_back(field + ": no custom attribute " + DoubleQuoted(name) +
                               " is defined in this directory; not mapped");
        continue;
      }
      type = def->type;
      multi = def->multi_valued;
    }
    for (size_t i = 0; i < mapping.sources.size(); ++i) {
      const Source& source = mapping.sources[i];
      const std::string rule = field + ".sources[" + std::to_string(i) + "]";
      std::vector<Json> raw;
      if (const auto* path = std::get_if<SourcePath>(&source)) {
        raw = path->Values(source_user);
      } else if (auto text = std::get<Template>(source).Render(source_user, nullptr)) {
        raw.emplace_back(std::move(*text));
      }
      Json taken = Json::array();
      for (Json& v : raw) {
        if (!mapping.transforms.empty()) {
          std::optional<std::string> text = ScalarText(v);
          if (!text) {
            out.warnings.push_back(rule + ": " + Describe(v) + " is not a single value");
            continue;
          }
          std::optional<std::string> t =
              ApplyTransforms(mapping.transforms, std::move(*text), source_user);
          if (!t) {
            out.warnings.push_back(rule + ": " + Describe(v) + " is empty after transforms");
            continue;
          }
          v = Json(std::move(*t));
        }
        std::optional<Json> converted = Convert(v, type);
        if (!converted) {
          out.warnings.push_back(rule + ": " + Describe(v) + " is not a valid " +
                                 std::string(AttributeTypeName(type)));
          continue;
        }
        if (std::find(taken.begin(), taken.end(), *converted) == taken.end()) {
          taken.push_back(std::move(*converted));
        }
        if (!multi) break;
      }
      if (taken.empty()) continue;
      out.values[name] =
          MappedValue{multi ? std::move(taken) : std::move(taken[0]), SourceText(source), rule};
      break;
    }
  }
  if (!out.values.contains("active")) {
    out.values["active"] = MappedValue{true, "default", "attributes.active"};
  }
  if (!out.values.contains("username")) {
    std::string tried;
    for (const Source& s : policy.attributes.at("username").sources) {
      tried += (tried.empty() ? "" : ", ") + SourceText(s);
    }
    return Error{ErrorCode::kInvalidValue,
                 "no value for username (attributes.username tried: " + tried + ")"};
  }
  return out;
}

std::string_view MembershipRuleName(MembershipRule rule) {
  switch (rule) {
    case MembershipRule::kOnTheFly: return "on_the_fly";
    case MembershipRule::kManual: return "manual";
    case MembershipRule::kDefaultNew: return "default_new";
    case MembershipRule::kDefaultAll: return "default_all";
    case MembershipRule::kExisting: return "existing";
  }
  return "existing";
}

MappedGroups MapGroups(const Policy& policy, const std::vector<SourceGroup>& source_groups,
                       bool new_user) {
  MappedGroups out;
  const GroupRules& rules = policy.groups;
  // groups.import off maps the same way, but its grants are existing_only: memberships in
  // groups that exist are kept, no group is created (MergeUser's group_exists).
  {
    for (const SourceGroup& group : source_groups) {
      const std::string label = DoubleQuoted(group.name.empty() ? group.id : group.name);
      if (rules.mode == GroupMode::kOnTheFly) {
        TakeOnTheFly(policy, group, label, "groups.mode", &out);
        continue;
      }
      bool matched = false;
      for (size_t i = 0; i < rules.manual.size(); ++i) {
        const ManualGroupRule& rule = rules.manual[i];
        // By id exactly (ids are opaque), or by name case-insensitively (RFC 7643 §4.2:
        // displayName is caseExact false).
        bool hit = (!group.id.empty() && rule.source == group.id) ||
                   (!group.name.empty() && EqualsFolded(rule.source, group.name));
        if (!hit) continue;
        matched = true;
        for (const std::string& target : rule.targets) {
          AddGrant(&out, target,
                   GroupGrant{MembershipRule::kManual, SourceGroupName(group),
                              "groups.manual[" + std::to_string(i) + "]", !rules.import});
        }
      }
      if (matched) continue;
      if (rules.unmapped == Unmapped::kOnTheFly) {
        TakeOnTheFly(policy, group, label, "groups.unmapped", &out);
      } else {
        out.ignored.push_back(label + ": no groups.manual rule (groups.unmapped is ignore)");
      }
    }
  }
  for (size_t i = 0; i < rules.default_groups_all_users.size(); ++i) {
    AddGrant(&out, rules.default_groups_all_users[i],
             GroupGrant{MembershipRule::kDefaultAll, "",
                        "groups.default_groups_all_users[" + std::to_string(i) + "]"});
  }
  if (new_user) {
    for (size_t i = 0; i < rules.default_groups_new_users.size(); ++i) {
      AddGrant(&out, rules.default_groups_new_users[i],
               GroupGrant{MembershipRule::kDefaultNew, "",
                          "groups.default_groups_new_users[" + std::to_string(i) + "]"});
    }
  }
  return out;
}

std::vector<Entitlement> DeriveEntitlements(
    const std::map<std::string, std::vector<std::string>>& table,
    const std::vector<std::string>& groups) {
  std::map<std::string, const std::vector<std::string>*> folded;
  for (const auto& [group, values] : table) folded.emplace(FoldCase(group), &values);
  std::vector<Entitlement> out;
  for (const std::string& group : groups) {
    auto it = folded.find(FoldCase(group));
    if (it == folded.end()) continue;
    for (const std::string& value : *it->second) out.push_back(Entitlement{value, group});
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace idsync::policy
