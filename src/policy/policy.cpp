#include "policy/policy.h"

#include <initializer_list>
#include <utility>

#include <re2/re2.h>

#include "base/strings.h"

namespace idsync::policy {
namespace {

constexpr size_t kMaxPatternLength = 1024;
constexpr size_t kMaxNameLength = 256;

Error At(const std::string& path, std::string message) {
  return Error{ErrorCode::kInvalidValue, path.empty() ? message : path + ": " + message};
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string List(std::initializer_list<std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// Unknown keys are errors: a misspelt setting must not silently mean "the default".
Status CheckObject(const Json& json, const std::string& path,
                   std::initializer_list<std::string_view> allowed) {
  if (!json.is_object()) return At(path, "expected an object");
  for (const auto& [key, value] : json.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) {
      return At(Join(path, key), "unknown setting (expected one of: " + List(allowed) + ")");
    }
  }
  return Status::Ok();
}

Status ReadBool(const Json& object, std::string_view key, const std::string& path, bool* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  if (!it->is_boolean()) return At(Join(path, key), "expected true or false");
  *out = it->get<bool>();
  return Status::Ok();
}

// A local group name or entitlement: non-empty, bounded, no control characters.
Status CheckName(const Json& value, const std::string& path) {
  if (!value.is_string()) return At(path, "expected a string");
  const std::string& s = value.get_ref<const std::string&>();
  if (s.empty()) return At(path, "must not be empty");
  if (s.size() > kMaxNameLength) {
    return At(path, "longer than " + std::to_string(kMaxNameLength) + " bytes");
  }
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return At(path, "contains a control character");
    }
  }
  return Status::Ok();
}

Status ReadNames(const Json& object, std::string_view key, const std::string& path,
                 std::vector<std::string>* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  std::string field = Join(path, key);
  if (!it->is_array()) return At(field, "expected an array of names");
  out->clear();
  for (size_t i = 0; i < it->size(); ++i) {
    if (Status s = CheckName((*it)[i], Index(field, i)); !s) return s;
    out->push_back((*it)[i].get<std::string>());
  }
  return Status::Ok();
}

Result<Regex> CompileRegex(const Json& value, const std::string& path) {
  if (!value.is_string()) return At(path, "expected a regular expression (string)");
  const std::string& pattern = value.get_ref<const std::string&>();
  if (pattern.size() > kMaxPatternLength) {
    return At(path,
              "regular expression longer than " + std::to_string(kMaxPatternLength) + " bytes");
  }
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<RE2>(pattern, options);
  if (!re->ok()) return At(path, "invalid regular expression: " + re->error());
  return Regex{pattern, std::move(re)};
}

Result<Transform> ParseTransform(const Json& json, const std::string& path, SourceKind kind) {
  static constexpr std::string_view kExpected =
      "expected \"lower\", \"strip_domain\", \"account_enabled\", {\"regex_replace\": "
      "{\"pattern\": ..., "
      "\"replacement\": ...}} or {\"template\": ...}";
  if (json.is_string()) {
    const std::string& name = json.get_ref<const std::string&>();
    if (name == "lower") return Transform{Lower{}};
    if (name == "strip_domain") return Transform{StripDomain{}};
    if (name == "account_enabled") return Transform{AccountEnabled{}};
    return At(path,
              "unknown transform " + DoubleQuoted(name) + " (" + std::string(kExpected) + ")");
  }
  if (!json.is_object() || json.size() != 1) return At(path, std::string(kExpected));
  const std::string key = json.begin().key();
  const Json& value = json.begin().value();
  std::string field = Join(path, key);
  if (key == "regex_replace") {
    if (Status s = CheckObject(value, field, {"pattern", "replacement"}); !s) return s.error();
    if (!value.contains("pattern")) return At(Join(field, "pattern"), "missing");
    if (!value.contains("replacement")) return At(Join(field, "replacement"), "missing");
    auto regex = CompileRegex(value["pattern"], Join(field, "pattern"));
    if (!regex) return regex.error();
    const Json& replacement = value["replacement"];
    if (!replacement.is_string()) return At(Join(field, "replacement"), "expected a string");
    std::string why;
    if (!regex->re->CheckRewriteString(replacement.get<std::string>(), &why)) {
      return At(Join(field, "replacement"), why);
    }
    return Transform{RegexReplace{std::move(*regex), replacement.get<std::string>()}};
  }
  if (key == "template") {
    if (!value.is_string()) return At(field, "expected a string");
    auto tmpl = Template::Compile(value.get<std::string>(), kind, /*allow_value=*/true);
    if (!tmpl) return At(field, tmpl.error().detail);
    return Transform{std::move(*tmpl)};
  }
  if (key == "lower" || key == "strip_domain" || key == "account_enabled") {
    return At(path, "write " + DoubleQuoted(key) + " as a plain string");
  }
  return At(path, "unknown transform " + DoubleQuoted(key) + " (" + std::string(kExpected) + ")");
}

Status ReadTransforms(const Json& object, std::string_view key, const std::string& path,
                      SourceKind kind, std::vector<Transform>* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  std::string field = Join(path, key);
  if (!it->is_array()) return At(field, "expected an array of transforms");
  out->clear();
  for (size_t i = 0; i < it->size(); ++i) {
    auto t = ParseTransform((*it)[i], Index(field, i), kind);
    if (!t) return t.error();
    out->push_back(std::move(*t));
  }
  return Status::Ok();
}

Result<AttributeMapping> ParseMapping(const Json& json, const std::string& path, SourceKind kind,
                                      const AttributeMapping& defaults) {
  if (Status s = CheckObject(json, path, {"sources", "transforms"}); !s) return s.error();
  AttributeMapping out = defaults;
  if (auto it = json.find("sources"); it != json.end()) {
    std::string field = Join(path, "sources");
    if (!it->is_array()) return At(field, "expected an array of source paths");
    out.sources.clear();
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& entry = (*it)[i];
      std::string item = Index(field, i);
      if (entry.is_string()) {
        auto p = SourcePath::Compile(entry.get<std::string>(), kind);
        if (!p) return At(item, p.error().detail);
        out.sources.emplace_back(std::move(*p));
      } else if (entry.is_object()) {
        if (Status s = CheckObject(entry, item, {"template"}); !s) return s.error();
        const Json* t = entry.contains("template") ? &entry["template"] : nullptr;
        if (!t || !t->is_string()) return At(Join(item, "template"), "expected a string");
        auto tmpl = Template::Compile(t->get<std::string>(), kind, /*allow_value=*/false);
        if (!tmpl) return At(Join(item, "template"), tmpl.error().detail);
        out.sources.emplace_back(std::move(*tmpl));
      } else {
        return At(item, "expected a source path (string) or {\"template\": ...}");
      }
    }
  }
  if (Status s = ReadTransforms(json, "transforms", path, kind, &out.transforms); !s) {
    return s.error();
  }
  return out;
}

