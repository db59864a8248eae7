#include "scim/schema/registry.h"

#include <string>
#include <utility>

#include "base/strings.h"
#include "scim/schema/schemas_data.h"

namespace idsync::scim::schema {

namespace {

constexpr std::string_view kSchemaSchema = "urn:ietf:params:scim:schemas:core:2.0:Schema";
constexpr std::string_view kResourceTypeSchema =
    "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

// The schema data is compiled in: a parse failure is a bug in schemas_data.cpp, never input.
Json ParseData(std::string_view text) {
  auto parsed = ParseJsonStrict(text);
  IDSYNC_CHECK(parsed.has_value());
  return std::move(parsed).value();
}

Type ParseType(const std::string& s) {
  if (s == "string") return Type::kString;
  if (s == "boolean") return Type::kBoolean;
  if (s == "decimal") return Type::kDecimal;
  if (s == "integer") return Type::kInteger;
  if (s == "dateTime") return Type::kDateTime;
  if (s == "binary") return Type::kBinary;
  if (s == "reference") return Type::kReference;
  IDSYNC_CHECK(s == "complex");
  return Type::kComplex;
}

Mutability ParseMutability(const std::string& s) {
  if (s == "readOnly") return Mutability::kReadOnly;
  if (s == "immutable") return Mutability::kImmutable;
  if (s == "writeOnly") return Mutability::kWriteOnly;
  IDSYNC_CHECK(s == "readWrite");
  return Mutability::kReadWrite;
}

Returned ParseReturned(const std::string& s) {
  if (s == "always") return Returned::kAlways;
  if (s == "never") return Returned::kNever;
  if (s == "request") return Returned::kRequest;
  IDSYNC_CHECK(s == "default");
  return Returned::kDefault;
}

Uniqueness ParseUniqueness(const std::string& s) {
  if (s == "server") return Uniqueness::kServer;
  if (s == "global") return Uniqueness::kGlobal;
  IDSYNC_CHECK(s == "none");
  return Uniqueness::kNone;
}

// Omitted characteristics take the RFC 7643 §2.2 defaults (the Attribute member initialisers).
Attribute ParseAttribute(const Json& j) {
  Attribute a;
  a.name = j.at("name").get<std::string>();
  a.type = ParseType(j.value("type", "string"));
  a.multi_valued = j.value("multiValued", false);
  a.required = j.value("required", false);
  a.case_exact = j.value("caseExact", false);
  a.mutability = ParseMutability(j.value("mutability", "readWrite"));
  a.returned = ParseReturned(j.value("returned", "default"));
  a.uniqueness = ParseUniqueness(j.value("uniqueness", "none"));
  a.description = j.value("description", "");
  if (j.contains("canonicalValues")) {
    a.canonical_values = j["canonicalValues"].get<std::vector<std::string>>();
  }
  if (j.contains("referenceTypes")) {
    a.reference_types = j["referenceTypes"].get<std::vector<std::string>>();
  }
  if (j.contains("subAttributes")) {
    for (const Json& sub : j["subAttributes"]) a.sub_attributes.push_back(ParseAttribute(sub));
  }
  IDSYNC_CHECK(a.sub_attributes.empty() == (a.type != Type::kComplex));
  return a;
}

Schema SchemaFromJson(const Json& j) {
  Schema s;
  s.id = j.at("id").get<std::string>();
  s.name = j.at("name").get<std::string>();
  s.description = j.value("description", "");
  for (const Json& a : j.at("attributes")) s.attributes.push_back(ParseAttribute(a));
  return s;
}

Schema ParseSchema(std::string_view text) {
  return SchemaFromJson(ParseData(text));
}

bool IsCommonAttribute(const Attribute& a) {
  return a.name == "id" || a.name == "externalId" || a.name == "meta";
}

Json AttributeJson(const Attribute& a) {
  Json j = {
      {"name", a.name},
      {"type", TypeName(a.type)},
      {"multiValued", a.multi_valued},
      {"description", a.description},
      {"required", a.required},
      {"mutability", MutabilityName(a.mutability)},
      {"returned", ReturnedName(a.returned)},
  };
  if (a.type != Type::kComplex) {
    j["caseExact"] = a.case_exact;
    j["uniqueness"] = UniquenessName(a.uniqueness);
  } else {
    j["uniqueness"] = UniquenessName(a.uniqueness);
    Json subs = Json::array();
    for (const Attribute& sub : a.sub_attributes) subs.push_back(AttributeJson(sub));
    j["subAttributes"] = std::move(subs);
  }
  if (!a.canonical_values.empty()) j["canonicalValues"] = a.canonical_values;
  if (a.type == Type::kReference) j["referenceTypes"] = a.reference_types;
  return j;
}

std::string TrimSlash(std::string_view base_url) {
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  return std::string(base_url);
}

Error Unknown(std::string what) {
  return MakeError(ErrorCode::kInvalidValue, std::move(what));
}

// What ParseAttribute would otherwise abort on (it trusts the compiled-in data): schemas handed
// to WithExtensions are built from administrators' definitions, so they are checked as input.
Status CheckAttributeJson(const Json& j, const std::string& where, bool nested) {
  auto bad = [&](const std::string& what) {
    return Status(MakeError(ErrorCode::kInvalidValue, where + ": " + what));
  };
  if (!j.is_object()) return bad("an attribute must be a JSON object");
  auto name = j.find("name");
  if (name == j.end() || !name->is_string() || name->get<std::string>().empty()) {
    return bad("an attribute needs a non-empty string \"name\"");
  }
  const std::string attr_where = where + " attribute \"" + name->get<std::string>() + "\"";
  auto bad_attr = [&](const std::string& what) {
    return Status(MakeError(ErrorCode::kInvalidValue, attr_where + ": " + what));
  };
  for (const char* key : {"multiValued", "required", "caseExact"}) {
    if (j.contains(key) && !j[key].is_boolean())
      return bad_attr(std::string(key) + " must be a boolean");
  }
  for (const char* key : {"type", "mutability", "returned", "uniqueness", "description"}) {
    if (j.contains(key) && !j[key].is_string())
      return bad_attr(std::string(key) + " must be a string");
  }
  auto one_of = [&](const char* key, std::initializer_list<std::string_view> allowed) {
    if (!j.contains(key)) return true;
    std::string v = j[key].get<std::string>();
    for (std::string_view a : allowed) {
      if (v == a) return true;
    }
    return false;
  };
  if (!one_of("type", {"string", "boolean", "decimal", "integer", "dateTime", "binary", "reference",
                       "complex"})) {
    return bad_attr("unknown type");
  }
  if (!one_of("mutability", {"readOnly", "readWrite", "immutable", "writeOnly"}) ||
      !one_of("returned", {"always", "never", "default", "request"}) ||
      !one_of("uniqueness", {"none", "server", "global"})) {
    return bad_attr("unknown mutability, returned or uniqueness");
  }
  for (const char* key : {"canonicalValues", "referenceTypes"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_array()) return bad_attr(std::string(key) + " must be an array of strings");
    for (const Json& v : j[key]) {
      if (!v.is_string()) return bad_attr(std::string(key) + " must be an array of strings");
    }
  }
  bool complex = j.value("type", "string") == "complex";
  auto subs = j.find("subAttributes");
  if (complex != (subs != j.end())) {
    return bad_attr("subAttributes are required for type complex and allowed only there");
  }
  if (complex) {
    if (nested) return bad_attr("a sub-attribute cannot be complex (RFC 7643 §2.3.8)");
    if (!subs->is_array() || subs->empty())
      return bad_attr("subAttributes must be a non-empty array");
    std::vector<std::string> seen;
    for (const Json& sub : *subs) {
      if (Status s = CheckAttributeJson(sub, attr_where, true); !s) return s;
      std::string folded = AsciiLower(sub["name"].get<std::string>());
      for (const auto& n : seen) {
        if (n == folded) return bad_attr("duplicate sub-attribute " + folded);
      }
      seen.push_back(folded);
    }
  }
  return Status::Ok();
}

Status CheckSchemaJson(const Json& j) {
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string() ||
      !StartsWithIgnoreAsciiCase(j["id"].get<std::string>(), "urn:")) {
    return MakeError(ErrorCode::kInvalidValue, "an extension schema needs a string \"id\" URN");
  }
  std::string where = "schema " + j["id"].get<std::string>();
  if (!j.contains("name") || !j["name"].is_string()) {
    return MakeError(ErrorCode::kInvalidValue, where + ": \"name\" must be a string");
  }
  if (j.contains("description") && !j["description"].is_string()) {
    return MakeError(ErrorCode::kInvalidValue, where + ": \"description\" must be a string");
  }
  if (!j.contains("attributes") || !j["attributes"].is_array()) {
    return MakeError(ErrorCode::kInvalidValue, where + ": \"attributes\" must be an array");
  }
  std::vector<std::string> seen;
  for (const Json& a : j["attributes"]) {
    if (Status s = CheckAttributeJson(a, where, false); !s) return s;
    std::string folded = AsciiLower(a["name"].get<std::string>());
    for (const auto& n : seen) {
      if (n == folded) {
        return MakeError(ErrorCode::kInvalidValue, where + ": duplicate attribute " + folded);
      }
    }
    seen.push_back(folded);
  }
  return Status::Ok();
}

}  // namespace

