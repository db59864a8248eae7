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

// `group_ids`: FoldCase(group name) -> effective group id.
Json BodyOf(const policy::EffectiveUser& user, const ConnectionNames& names,
            const std::map<std::string, std::string>& group_ids);
policy::EffectiveUser UserOf(const store::EffectiveUserRow& row);
std::string UsernameOf(const policy::EffectiveUser& u);

}  // namespace idsync::directory