SourcePath MustPath(std::string_view text, SourceKind kind) {
  auto p = SourcePath::Compile(text, kind);
  IDSYNC_CHECK(p.has_value());
  return std::move(*p);
}

Template MustTemplate(std::string_view text, SourceKind kind) {
  auto t = Template::Compile(text, kind, false);
  IDSYNC_CHECK(t.has_value());
  return std::move(*t);
}

// The canonical spelling of an effective attribute name, or nullopt if it is none.
std::optional<std::string> CanonicalAttribute(std::string_view key, const PolicyContext& ctx) {
  for (std::string_view b : kBuiltinAttributes) {
    if (EqualsIgnoreAsciiCase(b, key)) return std::string(b);
  }
  if (const CustomAttributeDef* def = FindCustom(ctx.custom, key)) return def->name;
  return std::nullopt;
}

Json TransformToJson(const Transform& t) {
  struct Visitor {
    Json operator()(const Lower&) const { return "lower"; }
    Json operator()(const StripDomain&) const { return "strip_domain"; }
    Json operator()(const AccountEnabled&) const { return "account_enabled"; }
    Json operator()(const RegexReplace& r) const {
      return Json{
          {"regex_replace", {{"pattern", r.regex.pattern}, {"replacement", r.replacement}}}};
    }
    Json operator()(const Template& tmpl) const { return Json{{"template", tmpl.text()}}; }
  };
  return std::visit(Visitor{}, t);
}

