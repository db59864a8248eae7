#include "scim/schema/attribute.h"

#include "base/strings.h"

namespace idsync::scim::schema {

namespace {

// Attribute names are ASCII (RFC 7643 §2.1 ATTRNAME), so ASCII case folding is exact.
template <typename Range>
const Attribute* FindByName(const Range& attributes, std::string_view name) {
  for (const Attribute& a : attributes) {
    if (EqualsIgnoreAsciiCase(a.name, name)) return &a;
  }
  return nullptr;
}

}  // namespace

const Attribute* Attribute::FindSub(std::string_view sub_name) const {
  return FindByName(sub_attributes, sub_name);
}

const Attribute* Schema::Find(std::string_view attr_name) const {
  return FindByName(attributes, attr_name);
}

std::string_view TypeName(Type t) {
  switch (t) {
    case Type::kString: return "string";
    case Type::kBoolean: return "boolean";
    case Type::kDecimal: return "decimal";
    case Type::kInteger: return "integer";
    case Type::kDateTime: return "dateTime";
    case Type::kBinary: return "binary";
    case Type::kReference: return "reference";
    case Type::kComplex: return "complex";
  }
  return "string";  // not reached
}

std::string_view MutabilityName(Mutability m) {
  switch (m) {
    case Mutability::kReadOnly: return "readOnly";
    case Mutability::kReadWrite: return "readWrite";
    case Mutability::kImmutable: return "immutable";
    case Mutability::kWriteOnly: return "writeOnly";
  }
  return "readWrite";  // not reached
}

std::string_view ReturnedName(Returned r) {
  switch (r) {
    case Returned::kAlways: return "always";
    case Returned::kNever: return "never";
    case Returned::kDefault: return "default";
    case Returned::kRequest: return "request";
  }
  return "default";  // not reached
}

std::string_view UniquenessName(Uniqueness u) {
  switch (u) {
    case Uniqueness::kNone: return "none";
    case Uniqueness::kServer: return "server";
    case Uniqueness::kGlobal: return "global";
  }
  return "none";  // not reached
}

}  // namespace idsync::scim::schema
