// attributes / excludedAttributes (RFC 7644 §3.4.2.5, §3.9) and `returned` characteristics.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "scim/schema/registry.h"
#include "scim/types.h"

namespace idsync::scim::query {

// Parsed from the comma-separated query parameters. Names are resolved against the schema.
class Projection {
 public:
  // Either list may be empty. Unknown attribute names -> kInvalidFilter? No: RFC 7644 says
  // nothing; we return kInvalidValue naming the attribute so typos are visible.
  static Result<Projection> Parse(ResourceType type, std::string_view attributes,
                                  std::string_view excluded_attributes,
                                  const schema::Registry& registry);

  // Applies the projection to a full stored resource: drops returned=never always (password),
  // keeps returned=always (id, schemas, userName? no: id and schemas and meta.resourceType…),
  // returned=request only when asked for, then attributes / excludedAttributes.
  Json Apply(const Json& resource) const;

  // Whether the projected output can contain the attribute (used to skip loading group members:
  // IncludesAttribute("members") is false for excludedAttributes=members).
  bool IncludesAttribute(std::string_view attr) const;

 private:
  ResourceType type_ = ResourceType::kUser;
  const schema::Registry* registry_ = nullptr;
  std::vector<std::string> attributes_;  // canonical dotted names, lower-cased
  std::vector<std::string> excluded_;
};

}  // namespace idsync::scim::query