Json TransformsToJson(const std::vector<Transform>& transforms) {
  Json out = Json::array();
  for (const Transform& t : transforms) out.push_back(TransformToJson(t));
  return out;
}

Result<AttributeType> ParseAttributeType(const Json& value, const std::string& path) {
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s == "string") return AttributeType::kString;
    if (s == "boolean") return AttributeType::kBoolean;
    if (s == "integer") return AttributeType::kInteger;
    if (s == "dateTime") return AttributeType::kDateTime;
  }
  return At(path, "expected one of: string, boolean, integer, dateTime");
}

bool IsCustomName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(name[0])) return false;
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_') return false;
  }
  return true;
}

}  // namespace

bool IsBuiltinAttribute(std::string_view name) {
  for (std::string_view b : kBuiltinAttributes) {
    if (EqualsIgnoreAsciiCase(b, name)) return true;
  }
  return false;
}

std::string_view OnDeleteName(OnDelete v) {
  switch (v) {
    case OnDelete::kDisable: return "disable";
    case OnDelete::kDelete: return "delete";
    case OnDelete::kKeep: return "keep";
  }
  return "disable";
}

std::string_view LinkKeyName(LinkKey v) {
  switch (v) {
    case LinkKey::kUsername: return "username";
    case LinkKey::kEmail: return "email";
    case LinkKey::kNone: return "none";
  }
  return "username";
}

std::string_view AttributeTypeName(AttributeType v) {
  switch (v) {
    case AttributeType::kString: return "string";
    case AttributeType::kBoolean: return "boolean";
    case AttributeType::kInteger: return "integer";
    case AttributeType::kDateTime: return "dateTime";
  }
  return "string";
}

const CustomAttributeDef* FindCustom(const CustomAttributeDefs& defs, std::string_view name) {
  for (const CustomAttributeDef& d : defs) {
    if (EqualsIgnoreAsciiCase(d.name, name)) return &d;
  }
  return nullptr;
}

Result<CustomAttributeDefs> ParseCustomAttributeDefs(const Json& json) {
  if (!json.is_array()) return At("", "custom attributes: expected an array");
  CustomAttributeDefs out;
  for (size_t i = 0; i < json.size(); ++i) {
    std::string path = Index("", i);
    const Json& entry = json[i];
    if (Status s = CheckObject(entry, path, {"name", "type", "multi_valued"}); !s) {
      return s.error();
    }
    CustomAttributeDef def;
    auto name = entry.find("name");
    if (name == entry.end() || !name->is_string()) return At(Join(path, "name"), "expected a name");
    def.name = name->get<std::string>();
    if (!IsCustomName(def.name)) {
      return At(Join(path, "name"), DoubleQuoted(def.name) +
                                        " is not a valid name ([A-Za-z][A-Za-z0-9_]*, at most 64)");
    }
    if (IsBuiltinAttribute(def.name)) {
      return At(Join(path, "name"), DoubleQuoted(def.name) + " is a built-in attribute");
    }
    if (FindCustom(out, def.name)) {
      return At(Join(path, "name"), DoubleQuoted(def.name) + " is defined twice");
    }
    if (auto type = entry.find("type"); type != entry.end()) {
      auto t = ParseAttributeType(*type, Join(path, "type"));
      if (!t) return t.error();
      def.type = *t;
    }
    if (Status s = ReadBool(entry, "multi_valued", path, &def.multi_valued); !s) return s.error();
    out.push_back(std::move(def));
  }
  return out;
}

Json CustomAttributeDefsToJson(const CustomAttributeDefs& defs) {
  Json out = Json::array();
  for (const CustomAttributeDef& d : defs) {
    out.push_back(
        {{"name", d.name}, {"type", AttributeTypeName(d.type)}, {"multi_valued", d.multi_valued}});
  }
  return out;
}

