// In-memory filter evaluation (RFC 7644 §3.4.2.2) over resources in stored JSON form.
//
// Each leaf (pr or compare) is compiled once into a CompiledLeaf: where the value lives in the
// JSON (extension URN key, canonical attribute name, sub-attribute step), which attribute's
// characteristics govern the comparison, and the compValue converted for that type (folded
// text, parsed dateTime, number). Validate stores it in the node; Matches uses it when it fits
// the registry/type/parent at hand and otherwise compiles a temporary one per call.
#include "scim/filter/evaluate.h"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/strings.h"
#include "base/time.h"
#include "scim/filter/parser.h"

namespace idsync::scim::filter {

struct CompiledLeaf {
  // What it was compiled for: a top-level leaf for (registry, type), an inner leaf of a value
  // path for the multi-valued attribute `parent`.
  const schema::Registry* registry = nullptr;
  ResourceType type = ResourceType::kUser;
  const schema::Attribute* parent = nullptr;

  std::string ext_urn;                        // non-empty: the value lives under this key
  const schema::Attribute* attr = nullptr;    // looked up in the (extension) object or element
  const schema::Attribute* step = nullptr;    // then this sub-attribute in each value, if set
  const schema::Attribute* target = nullptr;  // whose type/caseExact govern the comparison

