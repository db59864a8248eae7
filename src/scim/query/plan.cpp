#include "scim/query/plan.h"

#include <algorithm>

#include "base/strings.h"

namespace idsync::scim::query {

bool NamesAttr(const filter::AttrPath& path, std::string_view core_urn, std::string_view attr) {
  return (path.urn.empty() || EqualsIgnoreAsciiCase(path.urn, core_urn)) &&
         EqualsIgnoreAsciiCase(path.attr, attr);
}

bool Mentions(const filter::Node& node, std::string_view attr) {
  if (EqualsIgnoreAsciiCase(node.path.attr, attr)) return true;
  if (node.left && Mentions(*node.left, attr)) return true;
  if (node.right && Mentions(*node.right, attr)) return true;
  return false;
}

std::optional<IndexPlan> PlanIndex(const filter::Node& n, ResourceType type, unsigned indexes) {
  using Kind = filter::Node::Kind;
  if (n.kind == Kind::kAnd) {
    if (auto p = PlanIndex(*n.left, type, indexes)) return p;
    return PlanIndex(*n.right, type, indexes);
  }
  const bool user = type == ResourceType::kUser;
  std::string_view core = user ? kUserSchema : kGroupSchema;
  if (n.kind == Kind::kCompare && n.op == filter::CompareOp::kEq && n.value.is_string()) {
    const std::string& v = n.value.get_ref<const std::string&>();
    const auto& p = n.path;
    if (p.sub.empty()) {
      if ((indexes & kIndexId) && NamesAttr(p, core, "id")) return IndexPlan{"id", v};
      if ((indexes & kIndexExternalId) && NamesAttr(p, core, "externalId")) {
        return IndexPlan{"externalId", FoldCase(v)};
      }
      const char* name = user ? "userName" : "displayName";
      if ((indexes & kIndexName) && NamesAttr(p, core, name)) return IndexPlan{name, FoldCase(v)};
      if ((indexes & kIndexEmails) && user && NamesAttr(p, core, "emails")) {
        return IndexPlan{"emails.value", FoldCase(v)};  // emails eq x compares emails.value
      }
    } else if ((indexes & kIndexEmails) && user && NamesAttr(p, core, "emails") &&
               EqualsIgnoreAsciiCase(p.sub, "value")) {
      return IndexPlan{"emails.value", FoldCase(v)};
    }
  }
  if (n.kind == Kind::kValuePath && (indexes & kIndexEmails) && user &&
      NamesAttr(n.path, core, "emails") && n.left) {
    // emails[type eq "work" and value eq "x"]: look for value eq inside.
    const filter::Node* stack[64];
    int top = 0;
    stack[top++] = n.left.get();
    while (top > 0) {
      const filter::Node* c = stack[--top];
      if (c->kind == Kind::kAnd && top + 2 <= 64) {
        stack[top++] = c->left.get();
        stack[top++] = c->right.get();
      } else if (c->kind == Kind::kCompare && c->op == filter::CompareOp::kEq &&
                 c->value.is_string() && EqualsIgnoreAsciiCase(c->path.attr, "value") &&
                 c->path.sub.empty()) {
        return IndexPlan{"emails.value", FoldCase(c->value.get<std::string>())};
      }
    }
  }
  return std::nullopt;
}

int64_t PageSize(const std::optional<int64_t>& count, int64_t max_results) {
  return count ? std::clamp<int64_t>(*count, 0, max_results) : max_results;
}

}  // namespace idsync::scim::query