Policy DefaultPolicy(const PolicyContext& context) {
  Policy p;
  SourceKind k = context.kind;
  p.kind = k;
  auto sources = [&](std::initializer_list<std::string_view> paths) {
    AttributeMapping m;
    for (std::string_view s : paths) m.sources.emplace_back(MustPath(s, k));
    return m;
  };
  if (k == SourceKind::kScim) {
    p.attributes["username"] = sources({"userName"});
    // Entra and Okta both send one work e-mail marked primary; the fallbacks cover clients
    // that mark none primary, or give no type.
    p.attributes["email"] = sources(
        {"emails[primary eq true].value", "emails[type eq \"work\"].value", "emails.value"});
    p.attributes["displayName"] = sources({"displayName"});
    p.attributes["displayName"].sources.emplace_back(
        MustTemplate("{name.givenName} {name.familyName}", k));
    p.attributes["givenName"] = sources({"name.givenName"});
    p.attributes["familyName"] = sources({"name.familyName"});
    p.attributes["active"] = sources({"active"});
  } else {
    p.attributes["username"] = sources({context.ldap_username_attribute});
    p.attributes["email"] = sources({"mail"});
    p.attributes["displayName"] = sources({"displayName"});
    p.attributes["displayName"].sources.emplace_back(MustTemplate("{givenName} {sn}", k));
    p.attributes["displayName"].sources.emplace_back(MustPath("cn", k));
    p.attributes["givenName"] = sources({"givenName"});
    p.attributes["familyName"] = sources({"sn"});
    // LDAP has no standard flag; Active Directory's userAccountControl has ACCOUNTDISABLE
    // (0x2), which every AD consumer honours. Entries without it are active (the default).
    p.attributes["active"] = sources({"userAccountControl"});
    p.attributes["active"].transforms.push_back(AccountEnabled{});
  }
  return p;
}

