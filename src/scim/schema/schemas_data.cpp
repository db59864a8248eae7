// Format: the schema representations of RFC 7643 §8.7.1 (User, Group) and §8.7.1's enterprise
// extension, as JSON in the §7 form, plus the §3.1 common attributes. Registry parses them at
// construction; a characteristic that is omitted takes its §2.2 default (type "string",
// required/caseExact/multiValued false, mutability "readWrite", returned "default",
// uniqueness "none"). Descriptions are shortened from the RFC.
//
// Errata and gaps of the RFC's listing, fixed here (descriptions stay free of them: clients read
// them):
//  1. Group "displayName" is "required": false in §8.7.1, but §4.2 says "REQUIRED".
//  2. Group "members" has no "display" sub-attribute in §8.7.1, although §4.2's example and
//     §2.4 (default sub-attributes of multi-valued attributes, "display" being "immutable")
//     use it; Okta sends it (O-10).
//  3. User "addresses" has no "primary" sub-attribute in §8.7.1, but §4.1.2 gives addresses a
//     "primary" like the other multi-valued attributes.
//  4. Enterprise "manager.value" is described as "REQUIRED" yet listed "required": false, and
//     "$ref" likewise; clients (Entra E-10) send only "value", so both stay optional.
//  5. User "groups.$ref" lists referenceTypes ["User", "Group"]; a user is a member only of
//     groups, so "Group" alone.
#include "scim/schema/schemas_data.h"

namespace idsync::scim::schema::data {

const std::string_view kCommonAttributesJson = R"json([
  {"name": "id", "type": "string", "multiValued": false, "required": false, "caseExact": true,
   "mutability": "readOnly", "returned": "always", "uniqueness": "server",
   "description": "Unique identifier for the resource, assigned by the service provider."},
  {"name": "externalId", "type": "string", "multiValued": false, "required": false,
   "caseExact": true, "mutability": "readWrite", "returned": "default", "uniqueness": "none",
   "description": "Identifier of the resource as defined by the provisioning client."},
  {"name": "meta", "type": "complex", "multiValued": false, "required": false,
   "mutability": "readOnly", "returned": "default", "uniqueness": "none",
   "description": "Resource metadata.",
   "subAttributes": [
     {"name": "resourceType", "type": "string", "caseExact": true, "mutability": "readOnly",
      "description": "The name of the resource type of the resource."},
     {"name": "created", "type": "dateTime", "mutability": "readOnly",
      "description": "The DateTime that the resource was added to the service provider."},
     {"name": "lastModified", "type": "dateTime", "mutability": "readOnly",
      "description": "The most recent DateTime that the details of this resource were updated."},
     {"name": "location", "type": "reference", "referenceTypes": ["uri"], "caseExact": true,
      "mutability": "readOnly", "description": "The URI of the resource being returned."},
     {"name": "version", "type": "string", "caseExact": true, "mutability": "readOnly",
      "description": "The version (entity tag) of the resource being returned."}
   ]}
])json";

