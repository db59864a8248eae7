#include "scim/query/sort.h"

#include <algorithm>
#include <optional>

#include "base/strings.h"

namespace idsync::scim::query {

const Json* SortValue(const Json& resource, const schema::ResolvedAttribute& r) {
  const Json* node = &resource;
  if (r.in_extension) {
    auto it = node->find(r.schema->id);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  auto it = node->find(r.attr->name);
  if (it == node->end()) return nullptr;
  node = &*it;
  if (node->is_array()) {
    if (node->empty()) return nullptr;
    const Json* pick = &(*node)[0];
    for (const auto& e : *node) {
      if (e.is_object() && e.value("primary", false)) {
        pick = &e;
        break;
      }
    }
    node = pick;
    if (node->is_object() && !r.sub) {
      auto v = node->find("value");
      return v == node->end() ? nullptr : &*v;
    }
  }
  if (r.sub) {
    if (!node->is_object()) return nullptr;
    auto s = node->find(r.sub->name);
    return s == node->end() ? nullptr : &*s;
  }
  return node;
}

std::vector<size_t> SortOrder(size_t n, const std::function<const Json&(size_t)>& resource,
                              const schema::ResolvedAttribute& by, bool descending) {
  const auto& attr = by.target();
  const bool fold = attr.type == schema::Type::kString && !attr.case_exact;
  std::vector<std::pair<std::optional<Json>, size_t>> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const Json* v = SortValue(resource(i), by);
    if (!v || v->is_null()) {
      keys.emplace_back(std::nullopt, i);
    } else if (fold && v->is_string()) {
      keys.emplace_back(Json(FoldCase(v->get<std::string>())), i);
    } else {
      keys.emplace_back(*v, i);
    }
  }
  std::stable_sort(keys.begin(), keys.end(), [&](const auto& a, const auto& b) {
    if (!a.first || !b.first) return a.first.has_value() && !b.first.has_value();
    return descending ? *b.first < *a.first : *a.first < *b.first;
  });
  std::vector<size_t> order;
  order.reserve(n);
  for (const auto& k : keys) order.push_back(k.second);
  return order;
}

}  // namespace idsync::scim::query
