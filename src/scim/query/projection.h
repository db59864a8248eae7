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
  // Either list may be empty. Items are comma-separated, case-insensitive, may be dotted
  // ("name.givenName") and URN-qualified ("urn:…:enterprise:2.0:User:department"); a bare schema
  // URN names all attributes of that schema. Unknown attribute names -> kInvalidFilter? No:
  // RFC 7644 says nothing; we return kInvalidValue naming the attribute so typos are visible.
  static Result<Projection> Parse(ResourceType type, std::string_view attributes,
                                  std::string_view excluded_attributes,
                                  const schema::Registry& registry);

  // Applies the projection to a full stored resource: drops returned=never always (password),
  // keeps returned=always ("id") and "schemas" whatever the lists say, returned=request only
  // when named in attributes, then attributes / excludedAttributes ("meta" is returned=default:
  // attributes=displayName leaves it out). Sub-attributes follow the same rules; complex values
  // and extension objects left empty are dropped. Thread-safe (const).
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