const std::string_view kUserSchemaJson = R"json({
  "id": "urn:ietf:params:scim:schemas:core:2.0:User",
  "name": "User",
  "description": "User Account",
  "attributes": [
    {"name": "userName", "type": "string", "multiValued": false, "required": true,
     "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "server",
     "description": "Unique identifier for the User, typically used by the user to directly authenticate to the service provider."},
    {"name": "name", "type": "complex", "multiValued": false, "required": false,
     "mutability": "readWrite", "returned": "default", "uniqueness": "none",
     "description": "The components of the user's real name.",
     "subAttributes": [
       {"name": "formatted", "type": "string", "description": "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."},
       {"name": "familyName", "type": "string", "description": "The family name of the User, or last name in most Western languages."},
       {"name": "givenName", "type": "string", "description": "The given name of the User, or first name in most Western languages."},
       {"name": "middleName", "type": "string", "description": "The middle name(s) of the User."},
       {"name": "honorificPrefix", "type": "string", "description": "The honorific prefix(es) of the User, or title in most Western languages."},
       {"name": "honorificSuffix", "type": "string", "description": "The honorific suffix(es) of the User, or suffix in most Western languages."}
     ]},
    {"name": "displayName", "type": "string", "description": "The name of the User, suitable for display to end-users."},
    {"name": "nickName", "type": "string", "description": "The casual way to address the user in real life."},
    {"name": "profileUrl", "type": "reference", "referenceTypes": ["external"],
     "description": "A fully qualified URL pointing to a page representing the User's online profile."},
    {"name": "title", "type": "string", "description": "The user's title, such as \"Vice President.\""},
    {"name": "userType", "type": "string", "description": "Used to identify the relationship between the organization and the user, e.g. 'Contractor', 'Employee'."},
    {"name": "preferredLanguage", "type": "string", "description": "Indicates the User's preferred written or spoken language, e.g. 'en-US' (RFC 7231 Accept-Language)."},
    {"name": "locale", "type": "string", "description": "Used to indicate the User's default location for localizing items such as currency and date formats, e.g. 'en-US'."},
    {"name": "timezone", "type": "string", "description": "The User's time zone in the 'Olson' time zone database format, e.g. 'America/Los_Angeles'."},
    {"name": "active", "type": "boolean", "description": "A Boolean value indicating the User's administrative status."},
    {"name": "password", "type": "string", "multiValued": false, "required": false,
     "caseExact": false, "mutability": "writeOnly", "returned": "never", "uniqueness": "none",
     "description": "The User's cleartext password, used to set or compare it. Never returned."},
    {"name": "emails", "type": "complex", "multiValued": true,
     "description": "Email addresses for the user, canonicalized by the service provider, e.g. 'bjensen@example.com'.",
     "subAttributes": [
       {"name": "value", "type": "string", "description": "Email addresses for the user."},
       {"name": "display", "type": "string", "description": "A human-readable name, primarily used for display purposes.  READ-ONLY."},
       {"name": "type", "type": "string", "canonicalValues": ["work", "home", "other"], "description": "A label indicating the attribute's function, e.g. 'work' or 'home'."},
       {"name": "primary", "type": "boolean", "description": "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."}
     ]},
    {"name": "phoneNumbers", "type": "complex", "multiValued": true,
     "description": "Phone numbers for the User, e.g. 'tel:+1-201-555-0123'.",
     "subAttributes": [
       {"name": "value", "type": "string", "description": "Phone number of the User."},
       {"name": "display", "type": "string", "description": "A human-readable name, primarily used for display purposes.  READ-ONLY."},
       {"name": "type", "type": "string", "canonicalValues": ["work", "home", "mobile", "fax", "pager", "other"], "description": "A label indicating the attribute's function, e.g. 'work', 'home', 'mobile'."},
       {"name": "primary", "type": "boolean", "description": "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."}
     ]},
    {"name": "ims", "type": "complex", "multiValued": true,
     "description": "Instant messaging addresses for the User.",
     "subAttributes": [
       {"name": "value", "type": "string", "description": "Instant messaging address for the User."},
       {"name": "display", "type": "string", "description": "A human-readable name, primarily used for display purposes.  READ-ONLY."},
       {"name": "type", "type": "string", "canonicalValues": ["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"], "description": "A label indicating the attribute's function, e.g. 'aim', 'gtalk', 'xmpp'."},
       {"name": "primary", "type": "boolean", "description": "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."}
     ]},
    {"name": "photos", "type": "complex", "multiValued": true,
     "description": "URLs of photos of the User.",
     "subAttributes": [
       {"name": "value", "type": "reference", "referenceTypes": ["external"], "description": "URL of a photo of the User."},
       {"name": "display", "type": "string", "description": "A human-readable name, primarily used for display purposes.  READ-ONLY."},
       {"name": "type", "type": "string", "canonicalValues": ["photo", "thumbnail"], "description": "A label indicating the attribute's function, i.e., 'photo' or 'thumbnail'."},
       {"name": "primary", "type": "boolean", "description": "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."}
     ]},
    {"name": "addresses", "type": "complex", "multiValued": true,
     "description": "A physical mailing address for this User.",
     "subAttributes": [
       {"name": "formatted", "type": "string", "description": "The full mailing address, formatted for display or use with a mailing label."},
       {"name": "streetAddress", "type": "string", "description": "The full street address component, which may include house number, street name, P.O. box, and multi-line extended street address information."},
       {"name": "locality", "type": "string", "description": "The city or locality component."},
       {"name": "region", "type": "string", "description": "The state or region component."},
       {"name": "postalCode", "type": "string", "description": "The zip code or postal code component."},
       {"name": "country", "type": "string", "description": "The country name component (ISO 3166-1 alpha-2 when specified)."},
       {"name": "type", "type": "string", "canonicalValues": ["work", "home", "other"], "description": "A label indicating the attribute's function, e.g. 'work' or 'home'."},
       {"name": "primary", "type": "boolean", "description": "A Boolean value indicating the 'primary' or preferred address."}
     ]},
    {"name": "groups", "type": "complex", "multiValued": true, "mutability": "readOnly",
     "description": "A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.",
     "subAttributes": [
       {"name": "value", "type": "string", "mutability": "readOnly", "description": "The identifier of the User's group."},
       {"name": "$ref", "type": "reference", "referenceTypes": ["Group"], "mutability": "readOnly", "description": "The URI of the corresponding 'Group' resource to which the user belongs."},
       {"name": "display", "type": "string", "mutability": "readOnly", "description": "A human-readable name, primarily used for display purposes.  READ-ONLY."},
       {"name": "type", "type": "string", "canonicalValues": ["direct", "indirect"], "mutability": "readOnly", "description": "A label indicating the attribute's function, e.g., 'direct' or 'indirect'."}
     ]},
    {"name": "entitlements", "type": "complex", "multiValued": true,
     "description": "A list of entitlements for the User that represent a thing the User has.",
     "subAttributes": [
       {"name": "value", "type": "string", "description": "The value of an entitlement."},
       {"name": "display", "type": "string", "description": "A human-readable name, primarily used for display purposes.  READ-ONLY."},
       {"name": "type", "type": "string", "description": "A label indicating the attribute's function."},
       {"name": "primary", "type": "boolean", "description": "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."}
     ]},
    {"name": "roles", "type": "complex", "multiValued": true,
     "description": "A list of roles for the User that collectively represent who the User is, e.g. 'Student', 'Faculty'.",
     "subAttributes": [
       {"name": "value", "type": "string", "description": "The value of a role."},
       {"name": "display", "type": "string", "description": "A human-readable name, primarily used for display purposes.  READ-ONLY."},
       {"name": "type", "type": "string", "description": "A label indicating the attribute's function."},
       {"name": "primary", "type": "boolean", "description": "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."}
     ]},
    {"name": "x509Certificates", "type": "complex", "multiValued": true,
     "description": "A list of certificates issued to the User.",
     "subAttributes": [
       {"name": "value", "type": "binary", "description": "The value of an X.509 certificate."},
       {"name": "display", "type": "string", "description": "A human-readable name, primarily used for display purposes.  READ-ONLY."},
       {"name": "type", "type": "string", "description": "A label indicating the attribute's function."},
       {"name": "primary", "type": "boolean", "description": "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."}
     ]}
  ]
})json";