Result<Policy> ParsePolicy(const Json& json, const PolicyContext& context) {
  if (!json.is_object()) return At("", "a policy must be a JSON object");
  if (Status s = CheckObject(
          json, "", {"users", "attributes", "groups", "entitlements", "linking", "priority"});
      !s) {
    return s.error();
  }
  Policy p = DefaultPolicy(context);
  const SourceKind kind = context.kind;

  if (auto it = json.find("users"); it != json.end()) {
    const Json& u = *it;
    const std::string path = "users";
    if (Status s = CheckObject(
            u, path,
            {"import_new", "update_existing", "follow_active", "on_deactivate", "on_delete"});
        !s) {
      return s.error();
    }
    if (Status s = ReadBool(u, "import_new", path, &p.users.import_new); !s) return s.error();
    if (Status s = ReadBool(u, "update_existing", path, &p.users.update_existing); !s) {
      return s.error();
    }
    if (Status s = ReadBool(u, "follow_active", path, &p.users.follow_active); !s) {
      return s.error();
    }
    if (auto d = u.find("on_deactivate"); d != u.end()) {
      if (!d->is_string() || d->get<std::string>() != "disable") {
        return At(Join(path, "on_deactivate"), "expected \"disable\"");
      }
    }
    if (auto d = u.find("on_delete"); d != u.end()) {
      std::string v = d->is_string() ? d->get<std::string>() : std::string();
      if (v == "disable") {
        p.users.on_delete = OnDelete::kDisable;
      } else if (v == "delete") {
        p.users.on_delete = OnDelete::kDelete;
      } else if (v == "keep") {
        p.users.on_delete = OnDelete::kKeep;
      } else {
        return At(Join(path, "on_delete"), "expected one of: disable, delete, keep");
      }
    }
  }

  if (auto it = json.find("attributes"); it != json.end()) {
    const std::string path = "attributes";
    if (!it->is_object()) return At(path, "expected an object");
    for (const auto& [key, value] : it->items()) {
      std::string field = Join(path, key);
      std::optional<std::string> name = CanonicalAttribute(key, context);
      if (!name) {
        std::string custom;
        for (const CustomAttributeDef& d : context.custom)
          custom += (custom.empty() ? "" : ", ") + d.name;
        return At(field,
                  "unknown attribute (built-in: username, email, displayName, givenName, "
                  "familyName, active; custom attributes of this directory: " +
                      (custom.empty() ? std::string("none") : custom) + ")");
      }
      auto m = ParseMapping(value, field, kind, p.attributes[*name]);
      if (!m) return m.error();
      p.attributes[*name] = std::move(*m);
    }
    if (p.attributes["username"].sources.empty()) {
      return At("attributes.username.sources", "username needs at least one source");
    }
  }

  if (auto it = json.find("groups"); it != json.end()) {
    const Json& g = *it;
    const std::string path = "groups";
    if (Status s = CheckObject(
            g, path,
            {"import", "mode", "include", "exclude", "name_transforms", "manual", "unmapped",
             "default_groups_new_users", "default_groups_all_users", "keep_existing_memberships"});
        !s) {
      return s.error();
    }
    if (Status s = ReadBool(g, "import", path, &p.groups.import); !s) return s.error();
    if (auto m = g.find("mode"); m != g.end()) {
      std::string v = m->is_string() ? m->get<std::string>() : std::string();
      if (v == "on_the_fly") {
        p.groups.mode = GroupMode::kOnTheFly;
      } else if (v == "manual") {
        p.groups.mode = GroupMode::kManual;
      } else {
        return At(Join(path, "mode"), "expected one of: on_the_fly, manual");
      }
    }
    for (auto [key, out] :
         {std::pair{"include", &p.groups.include}, std::pair{"exclude", &p.groups.exclude}}) {
      auto list = g.find(key);
      if (list == g.end()) continue;
      std::string field = Join(path, key);
      if (!list->is_array()) return At(field, "expected an array of regular expressions");
      out->clear();
      for (size_t i = 0; i < list->size(); ++i) {
        auto re = CompileRegex((*list)[i], Index(field, i));
        if (!re) return re.error();
        out->push_back(std::move(*re));
      }
    }
    if (Status s = ReadTransforms(g, "name_transforms", path, kind, &p.groups.name_transforms);
        !s) {
      return s.error();
    }
    for (size_t i = 0; i < p.groups.name_transforms.size(); ++i) {
      // A group name transform sees the group, not a user: only {value} (the name) makes sense.
      const auto* t = std::get_if<Template>(&p.groups.name_transforms[i]);
      if (t && t->uses_paths()) {
        return At(Index(Join(path, "name_transforms"), i) + ".template",
                  "a group name template can only use {value}");
      }
    }
    if (auto m = g.find("manual"); m != g.end()) {
      std::string field = Join(path, "manual");
      if (!m->is_array()) return At(field, "expected an array of {source, targets}");
      for (size_t i = 0; i < m->size(); ++i) {
        std::string item = Index(field, i);
        const Json& rule = (*m)[i];
        if (Status s = CheckObject(rule, item, {"source", "targets"}); !s) return s.error();
        ManualGroupRule r;
        if (!rule.contains("source")) return At(Join(item, "source"), "missing");
        if (Status s = CheckName(rule["source"], Join(item, "source")); !s) return s.error();
        r.source = rule["source"].get<std::string>();
        if (!rule.contains("targets")) return At(Join(item, "targets"), "missing");
        if (Status s = ReadNames(rule, "targets", item, &r.targets); !s) return s.error();
        if (r.targets.empty()) return At(Join(item, "targets"), "needs at least one local group");
        p.groups.manual.push_back(std::move(r));
      }
    }
    if (auto u = g.find("unmapped"); u != g.end()) {
      std::string v = u->is_string() ? u->get<std::string>() : std::string();
      if (v == "ignore") {
        p.groups.unmapped = Unmapped::kIgnore;
      } else if (v == "on_the_fly") {
        p.groups.unmapped = Unmapped::kOnTheFly;
      } else {
        return At(Join(path, "unmapped"), "expected one of: ignore, on_the_fly");
      }
    }
    if (Status s =
            ReadNames(g, "default_groups_new_users", path, &p.groups.default_groups_new_users);
        !s) {
      return s.error();
    }
    if (Status s =
            ReadNames(g, "default_groups_all_users", path, &p.groups.default_groups_all_users);
        !s) {
      return s.error();
    }
    if (Status s =
            ReadBool(g, "keep_existing_memberships", path, &p.groups.keep_existing_memberships);
        !s) {
      return s.error();
    }
  }

  if (auto it = json.find("entitlements"); it != json.end()) {
    const std::string path = "entitlements";
    if (!it->is_object()) return At(path, "expected an object: local group -> [entitlements]");
    for (const auto& [group, list] : it->items()) {
      std::string field = Join(path, group);
      if (Status s = CheckName(Json(group), field); !s) return s.error();
      if (!list.is_array()) return At(field, "expected an array of entitlements");
      std::vector<std::string> values;
      for (size_t i = 0; i < list.size(); ++i) {
        if (Status s = CheckName(list[i], Index(field, i)); !s) return s.error();
        values.push_back(list[i].get<std::string>());
      }
      p.entitlements[group] = std::move(values);
    }
  }

  if (auto it = json.find("linking"); it != json.end()) {
    const std::string path = "linking";
    if (Status s = CheckObject(*it, path, {"key"}); !s) return s.error();
    if (auto k = it->find("key"); k != it->end()) {
      std::string v = k->is_string() ? k->get<std::string>() : std::string();
      if (v == "username") {
        p.link_key = LinkKey::kUsername;
      } else if (v == "email") {
        p.link_key = LinkKey::kEmail;
      } else if (v == "none") {
        p.link_key = LinkKey::kNone;
      } else {
        return At(Join(path, "key"), "expected one of: username, email, none");
      }
    }
  }

  if (auto it = json.find("priority"); it != json.end()) {
    if (!it->is_number_integer()) return At("priority", "expected an integer");
    int64_t v = it->get<int64_t>();
    if (v < -1000000 || v > 1000000) return At("priority", "must be between -1000000 and 1000000");
    p.priority = v;
  }
  return p;
}

