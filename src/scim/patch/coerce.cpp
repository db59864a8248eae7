// Value coercion of a PATCH (see values.h).
#include <string>
#include <string_view>
#include <utility>

#include "base/strings.h"
#include "scim/patch/values.h"
#include "scim/resource/validate.h"

namespace idsync::scim::patch::detail {

using schema::Attribute;
using schema::Mutability;
using schema::Type;

Error Fail(ErrorCode code, std::string detail) {
  return Error{code, std::move(detail)};
}

// Looks `name` up among the keys of `object` ignoring ASCII case: RFC 7643 §2.1 makes attribute
// names case-insensitive, and clients spell "Operations" and "op" in more than one way.
const Json* FindKey(const Json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  auto exact = object.find(std::string(name));
  if (exact != object.end()) return &*exact;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (EqualsIgnoreAsciiCase(it.key(), name)) return &*it;
  }
  return nullptr;
}

bool IsEmptyValue(const Json& v) {
  return v.is_null() || ((v.is_array() || v.is_object()) && v.empty());
}

// ---- Value coercion: a PATCH value, checked against the attribute it is written to and
// brought into the stored form (canonical sub-attribute names, no nulls). A null result means
// "unassigned" (RFC 7643 §2.5: null and [] are the same state as absent).

namespace {

Result<Json> CoerceComplex(const Attribute& attr, const Json& v, const std::string& where) {
  if (!attr.multi_valued) {
    // Entra ID (E-10) sends the manager as [{"$ref": ..., "value": id}] and some clients as a
    // bare id; a single-valued complex attribute with a "value" sub-attribute takes all three.
    if (v.is_array()) {
      if (v.empty()) return Json();
      if (v.size() == 1) return CoerceComplex(attr, v[0], where);
      return Fail(ErrorCode::kInvalidValue, where + " is single-valued, got an array");
    }
    if (v.is_string() && attr.FindSub("value") != nullptr) {
      return Json{{attr.FindSub("value")->name, v}};
    }
  }
  if (!v.is_object()) {
    return Fail(ErrorCode::kInvalidValue,
                where + " must be an object of sub-attributes, got " + v.type_name());
  }
  Json out = Json::object();
  const Json* manager_id = nullptr;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it->is_null()) continue;
    const Attribute* sub = attr.FindSub(it.key());
    if (sub == nullptr) {
      // OneLogin templates send the manager as {"managerId": ...} (IDP-QUIRKS 2.3).
      if (EqualsIgnoreAsciiCase(it.key(), "managerId")) manager_id = &*it;
      // Other unknown sub-attributes are dropped, as Normalize drops unknown attributes.
      continue;
    }
    // readOnly sub-attributes a client echoes (manager.displayName) are ignored (RFC 7643 §2.2).
    if (sub->mutability == Mutability::kReadOnly) continue;
    auto coerced = CoerceOne(*sub, *it, where + "." + sub->name);
    if (!coerced) return coerced.error();
    if (!coerced->is_null()) out[sub->name] = std::move(*coerced);
  }
  if (manager_id != nullptr && attr.FindSub("value") != nullptr &&
      !out.contains(attr.FindSub("value")->name)) {
    auto coerced = resource::NormalizeSimpleValue(*attr.FindSub("value"), *manager_id, where + ".managerId");
    if (!coerced) return coerced.error();
    out[attr.FindSub("value")->name] = std::move(*coerced);
  }
  if (out.empty()) return Json();
  return out;
}

}  // namespace

// One value of `attr` (one element if `attr` is multi-valued).
Result<Json> CoerceOne(const Attribute& attr, const Json& v, const std::string& where) {
  if (v.is_null()) return Json();
  if (attr.type == Type::kComplex) return CoerceComplex(attr, v, where);
  // A simple value: the same rules as a POST or PUT body (validate.h), so that a value is
  // accepted or refused alike whichever verb sends it.
  if (!attr.multi_valued && v.is_array() && v.size() == 1) {
    return resource::NormalizeSimpleValue(attr, v[0], where);
  }
  return resource::NormalizeSimpleValue(attr, v, where);
}

// The whole value of a multi-valued attribute: an array, or one element standing for itself.
Result<Json> CoerceMulti(const Attribute& attr, const Json& v, const std::string& where) {
  Json out = Json::array();
  if (v.is_null()) return out;
  if (!v.is_array()) {
    auto one = CoerceOne(attr, v, where);
    if (!one) return one.error();
    if (!one->is_null()) out.push_back(std::move(*one));
    return out;
  }
  for (size_t i = 0; i < v.size(); ++i) {
    auto one = CoerceOne(attr, v[i], where + "[" + std::to_string(i) + "]");
    if (!one) return one.error();
    if (!one->is_null()) out.push_back(std::move(*one));
  }
  return out;
}

Result<Json> CoerceValue(const Attribute& attr, const Json& v, const std::string& where) {
  if (attr.multi_valued) return CoerceMulti(attr, v, where);
  return CoerceOne(attr, v, where);
}

}  // namespace idsync::scim::patch::detail
