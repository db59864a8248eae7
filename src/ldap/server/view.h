// How the effective directory looks over LDAP: the DN layout (Tree) and the entries built from
// effective users and groups (EntryBuilder), per directory profile.
//
// Layout, for suffix S (default dc=idsync) and each directory D:
//   ou=D,S                          naming context (organizationalUnit)
//   ou=people,ou=D,S                users:  uid=<username>,ou=people,ou=D,S
//   ou=groups,ou=D,S                groups: cn=<group name>,ou=groups,ou=D,S
//   cn=<account>,ou=services,S      service accounts (bind only, not entries)
//   cn=Subschema                    the subschema entry; "" the root DSE
//   cn=NTDS Settings,cn=idsync,cn=Servers,cn=Default-First-Site-Name,cn=Sites,
//     cn=Configuration,S            the Active Directory profile's DSA object (dsServiceName),
//                                   readable by base search only, like the root DSE
// A user's DN follows its username (a rename is a new DN with the same entryUUID, as on every
// LDAP server); member, uniqueMember and memberOf values are these DNs byte for byte.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "ldap/config/settings.h"
#include "ldap/protocol/dn.h"
#include "ldap/protocol/message.h"
#include "ldap/server/entry.h"
#include "ldap/server/schema.h"
#include "store/store.h"

namespace idsync::ldap {

class Tree {
 public:
  explicit Tree(const std::string& suffix);  // a valid DN (checked by the caller)

  const std::string& suffix() const { return suffix_; }
  std::string ContextDn(std::string_view directory) const;
  std::string PeopleDn(std::string_view directory) const;
  std::string GroupsDn(std::string_view directory) const;
  std::string UserDn(std::string_view directory, std::string_view username) const;
  std::string GroupDn(std::string_view directory, std::string_view name) const;
  std::string ServiceDn(std::string_view account) const;
  // The DSA object named by the root DSE's dsServiceName in the Active Directory profile.
  std::string DsaDn() const;
  bool IsDsa(const Dn& dn) const;

  // Where a DN points. `directory` and `value` come from the DN as written (unescaped);
  // directories are matched case-insensitively by the caller.
  struct Location {
    enum Kind {
      kRootDse,
      kSubschema,
      kContext,
      kPeople,
      kGroups,
      kUser,
      kGroup,
      kService,
      kOutside
    };
    Kind kind = kOutside;
    std::string directory;  // kContext..kGroup
    std::string value;      // kUser: username; kGroup: group name; kService: account name
    // kOutside: how many RDNs of the DN, from the right, name an entry that exists (for
    // matchedDN): the caller knows which directories exist.
  };
  Location Locate(const Dn& dn) const;

 private:
  std::string suffix_;
  Dn suffix_dn_;
  std::string suffix_key_;  // NormalizeDn of the suffix
  std::string dsa_key_;     // NormalizeDn of DsaDn()
};

// What the client asked to receive, and what the filter needs to see.
struct Wanted {
  bool all_user = false;         // "*", or no attribute list
  bool all_operational = false;  // "+"
  bool none = false;             // "1.1" alone
  std::set<const AttributeType*> named;
  // From the search's attribute list (unknown names are ignored, as RFC 4511 §4.5.1.8 says).
  static Wanted FromRequest(const std::vector<std::string>& attributes, const Schema& schema);
};

// A directory as the LDAP server serves it.
struct DirectoryView {
  std::string name;
  TimePoint created{};  // when the directory was created (its invocationId)
  DirectorySettings settings;
  // custom attribute (effective name) -> LDAP attribute type
  std::vector<std::pair<std::string, const AttributeType*>> custom;
};

// Builds entries of one directory inside one read transaction. `needed` = what the response
// returns plus what the filter reads; expensive attributes (memberOf, member lists, USNs,
// POSIX numbers) are read only when needed.
class EntryBuilder {
 public:
  // `need_all`: "*" or "+" was asked for. With `need_operational` false ("*" without "+"),
  // operational attributes (memberOf on the standard profile) are computed only when
  // `needed` names them: a `*` dump must not read every user's groups to drop them.
  EntryBuilder(store::Transaction& tx, const Schema& schema, const Tree& tree,
               const DirectoryView& view, const std::set<const AttributeType*>& needed,
               bool need_all, bool need_operational = true);

  bool Visible(const store::EffectiveUserRow& row) const {
    return row.state == "active" || view_.settings.show_disabled;
  }
  Result<Entry> User(const store::EffectiveUserRow& row);
  Result<Entry> Group(const store::EffectiveGroupRow& row);
  // An AD tombstone: a deleted user (or group), or a disabled user the view hides, as Active
  // Directory shows deleted objects to the show-deleted control: isDeleted TRUE, objectGUID,
  // uSNChanged, the last known name. `resource` is the read-API form of its last version.
  Result<Entry> Tombstone(const std::string& type, const std::string& id, const Json& resource,
                          int64_t usn_changed, TimePoint when);
  Entry Context() const;
  Entry OrganizationalUnit(std::string_view name) const;  // "people" | "groups"

 private:
  bool Need(const char* name) const;
  // Schema::Find by the literal's address, remembered for the builder's life (one read
  // transaction): Find lower-cases and walks a map, about 20 times per entry.
  const AttributeType* T(const char* name) const {
    auto [it, inserted] = types_.try_emplace(name, nullptr);
    if (inserted) it->second = schema_.Find(name);
    return it->second;
  }

  store::Transaction& tx_;
  const Schema& schema_;
  const Tree& tree_;
  const DirectoryView& view_;
  const std::set<const AttributeType*>& needed_;
  bool need_all_;
  bool need_operational_;
  bool ad_;
  mutable std::unordered_map<const char*, const AttributeType*> types_;
};

// The user (group) whose uid (cn) is `name` as LDAP compares it: ignoring case and leading,
// trailing and repeated spaces. The first in creation order if names differing only in spaces
// exist (LDAP sees one DN); nullopt if none.
Result<std::optional<store::EffectiveUserRow>> FindUserNamed(store::Transaction& tx,
                                                             const std::string& directory,
                                                             std::string_view name);
Result<std::optional<store::EffectiveGroupRow>> FindGroupNamed(store::Transaction& tx,
                                                               const std::string& directory,
                                                               std::string_view name);

// Whether `type` is returned only on request ("+" or by name) under `profile`: memberOf is
// operational on OpenLDAP (its memberof overlay), a user attribute on Active Directory.
bool IsOperational(const AttributeType* type, Profile profile);

// The attribute selection applied to a built entry: what goes on the wire.
std::vector<Attribute> Select(const Entry& entry, const Wanted& wanted, Profile profile);
// The same, moving the values out of `entry` instead of copying them (its DN stays).
std::vector<Attribute> Select(Entry&& entry, const Wanted& wanted, Profile profile);

// objectGUID bytes of a UUID, in Active Directory's order (the first three fields
// little-endian), so that AD tools show the same GUID text as the entryUUID.
std::string ObjectGuid(std::string_view uuid);

// The invocationId of the Active Directory profile's DSA object: 16 bytes that name the USN
// space of `view` (the change feed's sequence). Active Directory changes it when a database
// is restored, and Atlassian's connector then drops its USN watermark and syncs in full; here
// it is a hash of the directory's name and creation time, so a directory deleted and created
// again under the same name gets a new one.
std::string InvocationId(const DirectoryView& view);

}  // namespace idsync::ldap
