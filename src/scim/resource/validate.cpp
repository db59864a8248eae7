#include "scim/resource/validate.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "base/time.h"

namespace idsync::scim::resource {

namespace {

using schema::Attribute;
using schema::Mutability;
using schema::Registry;
using schema::Schema;
using schema::Type;

std::string JsonTypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "a number";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

Error Invalid(const std::string& path, const std::string& what) {
  return MakeError(ErrorCode::kInvalidValue, path + ": " + what);
}

Error WrongType(const std::string& path, std::string_view expected, const Json& v) {
  return Invalid(path, "expected " + std::string(expected) + ", got " + JsonTypeName(v));
}

// RFC 7643 §2.3.6: binary is base64 (RFC 4648 §4, with padding).
bool IsBase64(std::string_view s) {
  if (s.size() % 4 != 0) return false;
  size_t pad = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/';
    if (c == '=') {
      ++pad;
    } else if (!alpha || pad > 0) {
      return false;  // a character after padding, or outside the alphabet
    }
  }
  return pad <= 2;
}

// The ways a body is walked: Normalize builds the stored form; CheckComplete only checks an
// already stored resource, where readOnly attributes (id, meta) are present by right.
struct Walk {
  const Registry& registry;
  ResourceType type;
  bool strict = false;
  bool check_only = false;
  const Attribute* members = nullptr;       // Group "members", whose elements need a value
  const Attribute* members_type = nullptr;  // Group "members.type": canonical values enforced
};

// RFC 7643 §4.2 only allows "User" or "Group" as the type of a member, and we use it to tell
// them apart. Elsewhere ("emails.type", ...) canonical values are a SHOULD (§2.3.1: "MAY use
// other values"), and IdPs send "Work", "mobile2", custom labels: those stay as sent.
bool CanonicalRequired(const Walk& w, const Attribute& a) {
  return &a == w.members_type;
}

Result<Json> NormalizeAttribute(const Walk& w, const Attribute& a, const Json& v,
                                const std::string& path);

// One value of a simple (not complex) attribute in the stored form; `canonical_required` makes
// canonicalValues binding (see CanonicalRequired). Shared with PATCH through NormalizeSimpleValue.
Result<Json> NormalizeScalar(const Attribute& a, const Json& v, const std::string& path,
                             bool canonical_required) {
  switch (a.type) {
    case Type::kString: {
      if (!v.is_string()) return WrongType(path, "a string", v);
      if (!a.canonical_values.empty() && canonical_required) {
        for (const std::string& c : a.canonical_values) {
          if (EqualsIgnoreAsciiCase(c, v.get<std::string>())) return Json(c);
        }
        std::string allowed;
        for (const std::string& c : a.canonical_values) {
          allowed += (allowed.empty() ? "\"" : ", \"") + c + "\"";
        }
        return Invalid(path, "\"" + v.get<std::string>() + "\" is not one of " + allowed);
      }
      return v;
    }
    case Type::kBoolean:
      if (v.is_boolean()) return v;
      // Entra ID without aadOptscim062020 (E-2) and OneLogin templates send "True"/"False".
      if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        if (EqualsIgnoreAsciiCase(s, "true")) return Json(true);
        if (EqualsIgnoreAsciiCase(s, "false")) return Json(false);
        return Invalid(path, "expected a boolean, got the string \"" + s + "\"");
      }
      return WrongType(path, "a boolean", v);
    case Type::kInteger:
      if (v.is_number_integer()) return v;
      if (v.is_number_float()) {
        double d = v.get<double>();
        // 3.0 is integral; the int64 range check keeps the cast defined.
        if (std::nearbyint(d) == d && std::fabs(d) < 9.2e18) return Json(static_cast<int64_t>(d));
        return Invalid(path, "expected an integer, got a number with a fraction");
      }
      return WrongType(path, "an integer", v);
    case Type::kDecimal:
      if (v.is_number()) return v;
      return WrongType(path, "a number", v);
    case Type::kDateTime:
      if (!v.is_string()) return WrongType(path, "an RFC 3339 date-time string", v);
      if (!ParseRfc3339(v.get<std::string>())) {
        return Invalid(path, "\"" + v.get<std::string>() +
                                 "\" is not an RFC 3339 date-time (e.g. 2024-05-01T12:00:00Z)");
      }
      return v;  // kept as sent: IdPs compare what they read back (E-15)
    case Type::kBinary:
      if (!v.is_string()) return WrongType(path, "a base64 string", v);
      if (!IsBase64(v.get<std::string>())) return Invalid(path, "not valid base64");
      return v;
    case Type::kReference:
      if (!v.is_string()) return WrongType(path, "a reference (string)", v);
      return v;
    case Type::kComplex: break;
  }
  return MakeError(ErrorCode::kInternal, path + ": complex attribute reached the simple values");
}