const std::string_view kGroupSchemaJson = R"json({
  "id": "urn:ietf:params:scim:schemas:core:2.0:Group",
  "name": "Group",
  "description": "Group",
  "attributes": [
    {"name": "displayName", "type": "string", "multiValued": false, "required": true,
     "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none",
     "description": "A human-readable name for the Group. REQUIRED."},
    {"name": "members", "type": "complex", "multiValued": true, "required": false,
     "mutability": "readWrite", "returned": "default",
     "description": "A list of members of the Group.",
     "subAttributes": [
       {"name": "value", "type": "string", "mutability": "immutable",
        "description": "Identifier of the member of this Group."},
       {"name": "$ref", "type": "reference", "referenceTypes": ["User", "Group"],
        "mutability": "immutable",
        "description": "The URI corresponding to a SCIM resource that is a member of this Group."},
       {"name": "display", "type": "string", "mutability": "immutable",
        "description": "A human-readable name of the member."},
       {"name": "type", "type": "string", "canonicalValues": ["User", "Group"],
        "mutability": "immutable",
        "description": "A label indicating the type of resource, e.g., 'User' or 'Group'."}
     ]}
  ]
})json";

const std::string_view kEnterpriseUserSchemaJson = R"json({
  "id": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
  "name": "EnterpriseUser",
  "description": "Enterprise User",
  "attributes": [
    {"name": "employeeNumber", "type": "string", "description": "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization."},
    {"name": "costCenter", "type": "string", "description": "Identifies the name of a cost center."},
    {"name": "organization", "type": "string", "description": "Identifies the name of an organization."},
    {"name": "division", "type": "string", "description": "Identifies the name of a division."},
    {"name": "department", "type": "string", "description": "Identifies the name of a department."},
    {"name": "manager", "type": "complex", "multiValued": false, "required": false,
     "mutability": "readWrite", "returned": "default",
     "description": "The User's manager.  A complex type that optionally allows service providers to represent organizational hierarchy by referencing the 'id' attribute of another User.",
     "subAttributes": [
       {"name": "value", "type": "string",
        "description": "The id of the SCIM resource representing the User's manager."},
       {"name": "$ref", "type": "reference", "referenceTypes": ["User"],
        "description": "The URI of the SCIM resource representing the User's manager."},
       {"name": "displayName", "type": "string", "mutability": "readOnly",
        "description": "The displayName of the User's manager. OPTIONAL and READ-ONLY."}
     ]}
  ]
})json";

}  // namespace idsync::scim::schema::data
