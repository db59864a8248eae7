// What an LDAP connection needs to reach a directory and read users and groups from it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/result.h"

namespace idsync::sync::ldap {

// One LDAP connection's settings. A plain value; copying it copies the bind password, so keep
// copies short-lived and never print one: use DescribeForLog().
struct LdapSettings {
  // "ldap://host[:port]" or "ldaps://host[:port]"; exactly one server.
  std::string url;
  // Upgrade an ldap:// connection with StartTLS (RFC 4513 §3) before binding; a failure to do
  // so is an error, never a fallback to clear text. Not allowed with ldaps://.
  bool start_tls = false;
  // PEM file of the CA(s) that issued the server certificate; empty = the system trust store.
  // The server certificate is always verified, host name included.
  std::string ca_file;
  // Simple bind. An empty bind_dn binds anonymously; a bind_dn with an empty password is
  // rejected, because RFC 4513 §5.1.2 makes that an "unauthenticated bind" that many servers
  // accept without checking anything.
  std::string bind_dn;
  std::string bind_password;  // never logged, never in an error detail
  // Subtrees searched for users and groups (each one subtree-scoped).
  std::vector<std::string> base_dns;
  std::string user_filter = "(objectClass=inetOrgPerson)";
  std::string group_filter =
      "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))";
  // Attributes to read; empty = all user attributes. id_attribute and username_attribute are
  // always read in addition (entryUUID is operational and not included in "all").
  std::vector<std::string> attributes;
  // Stable id: "entryUUID" on OpenLDAP, "objectGUID" on Active Directory.
  std::string id_attribute = "entryUUID";
  // "uid", "sAMAccountName" or "userPrincipalName".
  std::string username_attribute = "uid";
  // Entries per page of an RFC 2696 paged search. Active Directory's MaxPageSize is 1,000.
  int page_size = 500;
  // TCP connect (and TLS handshake) limit, and the limit on each request/response exchange
  // (one bind, one page of a search).
  std::chrono::milliseconds network_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds operation_timeout{std::chrono::seconds(60)};
  // Search continuation references (RFC 4511 §4.5.3) point to entries on another server,
  // which this client does not chase. By default one fails the search, because the scan
  // would be incomplete; Active Directory returns them for its DNS and configuration
  // partitions when the base DN is the domain root, so an administrator who knows that those
  // hold no users can tell the client to skip them.
  bool ignore_search_references = false;
};

// kInvalidValue with a sentence naming the field if the settings cannot work: bad URL scheme,
// StartTLS with ldaps://, no base DN, bind DN without password, attribute names that are not
// RFC 4512 descriptors or OIDs, non-positive page size or timeouts. Never mentions the
// password's value. Thread-safe.
Status Validate(const LdapSettings& settings);

// One line for logs and run records: every field except the password, which shows as
// "(set)" or "(empty)". Thread-safe.
std::string DescribeForLog(const LdapSettings& settings);

// True for an RFC 4512 attribute description: a descriptor ("uid", "sAMAccountName") or a
// numeric OID, optionally followed by options (";binary"). The client builds filters from
// attribute names, so only such names are accepted.
bool IsAttributeDescription(std::string_view name);

}  // namespace idsync::sync::ldap