// One value of `a` (one element if multi-valued). Returns null for "absent".
Result<Json> NormalizeSingle(const Walk& w, const Attribute& a, const Json& v,
                             const std::string& path) {
  if (v.is_null()) return Json();
  if (a.type != Type::kComplex) return NormalizeScalar(a, v, path, CanonicalRequired(w, a));

  // Complex. "manager" as a bare id (Entra E-10, OneLogin): any singular complex attribute with
  // a "value" sub-attribute accepts a string as its value.
  const Json* in = &v;
  Json wrapped;
  if (v.is_string() && !a.multi_valued && a.FindSub("value")) {
    wrapped = Json{{"value", v}};
    in = &wrapped;
  }
  if (!in->is_object()) return WrongType(path, "an object", v);
  Json out = Json::object();
  for (const auto& [key, sub_value] : in->items()) {
    if (sub_value.is_null()) continue;
    const Attribute* sub = a.FindSub(key);
    if (!sub) {
      // OneLogin sends manager.managerId; unknown sub-attributes are dropped like unknown
      // attributes.
      if (w.strict) return Invalid(path, "unknown sub-attribute \"" + key + "\"");
      continue;
    }
    if (sub->mutability == Mutability::kReadOnly && !w.check_only) continue;
    if (out.contains(sub->name)) {
      return Invalid(path + "." + sub->name, "given twice (names are case-insensitive)");
    }
    auto nv = NormalizeAttribute(w, *sub, sub_value, path + "." + sub->name);
    if (!nv) return nv.error();
    if (!nv->is_null()) out[sub->name] = std::move(*nv);
  }
  if (&a == w.members) {
    if (!out.contains("value")) {
      return Invalid(path + ".value", "required: the id of the member User or Group");
    }
  }
  if (out.empty()) return Json();
  return out;
}

// The whole value of `a`, singular or multi-valued. Returns null for "absent" (RFC 7643 §2.5:
// null and [] are unassigned).
Result<Json> NormalizeAttribute(const Walk& w, const Attribute& a, const Json& v,
                                const std::string& path) {
  if (v.is_null()) return Json();
  if (!a.multi_valued) {
    if (v.is_array()) {
      // Entra sends manager as a one-element array (E-10); unwrap any such singleton.
      if (v.empty()) return Json();
      if (v.size() != 1) {
        return Invalid(path,
                       "expected a single value, got an array of " + std::to_string(v.size()));
      }
      return NormalizeSingle(w, a, v[0], path);
    }
    return NormalizeSingle(w, a, v, path);
  }

  // Multi-valued: a lone value is wrapped (lenient); "emails": {"value": ...} means one email.
  Json lone;
  if (!v.is_array()) lone = Json::array({v});
  const Json& elements = v.is_array() ? v : lone;
  Json out = Json::array();
  int primary_at = -1;
  for (size_t i = 0; i < elements.size(); ++i) {
    std::string element_path = path + "[" + std::to_string(i) + "]";
    if (elements[i].is_array()) return WrongType(element_path, "a single value", elements[i]);
    auto nv = NormalizeSingle(w, a, elements[i], element_path);
    if (!nv) return nv.error();
    if (nv->is_null()) continue;
    // RFC 7643 §2.4: "primary" true at most once per multi-valued attribute.
    if (nv->is_object() && nv->value("primary", Json(false)) == Json(true)) {
      if (primary_at >= 0) {
        return Invalid(path, "\"primary\": true is given for elements " +
                                 std::to_string(primary_at) + " and " + std::to_string(i) +
                                 "; at most one value may be primary");
      }
      primary_at = static_cast<int>(i);
    }
    out.push_back(std::move(*nv));
  }
  if (out.empty()) return Json();
  return out;
}

// The attributes the client sent, grouped by schema: each canonical attribute with the value
// as it is in the body (not copied; the body outlives the walk).
struct Input {
  const Schema* schema;
  std::vector<std::pair<const Attribute*, const Json*>> values;
};

Status Put(Input& input, const Attribute& a, const Json& v, const std::string& sent_as) {
  for (const auto& [given, value] : input.values) {
    if (given == &a) {
      return Invalid(a.name, "given twice (as \"" + sent_as +
                                 "\" and in another spelling; names are case-insensitive)");
    }
  }
  input.values.emplace_back(&a, &v);
  return Status::Ok();
}