const Registry& Registry::Default() {
  static const Registry registry;  // thread-safe initialisation (C++11 magic statics)
  return registry;
}

Registry::Registry() {
  // Reserve first: ResolvedAttribute and Extensions() hand out pointers into schemas_.
  schemas_.reserve(3);
  schemas_.push_back(ParseSchema(data::kUserSchemaJson));
  schemas_.push_back(ParseSchema(data::kGroupSchemaJson));
  schemas_.push_back(ParseSchema(data::kEnterpriseUserSchemaJson));

  // RFC 7643 §3.1: id, externalId and meta belong to every resource but to no schema. Putting
  // them at the front of each core schema makes them resolve, validate and project like any
  // other core attribute; SchemaJson leaves them out again.
  Json common = ParseData(data::kCommonAttributesJson);
  for (int i = 0; i < 2; ++i) {
    std::vector<Attribute> attrs;
    for (const Json& a : common) attrs.push_back(ParseAttribute(a));
    for (Attribute& a : schemas_[i].attributes) attrs.push_back(std::move(a));
    schemas_[i].attributes = std::move(attrs);
  }

  user_type_ = ResourceTypeDef{"User",
                               "User",
                               "/Users",
                               "User Account",
                               std::string(kUserSchema),
                               {SchemaExtension{std::string(kEnterpriseUserSchema), false}}};
  group_type_ =
      ResourceTypeDef{"Group", "Group", "/Groups", "Group", std::string(kGroupSchema), {}};
  IndexTypes();
}

