#include "scim/patch/apply.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "base/time.h"
#include "scim/filter/evaluate.h"
#include "scim/filter/parser.h"
#include "scim/patch/values.h"
#include "scim/resource/validate.h"

namespace idsync::scim::patch {
namespace {

using namespace detail;  // NOLINT(google-build-using-namespace): this engine's own parts

using schema::Attribute;
using schema::Mutability;
using schema::ResolvedAttribute;
using schema::Type;

enum class OpKind { kAdd, kReplace, kRemove };

// ---- Targets

struct Target {
  ResolvedAttribute r;
  const filter::Node* filter = nullptr;  // inner filter of "attr[...]", relative to r.attr
  const Attribute* sub = nullptr;        // "attr.sub" or "attr[...].sub"
  std::string text;                      // for error details
};

class Patcher {
 public:
  Patcher(Json& doc, ResourceType type, const schema::Registry& registry,
          const PatchOptions& options)
      : doc_(doc), type_(type), registry_(registry), options_(options) {}

  Status Apply(const Json& operation);

 private:
  Status ApplyPathless(OpKind op, const Json& value, const schema::Schema* within);
  Status ApplyTarget(OpKind op, const Target& t, const Json* value);
  Status Write(OpKind op, Json& container, const Target& t, const Json& value);
  Status Remove(Json& container, const Target& t, const Json* value);
  Status ApplyMembers(OpKind op, const Target& t, const Json* value);
  Status ApplyMembersByDiff(OpKind op, const Target& t, const Json* value);
  Json* Container(const ResolvedAttribute& r, bool create);
  // The extension schema of this resource type whose URN is `urn`, or nullptr.
  const schema::Schema* Extension(std::string_view urn) const {
    for (const schema::Schema* ext : registry_.Extensions(type_)) {
      if (EqualsIgnoreAsciiCase(ext->id, urn)) return ext;
    }
    return nullptr;
  }
  bool RoutesToMemberStore(const Target& t) const {
    return options_.members != nullptr && type_ == ResourceType::kGroup && !t.r.in_extension &&
           t.r.attr->name == "members";
  }

