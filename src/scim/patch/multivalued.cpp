// Multi-valued rules and value filters of a PATCH (see values.h).
#include <string>
#include <vector>

#include "base/strings.h"
#include "scim/filter/parser.h"
#include "scim/patch/values.h"

namespace idsync::scim::patch::detail {

using schema::Attribute;
using schema::Mutability;
using schema::Type;

// ---- Multi-valued helpers

bool SameScalar(const Attribute* sub, const Json& a, const Json& b) {
  if (a.is_string() && b.is_string() && sub != nullptr && !sub->case_exact) {
    return EqualsFolded(a.get_ref<const std::string&>(), b.get_ref<const std::string&>());
  }
  return a == b;
}

// RFC 7644 §3.5.2.1 forbids duplicates but does not define them. Two complex elements are the
// same value when their "value" sub-attributes are equal (per caseExact) and their "type"s do
// not disagree: {"value":"a@x","type":"work"} and {"value":"a@x","type":"home"} are two values.
bool SameElement(const Attribute& attr, const Json& a, const Json& b) {
  if (a.is_object() && b.is_object()) {
    const Attribute* value_sub = attr.FindSub("value");
    if (value_sub != nullptr) {
      auto av = a.find(value_sub->name);
      auto bv = b.find(value_sub->name);
      if (av != a.end() && bv != b.end()) {
        if (!SameScalar(value_sub, *av, *bv)) return false;
        const Attribute* type_sub = attr.FindSub("type");
        if (type_sub == nullptr) return true;
        auto at = a.find(type_sub->name);
        auto bt = b.find(type_sub->name);
        return at == a.end() || bt == b.end() || SameScalar(type_sub, *at, *bt);
      }
    }
  }
  return SameScalar(&attr, a, b);
}

bool IsPrimary(const Json& element) {
  if (!element.is_object()) return false;
  auto p = element.find("primary");
  return p != element.end() && p->is_boolean() && p->get<bool>();
}

// RFC 7644 §3.5.2: setting "primary": true on one value sets it false on the others. When one
// operation writes several primaries, the last one written wins.
void ApplyPrimaryRule(Json& array, const std::vector<size_t>& touched) {
  std::optional<size_t> winner;
  for (size_t i : touched) {
    if (i < array.size() && IsPrimary(array[i])) winner = i;
  }
  if (!winner) return;
  for (size_t i = 0; i < array.size(); ++i) {
    if (i != *winner && IsPrimary(array[i])) array[i]["primary"] = false;
  }
}

// Appends each element of `values` to `array` unless it is already there, in which case the new
// sub-attributes are merged into the existing element (RFC 7644 §3.5.2.1: no duplicates).
void AppendUnique(const Attribute& attr, Json& array, const Json& values) {
  if (!array.is_array()) array = Json::array();
  std::vector<size_t> touched;
  for (const Json& v : values) {
    size_t i = 0;
    while (i < array.size() && !SameElement(attr, array[i], v)) ++i;
    if (i == array.size()) {
      array.push_back(v);
    } else if (array[i].is_object() && v.is_object()) {
      array[i].update(v);
    }
    touched.push_back(i);
  }
  ApplyPrimaryRule(array, touched);
}

// Sets `sub` of one element; immutable sub-attributes may be set but not changed (RFC 7643 §2.2).
Status SetSub(Json& element, const Attribute& sub, const Json& value, const std::string& where) {
  auto existing = element.find(sub.name);
  if (sub.mutability == Mutability::kImmutable && existing != element.end() && *existing != value) {
    return Fail(ErrorCode::kMutability, where + " is immutable");
  }
  if (value.is_null()) {
    element.erase(sub.name);
  } else {
    element[sub.name] = value;
  }
  return {};
}

// Whether writing `value` over `element` (merged, or replacing it whole) would change an
// immutable sub-attribute that has a value.
Status CheckImmutableSubs(const Attribute& attr, const Json& element, const Json& value, bool whole,
                          const std::string& where) {
  for (const Attribute& sub : attr.sub_attributes) {
    if (sub.mutability != Mutability::kImmutable) continue;
    auto old = element.find(sub.name);
    if (old == element.end()) continue;
    auto now = value.find(sub.name);
    if (now == value.end() ? whole : *now != *old) {
      return Fail(ErrorCode::kMutability,
                  where + ": " + attr.name + "." + sub.name + " is immutable");
    }
  }
  return {};
}

// ---- Value filters of PATCH paths

// The sub-attribute a comparison inside "attr[...]" names. Clients write it relative ("type") and
// occasionally qualified ("emails.type").
const Attribute* FilterSub(const filter::AttrPath& path, const Attribute& attr) {
  if (!path.sub.empty()) {
    if (!EqualsIgnoreAsciiCase(path.attr, attr.name)) return nullptr;
    return attr.FindSub(path.sub);
  }
  return attr.FindSub(path.attr);
}

Status CheckFilter(const filter::Node& node, const Attribute& attr, const std::string& where) {
  switch (node.kind) {
    case filter::Node::Kind::kAnd:
    case filter::Node::Kind::kOr:
      if (!node.left || !node.right) break;
      if (auto s = CheckFilter(*node.left, attr, where); !s) return s;
      return CheckFilter(*node.right, attr, where);
    case filter::Node::Kind::kNot:
      if (!node.left) break;
      return CheckFilter(*node.left, attr, where);
    case filter::Node::Kind::kPresent:
    case filter::Node::Kind::kCompare:
      if (FilterSub(node.path, attr) == nullptr) {
        return Fail(ErrorCode::kInvalidPath, where + ": the filter names " +
                                                 filter::Print(node.path) +
                                                 ", which is not a sub-attribute of " + attr.name);
      }
      return {};
    case filter::Node::Kind::kValuePath:
      return Fail(ErrorCode::kInvalidPath, where + ": value filters cannot be nested");
  }
  return Fail(ErrorCode::kInvalidPath, where + ": malformed filter");
}

// Collects the `sub eq value` comparisons of a conjunction, from which a missing element can be
// built. False if the filter is anything else (or, not, other operators): no element is implied.
bool CollectEqualities(const filter::Node& node, const Attribute& attr, Json& element) {
  if (node.kind == filter::Node::Kind::kAnd && node.left && node.right) {
    return CollectEqualities(*node.left, attr, element) &&
           CollectEqualities(*node.right, attr, element);
  }
  if (node.kind != filter::Node::Kind::kCompare || node.op != filter::CompareOp::kEq) return false;
  const Attribute* sub = FilterSub(node.path, attr);
  if (sub == nullptr || node.value.is_null()) return false;
  auto coerced = CoerceOne(*sub, node.value, attr.name + "." + sub->name);
  if (!coerced || coerced->is_null()) return false;
  element[sub->name] = std::move(*coerced);
  return true;
}

}  // namespace idsync::scim::patch::detail
