// The attribute model of RFC 7643 §2 and §7: one Attribute per schema attribute, with its
// characteristics. Schemas and resource types are data (schema/schemas_data.cpp holds the RFC's
// JSON); this file is their C++ shape.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace idsync::scim::schema {

enum class Type { kString, kBoolean, kDecimal, kInteger, kDateTime, kBinary, kReference, kComplex };
enum class Mutability { kReadOnly, kReadWrite, kImmutable, kWriteOnly };
enum class Returned { kAlways, kNever, kDefault, kRequest };
enum class Uniqueness { kNone, kServer, kGlobal };

struct Attribute {
  std::string name;  // as the RFC spells it, e.g. "userName"
  Type type = Type::kString;
  bool multi_valued = false;
  bool required = false;
  bool case_exact = false;
  Mutability mutability = Mutability::kReadWrite;
  Returned returned = Returned::kDefault;
  Uniqueness uniqueness = Uniqueness::kNone;
  std::vector<std::string> canonical_values;
  std::vector<std::string> reference_types;
  std::vector<Attribute> sub_attributes;
  std::string description;

  // Case-insensitive lookup of a sub-attribute (RFC 7643 §2.1: names are case-insensitive).
  // nullptr if absent. Thread-safe: attributes are immutable after the registry is built.
  const Attribute* FindSub(std::string_view sub_name) const;
};

struct Schema {
  std::string id;  // URN
  std::string name;
  std::string description;
  std::vector<Attribute> attributes;

  const Attribute* Find(std::string_view attr_name) const;  // case-insensitive; nullptr if absent
};

struct SchemaExtension {
  std::string schema;  // URN
  bool required = false;
};

struct ResourceTypeDef {
  std::string id;        // "User"
  std::string name;      // "User"
  std::string endpoint;  // "/Users"
  std::string description;
  std::string schema;  // core schema URN
  std::vector<SchemaExtension> extensions;
};

std::string_view TypeName(Type t);              // "string", "boolean", ..., "complex"
std::string_view MutabilityName(Mutability m);  // "readOnly", ...
std::string_view ReturnedName(Returned r);      // "always", ...
std::string_view UniquenessName(Uniqueness u);  // "none", "server", "global"

}  // namespace idsync::scim::schema
