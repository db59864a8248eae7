#include "scim/query/projection.h"

#include <algorithm>
#include <string>
#include <utility>

#include "base/strings.h"

namespace idsync::scim::query {

namespace {

using schema::Attribute;
using schema::Returned;
using schema::Schema;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Entries are lower-cased canonical names: "name.givenname" for the core schema,
// "urn:…:user:manager.value" for an extension, and a bare lower-cased URN for a whole schema.
std::string Key(const Schema& s, bool in_extension, const Attribute& a, const Attribute* sub) {
  std::string key = in_extension ? AsciiLower(s.id) + ":" : std::string();
  key += AsciiLower(a.name);
  if (sub) {
    // Appended in two steps: `"." + std::string` trips GCC 12's -Wrestrict false positive at -O3.
    key += '.';
    key += AsciiLower(sub->name);
  }
  return key;
}

Result<std::vector<std::string>> ParseList(ResourceType type, std::string_view text,
                                           std::string_view param,
                                           const schema::Registry& registry) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = Trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;  // "a,,b" and a trailing comma: harmless
    if (const Schema* s = registry.FindSchema(item)) {
      // RFC 7644 §3.10: a bare schema URN names all attributes of that schema.
      bool belongs = s == &registry.CoreSchema(type);
      for (const Schema* ext : registry.Extensions(type)) belongs = belongs || s == ext;
      if (!belongs) {
        return MakeError(ErrorCode::kInvalidValue, std::string(param) + ": schema '" +
                                                       std::string(item) +
                                                       "' is not used by resource type " +
                                                       std::string(ResourceTypeName(type)));
      }
      out.push_back(AsciiLower(s->id));
      continue;
    }
    // "schemas" is not an attribute of any schema but always returned; naming it is harmless.
    if (EqualsIgnoreAsciiCase(item, "schemas")) continue;
    auto resolved = registry.ResolveDotted(type, item);
    if (!resolved) {
      return MakeError(ErrorCode::kInvalidValue,
                       std::string(param) + ": " + resolved.error().detail);
    }
    out.push_back(Key(*resolved->schema, resolved->in_extension, *resolved->attr, resolved->sub));
  }
  return out;
}

bool Contains(const std::vector<std::string>& list, const std::string& key) {
  return std::find(list.begin(), list.end(), key) != list.end();
}

bool ContainsPrefix(const std::vector<std::string>& list, const std::string& prefix) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
}

// The decisions shared by Apply and IncludesAttribute.
struct Selection {
  const std::vector<std::string>& attributes;
  const std::vector<std::string>& excluded;

  bool IncludesTop(const Schema& s, bool in_extension, const Attribute& a) const;
  bool IncludesSub(const Schema& s, bool in_extension, const Attribute& a,
                   const Attribute& sub) const;
  Json ProjectValue(const Schema& s, bool in_extension, const Attribute& a,
                    const Json& value) const;
};

// RFC 7644 §3.4.2.5 and RFC 7643 §2.2 "returned": never is never output; always is output
// whatever the lists say; request only when named in attributes; default unless attributes
// names other things or excludedAttributes names it.
bool Selection::IncludesTop(const Schema& s, bool in_extension, const Attribute& a) const {
  if (a.returned == Returned::kNever) return false;
  if (a.returned == Returned::kAlways) return true;
  std::string key = Key(s, in_extension, a, nullptr);
  if (!attributes.empty()) {
    return Contains(attributes, key) || ContainsPrefix(attributes, key + ".") ||
           Contains(attributes, AsciiLower(s.id));
  }
  if (a.returned == Returned::kRequest) return false;
  return !Contains(excluded, key) && !Contains(excluded, AsciiLower(s.id));
}

bool Selection::IncludesSub(const Schema& s, bool in_extension, const Attribute& a,
                            const Attribute& sub) const {
  if (sub.returned == Returned::kNever) return false;
  if (sub.returned == Returned::kAlways || a.returned == Returned::kAlways) return true;
  std::string key = Key(s, in_extension, a, nullptr);
  std::string sub_key = Key(s, in_extension, a, &sub);
  if (!attributes.empty()) {
    if (Contains(attributes, sub_key)) return true;
    bool whole = Contains(attributes, key) || Contains(attributes, AsciiLower(s.id));
    return whole && sub.returned != Returned::kRequest;
  }
  return sub.returned != Returned::kRequest && !Contains(excluded, sub_key);
}

