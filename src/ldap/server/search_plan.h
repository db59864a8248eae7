// Where a search's candidates come from (search.h, "Plan"): the filter's top-level AND terms
// allow index lookups (uid / cn / sAMAccountName -> the username key, entryUUID / objectGUID ->
// the id, mail -> the mail key, entryDN / distinguishedName -> the entry it names, an OR of
// such terms -> their union), the members of one group (memberOf), the groups of one user
// (member / uniqueMember), or, in the AD profile, the change feed (uSNChanged>=N); objectClass
// and objectCategory terms that no user (or no group) can meet exclude that kind. Pure: no store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ldap/protocol/filter.h"
#include "ldap/server/schema.h"
#include "ldap/server/view.h"

namespace idsync::ldap {

// One lookup a term allows.
struct Lookup {
  enum Kind { kUsername, kUserId, kMail, kGroupName, kGroupId, kMembersOf, kGroupsOfUser };
  Kind kind;
  std::string value;
};

class SearchPlan {
 public:
  SearchPlan(const Schema& schema, const Tree& tree, bool active_directory, const Filter& filter)
      : schema_(schema), tree_(tree), ad_(active_directory), filter_(filter) {}

  // True when no user (`users`) or no group can match: an objectClass or objectCategory term
  // excludes every class the kind carries.
  bool Excluded(bool users) const;
  // The lookups that give a superset of the matching users (groups); nullopt: scan. A
  // kMembersOf lookup comes alone (it is read in chunks, by member key).
  std::optional<std::vector<Lookup>> Lookups(bool users) const;
  // AD profile: the feed position after which a (uSNChanged>=N) term's entries lie.
  std::optional<int64_t> FeedStart() const;

 private:
  std::optional<Lookup> LookupOf(const Filter& term, bool users) const;

  const Schema& schema_;
  const Tree& tree_;
  bool ad_;
  const Filter& filter_;
};

}  // namespace idsync::ldap
