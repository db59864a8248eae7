#include "ldap/server/evaluate.h"

#include <optional>
#include <string>

#include "base/strings.h"
#include "ldap/protocol/dn.h"
#include "ldap/server/matching.h"

namespace idsync::ldap {
namespace {

Truth FromBool(bool b) {
  return b ? Truth::kTrue : Truth::kFalse;
}

// objectCategory is a DN in AD, but AD also matches the class name alone:
// (objectCategory=Person) finds CN=Person,CN=Schema,... entries. Applications (Jira's AD
// defaults among them) use the short form.
bool IsObjectCategory(const AttributeType& type) {
  return type.name == "objectCategory";
}

std::optional<std::string> FirstRdnValue(std::string_view dn) {
  auto parsed = ParseDn(dn);
  if (!parsed || parsed->rdns.empty() || parsed->rdns[0].empty()) return std::nullopt;
  return FoldCase(parsed->rdns[0][0].value);
}

std::optional<bool> AnyValueEquals(const AttributeType& type, const EntryAttribute* attribute,
                                   std::string_view assertion) {
  if (IsObjectCategory(type) && assertion.find('=') == std::string_view::npos) {
    std::string want = FoldCase(assertion);
    if (attribute == nullptr) return false;
    for (const auto& v : attribute->values) {
      if (FirstRdnValue(v) == want) return true;
    }
    return false;
  }
  auto norm = NormalizeValue(type.matching, assertion);
  if (!norm) return std::nullopt;
  if (attribute == nullptr) return false;
  for (const auto& v : attribute->values) {
    auto nv = NormalizeValue(type.matching, v);
    if (nv && *nv == *norm) return true;
  }
  return false;
}

Truth Ordering(const Filter& f, const Entry& entry, const Schema& schema, bool greater) {
  const AttributeType* type = schema.Find(f.attribute);
  if (type == nullptr || !type->ordering) return Truth::kUndefined;
  auto norm = NormalizeValue(type->matching, f.value);
  if (!norm) return Truth::kUndefined;
  const EntryAttribute* attr = entry.Find(type);
  if (attr == nullptr) return Truth::kFalse;
  for (const auto& v : attr->values) {
    auto nv = NormalizeValue(type->matching, v);
    if (!nv) continue;
    if (greater ? *nv >= *norm : *nv <= *norm) return Truth::kTrue;
  }
  return Truth::kFalse;
}

enum class Rule {
  kUnknown,
  kEquality,
  kCaseIgnore,
  kCaseExact,
  kDn,
  kInteger,
  kOctets,
  kBoolean,
  kTime,
  kObjectId,
  kBitAnd,
  kBitOr
};

Rule RuleOf(std::string_view name) {
  if (name.empty()) return Rule::kEquality;
  std::string n = AsciiLower(name);
  if (n == "2.5.13.2" || n == "caseignorematch" || n == "1.3.6.1.4.1.1466.109.114.2" ||
      n == "caseignoreia5match") {
    return Rule::kCaseIgnore;
  }
  if (n == "2.5.13.5" || n == "caseexactmatch" || n == "1.3.6.1.4.1.1466.109.114.1" ||
      n == "caseexactia5match") {
    return Rule::kCaseExact;
  }
  if (n == "2.5.13.1" || n == "distinguishednamematch") return Rule::kDn;
  if (n == "2.5.13.14" || n == "integermatch") return Rule::kInteger;
  if (n == "2.5.13.17" || n == "octetstringmatch") return Rule::kOctets;
  if (n == "2.5.13.13" || n == "booleanmatch") return Rule::kBoolean;
  if (n == "2.5.13.27" || n == "generalizedtimematch") return Rule::kTime;
  if (n == "2.5.13.0" || n == "objectidentifiermatch") return Rule::kObjectId;
  if (n == "1.2.840.113556.1.4.803") return Rule::kBitAnd;
  if (n == "1.2.840.113556.1.4.804") return Rule::kBitOr;
  return Rule::kUnknown;
}

// Whether the rule applies to values of `type`, and with which normal form.
std::optional<Matching> RuleMatching(Rule rule, const AttributeType& type) {
  auto string_kind = [&](Matching m) -> std::optional<Matching> {
    if (type.matching == Matching::kCaseIgnore || type.matching == Matching::kCaseIgnoreIa5 ||
        type.matching == Matching::kCaseExactIa5) {
      return m;
    }
    return std::nullopt;
  };
  switch (rule) {
    case Rule::kEquality: return type.matching;
    case Rule::kCaseIgnore: return string_kind(Matching::kCaseIgnore);
    case Rule::kCaseExact: return string_kind(Matching::kCaseExactIa5);
    case Rule::kDn:
      return type.matching == Matching::kDn ? std::optional(Matching::kDn) : std::nullopt;
    case Rule::kInteger:
    case Rule::kBitAnd:
    case Rule::kBitOr:
      return type.matching == Matching::kInteger ? std::optional(Matching::kInteger) : std::nullopt;
    case Rule::kOctets: return Matching::kOctets;
    case Rule::kBoolean:
      return type.matching == Matching::kBoolean ? std::optional(Matching::kBoolean) : std::nullopt;
    case Rule::kTime:
      return type.matching == Matching::kTime ? std::optional(Matching::kTime) : std::nullopt;
    case Rule::kObjectId:
      return type.matching == Matching::kObjectClass ? std::optional(Matching::kObjectClass)
                                                     : std::nullopt;
    case Rule::kUnknown: return std::nullopt;
  }
  return std::nullopt;
}

// One value against the assertion under `rule`; nullopt when the assertion is invalid.
std::optional<bool> RuleMatches(Rule rule, Matching matching, std::string_view value,
                                std::string_view assertion) {
  if (rule == Rule::kBitAnd || rule == Rule::kBitOr) {
    auto a = ParseInteger(assertion);
    if (!a) return std::nullopt;
    auto v = ParseInteger(value);
    if (!v) return false;
    uint64_t bits = static_cast<uint64_t>(*v) & static_cast<uint64_t>(*a);
    return rule == Rule::kBitAnd ? bits == static_cast<uint64_t>(*a) : bits != 0;
  }
  auto na = NormalizeValue(matching, assertion);
  if (!na) return std::nullopt;
  auto nv = NormalizeValue(matching, value);
  return nv && *nv == *na;
}

Truth Extensible(const Filter& f, const Entry& entry, const Schema& schema) {
  Rule rule = RuleOf(f.matching_rule);
  if (rule == Rule::kUnknown) return Truth::kUndefined;
  bool undefined = false;
  auto check = [&](const AttributeType& type, const std::vector<std::string>& values) {
    auto m = RuleMatching(rule, type);
    if (!m) return false;
    for (const auto& v : values) {
      auto r = RuleMatches(rule, *m, v, f.value);
      if (!r) {
        undefined = true;
        return false;
      }
      if (*r) return true;
    }
    return false;
  };
  if (!f.attribute.empty()) {
    const AttributeType* type = schema.Find(f.attribute);
    if (type == nullptr || !RuleMatching(rule, *type)) return Truth::kUndefined;
    const EntryAttribute* attr = entry.Find(type);
    if (attr && check(*type, attr->values)) return Truth::kTrue;
  } else {
    if (rule == Rule::kEquality) return Truth::kUndefined;  // needs a type or a rule
    for (const auto& attr : entry.attributes) {
      if (check(*attr.type, attr.values)) return Truth::kTrue;
    }
  }
  if (f.dn_attributes) {
    auto dn = ParseDn(entry.dn);
    if (dn) {
      for (const auto& rdn : dn->rdns) {
        for (const auto& ava : rdn) {
          const AttributeType* type = schema.Find(ava.type);
          if (type == nullptr) continue;
          if (!f.attribute.empty() && schema.Find(f.attribute) != type) continue;
          if (check(*type, {ava.value})) return Truth::kTrue;
        }
      }
    }
  }
  return undefined ? Truth::kUndefined : Truth::kFalse;
}

}  // namespace

std::optional<bool> ValueEquals(const AttributeType& type, const EntryAttribute* attribute,
                                std::string_view assertion) {
  return AnyValueEquals(type, attribute, assertion);
}

Truth Evaluate(const Filter& f, const Entry& entry, const Schema& schema) {
  using K = Filter::Kind;
  switch (f.kind) {
    case K::kAnd: {
      Truth result = Truth::kTrue;
      for (const auto& c : f.children) {
        Truth t = Evaluate(c, entry, schema);
        if (t == Truth::kFalse) return Truth::kFalse;
        if (t == Truth::kUndefined) result = Truth::kUndefined;
      }
      return result;
    }
    case K::kOr: {
      Truth result = Truth::kFalse;
      for (const auto& c : f.children) {
        Truth t = Evaluate(c, entry, schema);
        if (t == Truth::kTrue) return Truth::kTrue;
        if (t == Truth::kUndefined) result = Truth::kUndefined;
      }
      return result;
    }
    case K::kNot: {
      if (f.children.size() != 1) return Truth::kUndefined;
      Truth t = Evaluate(f.children[0], entry, schema);
      if (t == Truth::kUndefined) return t;
      return t == Truth::kTrue ? Truth::kFalse : Truth::kTrue;
    }
    case K::kEquality:
    case K::kApprox: {
      const AttributeType* type = schema.Find(f.attribute);
      if (type == nullptr) return Truth::kUndefined;
      auto r = AnyValueEquals(*type, entry.Find(type), f.value);
      return r ? FromBool(*r) : Truth::kUndefined;
    }
    case K::kSubstrings: {
      const AttributeType* type = schema.Find(f.attribute);
      if (type == nullptr || !type->substrings) return Truth::kUndefined;
      const EntryAttribute* attr = entry.Find(type);
      if (attr == nullptr) return Truth::kFalse;
      for (const auto& v : attr->values) {
        auto nv = NormalizeValue(type->matching, v);
        if (nv && SubstringsMatch(type->matching, *nv, f.initial, f.any, f.final_value)) {
          return Truth::kTrue;
        }
      }
      return Truth::kFalse;
    }
    case K::kGreaterOrEqual: return Ordering(f, entry, schema, true);
    case K::kLessOrEqual: return Ordering(f, entry, schema, false);
    case K::kPresent: {
      const AttributeType* type = schema.Find(f.attribute);
      if (type == nullptr) return Truth::kUndefined;
      return FromBool(entry.Find(type) != nullptr);
    }
    case K::kExtensible: return Extensible(f, entry, schema);
  }
  return Truth::kUndefined;
}

}  // namespace idsync::ldap
