// The RFC 7643 §8.7.1 schema representations as JSON text, parsed once by Registry.
#pragma once

#include <string_view>

namespace idsync::scim::schema::data {

// Each is one JSON object in the RFC 7643 §7 form ("id", "name", "description", "attributes").
// Characteristics left out of an attribute take the §2.2 defaults when parsed.
extern const std::string_view kUserSchemaJson;
extern const std::string_view kGroupSchemaJson;
extern const std::string_view kEnterpriseUserSchemaJson;
// Not a schema: the common attributes of RFC 7643 §3.1 ("id", "externalId", "meta"), as a JSON
// array of attributes. The RFC defines them outside every schema; the registry adds them to each
// core schema so that they resolve like any other attribute.
extern const std::string_view kCommonAttributesJson;

}  // namespace idsync::scim::schema::data
