// Validation and normalisation of resources arriving from clients (RFC 7643 §2, §4, §7).
#pragma once

#include <string>

#include "base/json.h"
#include "base/result.h"
#include "scim/schema/registry.h"
#include "scim/types.h"

namespace idsync::scim::resource {

enum class WriteMode { kCreate, kReplace };

// Turns a client body into the stored form, or explains why it cannot.
//
// Normalises (leniencies in IDP-QUIRKS.md, each tested):
//  - attribute names to the schema's spelling ("USERNAME" -> "userName"), also sub-attributes
//    and extension URNs;
//  - null values and empty arrays are treated as absent (RFC 7643 §2.5);
//  - booleans given as the strings "true"/"false" in any case become booleans (Entra ID E-2,
//    OneLogin);
//  - readOnly attributes the client sends (id, meta, groups on User) are ignored (§2.2, Okta O-3);
//  - unknown schema URIs in "schemas" and attributes of unknown extensions are dropped (E-12);
//    "schemas" is rewritten to the core schema plus the extensions actually present;
//  - "manager" given as a bare string id or a one-element array becomes {"value": id} (E-10);
//  - writeOnly "password" is kept (the store hashes nothing: the service drops or hashes it).
// Rejects: not an object -> kInvalidSyntax; wrong type -> kInvalidValue naming the attribute;
// missing required attribute (userName, Group displayName) -> kInvalidValue; a value outside
// canonicalValues where the RFC requires them -> kInvalidValue; more than one "primary": true
// in one multi-valued attribute -> kInvalidValue; unknown core attribute -> dropped (lenient)
// unless strict is set; dateTime not RFC 3339 -> kInvalidValue.
// `existing` (for kReplace) lets immutable attributes be checked: changing one -> kMutability;
// omitting one keeps the existing value (RFC 7644 §3.5.1). Group members are replaced whole.
//
// Output ("stored form"): canonical names; extension attributes under their URN key (also when
// sent as URN-qualified top-level keys "urn:…:User:employeeNumber", or as bare names that only
// an extension defines, as in Entra's legacy sample); never "id" or "meta"; "schemas" rewritten.
// Group members are {value, display?, type?, $ref?} with value required and type "User" or
// "Group" (any case, stored canonically). Other canonical values ("emails.type") are a SHOULD
// and kept as sent. A lone value of a multi-valued attribute is wrapped in an array; a
// one-element array for a singular attribute is unwrapped. Names given twice in different case
// -> kInvalidValue. Values are otherwise kept as sent (E-15).
struct ValidateOptions {
  bool strict_unknown_attributes = false;
};
Result<Json> Normalize(const Json& body, ResourceType type, WriteMode mode,
                       const schema::Registry& registry, const Json* existing = nullptr,
                       const ValidateOptions& options = {});

// Re-checks a resource produced by PATCH (same rules as Normalize on the result): required
// attributes present, types right, primary at most once. kInvalidValue otherwise.
Status CheckComplete(const Json& resource, ResourceType type, const schema::Registry& registry);

// One value of a simple attribute (string, boolean, integer, decimal, dateTime, binary,
// reference) by the rules Normalize applies: "True"/"False" strings become booleans, an integral
// number such as 3.0 becomes the integer 3, binary must be base64, dateTime RFC 3339. PATCH uses
// it too, so a value is accepted or refused the same way whichever verb sends it.
// kInvalidValue naming `path` otherwise. `v` must not be null; `a` must not be complex.
Result<Json> NormalizeSimpleValue(const schema::Attribute& a, const Json& v,
                                  const std::string& path);

}  // namespace idsync::scim::resource