void Registry::IndexTypes() {
  for (ResourceType type : {ResourceType::kUser, ResourceType::kGroup}) {
    const int i = Slot(type);
    core_[i] = FindSchema(Type(type).schema);
    IDSYNC_CHECK(core_[i] != nullptr);
    extensions_[i].clear();
    for (const SchemaExtension& ext : Type(type).extensions) {
      const Schema* s = FindSchema(ext.schema);
      IDSYNC_CHECK(s != nullptr);
      extensions_[i].push_back(s);
    }
  }
}

Result<std::unique_ptr<Registry>> Registry::WithExtensions(
    const std::vector<Json>& user_extensions, const std::vector<Json>& group_extensions,
    bool enterprise_user) {
  std::unique_ptr<Registry> r(new Registry());  // private constructor: no make_unique
  if (!enterprise_user) {
    r->schemas_.pop_back();  // the constructor adds EnterpriseUser last
    r->user_type_.extensions.clear();
  }
  // No pointers into schemas_ have been handed out yet, so growing it here is safe; after this
  // function the registry is immutable like Default().
  auto add = [&](const Json& j, ResourceTypeDef& type) -> Status {
    if (Status s = CheckSchemaJson(j); !s) return s;
    if (r->FindSchema(j["id"].get<std::string>())) {
      return MakeError(ErrorCode::kInvalidValue,
                       "schema " + j["id"].get<std::string>() + " is defined twice");
    }
    r->schemas_.push_back(SchemaFromJson(j));
    type.extensions.push_back(SchemaExtension{r->schemas_.back().id, false});
    return Status::Ok();
  };
  for (const Json& j : user_extensions) {
    if (Status s = add(j, r->user_type_); !s) return s.error();
  }
  for (const Json& j : group_extensions) {
    if (Status s = add(j, r->group_type_); !s) return s.error();
  }
  r->IndexTypes();  // schemas_ may have moved
  return r;
}

const Schema* Registry::FindSchema(std::string_view urn) const {
  for (const Schema& s : schemas_) {
    if (EqualsIgnoreAsciiCase(s.id, urn)) return &s;
  }
  return nullptr;
}

const ResourceTypeDef& Registry::Type(ResourceType type) const {
  return type == ResourceType::kUser ? user_type_ : group_type_;
}

const Schema& Registry::CoreSchema(ResourceType type) const {
  return *core_[Slot(type)];
}

const std::vector<const Schema*>& Registry::Extensions(ResourceType type) const {
  return extensions_[Slot(type)];
}