Json PolicyToJson(const Policy& p) {
  Json attributes = Json::object();
  for (const auto& [name, mapping] : p.attributes) {
    Json sources = Json::array();
    for (const Source& s : mapping.sources) {
      if (const auto* path = std::get_if<SourcePath>(&s)) {
        sources.push_back(path->text());
      } else {
        sources.push_back(Json{{"template", std::get<Template>(s).text()}});
      }
    }
    attributes[name] = {{"sources", std::move(sources)},
                        {"transforms", TransformsToJson(mapping.transforms)}};
  }
  Json manual = Json::array();
  for (const ManualGroupRule& r : p.groups.manual) {
    manual.push_back({{"source", r.source}, {"targets", r.targets}});
  }
  auto patterns = [](const std::vector<Regex>& list) {
    Json out = Json::array();
    for (const Regex& r : list) out.push_back(r.pattern);
    return out;
  };
  Json entitlements = Json::object();
  for (const auto& [group, values] : p.entitlements) entitlements[group] = values;
  return Json{
      {"users",
       {{"import_new", p.users.import_new},
        {"update_existing", p.users.update_existing},
        {"follow_active", p.users.follow_active},
        {"on_deactivate", "disable"},
        {"on_delete", OnDeleteName(p.users.on_delete)}}},
      {"attributes", std::move(attributes)},
      {"groups",
       {{"import", p.groups.import},
        {"mode", p.groups.mode == GroupMode::kManual ? "manual" : "on_the_fly"},
        {"include", patterns(p.groups.include)},
        {"exclude", patterns(p.groups.exclude)},
        {"name_transforms", TransformsToJson(p.groups.name_transforms)},
        {"manual", std::move(manual)},
        {"unmapped", p.groups.unmapped == Unmapped::kOnTheFly ? "on_the_fly" : "ignore"},
        {"default_groups_new_users", p.groups.default_groups_new_users},
        {"default_groups_all_users", p.groups.default_groups_all_users},
        {"keep_existing_memberships", p.groups.keep_existing_memberships}}},
      {"entitlements", std::move(entitlements)},
      {"linking", {{"key", LinkKeyName(p.link_key)}}},
      {"priority", p.priority},
  };
}

}  // namespace idsync::policy
