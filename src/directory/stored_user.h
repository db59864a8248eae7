// The stored form of an effective user: policy::EffectiveUser <-> the body of its
// store::EffectiveUserRow (attributes with their provenance, memberships with their grants,
// entitlements, warnings). Internal to the directory layer.
#pragma once

#include <map>
#include <string>

#include "base/json.h"
#include "policy/merge.h"
#include "store/store.h"

namespace idsync::directory {

// Names of connections by uuid, for provenance that an administrator can read.
using ConnectionNames = std::map<std::string, std::string>;

// FoldCase of the effective e-mail (attributes.email.value), "" when there is none: the
// LDAP server's index for (mail=...) filters (EffectiveUserRow::mail_key).
std::string MailKeyOf(const Json& body);

// `group_ids`: FoldCase(group name) -> effective group id. The body is stored with its
// provenance shared (render.h): each distinct (connection, source user) once under "origins",
// each attribute naming its own by index; StampRequests adds the request stamps the same way.
Json BodyOf(const policy::EffectiveUser& user, const ConnectionNames& names,
            const std::map<std::string, std::string>& group_ids);
// Reads bodies in the shared form and in the inline one written before it.
policy::EffectiveUser UserOf(const store::EffectiveUserRow& row);

// The provenance of one attribute or membership entry of `body`, in either form: the entry's
// own members (inline form) or those of the origin and stamp it names. Null members for what
// the entry does not have.
struct EntryProvenance {
  const Json* connection;
  const Json* connection_name;
  const Json* source_user;
  const Json* request_id;
  const Json* time;
};
EntryProvenance ProvenanceOf(const Json& body, const Json& entry);

// `body` with every attribute and membership carrying its provenance inline, the form
// `idsync explain` and the admin API show (and the one stored before the shared form).
Json WithInlineProvenance(const Json& body);
std::string UsernameOf(const policy::EffectiveUser& u);

}  // namespace idsync::directory