Result<ResolvedAttribute> Registry::Resolve(ResourceType type, std::string_view urn,
                                            std::string_view attr, std::string_view sub) const {
  const Schema& core = CoreSchema(type);
  std::vector<const Schema*> candidates;
  if (!urn.empty()) {
    const Schema* s = FindSchema(urn);
    bool belongs = s == &core;
    for (const Schema* ext : Extensions(type)) belongs = belongs || s == ext;
    if (!s || !belongs) {
      return Unknown("unknown schema '" + std::string(urn) + "' for resource type " +
                     std::string(ResourceTypeName(type)));
    }
    candidates.push_back(s);
  } else {
    // RFC 7644 §3.10: a name without URN is in the core schema. Extension attributes are also
    // found without their URN (lenient: clients write "employeeNumber" in filters), the core
    // schema winning on a clash.
    candidates.push_back(&core);
    for (const Schema* ext : Extensions(type)) candidates.push_back(ext);
  }

  ResolvedAttribute out;
  for (const Schema* s : candidates) {
    if (const Attribute* a = s->Find(attr)) {
      out.schema = s;
      out.attr = a;
      out.in_extension = s != &core;
      break;
    }
  }
  if (!out.attr) {
    return Unknown("unknown attribute '" + std::string(attr) + "' for resource type " +
                   std::string(ResourceTypeName(type)));
  }
  if (!sub.empty()) {
    if (out.attr->type != Type::kComplex) {
      return Unknown("attribute '" + out.attr->name + "' has no sub-attributes, so '" +
                     std::string(sub) + "' is unknown");
    }
    out.sub = out.attr->FindSub(sub);
    if (!out.sub) {
      return Unknown("unknown sub-attribute '" + std::string(sub) + "' of '" + out.attr->name +
                     "'");
    }
  }
  return out;
}

Result<ResolvedAttribute> Registry::ResolveDotted(ResourceType type, std::string_view text) const {
  std::string_view urn;
  std::string_view rest = text;
  if (StartsWithIgnoreAsciiCase(text, "urn:")) {
    if (FindSchema(text)) {
      return Unknown("'" + std::string(text) + "' names a schema, not an attribute");
    }
    // Attribute names contain no ':' (RFC 7643 §2.1), while URNs contain '.' ("2.0"): split at
    // the last ':' first, then at '.' in what follows.
    size_t colon = text.rfind(':');
    urn = text.substr(0, colon);
    rest = text.substr(colon + 1);
  }
  std::string_view attr = rest;
  std::string_view sub;
  if (size_t dot = rest.find('.'); dot != std::string_view::npos) {
    attr = rest.substr(0, dot);
    sub = rest.substr(dot + 1);
    if (sub.empty() || sub.find('.') != std::string_view::npos) {
      return Unknown("attribute reference '" + std::string(text) +
                     "' must have the form attr or attr.subAttr");
    }
  }
  if (attr.empty()) return Unknown("empty attribute name in '" + std::string(text) + "'");
  return Resolve(type, urn, attr, sub);
}

Json Registry::SchemaJson(const Schema& schema, std::string_view base_url) const {
  Json attrs = Json::array();
  for (const Attribute& a : schema.attributes) {
    // The §3.1 common attributes were added to the core schemas for resolution only; RFC 7643
    // §8.7.1 does not list them in any schema representation.
    if (IsCommonAttribute(a) && (&schema == &CoreSchema(ResourceType::kUser) ||
                                 &schema == &CoreSchema(ResourceType::kGroup))) {
      continue;
    }
    attrs.push_back(AttributeJson(a));
  }
  return Json{
      {"schemas", Json::array({std::string(kSchemaSchema)})},
      {"id", schema.id},
      {"name", schema.name},
      {"description", schema.description},
      {"attributes", std::move(attrs)},
      {"meta",
       {{"resourceType", "Schema"}, {"location", TrimSlash(base_url) + "/Schemas/" + schema.id}}},
  };
}

Json Registry::ResourceTypeJson(ResourceType type, std::string_view base_url) const {
  const ResourceTypeDef& def = Type(type);
  Json j = {
      {"schemas", Json::array({std::string(kResourceTypeSchema)})},
      {"id", def.id},
      {"name", def.name},
      {"endpoint", def.endpoint},
      {"description", def.description},
      {"schema", def.schema},
      {"meta",
       {{"resourceType", "ResourceType"},
        {"location", TrimSlash(base_url) + "/ResourceTypes/" + def.id}}},
  };
  // RFC 7643 §6: schemaExtensions is optional; the §8.6 Group example omits it when empty.
  if (!def.extensions.empty()) {
    Json exts = Json::array();
    for (const SchemaExtension& e : def.extensions) {
      exts.push_back({{"schema", e.schema}, {"required", e.required}});
    }
    j["schemaExtensions"] = std::move(exts);
  }
  return j;
}

}  // namespace idsync::scim::schema
