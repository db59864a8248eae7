// The schemas and resource types idsync serves, and attribute-path resolution against them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "scim/schema/attribute.h"
#include "scim/types.h"

namespace idsync::scim::schema {

// A resolved reference to an attribute of one resource type.
struct ResolvedAttribute {
  const Schema* schema = nullptr;   // core or extension schema holding the attribute
  const Attribute* attr = nullptr;  // top-level attribute
  const Attribute* sub = nullptr;   // sub-attribute, or nullptr
  bool in_extension = false;        // true if `schema` is an extension (JSON lives under its URN)
  // The attribute that is finally addressed: sub if set, else attr.
  const Attribute& target() const { return sub ? *sub : *attr; }
};

// Immutable after construction; safe to share between threads.
class Registry {
 public:
  Registry(const Registry&) = delete;  // core_ and extensions_ point into its own schemas_
  Registry& operator=(const Registry&) = delete;

  // The registry with RFC 7643 User (+ EnterpriseUser extension) and Group.
  static const Registry& Default();

  // Another face of the server (the read API of the effective directory): the core User and
  // Group schemas, the EnterpriseUser extension only if `enterprise_user`, and the given
  // extension schemas in the RFC 7643 §7 form ({"id", "name", "description", "attributes":
  // [{"name", "type", "multiValued", ...}]}, characteristics defaulting as in §2.2) registered
  // as extensions of User and of Group. kInvalidValue naming the schema and attribute if one is
  // malformed (unknown type or characteristic, sub-attributes on a non-complex attribute, a
  // duplicate name or schema id). The caller owns the result; it is immutable and thread-safe.
  static Result<std::unique_ptr<Registry>> WithExtensions(const std::vector<Json>& user_extensions,
                                                          const std::vector<Json>& group_extensions,
                                                          bool enterprise_user = false);

  const Schema* FindSchema(std::string_view urn) const;  // case-insensitive; nullptr if unknown
  const ResourceTypeDef& Type(ResourceType type) const;
  const Schema& CoreSchema(ResourceType type) const;
  const std::vector<const Schema*>& Extensions(ResourceType type) const;
  const std::vector<Schema>& AllSchemas() const { return schemas_; }

  // Resolves "userName", "name.givenName", "emails.value", "meta.lastModified",
  // "urn:...:enterprise:2.0:User:manager.value" (RFC 7644 §3.10 attribute notation) for
  // `type`. `urn` may be empty: the core schema is searched first, then the type's extensions
  // (lenient: "employeeNumber" resolves to the enterprise extension). attr/sub names and URNs
  // are case-insensitive. The common attributes "id", "externalId" and "meta" (RFC 7643 §3.1)
  // resolve in the core schema of every type. kInvalidPath-free: the caller chooses the error
  // code; this returns kInvalidValue with a detail naming the part that is unknown.
  Result<ResolvedAttribute> Resolve(ResourceType type, std::string_view urn, std::string_view attr,
                                    std::string_view sub) const;

  // Parses a dotted attribute reference (as in `attributes=`, `sortBy=`, dotted PATCH value keys)
  // "urn:…:User:name.givenName" into (urn, attr, sub) and resolves it.
  Result<ResolvedAttribute> ResolveDotted(ResourceType type, std::string_view text) const;

  // RFC 7643 §7 representation of one schema, and §6 of one resource type, with meta.location
  // built from `base_url` (e.g. "https://host/scim/v2").
  Json SchemaJson(const Schema& schema, std::string_view base_url) const;
  Json ResourceTypeJson(ResourceType type, std::string_view base_url) const;

 private:
  Registry();
  // Finds each type's schemas once, when the registry is complete: CoreSchema and Extensions
  // run several times per SCIM request, and each lookup compared URNs case-insensitively.
  void IndexTypes();
  static int Slot(ResourceType type) { return type == ResourceType::kUser ? 0 : 1; }
  std::vector<Schema> schemas_;
  ResourceTypeDef user_type_, group_type_;
  // Pointers into schemas_, set by IndexTypes; [0] users, [1] groups.
  const Schema* core_[2] = {nullptr, nullptr};
  std::vector<const Schema*> extensions_[2];
};

}  // namespace idsync::scim::schema
