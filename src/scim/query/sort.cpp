#include "scim/query/sort.h"

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

}  // namespace idsync::scim::query
