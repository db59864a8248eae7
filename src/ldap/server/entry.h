// An LDAP entry as the server builds it for one search: its DN and the attributes it carries,
// each with its schema type. Built per request from the effective directory (view.h), never
// stored.
#pragma once

#include <string>
#include <vector>

#include "ldap/server/schema.h"

namespace idsync::ldap {

struct EntryAttribute {
  const AttributeType* type = nullptr;
  std::vector<std::string> values;
};

struct Entry {
  std::string dn;
  std::vector<EntryAttribute> attributes;

  const EntryAttribute* Find(const AttributeType* type) const {
    for (const auto& a : attributes) {
      if (a.type == type) return &a;
    }
    return nullptr;
  }
  // Adds the values (none: nothing is added). Not for a type already present.
  void Add(const AttributeType* type, std::vector<std::string> values) {
    if (type == nullptr || values.empty()) return;
    attributes.push_back({type, std::move(values)});
  }
};

}  // namespace idsync::ldap
