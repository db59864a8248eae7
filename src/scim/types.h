// Names shared across the SCIM core.
#pragma once

#include <string_view>

namespace idsync::scim {

enum class ResourceType { kUser, kGroup };

inline constexpr std::string_view kUserSchema = "urn:ietf:params:scim:schemas:core:2.0:User";
inline constexpr std::string_view kGroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group";
inline constexpr std::string_view kEnterpriseUserSchema =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
inline constexpr std::string_view kListResponseSchema =
    "urn:ietf:params:scim:api:messages:2.0:ListResponse";
inline constexpr std::string_view kPatchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
inline constexpr std::string_view kSearchRequestSchema =
    "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
inline constexpr std::string_view kBulkRequestSchema =
    "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
inline constexpr std::string_view kBulkResponseSchema =
    "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
inline constexpr std::string_view kErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error";

inline std::string_view ResourceTypeName(ResourceType t) {
  return t == ResourceType::kUser ? "User" : "Group";
}

}  // namespace idsync::scim