  Json& doc_;
  ResourceType type_;
  const schema::Registry& registry_;
  const PatchOptions& options_;
};

Json* Patcher::Container(const ResolvedAttribute& r, bool create) {
  if (!r.in_extension) return &doc_;
  auto it = doc_.find(r.schema->id);
  if (it != doc_.end() && it->is_object()) return &*it;
  if (!create) return nullptr;
  Json& ext = doc_[r.schema->id];
  ext = Json::object();
  return &ext;
}

Status Patcher::Apply(const Json& operation) {
  if (!operation.is_object()) {
    return Fail(ErrorCode::kInvalidSyntax, "each operation must be a JSON object");
  }
  const Json* op_json = FindKey(operation, "op");
  if (op_json == nullptr || !op_json->is_string()) {
    return Fail(ErrorCode::kInvalidSyntax, "\"op\" must be \"add\", \"replace\" or \"remove\"");
  }
  // Entra ID sends "Add"/"Replace"/"Remove" (E-1), OneLogin "add": the op is case-insensitive.
  const std::string& op_text = op_json->get_ref<const std::string&>();
  OpKind op;
  if (EqualsIgnoreAsciiCase(op_text, "add")) {
    op = OpKind::kAdd;
  } else if (EqualsIgnoreAsciiCase(op_text, "replace")) {
    op = OpKind::kReplace;
  } else if (EqualsIgnoreAsciiCase(op_text, "remove")) {
    op = OpKind::kRemove;
  } else {
    return Fail(ErrorCode::kInvalidSyntax, "unknown op \"" + op_text + "\"");
  }

  const Json* value = FindKey(operation, "value");
  if (op != OpKind::kRemove && value == nullptr) {
    return Fail(ErrorCode::kInvalidValue, "\"" + op_text + "\" needs a \"value\"");
  }

  const Json* path_json = FindKey(operation, "path");
  if (path_json != nullptr && !path_json->is_null() && !path_json->is_string()) {
    return Fail(ErrorCode::kInvalidPath, "\"path\" must be a string");
  }
  std::string_view path_text;
  if (path_json != nullptr && path_json->is_string()) {
    path_text = path_json->get_ref<const std::string&>();
  }

  if (path_text.empty()) {
    // RFC 7644 §3.5.2.2: remove without a path is "noTarget".
    if (op == OpKind::kRemove) {
      return Fail(ErrorCode::kNoTarget, "\"remove\" needs a \"path\"");
    }
    return ApplyPathless(op, *value, nullptr);
  }

  // A path naming a whole extension ("urn:...:enterprise:2.0:User") addresses its attributes.
  if (const schema::Schema* ext = Extension(path_text); ext != nullptr) {
    if (op == OpKind::kRemove) {
      doc_.erase(ext->id);
      return {};
    }
    return ApplyPathless(op, *value, ext);
  }

  auto parsed = filter::ParsePatchPath(path_text);
  if (!parsed) return Fail(ErrorCode::kInvalidPath, parsed.error().detail);
  const filter::PatchPath& path = *parsed;
  auto resolved =
      registry_.Resolve(type_, path.attr.urn, path.attr.attr, path.filter ? "" : path.attr.sub);
  if (!resolved) {
    return Fail(ErrorCode::kInvalidPath, "unknown attribute in path \"" + std::string(path_text) +
                                             "\": " + resolved.error().detail);
  }
  Target t;
  t.r = *resolved;
  t.text = std::string(path_text);
  t.sub = t.r.sub;
  if (path.filter) {
    if (!t.r.attr->multi_valued || t.r.attr->type != Type::kComplex || t.r.sub != nullptr) {
      return Fail(ErrorCode::kInvalidPath,
                  "\"" + t.text + "\": a value filter needs a multi-valued complex attribute");
    }
    t.filter = path.filter.get();
    // Tolerate a parser that hands the whole "attr[...]" node instead of its inner filter.
    if (t.filter->kind == filter::Node::Kind::kValuePath && t.filter->left) {
      t.filter = t.filter->left.get();
    }
    if (auto s = CheckFilter(*t.filter, *t.r.attr, "\"" + t.text + "\""); !s) return s;
    if (!path.sub_after_filter.empty()) {
      t.sub = t.r.attr->FindSub(path.sub_after_filter);
      if (t.sub == nullptr) {
        return Fail(ErrorCode::kInvalidPath, "\"" + t.text + "\": " + t.r.attr->name +
                                                 " has no sub-attribute " + path.sub_after_filter);
      }
    }
  }
  return ApplyTarget(op, t, value);
}

// RFC 7644 §3.5.2.1/§3.5.2.3 without a path: "value" holds attributes of the resource. Entra ID
// (E-4) also uses keys "name.givenName" and "urn:...:User:employeeNumber" there.
Status Patcher::ApplyPathless(OpKind op, const Json& value, const schema::Schema* within) {
  if (!value.is_object()) {
    return Fail(ErrorCode::kInvalidValue,
                "a path-less operation needs an object of attributes as its value");
  }
  for (auto it = value.begin(); it != value.end(); ++it) {
    const std::string& key = it.key();
    if (within == nullptr) {
      if (EqualsIgnoreAsciiCase(key, "schemas")) continue;  // the server maintains "schemas"
      if (const schema::Schema* ext = Extension(key); ext != nullptr) {
        if (it->is_null()) {
          if (op == OpKind::kReplace) doc_.erase(ext->id);
          continue;
        }
        if (auto s = ApplyPathless(op, *it, ext); !s) return s;
        continue;
      }
    }
    auto resolved = within ? registry_.ResolveDotted(type_, within->id + ":" + key)
                           : registry_.ResolveDotted(type_, key);
    if (!resolved) {
      // Unknown attributes and unknown extensions are dropped, as Normalize does on POST/PUT
      // (Entra ID sends custom extension attributes the server may not know).
      continue;
    }
    Target t;
    t.r = *resolved;
    t.sub = t.r.sub;
    t.text = key;
    // readOnly attributes echoed with their current value are ignored: Okta's group rename
    // (O-9) carries the group's own "id"; OneLogin templates carry "id": null.
    if (t.r.attr->mutability == Mutability::kReadOnly && t.sub == nullptr) {
      Json* container = Container(t.r, false);
      const Json current =
          container && container->contains(t.r.attr->name) ? (*container)[t.r.attr->name] : Json();
      if (it->is_null() || *it == current) continue;
    }
    if (auto s = ApplyTarget(op, t, &*it); !s) return s;
  }
  return {};
}

Status Patcher::ApplyTarget(OpKind op, const Target& t, const Json* value) {
  const Attribute& attr = *t.r.attr;
  const std::string where = "\"" + t.text + "\"";
  if (attr.mutability == Mutability::kReadOnly) {
    return Fail(ErrorCode::kMutability, where + ": " + attr.name + " is readOnly");
  }
  if (t.sub != nullptr && t.sub->mutability == Mutability::kReadOnly) {
    return Fail(ErrorCode::kMutability,
                where + ": " + attr.name + "." + t.sub->name + " is readOnly");
  }
  if (RoutesToMemberStore(t)) return ApplyMembers(op, t, value);

  Json* container = Container(t.r, op != OpKind::kRemove);
  Json old;
  Status s;
  if (container != nullptr) {
    auto found = container->find(attr.name);
    if (found != container->end()) old = *found;
    s = op == OpKind::kRemove ? Remove(*container, t, value) : Write(op, *container, t, *value);
  } else if (t.filter != nullptr && t.sub != nullptr) {
    s = Fail(ErrorCode::kNoTarget, where + " matches no value");
  }
  if (!s) return s;

  Json now;
  if (container != nullptr) {
    auto found = container->find(attr.name);
    if (found != container->end()) {
      if (IsEmptyValue(*found)) {
        container->erase(found);
      } else {
        now = *found;
      }
    }
  }
  // RFC 7643 §2.2: immutable attributes may be set once, never changed.
  if (attr.mutability == Mutability::kImmutable && !old.is_null() && now != old) {
    return Fail(ErrorCode::kMutability, where + ": " + attr.name + " is immutable");
  }
  // RFC 7644 §3.5.2.2: removing (or unassigning) a required attribute is a "mutability" error.
  if (attr.required && now.is_null()) {
    return Fail(ErrorCode::kMutability, where + ": " + attr.name + " is required");
  }
  return {};
}

Status Patcher::Write(OpKind op, Json& container, const Target& t, const Json& value) {
  const Attribute& attr = *t.r.attr;
  const std::string where = "\"" + t.text + "\"";
  // RFC 7643 §2.5: null means unassigned; replacing with null removes, adding null adds nothing.
  if (value.is_null()) {
    if (op == OpKind::kReplace) return Remove(container, t, nullptr);
    return {};
  }

  if (t.filter == nullptr && t.sub == nullptr) {
    auto coerced = CoerceValue(attr, value, where);
    if (!coerced) return coerced.error();
    if (coerced->is_null()) {
      if (op == OpKind::kReplace) container.erase(attr.name);
      return {};
    }
    if (attr.multi_valued) {
      if (op == OpKind::kAdd) {
        // §3.5.2.1: add to a multi-valued attribute appends, without duplicates.
        AppendUnique(attr, container[attr.name], *coerced);
      } else {
        // §3.5.2.3: replace without a filter replaces all values.
        Json fresh = Json::array();
        AppendUnique(attr, fresh, *coerced);
        container[attr.name] = std::move(fresh);
      }
      return {};
    }
    if (attr.type == Type::kComplex) {
      // §3.5.2.1/§3.5.2.3: sub-attributes given are set, the others left unchanged. A reference
      // to a different resource (a new manager "value") replaces the whole object, so that no
      // stale "$ref" of the previous manager survives.
      Json& current = container[attr.name];
      const Attribute* value_sub = attr.FindSub("value");
      bool new_referent = value_sub != nullptr && current.is_object() &&
                          coerced->contains(value_sub->name) &&
                          current.value(value_sub->name, Json()) != (*coerced)[value_sub->name];
      if (!current.is_object() || new_referent) current = Json::object();
      current.update(*coerced);
      return {};
    }
    container[attr.name] = std::move(*coerced);
    return {};
  }

  Result<Json> sub_value = Json();
  if (t.sub != nullptr) {
    sub_value = CoerceValue(*t.sub, value, where);
    if (!sub_value) return sub_value.error();
  }

  if (t.filter == nullptr) {  // "attr.sub"
    Json& current = container[attr.name];
    if (!attr.multi_valued) {
      if (!current.is_object()) current = Json::object();
      return SetSub(current, *t.sub, *sub_value, where);
    }
    // A multi-valued attribute without a filter: the sub-attribute of every value.
    if (!current.is_array() || current.empty()) {
      current = Json::array({Json::object()});
    }
    std::vector<size_t> touched;
    for (size_t i = 0; i < current.size(); ++i) {
      if (!current[i].is_object()) continue;
      if (auto s = SetSub(current[i], *t.sub, *sub_value, where); !s) return s;
      touched.push_back(i);
    }
    ApplyPrimaryRule(current, touched);
    return {};
  }

  // "attr[filter]" or "attr[filter].sub"
  Result<Json> element_value = Json();
  if (t.sub == nullptr) {
    // Some clients wrap the one element a filter selects in an array.
    const Json& element = value.is_array() && value.size() == 1 ? value[0] : value;
    element_value = CoerceOne(attr, element, where);
    if (!element_value) return element_value.error();
    if (element_value->is_null()) {
      if (op == OpKind::kReplace) return Remove(container, t, nullptr);
      return {};
    }
  }
  Json& array = container[attr.name];
  const bool absent = !array.is_array() || array.empty();
  if (!array.is_array()) array = Json::array();
  std::vector<size_t> matched;
  for (size_t i = 0; i < array.size(); ++i) {
    if (array[i].is_object() && filter::MatchesElement(*t.filter, array[i], attr)) {
      matched.push_back(i);
    }
  }
  if (matched.empty()) {
    // RFC 7644 §3.5.2.3: a replace whose filter matches nothing is "noTarget". Entra ID (E-9)
    // sends emails[type eq "work"].value for users that have no emails at all: then the element
    // the filter describes is created. Add creates it in any case: adding is what it asks for.
    if (op == OpKind::kReplace && !absent) {
      return Fail(ErrorCode::kNoTarget, where + " matches no value");
    }
    Json element = Json::object();
    if (!CollectEqualities(*t.filter, attr, element)) {
      return Fail(ErrorCode::kNoTarget,
                  where + " matches no value, and its filter does not describe one to create");
    }
    if (t.sub != nullptr) {
      if (sub_value->is_null()) return {};
      element[t.sub->name] = *sub_value;
    } else {
      element.update(*element_value);
    }
    array.push_back(std::move(element));
    ApplyPrimaryRule(array, {array.size() - 1});
    return {};
  }
  for (size_t i : matched) {
    if (t.sub != nullptr) {
      if (auto s = SetSub(array[i], *t.sub, *sub_value, where); !s) return s;
    } else {
      // Add merges into the matching values; replace replaces them whole (§3.5.2.3: "all
      // matching record values SHALL be replaced"). Either way immutable sub-attributes stay.
      if (auto s =
              CheckImmutableSubs(attr, array[i], *element_value, op == OpKind::kReplace, where);
          !s) {
        return s;
      }
      if (op == OpKind::kAdd) {
        array[i].update(*element_value);
      } else {
        array[i] = *element_value;
      }
    }
  }
  ApplyPrimaryRule(array, matched);
  return {};
}

Status Patcher::Remove(Json& container, const Target& t, const Json* value) {
  const Attribute& attr = *t.r.attr;
  const std::string where = "\"" + t.text + "\"";
  auto found = container.find(attr.name);

  if (t.filter == nullptr && t.sub == nullptr) {
    if (found == container.end()) return {};
    if (attr.multi_valued && value != nullptr && !value->is_null()) {
      // Entra ID without the flag (E-5) and JumpCloud remove members as
      // {"op":"remove","path":"members","value":[{"value":"id"}]}: only the listed values go;
      // clearing the attribute would empty the group (apache/directory-scimple #436).
      auto listed = CoerceMulti(attr, *value, where);
      if (!listed) return listed.error();
      if (!found->is_array()) return {};
      Json kept = Json::array();
      for (const Json& element : *found) {
        bool drop = false;
        for (const Json& l : *listed) drop = drop || SameElement(attr, element, l);
        if (!drop) kept.push_back(element);
      }
      *found = std::move(kept);
      return {};
    }
    // §3.5.2.2: without a filter the attribute and all its values are removed.
    container.erase(found);
    return {};
  }

  if (t.filter == nullptr) {  // "attr.sub"
    if (found == container.end()) return {};
    if (!attr.multi_valued) {
      if (found->is_object()) found->erase(t.sub->name);
      return {};
    }
    if (!found->is_array()) return {};
    Json kept = Json::array();
    for (Json element : *found) {
      if (element.is_object()) element.erase(t.sub->name);
      if (!IsEmptyValue(element)) kept.push_back(std::move(element));
    }
    *found = std::move(kept);
    return {};
  }

  // §3.5.2.2: with a filter, the matching values (or their sub-attribute) are removed.
  bool any = false;
  if (found != container.end() && found->is_array()) {
    Json kept = Json::array();
    for (Json element : *found) {
      if (!element.is_object() || !filter::MatchesElement(*t.filter, element, attr)) {
        kept.push_back(std::move(element));
        continue;
      }
      any = true;
      if (t.sub == nullptr) continue;
      element.erase(t.sub->name);
      if (!IsEmptyValue(element)) kept.push_back(std::move(element));
    }
    *found = std::move(kept);
  }
  // Removing whole values that are already gone is idempotent (Okta repeats member removals);
  // a sub-attribute of no value is not a target at all.
  if (!any && t.sub != nullptr) return Fail(ErrorCode::kNoTarget, where + " matches no value");
  return {};
}

// ---- Group members held by a MemberStore (see apply.h)

std::optional<std::string> MemberValue(const Json& element) {
  if (element.is_string()) return element.get<std::string>();
  if (!element.is_object()) return std::nullopt;
  auto v = element.find("value");
  if (v == element.end() || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

// `members[value eq "id"]`, the shape Okta and flagged Entra ID use to remove one member.
std::optional<std::string> SingleValueEquality(const filter::Node& node, const Attribute& attr) {
  if (node.kind != filter::Node::Kind::kCompare || node.op != filter::CompareOp::kEq ||
      !node.value.is_string()) {
    return std::nullopt;
  }
  const Attribute* sub = FilterSub(node.path, attr);
  if (sub == nullptr || sub->name != "value") return std::nullopt;
  return node.value.get<std::string>();
}

Status Patcher::ApplyMembers(OpKind op, const Target& t, const Json* value) {
  const Attribute& attr = *t.r.attr;
  const std::string where = "\"" + t.text + "\"";
  MemberStore& store = *options_.members;
  const bool whole = t.filter == nullptr && t.sub == nullptr;

  if (whole && op != OpKind::kRemove) {
    auto members = CoerceMulti(attr, *value, where);
    if (!members) return members.error();
    for (const Json& m : *members) {
      if (!MemberValue(m))
        return Fail(ErrorCode::kInvalidValue, where + ": a member needs a value");
    }
    // §3.5.2.3: replace without a filter replaces all members (Okta O-10 sends the full list).
    if (op == OpKind::kReplace) {
      if (auto s = store.Clear(); !s) return s;
    }
    for (const Json& m : *members) {
      if (auto s = store.Add(m); !s) return s;
    }
    return {};
  }

  if (op == OpKind::kRemove && whole) {
    if (value == nullptr || value->is_null()) return store.Clear();
    // E-5 / JumpCloud: remove with a value list removes exactly those members, never all.
    Json listed = value->is_array() ? *value : Json::array({*value});
    for (const Json& l : listed) {
      auto id = MemberValue(l);
      if (!id) return Fail(ErrorCode::kInvalidValue, where + ": a member needs a value");
      auto removed = store.Remove(*id);
      if (!removed) return removed.error();
    }
    return {};
  }

  if (op == OpKind::kRemove && t.filter != nullptr) {
    if (t.sub == nullptr) {
      if (auto id = SingleValueEquality(*t.filter, attr)) {
        auto removed = store.Remove(*id);
        if (!removed) return removed.error();
        return {};
      }
    }
    // Any other filter, with or without a sub-attribute: the matching members leave the group.
    auto all = store.All();
    if (!all) return all.error();
    bool any = false;
    for (const Json& m : *all) {
      if (!filter::MatchesElement(*t.filter, m, attr)) continue;
      any = true;
      auto id = MemberValue(m);
      if (!id) continue;
      auto removed = store.Remove(*id);
      if (!removed) return removed.error();
    }
    if (!any && t.sub != nullptr) return Fail(ErrorCode::kNoTarget, where + " matches no value");
    return {};
  }

  return ApplyMembersByDiff(op, t, value);
}

// Rare shapes (filtered add/replace, "members.display"): apply them to the full member list in
// JSON and hand the store the difference. O(members), which these shapes cannot avoid anyway.
Status Patcher::ApplyMembersByDiff(OpKind op, const Target& t, const Json* value) {
  auto all = options_.members->All();
  if (!all) return all.error();
  Json before = Json::array();
  for (Json& m : *all) before.push_back(std::move(m));
  Json scratch = Json::object();
  scratch[t.r.attr->name] = before;
  Status s = op == OpKind::kRemove ? Remove(scratch, t, value) : Write(op, scratch, t, *value);
  if (!s) return s;
  Json after = scratch.value(t.r.attr->name, Json::array());
  if (!after.is_array()) after = Json::array();
  for (const Json& m : before) {
    bool kept = false;
    for (const Json& a : after) kept = kept || a == m;
    if (kept) continue;
    if (auto id = MemberValue(m)) {
      auto removed = options_.members->Remove(*id);
      if (!removed) return removed.error();
    }
  }
  for (const Json& a : after) {
    bool existed = false;
    for (const Json& m : before) existed = existed || a == m;
    if (existed) continue;
    if (!MemberValue(a)) {
      return Fail(ErrorCode::kInvalidValue, "\"" + t.text + "\": a member needs a value");
    }
    if (auto added = options_.members->Add(a); !added) return added;
  }
  return {};
}

// "schemas" lists the core schema and the extensions that hold attributes (RFC 7643 §3);
// an extension object that became empty is dropped.
void FixSchemas(Json& doc, ResourceType type, const schema::Registry& registry) {
  if (!doc["schemas"].is_array()) doc["schemas"] = Json::array();
  auto listed = [&](std::string_view urn) {
    const Json& schemas = doc["schemas"];
    for (const Json& s : schemas) {
      if (s.is_string() && EqualsIgnoreAsciiCase(s.get_ref<const std::string&>(), urn)) {
        return true;
      }
    }
    return false;
  };
  const std::string& core = registry.CoreSchema(type).id;
  if (!listed(core)) doc["schemas"].insert(doc["schemas"].begin(), core);
  for (const schema::Schema* ext : registry.Extensions(type)) {
    auto it = doc.find(ext->id);
    bool present = it != doc.end() && it->is_object() && !it->empty();
    if (it != doc.end() && !present) doc.erase(it);
    if (present && !listed(ext->id)) {
      doc["schemas"].push_back(ext->id);
    } else if (!present && listed(ext->id)) {
      Json kept = Json::array();
      for (const Json& s : doc["schemas"]) {
        if (!(s.is_string() && EqualsIgnoreAsciiCase(s.get_ref<const std::string&>(), ext->id))) {
          kept.push_back(s);
        }
      }
      doc["schemas"] = std::move(kept);
    }
  }
}

}  // namespace

Result<Json> ApplyPatch(Json doc, const Json& request, ResourceType type,
                        const schema::Registry& registry, const PatchOptions& options) {
  if (!doc.is_object()) return Fail(ErrorCode::kInternal, "stored resource is not an object");
  if (!request.is_object()) {
    return Fail(ErrorCode::kInvalidSyntax, "a PATCH body must be a PatchOp JSON object");
  }
  // RFC 7644 §3.5.2: the body carries the PatchOp schema URN and a non-empty Operations array.
  const Json* schemas = FindKey(request, "schemas");
  bool is_patch_op = false;
  if (schemas != nullptr && schemas->is_array()) {
    for (const Json& s : *schemas) {
      is_patch_op =
          is_patch_op ||
          (s.is_string() && EqualsIgnoreAsciiCase(s.get_ref<const std::string&>(), kPatchOpSchema));
    }
  }
  if (!is_patch_op) {
    return Fail(ErrorCode::kInvalidSyntax, "\"schemas\" must list " + std::string(kPatchOpSchema));
  }
  const Json* operations = FindKey(request, "Operations");
  if (operations == nullptr || !operations->is_array() || operations->empty()) {
    return Fail(ErrorCode::kInvalidSyntax, "\"Operations\" must be a non-empty array");
  }
  if (operations->size() > options.max_operations) {
    return Fail(ErrorCode::kPayloadTooLarge,
                "a PATCH may carry at most " + std::to_string(options.max_operations) +
                    " operations; this one has " + std::to_string(operations->size()));
  }

  // Atomic (§3.5.2): every operation works on this function's own copy, which a failure
  // discards; the caller's resource is never touched.
  Patcher patcher(doc, type, registry, options);
  for (size_t i = 0; i < operations->size(); ++i) {
    Status s = patcher.Apply((*operations)[i]);
    if (!s) {
      return Fail(s.error().code, "Operations[" + std::to_string(i) + "]: " + s.error().detail);
    }
  }
  FixSchemas(doc, type, registry);
  if (options.members != nullptr && type == ResourceType::kGroup) doc.erase("members");
  if (auto s = resource::CheckComplete(doc, type, registry); !s) return s.error();
  return doc;
}

}  // namespace idsync::scim::patch