Json Selection::ProjectValue(const Schema& s, bool in_extension, const Attribute& a,
                             const Json& value) const {
  if (a.type != schema::Type::kComplex) return value;
  auto project_object = [&](const Json& obj) {
    if (!obj.is_object()) return obj;
    Json out = Json::object();
    for (const auto& [key, v] : obj.items()) {
      const Attribute* sub = a.FindSub(key);
      if (!sub || IncludesSub(s, in_extension, a, *sub)) out[key] = v;
    }
    return out;
  };
  if (!value.is_array()) return project_object(value);
  Json out = Json::array();
  for (const Json& element : value) {
    Json projected = project_object(element);
    if (!projected.is_object() || !projected.empty()) out.push_back(std::move(projected));
  }
  return out;
}

}  // namespace

// Unknown names are an error rather than ignored: RFC 7644 §3.4.2.5 does not say, and a typo in
// excludedAttributes=memebers that silently loaded 50 000 members is worse than a 400.
Result<Projection> Projection::Parse(ResourceType type, std::string_view attributes,
                                     std::string_view excluded_attributes,
                                     const schema::Registry& registry) {
  Projection p;
  p.type_ = type;
  p.registry_ = &registry;
  auto attrs = ParseList(type, attributes, "attributes", registry);
  if (!attrs) return attrs.error();
  auto excluded = ParseList(type, excluded_attributes, "excludedAttributes", registry);
  if (!excluded) return excluded.error();
  p.attributes_ = std::move(*attrs);
  p.excluded_ = std::move(*excluded);
  return p;
}

Json Projection::Apply(const Json& resource) const {
  if (!resource.is_object()) return resource;
  const Schema& core = registry_->CoreSchema(type_);
  std::vector<const Schema*> extensions = registry_->Extensions(type_);
  const Selection sel{attributes_, excluded_};
  Json out = Json::object();
  for (const auto& [key, value] : resource.items()) {
    if (key == "schemas") {
      out[key] = value;  // RFC 7643 §3: always present
      continue;
    }
    const Schema* ext = nullptr;
    for (const Schema* e : extensions) {
      if (EqualsIgnoreAsciiCase(e->id, key)) ext = e;
    }
    if (ext) {
      if (!value.is_object()) continue;
      Json section = Json::object();
      for (const auto& [name, v] : value.items()) {
        const Attribute* a = ext->Find(name);
        if (!a || !sel.IncludesTop(*ext, true, *a)) continue;
        Json projected = sel.ProjectValue(*ext, true, *a, v);
        if (!projected.empty()) section[name] = std::move(projected);
      }
      if (!section.empty()) out[key] = std::move(section);
      continue;
    }
    const Attribute* a = core.Find(key);
    if (!a) {
      // Not in the schema (cannot come from Normalize): shown like a default attribute.
      if (attributes_.empty()) out[key] = value;
      continue;
    }
    if (!sel.IncludesTop(core, false, *a)) continue;
    Json projected = sel.ProjectValue(core, false, *a, value);
    if (a->type != schema::Type::kComplex || !projected.empty()) out[key] = std::move(projected);
  }
  return out;
}

bool Projection::IncludesAttribute(std::string_view attr) const {
  const Selection sel{attributes_, excluded_};
  if (EqualsIgnoreAsciiCase(attr, "schemas")) return true;
  if (const Schema* s = registry_->FindSchema(attr)) {
    bool in_extension = s != &registry_->CoreSchema(type_);
    return std::any_of(s->attributes.begin(), s->attributes.end(),
                       [&](const Attribute& a) { return sel.IncludesTop(*s, in_extension, a); });
  }
  auto resolved = registry_->ResolveDotted(type_, attr);
  if (!resolved) return false;  // an unknown name is never in the output
  if (!sel.IncludesTop(*resolved->schema, resolved->in_extension, *resolved->attr)) return false;
  return !resolved->sub || sel.IncludesSub(*resolved->schema, resolved->in_extension,
                                           *resolved->attr, *resolved->sub);
}

}  // namespace idsync::scim::query