Status UnknownAttribute(const Walk& w, const std::string& key) {
  if (!w.strict) return Status::Ok();  // lenient: IdPs send vendor attributes (O-3 "locale")
  return Invalid(key,
                 "unknown attribute for resource type " + std::string(ResourceTypeName(w.type)));
}

// Sorts the body's keys into inputs[0] (core) and inputs[1..] (extensions).
Status Collect(const Walk& w, const Json& body, std::vector<Input>& inputs) {
  auto input_for = [&](const Schema* s) -> Input* {
    for (Input& in : inputs) {
      if (in.schema == s) return &in;
    }
    return nullptr;
  };
  for (const auto& [key, value] : body.items()) {
    if (value.is_null()) continue;  // RFC 7643 §2.5; Entra E-11 sends "addresses": null
    if (EqualsIgnoreAsciiCase(key, "schemas")) continue;  // rewritten from what is present

    if (StartsWithIgnoreAsciiCase(key, "urn:")) {
      if (const Schema* s = w.registry.FindSchema(key)) {
        Input* in = input_for(s);
        if (!in) continue;  // a known schema that this type does not use: like an unknown one
        if (!value.is_object()) {
          return WrongType(key, "an object holding the schema's attributes", value);
        }
        for (const auto& [sub_key, sub_value] : value.items()) {
          if (sub_value.is_null()) continue;
          const Attribute* a = s->Find(sub_key);
          if (!a) {
            if (auto st = UnknownAttribute(w, s->id + ":" + sub_key); !st) return st;
            continue;
          }
          if (auto st = Put(*in, *a, sub_value, s->id + ":" + sub_key); !st) return st;
        }
        continue;
      }
      // "urn:...:enterprise:2.0:User:employeeNumber" as a top-level key (Entra E-4 shapes in
      // POST bodies, OneLogin templates): move it into its schema.
      size_t colon = key.rfind(':');
      const Schema* s = w.registry.FindSchema(std::string_view(key).substr(0, colon));
      Input* in = s ? input_for(s) : nullptr;
      if (!in) continue;  // E-12: attributes of unknown extensions are dropped
      const Attribute* a = s->Find(std::string_view(key).substr(colon + 1));
      if (!a) {
        // Also "…:User:manager.value": dotted keys are the PATCH engine's business (E-4).
        if (auto st = UnknownAttribute(w, key); !st) return st;
        continue;
      }
      if (auto st = Put(*in, *a, value, key); !st) return st;
      continue;
    }

    // Core first; then the extensions without URN, which the legacy Entra sample does
    // ("department": null at the top level, E-11).
    bool placed = false;
    for (Input& in : inputs) {
      if (const Attribute* a = in.schema->Find(key)) {
        if (auto st = Put(in, *a, value, key); !st) return st;
        placed = true;
        break;
      }
    }
    if (!placed) {
      if (auto st = UnknownAttribute(w, key); !st) return st;
    }
  }
  return Status::Ok();
}

std::string PathOf(const Input& in, bool core, const std::string& name) {
  return core ? name : in.schema->id + ":" + name;
}

bool SameValue(const Attribute& a, const Json& x, const Json& y) {
  if (x.is_string() && y.is_string() && !a.case_exact) {
    return EqualsFolded(x.get<std::string>(), y.get<std::string>());
  }
  return x == y;
}

// RFC 7644 §3.5.1: an immutable attribute that has a value keeps it. Omitting it on PUT keeps
// the old value rather than clearing it. For multi-valued complex attributes (Group members,
// whose sub-attributes are immutable), elements are added or removed whole and identified by
// their value, so there is nothing to compare element by element.
Status CheckImmutable(const Attribute& a, const std::string& path, const Json* old_value,
                      Json& container) {
  if (!old_value || old_value->is_null()) return Status::Ok();
  if (a.mutability == Mutability::kImmutable) {
    if (!container.contains(a.name)) {
      container[a.name] = *old_value;
      return Status::Ok();
    }
    if (!SameValue(a, container[a.name], *old_value)) {
      return MakeError(ErrorCode::kMutability,
                       path + ": immutable, and already set to " + old_value->dump());
    }
    return Status::Ok();
  }
  if (a.type == Type::kComplex && !a.multi_valued && old_value->is_object()) {
    for (const Attribute& sub : a.sub_attributes) {
      if (sub.mutability != Mutability::kImmutable) continue;
      auto it = old_value->find(sub.name);
      if (it == old_value->end()) continue;
      Json& mine = container[a.name];
      if (mine.is_null()) mine = Json::object();
      if (auto st = CheckImmutable(sub, path + "." + sub.name, &*it, mine); !st) return st;
    }
  }
  return Status::Ok();
}