  // The compValue for `target`.
  enum class Lit { kNull, kText, kBool, kInt, kDouble, kTime };
  Lit lit = Lit::kNull;
  bool case_exact = true;
  std::string text;  // kText: folded when !case_exact
  bool boolean = false;
  int64_t integer = 0;
  double decimal = 0;
  TimePoint time{};
};

namespace {

using schema::Attribute;
using schema::Type;
using Leaf = CompiledLeaf;

// RFC 7643 §3: "schemas" is on every resource but in no schema; clients filter on it (RFC 7644
// §3.4.2.2 example `schemas eq "urn:...:enterprise:2.0:User"`). URNs compare case-insensitively
// (RFC 8141 §3.1 for the "urn" and NID parts; good enough for the rest).
const Attribute& SchemasAttribute() {
  static const Attribute attr = [] {
    Attribute a;
    a.name = "schemas";
    a.type = Type::kString;
    a.multi_valued = true;
    a.case_exact = false;
    return a;
  }();
  return attr;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

Error FilterError(std::string detail) {
  return Error{ErrorCode::kInvalidFilter, std::move(detail)};
}

std::string Quoted(const AttrPath& path) {
  return "'" + Print(path) + "'";
}

bool IsOrdering(CompareOp op) {
  return op == CompareOp::kGt || op == CompareOp::kGe || op == CompareOp::kLt ||
         op == CompareOp::kLe;
}
bool IsSubstring(CompareOp op) {
  return op == CompareOp::kCo || op == CompareOp::kSw || op == CompareOp::kEw;
}

// Converts the node's compValue for leaf->target. Errors name the attribute.
Status CompileLiteral(const Node& node, Leaf* leaf) {
  const Attribute& t = *leaf->target;
  const Json& v = node.value;
  auto bad = [&](std::string_view why) {
    return FilterError("filter on " + Quoted(node.path) + ": " + std::string(why));
  };
  if (v.is_null()) {
    if (node.op != CompareOp::kEq && node.op != CompareOp::kNe) {
      return bad("null can only be compared with eq or ne");
    }
    leaf->lit = Leaf::Lit::kNull;
    return Status::Ok();
  }
  switch (t.type) {
    case Type::kBoolean: {
      if (node.op != CompareOp::kEq && node.op != CompareOp::kNe) {
        return bad("a boolean attribute supports only eq, ne and pr");
      }
      if (v.is_boolean()) {
        leaf->boolean = v.get<bool>();
      } else if (v.is_string() && EqualsIgnoreAsciiCase(v.get_ref<const std::string&>(), "true")) {
        leaf->boolean = true;  // Entra ID sends booleans as strings (IDP-QUIRKS E-2)
      } else if (v.is_string() && EqualsIgnoreAsciiCase(v.get_ref<const std::string&>(), "false")) {
        leaf->boolean = false;
      } else {
        return bad("expected true or false");
      }
      leaf->lit = Leaf::Lit::kBool;
      return Status::Ok();
    }
    case Type::kInteger:
    case Type::kDecimal:
      if (IsSubstring(node.op)) return bad("co, sw and ew need a string attribute");
      if (v.is_number_integer()) {
        leaf->lit = Leaf::Lit::kInt;
        leaf->integer = v.get<int64_t>();
        leaf->decimal = static_cast<double>(leaf->integer);
      } else if (v.is_number_float()) {
        leaf->lit = Leaf::Lit::kDouble;
        leaf->decimal = v.get<double>();
      } else {
        return bad("expected a number");
      }
      return Status::Ok();
    case Type::kDateTime:
      if (!v.is_string()) return bad("expected a dateTime string");
      if (IsSubstring(node.op)) {  // on the stored text, e.g. meta.created sw "2026-"
        leaf->lit = Leaf::Lit::kText;
        leaf->case_exact = true;
        leaf->text = v.get<std::string>();
        return Status::Ok();
      }
      if (auto tp = ParseRfc3339(v.get_ref<const std::string&>())) {
        leaf->lit = Leaf::Lit::kTime;
        leaf->time = *tp;
        return Status::Ok();
      }
      return bad("'" + v.get<std::string>() + "' is not an RFC 3339 dateTime");
    case Type::kComplex:
      return bad(
          "a complex attribute without a \"value\" sub-attribute can only be tested with pr");
    case Type::kBinary:
      // RFC 7644 §3.4.2.2: gt/ge/lt/le on boolean or binary -> invalidFilter.
      if (IsOrdering(node.op)) return bad("a binary attribute cannot be ordered");
      [[fallthrough]];
    case Type::kString:
    case Type::kReference: {
      std::string text;
      if (v.is_string()) {
        text = v.get<std::string>();
      } else if (v.is_number() || v.is_boolean()) {
        text = v.dump();  // bare-word leniency: `externalId eq 12345` means the text 12345
      } else {
        return bad("expected a string");
      }
      // RFC 7643 §2.3.7/§2.3.8: binary and reference values are case-exact.
      leaf->case_exact = t.type != Type::kString || t.case_exact;
      leaf->text = leaf->case_exact ? std::move(text) : FoldCase(text);
      leaf->lit = Leaf::Lit::kText;
      return Status::Ok();
    }
  }
  return bad("unsupported attribute type");
}

// Resolves the leaf's attribute and converts its value. `parent` is set for the inner filter
// of a value path, whose names are sub-attributes of `parent`.
Status CompileLeaf(const Node& node, ResourceType type, const schema::Registry* registry,
                   const Attribute* parent, Leaf* leaf) {
  leaf->registry = registry;
  leaf->type = type;
  leaf->parent = parent;
  if (parent) {
    if (!node.path.urn.empty() || !node.path.sub.empty()) {
      return FilterError("inside " + parent->name + "[...], " + Quoted(node.path) +
                         " must be a plain sub-attribute name");
    }
    const Attribute* sub = parent->FindSub(node.path.attr);
    if (!sub) {
      return FilterError("unknown sub-attribute " + Quoted(node.path) + " of '" + parent->name +
                         "'");
    }
    leaf->attr = sub;
    leaf->target = sub;
  } else {
    if (!registry) return FilterError("no schema to resolve " + Quoted(node.path));
    auto resolved = registry->Resolve(type, node.path.urn, node.path.attr, node.path.sub);
    if (resolved) {
      if (resolved->in_extension) leaf->ext_urn = resolved->schema->id;
      leaf->attr = resolved->attr;
      leaf->step = resolved->sub;
      leaf->target = &resolved->target();
    } else if (node.path.urn.empty() && node.path.sub.empty() &&
               EqualsIgnoreAsciiCase(node.path.attr, "schemas")) {
      leaf->attr = &SchemasAttribute();
      leaf->target = leaf->attr;
    } else {
      return FilterError("filter on " + Quoted(node.path) + ": " + resolved.error().detail);
    }
  }
  // Filtering on a value that is never returned would let a client probe it (password).
  if (leaf->target->returned == schema::Returned::kNever ||
      leaf->target->mutability == schema::Mutability::kWriteOnly) {
    return FilterError("attribute " + Quoted(node.path) + " cannot be used in a filter");
  }
  if (node.kind == Node::Kind::kPresent) return Status::Ok();
  if (leaf->target->type == Type::kComplex) {
    // RFC 7644 §3.4.2.2 (see the `emails co "example.com"` example): a complex attribute
    // without a sub-attribute is compared through its "value" sub-attribute.
    if (const Attribute* value = leaf->target->FindSub("value")) {
      leaf->step = value;
      leaf->target = value;
    }
  }
  return CompileLiteral(node, leaf);
}

// Either the node's stored compilation (if it fits) or a fresh one in `scratch`.
const Leaf* LeafFor(const Node& node, ResourceType type, const schema::Registry* registry,
                    const Attribute* parent, Leaf* scratch) {
  if (const Leaf* c = node.compiled.get()) {
    if (parent ? c->parent == parent
               : (c->parent == nullptr && c->registry == registry && c->type == type)) {
      return c;
    }
  }
  if (!CompileLeaf(node, type, registry, parent, scratch)) return nullptr;
  return scratch;
}

// Calls `pred` on every value the leaf addresses until it returns true. Multi-valued
// attributes match if any value matches (RFC 7644 §3.4.2.2).
template <typename Pred>
bool AnyOf(const Json& v, Pred&& pred) {
  if (v.is_array()) {
    for (const Json& e : v) {
      if (pred(e)) return true;
    }
    return false;
  }
  return pred(v);
}

template <typename Pred>
bool AnyValue(const Json& container, const Leaf& leaf, Pred&& pred) {
  const Json* base = &container;
  if (!leaf.ext_urn.empty()) {
    base = FindMember(container, leaf.ext_urn);
    if (!base) return false;
  }
  const Json* v = FindMember(*base, leaf.attr->name);
  if (!v) return false;
  if (!leaf.step) return AnyOf(*v, pred);
  return AnyOf(*v, [&](const Json& element) {
    const Json* s = FindMember(element, leaf.step->name);
    return s && AnyOf(*s, pred);
  });
}

// RFC 7644 §3.4.2.2 "pr": has a non-empty value.
bool IsPresent(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return false;
    case Json::value_t::string: return !v.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object: {
      if (v.empty()) return false;
      for (const Json& e : v) {  // {"value": null} or [null, ""] hold nothing either
        if (IsPresent(e)) return true;
      }
      return false;
    }
    default: return true;
  }
}

template <typename T>
bool Order(CompareOp op, const T& a, const T& b) {
  switch (op) {
    case CompareOp::kEq: return a == b;
    case CompareOp::kNe: return !(a == b);
    case CompareOp::kGt: return b < a;
    case CompareOp::kGe: return !(a < b);
    case CompareOp::kLt: return a < b;
    case CompareOp::kLe: return !(b < a);
    default: return false;
  }
}

bool TextOp(CompareOp op, std::string_view a, std::string_view lit) {
  switch (op) {
    case CompareOp::kCo: return a.find(lit) != std::string_view::npos;
    case CompareOp::kSw: return a.starts_with(lit);
    case CompareOp::kEw: return a.ends_with(lit);
    default: return Order(op, a, lit);  // byte order of UTF-8 is code point order
  }
}

// One value against the leaf's compValue with operator `op` (never kNe: see Compare).
bool CompareValue(const Leaf& leaf, CompareOp op, const Json& x) {
  switch (leaf.lit) {
    case Leaf::Lit::kNull: return false;
    case Leaf::Lit::kText: {
      if (!x.is_string()) return false;
      const std::string& s = x.get_ref<const std::string&>();
      if (leaf.case_exact) return TextOp(op, s, leaf.text);
      if (IsAscii(s)) {
        // ASCII folds to ASCII lower case; reuse one buffer instead of allocating per value.
        thread_local std::string lowered;
        lowered.assign(s);
        for (char& c : lowered) {
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        }
        return TextOp(op, lowered, leaf.text);
      }
      return TextOp(op, FoldCase(s), leaf.text);
    }
    case Leaf::Lit::kBool:
      if (x.is_boolean()) return Order(op, x.get<bool>(), leaf.boolean);
      return false;
    case Leaf::Lit::kInt:
      if (x.is_number_integer()) return Order(op, x.get<int64_t>(), leaf.integer);
      if (x.is_number()) return Order(op, x.get<double>(), leaf.decimal);
      return false;
    case Leaf::Lit::kDouble:
      if (x.is_number()) return Order(op, x.get<double>(), leaf.decimal);
      return false;
    case Leaf::Lit::kTime: {
      if (!x.is_string()) return false;
      auto tp = ParseRfc3339(x.get_ref<const std::string&>());
      return tp && Order(op, *tp, leaf.time);
    }
  }
  return false;
}

bool EvalLeaf(const Node& node, const Leaf& leaf, const Json& container) {
  if (node.kind == Node::Kind::kPresent) return AnyValue(container, leaf, IsPresent);
  if (leaf.lit == Leaf::Lit::kNull) {
    bool present = AnyValue(container, leaf, IsPresent);
    return node.op == CompareOp::kEq ? !present : present;
  }
  if (node.op == CompareOp::kNe) {
    // See evaluate.h: absent/null/empty is "not identical"; otherwise any value that differs.
    bool any_value = false;
    bool differs = AnyValue(container, leaf, [&](const Json& x) {
      if (x.is_null()) return false;
      any_value = true;
      return !CompareValue(leaf, CompareOp::kEq, x);
    });
    return differs || !any_value;
  }
  return AnyValue(container, leaf, [&](const Json& x) { return CompareValue(leaf, node.op, x); });
}

// `parent` set: evaluating a value path's inner filter against one element.
bool Eval(const Node& node, const Json& json, ResourceType type, const schema::Registry* registry,
          const Attribute* parent) {
  switch (node.kind) {
    case Node::Kind::kAnd:
      return node.left && node.right && Eval(*node.left, json, type, registry, parent) &&
             Eval(*node.right, json, type, registry, parent);
    case Node::Kind::kOr:
      return node.left && node.right &&
             (Eval(*node.left, json, type, registry, parent) ||
              Eval(*node.right, json, type, registry, parent));
    case Node::Kind::kNot: return node.left && !Eval(*node.left, json, type, registry, parent);
    case Node::Kind::kPresent:
    case Node::Kind::kCompare: {
      Leaf scratch;
      const Leaf* leaf = LeafFor(node, type, registry, parent, &scratch);
      return leaf && EvalLeaf(node, *leaf, json);
    }
    case Node::Kind::kValuePath: {
      if (parent || !node.left) return false;  // value paths do not nest
      Leaf scratch;
      const Leaf* leaf = node.compiled.get();
      if (!leaf || leaf->registry != registry || leaf->type != type) {
        auto resolved = registry->Resolve(type, node.path.urn, node.path.attr, node.path.sub);
        if (!resolved || resolved->sub || resolved->attr->type != Type::kComplex) return false;
        if (resolved->in_extension) scratch.ext_urn = resolved->schema->id;
        scratch.attr = resolved->attr;
        leaf = &scratch;
      }
      const Json* base = &json;
      if (!leaf->ext_urn.empty()) {
        base = FindMember(json, leaf->ext_urn);
        if (!base) return false;
      }
      const Json* v = FindMember(*base, leaf->attr->name);
      if (!v) return false;
      return AnyOf(*v, [&](const Json& element) {
        return element.is_object() && Eval(*node.left, element, type, registry, leaf->attr);
      });
    }
  }
  return false;
}

Status ValidateNode(const Node& node, ResourceType type, const schema::Registry& registry,
                    const Attribute* parent) {
  switch (node.kind) {
    case Node::Kind::kAnd:
    case Node::Kind::kOr:
      if (!node.left || !node.right) return FilterError("and/or without two operands");
      if (Status s = ValidateNode(*node.left, type, registry, parent); !s) return s;
      return ValidateNode(*node.right, type, registry, parent);
    case Node::Kind::kNot:
      if (!node.left) return FilterError("not without operand");
      return ValidateNode(*node.left, type, registry, parent);
    case Node::Kind::kPresent:
    case Node::Kind::kCompare: {
      auto leaf = std::make_shared<Leaf>();
      if (Status s = CompileLeaf(node, type, &registry, parent, leaf.get()); !s) return s;
      node.compiled = std::move(leaf);
      return Status::Ok();
    }
    case Node::Kind::kValuePath: {
      if (parent) return FilterError("value filters cannot nest: " + Quoted(node.path));
      if (!node.left) return FilterError("empty value filter on " + Quoted(node.path));
      if (!node.path.sub.empty()) {
        return FilterError("a value filter must follow an attribute without sub-attribute: " +
                           Quoted(node.path));
      }
      auto resolved = registry.Resolve(type, node.path.urn, node.path.attr, "");
      if (!resolved) {
        return FilterError("filter on " + Quoted(node.path) + ": " + resolved.error().detail);
      }
      if (resolved->attr->type != Type::kComplex) {
        return FilterError("a value filter [...] needs a complex attribute; " + Quoted(node.path) +
                           " is not one");
      }
      auto leaf = std::make_shared<Leaf>();
      leaf->registry = &registry;
      leaf->type = type;
      if (resolved->in_extension) leaf->ext_urn = resolved->schema->id;
      leaf->attr = resolved->attr;
      leaf->target = resolved->attr;
      if (Status s = ValidateNode(*node.left, type, registry, resolved->attr); !s) return s;
      node.compiled = std::move(leaf);
      return Status::Ok();
    }
  }
  return FilterError("unknown filter node");
}

}  // namespace

Status Validate(const Node& node, ResourceType type, const schema::Registry& registry) {
  return ValidateNode(node, type, registry, nullptr);
}

bool Matches(const Node& node, const Json& resource, ResourceType type,
             const schema::Registry& registry) {
  return Eval(node, resource, type, &registry, nullptr);
}

bool MatchesElement(const Node& inner, const Json& element, const schema::Attribute& attr) {
  if (!element.is_object()) return false;
  return Eval(inner, element, ResourceType::kUser, nullptr, &attr);
}

}  // namespace idsync::scim::filter
