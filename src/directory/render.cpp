#include "directory/render.h"

#include <string>
#include <string_view>

#include "base/time.h"

namespace idsync::directory {
namespace {

constexpr const char* kUserUrn = "urn:ietf:params:scim:schemas:core:2.0:User";
constexpr const char* kGroupUrn = "urn:ietf:params:scim:schemas:core:2.0:Group";

// The effective attributes of a body: its "attributes" object, or an empty one.
const Json& AttributesOf(const Json& body) {
  static const Json kNone = Json::object();
  auto it = body.find("attributes");
  return it != body.end() && it->is_object() ? *it : kNone;
}

// What RenderUserCore shows of an attribute entry: its value, or nothing (nullptr).
const Json* ShownValue(const Json& entry) {
  if (!entry.is_object()) return nullptr;
  auto v = entry.find("value");
  return v == entry.end() || v->is_null() ? nullptr : &*v;
}

// The shown value of attribute `name` in `attrs` (AttributesOf), or nullptr.
const Json* ValueOf(const Json& attrs, std::string_view name) {
  auto it = attrs.find(name);
  return it == attrs.end() ? nullptr : ShownValue(*it);
}

// The entitlements RenderUserCore lists, or nullptr when it lists none.
const Json* ShownEntitlements(const Json& body) {
  auto e = body.find("entitlements");
  return e != body.end() && e->is_array() && !e->empty() ? &*e : nullptr;
}

bool IsBuiltin(const std::string& name) {
  return name == "username" || name == "email" || name == "displayName" ||
         name == "givenName" || name == "familyName" || name == "active";
}

}  // namespace

Json RenderUserCore(const store::EffectiveUserRow& row) {
  Json out = Json::object();
  out["schemas"] = Json::array({kUserUrn, std::string(kUserExtensionUrn)});
  out["id"] = row.id;
  out["userName"] = row.username;
  const Json& attrs = AttributesOf(row.body);
  if (const Json* v = ValueOf(attrs, "displayName")) out["displayName"] = *v;
  Json name = Json::object();
  if (const Json* v = ValueOf(attrs, "givenName")) name["givenName"] = *v;
  if (const Json* v = ValueOf(attrs, "familyName")) name["familyName"] = *v;
  if (!name.empty()) out["name"] = std::move(name);
  if (const Json* v = ValueOf(attrs, "email")) {
    out["emails"] = Json::array({{{"value", *v}, {"primary", true}}});
  }
  out["active"] = row.state == "active";
  if (const Json* e = ShownEntitlements(row.body)) {
    Json arr = Json::array();
    for (const auto& ent : *e) {
      arr.push_back({{"value", ent.value("value", "")}, {"display", ent.value("group", "")}});
    }
    out["entitlements"] = std::move(arr);
  }
  Json custom = Json::object();
  for (const auto& [attr, entry] : attrs.items()) {
    if (IsBuiltin(attr)) continue;
    if (const Json* v = ShownValue(entry)) custom[attr] = *v;
  }
  if (!custom.empty()) out[std::string(kUserExtensionUrn)] = std::move(custom);
  return out;
}

bool SameUserCore(const store::EffectiveUserRow& a, const store::EffectiveUserRow& b) {
  if (a.id != b.id || a.username != b.username || (a.state == "active") != (b.state == "active")) {
    return false;
  }
  // Every attribute but username and active (those come from the row) shows its value: the
  // builtins in their places, the others under the extension.
  const Json& from = AttributesOf(a.body);
  const Json& to = AttributesOf(b.body);
  for (const auto& [name, entry] : from.items()) {
    if (name == "username" || name == "active") continue;
    const Json* x = ShownValue(entry);
    const Json* y = ValueOf(to, name);
    if ((x == nullptr) != (y == nullptr) || (x != nullptr && *x != *y)) return false;
  }
  for (const auto& [name, entry] : to.items()) {
    if (name == "username" || name == "active" || from.contains(name)) continue;
    if (ShownValue(entry) != nullptr) return false;
  }
  const Json* ea = ShownEntitlements(a.body);
  const Json* eb = ShownEntitlements(b.body);
  if (ea == nullptr || eb == nullptr) return ea == eb;
  if (ea->size() != eb->size()) return false;
  for (size_t i = 0; i < ea->size(); ++i) {
    const Json& x = (*ea)[i];
    const Json& y = (*eb)[i];
    if (x.value("value", "") != y.value("value", "") ||
        x.value("group", "") != y.value("group", "")) {
      return false;
    }
  }
  return true;
}

Json RenderGroupCore(const store::EffectiveGroupRow& row) {
  Json out = Json::object();
  out["schemas"] = Json::array({kGroupUrn, std::string(kGroupExtensionUrn)});
  out["id"] = row.id;
  out["displayName"] = row.name;
  if (auto e = row.body.find("entitlements"); e != row.body.end() && e->is_array() && !e->empty()) {
    out[std::string(kGroupExtensionUrn)] = {{"entitlements", *e}};
  }
  return out;
}

Json RenderMeta(std::string_view resource_type, const std::string& id, int64_t version,
                TimePoint created, TimePoint last_modified, const std::string& base_url) {
  const bool user = resource_type == "User";
  return {{"resourceType", std::string(resource_type)},
          {"created", FormatRfc3339(created)},
          {"lastModified", FormatRfc3339(last_modified)},
          {"version", "W/\"" + std::to_string(version) + "\""},
          {"location", base_url + (user ? "/Users/" : "/Groups/") + id}};
}

}  // namespace idsync::directory