Result<Json> Run(const Walk& w, const Json& body, const Json* existing) {
  if (!body.is_object()) {
    return MakeError(ErrorCode::kInvalidSyntax,
                     "the resource must be a JSON object, got " + JsonTypeName(body));
  }
  const Schema& core = w.registry.CoreSchema(w.type);
  std::vector<Input> inputs{Input{&core, {}}};
  for (const Schema* ext : w.registry.Extensions(w.type)) inputs.push_back(Input{ext, {}});
  if (auto st = Collect(w, body, inputs); !st) return st.error();
  // By canonical name, as a JSON object would iterate them, so that of several invalid
  // attributes the same one is reported whatever order the body has.
  for (Input& in : inputs) {
    std::sort(in.values.begin(), in.values.end(),
              [](const auto& x, const auto& y) { return x.first->name < y.first->name; });
  }

  Json out = Json::object();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const bool is_core = i == 0;
    Json section = Json::object();
    for (const auto& [a, value] : inputs[i].values) {
      // RFC 7643 §2.2: readOnly values from clients are ignored (id, meta, Okta's "groups": []).
      if (a->mutability == Mutability::kReadOnly && !w.check_only) continue;
      auto nv = NormalizeAttribute(w, *a, *value, PathOf(inputs[i], is_core, a->name));
      if (!nv) return nv.error();
      if (!nv->is_null()) section[a->name] = std::move(*nv);
    }

    if (existing && existing->is_object()) {
      const Json* old_section = existing;
      if (!is_core) {
        auto it = existing->find(inputs[i].schema->id);
        old_section = it != existing->end() && it->is_object() ? &*it : nullptr;
      }
      for (const Attribute& a : inputs[i].schema->attributes) {
        if (!old_section || a.mutability == Mutability::kReadOnly) continue;
        auto it = old_section->find(a.name);
        const Json* old_value = it != old_section->end() ? &*it : nullptr;
        if (auto st = CheckImmutable(a, PathOf(inputs[i], is_core, a.name), old_value, section);
            !st) {
          return st.error();
        }
      }
    }

    for (const Attribute& a : inputs[i].schema->attributes) {
      if (!a.required || (a.mutability == Mutability::kReadOnly && !w.check_only)) continue;
      std::string path = PathOf(inputs[i], is_core, a.name);
      auto it = section.find(a.name);
      if (it == section.end()) return Invalid(path, "required, but missing");
      if (it->is_string() && it->get_ref<const std::string&>().empty()) {
        return Invalid(path, "required, but empty");
      }
    }

    if (is_core) {
      out = std::move(section);
    } else if (!section.empty()) {
      out[inputs[i].schema->id] = std::move(section);
    }
  }

  Json schemas = Json::array({core.id});
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (out.contains(inputs[i].schema->id)) schemas.push_back(inputs[i].schema->id);
  }
  out["schemas"] = std::move(schemas);
  return out;
}

Walk MakeWalk(const Registry& registry, ResourceType type) {
  Walk w{registry, type};
  if (type == ResourceType::kGroup) {
    w.members = registry.CoreSchema(type).Find("members");
    w.members_type = w.members ? w.members->FindSub("type") : nullptr;
  }
  return w;
}

}  // namespace

Result<Json> Normalize(const Json& body, ResourceType type, WriteMode mode,
                       const schema::Registry& registry, const Json* existing,
                       const ValidateOptions& options) {
  Walk w = MakeWalk(registry, type);
  w.strict = options.strict_unknown_attributes;
  // Immutability only constrains a replacement; a create has nothing to compare with.
  return Run(w, body, mode == WriteMode::kReplace ? existing : nullptr);
}

Status CheckComplete(const Json& resource, ResourceType type, const schema::Registry& registry) {
  Walk w = MakeWalk(registry, type);
  w.check_only = true;
  auto checked = Run(w, resource, nullptr);
  if (!checked) return MakeError(ErrorCode::kInvalidValue, checked.error().detail);
  return Status::Ok();
}

Result<Json> NormalizeSimpleValue(const Attribute& a, const Json& v, const std::string& path) {
  return NormalizeScalar(a, v, path, false);
}

}  // namespace idsync::scim::resource
