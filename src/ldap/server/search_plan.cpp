#include "ldap/server/search_plan.h"

#include <algorithm>

#include "base/strings.h"
#include "ldap/protocol/dn.h"
#include "ldap/server/evaluate.h"
#include "ldap/server/matching.h"

namespace idsync::ldap {
namespace {

// The terms every entry must satisfy: the children of a top-level AND, or the filter itself.
std::vector<const Filter*> Conjuncts(const Filter& f) {
  std::vector<const Filter*> out;
  if (f.kind == Filter::Kind::kAnd) {
    for (const auto& c : f.children) {
      auto inner = Conjuncts(c);
      out.insert(out.end(), inner.begin(), inner.end());
    }
  } else {
    out.push_back(&f);
  }
  return out;
}

bool Is(const Schema& schema, const std::string& attribute, const char* name) {
  const AttributeType* t = schema.Find(attribute);
  return t != nullptr && t->name == name;
}

}  // namespace

bool SearchPlan::Excluded(bool users) const {
  // A prototype with every object class (and AD object category) the kind can carry.
  Entry proto;
  const AttributeType* oc = schema_.Find("objectClass");
  if (users) {
    proto.Add(oc, {"top", "person", "organizationalPerson", ad_ ? "user" : "inetOrgPerson",
                   "posixAccount", "idsyncUser"});
  } else {
    proto.Add(oc, ad_ ? std::vector<std::string>{"top", "group", "posixGroup"}
                      : std::vector<std::string>{"top", "groupOfNames", "groupOfUniqueNames",
                                                 "posixGroup"});
  }
  if (ad_) {
    proto.Add(schema_.Find("objectCategory"), {std::string(users ? "CN=Person" : "CN=Group") +
                                               ",CN=Schema,CN=Configuration," + tree_.suffix()});
  }
  for (const Filter* c : Conjuncts(filter_)) {
    if (c->kind != Filter::Kind::kEquality) continue;
    if (!Is(schema_, c->attribute, "objectClass") && !Is(schema_, c->attribute, "objectCategory")) {
      continue;
    }
    if (Evaluate(*c, proto, schema_) == Truth::kFalse) return true;
  }
  return false;
}

std::optional<Lookup> SearchPlan::LookupOf(const Filter& f, bool users) const {
  if (f.kind != Filter::Kind::kEquality && f.kind != Filter::Kind::kApprox) return std::nullopt;
  const AttributeType* t = schema_.Find(f.attribute);
  if (t == nullptr) return std::nullopt;
  const std::string& n = t->name;
  if (n == "entryUUID") {
    return Lookup{users ? Lookup::kUserId : Lookup::kGroupId, AsciiLower(f.value)};
  }
  if (n == "objectGUID" && ad_ && f.value.size() == 16) {
    // Back from AD byte order to UUID text.
    static constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    std::string hex;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) {
      auto b = static_cast<unsigned char>(f.value[kOrder[i]]);
      hex.push_back(kHex[b >> 4]);
      hex.push_back(kHex[b & 15]);
      if (i == 3 || i == 5 || i == 7 || i == 9) hex.push_back('-');
    }
    return Lookup{users ? Lookup::kUserId : Lookup::kGroupId, hex};
  }
  if (n == "distinguishedName" || n == "entryDN") {
    // The entry a DN names (Atlassian's AD connector re-reads groups by distinguishedName).
    auto dn = ParseDn(f.value);
    if (!dn) return std::nullopt;
    auto loc = tree_.Locate(*dn);
    if (users && loc.kind == Tree::Location::kUser) return Lookup{Lookup::kUsername, loc.value};
    if (!users && loc.kind == Tree::Location::kGroup) return Lookup{Lookup::kGroupName, loc.value};
    return Lookup{users ? Lookup::kUserId : Lookup::kGroupId, ""};  // names no such entry
  }
  if (users) {
    if (n == "uid" || n == "cn" || (ad_ && (n == "sAMAccountName" || n == "name"))) {
      return Lookup{Lookup::kUsername, f.value};
    }
    if (n == "mail") return Lookup{Lookup::kMail, f.value};
    if (n == "memberOf") return Lookup{Lookup::kMembersOf, f.value};
  } else {
    if (n == "cn" || (ad_ && (n == "sAMAccountName" || n == "name"))) {
      return Lookup{Lookup::kGroupName, f.value};
    }
    if (n == "member" || n == "uniqueMember") return Lookup{Lookup::kGroupsOfUser, f.value};
  }
  return std::nullopt;
}

std::optional<std::vector<Lookup>> SearchPlan::Lookups(bool users) const {
  std::optional<std::vector<Lookup>> members_of;
  for (const Filter* c : Conjuncts(filter_)) {
    if (auto l = LookupOf(*c, users)) {
      if (l->kind == Lookup::kMembersOf) {
        if (!members_of) members_of = std::vector<Lookup>{*l};
        continue;
      }
      return std::vector<Lookup>{*l};
    }
    if (c->kind == Filter::Kind::kOr && !c->children.empty()) {
      std::vector<Lookup> all;
      for (const auto& child : c->children) {
        auto l = LookupOf(child, users);
        if (!l || l->kind == Lookup::kMembersOf) {
          all.clear();
          break;
        }
        all.push_back(*l);
      }
      if (!all.empty()) return all;
    }
  }
  return members_of;
}

std::optional<int64_t> SearchPlan::FeedStart() const {
  if (!ad_) return std::nullopt;
  for (const Filter* c : Conjuncts(filter_)) {
    if (c->kind != Filter::Kind::kGreaterOrEqual || !Is(schema_, c->attribute, "uSNChanged")) {
      continue;
    }
    auto n = ParseInteger(c->value);
    if (!n) continue;
    return std::max<int64_t>(0, *n - 1);
  }
  return std::nullopt;
}

}  // namespace idsync::ldap
