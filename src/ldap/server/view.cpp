#include "ldap/server/view.h"

#include <utility>

#include "base/crypto.h"
#include "base/strings.h"
#include "base/time.h"
#include "ldap/server/matching.h"

namespace idsync::ldap {
namespace {

// The effective value of attribute `name` in a user body, or nullptr.
const Json* ValueOf(const Json& body, const std::string& name) {
  auto attrs = body.find("attributes");
  if (attrs == body.end() || !attrs->is_object()) return nullptr;
  auto it = attrs->find(name);
  if (it == attrs->end() || !it->is_object()) return nullptr;
  auto v = it->find("value");
  if (v == it->end() || v->is_null()) return nullptr;
  return &*v;
}

// LDAP values of a JSON value: strings as they are, numbers as digits, booleans TRUE/FALSE,
// arrays element by element; empty strings are dropped (LDAP has no empty directoryString).
void AppendValues(const Json& v, std::vector<std::string>& out) {
  if (v.is_array()) {
    for (const auto& e : v) AppendValues(e, out);
  } else if (v.is_string()) {
    if (!v.get_ref<const std::string&>().empty()) out.push_back(v.get<std::string>());
  } else if (v.is_boolean()) {
    out.push_back(v.get<bool>() ? "TRUE" : "FALSE");
  } else if (v.is_number_integer()) {
    out.push_back(std::to_string(v.get<int64_t>()));
  } else if (v.is_number()) {
    out.push_back(v.dump());
  }
}

std::vector<std::string> Values(const Json* v) {
  std::vector<std::string> out;
  if (v) AppendValues(*v, out);
  return out;
}

std::vector<std::string> One(std::string v) {
  if (v.empty()) return {};
  return {std::move(v)};
}

// "dc=example,dc=com" -> "example.com"; the UPN suffix of the AD profile.
std::string DnsDomainOf(const std::string& suffix) {
  auto dn = ParseDn(suffix);
  std::string out;
  if (!dn) return "idsync";
  for (const auto& rdn : dn->rdns) {
    for (const auto& ava : rdn) {
      if (AsciiLower(ava.type) == "dc") out += (out.empty() ? "" : ".") + ava.value;
    }
  }
  return out.empty() ? "idsync" : out;
}

constexpr const char* kSubschemaDn = "cn=Subschema";

// A stable UUID for an entry idsync does not store (the naming context and its OUs): the first
// 128 bits of SHA-256 over its name, formatted as a version-8 (name-based, RFC 9562) UUID, so
// it is the same on every start and every server serving that directory.
std::string NameUuid(const std::string& name) {
  std::string hex = Sha256Hex("idsync entryUUID\n" + name).substr(0, 32);
  hex[12] = '8';
  static constexpr char kVariant[] = "89ab";
  hex[16] = kVariant[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

}  // namespace

// ---------- Tree

Tree::Tree(const std::string& suffix) : suffix_(suffix) {
  auto dn = ParseDn(suffix);
  if (dn) {
    suffix_dn_ = *dn;
    suffix_ = FormatDn(*dn);
    suffix_key_ = NormalizeDn(*dn);
  }
  if (auto dsa = ParseDn(DsaDn())) dsa_key_ = NormalizeDn(*dsa);
}

std::string Tree::DsaDn() const {
  return "cn=NTDS Settings,cn=idsync,cn=Servers,cn=Default-First-Site-Name,cn=Sites,"
         "cn=Configuration," +
         suffix_;
}

bool Tree::IsDsa(const Dn& dn) const {
  return !dsa_key_.empty() && NormalizeDn(dn) == dsa_key_;
}

std::string Tree::ContextDn(std::string_view directory) const {
  return "ou=" + EscapeDnValue(directory) + "," + suffix_;
}
std::string Tree::PeopleDn(std::string_view directory) const {
  return "ou=people," + ContextDn(directory);
}
std::string Tree::GroupsDn(std::string_view directory) const {
  return "ou=groups," + ContextDn(directory);
}
std::string Tree::UserDn(std::string_view directory, std::string_view username) const {
  return "uid=" + EscapeDnValue(username) + "," + PeopleDn(directory);
}
std::string Tree::GroupDn(std::string_view directory, std::string_view name) const {
  return "cn=" + EscapeDnValue(name) + "," + GroupsDn(directory);
}
std::string Tree::ServiceDn(std::string_view account) const {
  return "cn=" + EscapeDnValue(account) + ",ou=services," + suffix_;
}

Tree::Location Tree::Locate(const Dn& dn) const {
  Location loc;
  const size_t n = dn.rdns.size();
  if (n == 0) {
    loc.kind = Location::kRootDse;
    return loc;
  }
  auto single = [&](size_t i, const char* type) -> const Ava* {
    const Rdn& rdn = dn.rdns[i];
    if (rdn.size() != 1 || AsciiLower(rdn[0].type) != type) return nullptr;
    return &rdn[0];
  };
  if (n == 1) {
    const Ava* cn = single(0, "cn");
    if (cn && EqualsIgnoreAsciiCase(cn->value, "subschema")) {
      loc.kind = Location::kSubschema;
      return loc;
    }
  }
  const size_t s = suffix_dn_.rdns.size();
  if (n <= s || !IsSuffixOf(suffix_dn_, dn)) return loc;  // kOutside
  const size_t depth = n - s;                             // RDNs below the suffix
  const Ava* top = single(n - s - 1, "ou");
  if (top == nullptr) return loc;
  if (EqualsIgnoreAsciiCase(top->value, "services")) {
    if (depth == 2) {
      if (const Ava* cn = single(0, "cn")) {
        loc.kind = Location::kService;
        loc.value = cn->value;
      }
    }
    return loc;
  }
  loc.directory = top->value;
  if (depth == 1) {
    loc.kind = Location::kContext;
    return loc;
  }
  const Ava* branch = single(n - s - 2, "ou");
  if (branch == nullptr) return loc;
  const bool people = EqualsIgnoreAsciiCase(branch->value, "people");
  const bool groups = EqualsIgnoreAsciiCase(branch->value, "groups");
  if (!people && !groups) return loc;
  if (depth == 2) {
    loc.kind = people ? Location::kPeople : Location::kGroups;
    return loc;
  }
  if (depth == 3) {
    const Ava* leaf = single(0, people ? "uid" : "cn");
    if (leaf) {
      loc.kind = people ? Location::kUser : Location::kGroup;
      loc.value = leaf->value;
    }
  }
  return loc;
}

// ---------- Wanted

Wanted Wanted::FromRequest(const std::vector<std::string>& attributes, const Schema& schema) {
  Wanted w;
  if (attributes.empty()) {
    w.all_user = true;
    return w;
  }
  bool only_none = true;
  for (const auto& a : attributes) {
    if (a == "*") {
      w.all_user = true;
    } else if (a == "+") {
      w.all_operational = true;
    } else if (a == "1.1") {
      continue;
    } else if (const AttributeType* t = schema.Find(a)) {
      w.named.insert(t);
    }
    if (a != "1.1") only_none = false;
  }
  w.none = only_none;
  return w;
}

// ---------- EntryBuilder

EntryBuilder::EntryBuilder(store::Transaction& tx, const Schema& schema, const Tree& tree,
                           const DirectoryView& view, const std::set<const AttributeType*>& needed,
                           bool need_all, bool need_operational)
    : tx_(tx),
      schema_(schema),
      tree_(tree),
      view_(view),
      needed_(needed),
      need_all_(need_all),
      need_operational_(need_operational),
      ad_(view.settings.profile == Profile::kActiveDirectory) {}

bool EntryBuilder::Need(const char* name) const {
  const AttributeType* t = T(name);
  if (t == nullptr) return false;
  if (needed_.count(t) > 0) return true;
  return need_all_ && (need_operational_ || !IsOperational(t, view_.settings.profile));
}

Result<std::optional<store::EffectiveUserRow>> FindUserNamed(store::Transaction& tx,
                                                             const std::string& directory,
                                                             std::string_view name) {
  auto rows =
      tx.Ldap().FindUsersByLdapName(directory, *NormalizeValue(Matching::kCaseIgnore, name));
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<store::EffectiveUserRow>();
  return std::optional<store::EffectiveUserRow>(std::move(rows->front()));
}

Result<std::optional<store::EffectiveGroupRow>> FindGroupNamed(store::Transaction& tx,
                                                               const std::string& directory,
                                                               std::string_view name) {
  auto rows =
      tx.Ldap().FindGroupsByLdapName(directory, *NormalizeValue(Matching::kCaseIgnore, name));
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<store::EffectiveGroupRow>();
  return std::optional<store::EffectiveGroupRow>(std::move(rows->front()));
}

bool IsOperational(const AttributeType* type, Profile profile) {
  if (profile == Profile::kActiveDirectory && type->name == "memberOf") return false;
  return type->operational;
}

Entry EntryBuilder::Context() const {
  Entry e;
  e.dn = tree_.ContextDn(view_.name);
  e.Add(T("objectClass"), {"top", "organizationalUnit"});
  e.Add(T("ou"), {view_.name});
  e.Add(T("entryUUID"), {NameUuid(FoldCase(view_.name))});
  e.Add(T("createTimestamp"), {FormatGeneralizedTime(view_.created)});
  e.Add(T("modifyTimestamp"), {FormatGeneralizedTime(view_.created)});
  e.Add(T("structuralObjectClass"), {"organizationalUnit"});
  e.Add(T("entryDN"), {e.dn});
  e.Add(T("subschemaSubentry"), {kSubschemaDn});
  e.Add(T("hasSubordinates"), {"TRUE"});
  return e;
}

Entry EntryBuilder::OrganizationalUnit(std::string_view name) const {
  Entry e;
  e.dn = name == "people" ? tree_.PeopleDn(view_.name) : tree_.GroupsDn(view_.name);
  e.Add(T("objectClass"), {"top", "organizationalUnit"});
  e.Add(T("ou"), {std::string(name)});
  e.Add(T("entryUUID"), {NameUuid(FoldCase(view_.name) + "/" + std::string(name))});
  e.Add(T("createTimestamp"), {FormatGeneralizedTime(view_.created)});
  e.Add(T("modifyTimestamp"), {FormatGeneralizedTime(view_.created)});
  e.Add(T("structuralObjectClass"), {"organizationalUnit"});
  e.Add(T("entryDN"), {e.dn});
  e.Add(T("subschemaSubentry"), {kSubschemaDn});
  e.Add(T("hasSubordinates"), {"TRUE"});
  return e;
}

Result<Entry> EntryBuilder::User(const store::EffectiveUserRow& row) {
  Entry e;
  e.dn = tree_.UserDn(view_.name, row.username);
  const DirectorySettings& s = view_.settings;
  std::vector<std::string> classes = {"top", "person", "organizationalPerson"};
  classes.push_back(ad_ ? "user" : "inetOrgPerson");
  if (s.posix) classes.push_back("posixAccount");
  std::vector<std::string> entitlements;
  if (auto ent = row.body.find("entitlements"); ent != row.body.end() && ent->is_array()) {
    for (const auto& x : *ent) {
      std::string v = x.value("value", "");
      if (!v.empty()) entitlements.push_back(v);
    }
  }
  std::vector<std::pair<const AttributeType*, std::vector<std::string>>> custom;
  for (const auto& [name, type] : view_.custom) {
    auto values = Values(ValueOf(row.body, name));
    if (!values.empty()) custom.emplace_back(type, std::move(values));
  }
  if (!entitlements.empty() || !custom.empty()) classes.push_back("idsyncUser");
  e.Add(T("objectClass"), classes);

  const std::string& username = row.username;
  auto family = Values(ValueOf(row.body, "familyName"));
  e.Add(T("uid"), {username});
  e.Add(T("cn"), {username});
  e.Add(T("sn"), family.empty() ? std::vector<std::string>{username} : family);
  e.Add(T("givenName"), Values(ValueOf(row.body, "givenName")));
  e.Add(T("displayName"), Values(ValueOf(row.body, "displayName")));
  e.Add(T("mail"), Values(ValueOf(row.body, "email")));
  for (auto& [type, values] : custom) e.Add(type, std::move(values));
  e.Add(T("idsyncEntitlement"), entitlements);

  if (s.posix) {
    if (Need("uidNumber") || Need("gidNumber")) {
      auto number = tx_.Ldap().PosixNumber(view_.name, "user", row.id);
      if (number) {
        std::string uid_number = std::to_string(s.uid_base + *number);
        e.Add(T("uidNumber"), {uid_number});
        // User private groups: the primary group number is the user's own number.
        e.Add(T("gidNumber"), {uid_number});
      } else if (number.error().code != ErrorCode::kNotFound) {
        return number.error();
      }
    }
    std::string home = s.home_template;
    for (size_t at; (at = home.find("{uid}")) != std::string::npos;) {
      home.replace(at, 5, username);
    }
    e.Add(T("homeDirectory"), {home});
    e.Add(T("loginShell"), One(s.login_shell));
    auto display = Values(ValueOf(row.body, "displayName"));
    if (!display.empty()) e.Add(T("gecos"), display);
  }

  if (Need("memberOf")) {
    auto groups = tx_.EffectiveGroupsOf(view_.name, row.id);
    if (!groups) return groups.error();
    std::vector<std::string> dns;
    dns.reserve(groups->size());
    for (const auto& [gid, name] : *groups) dns.push_back(tree_.GroupDn(view_.name, name));
    e.Add(T("memberOf"), std::move(dns));
  }

  if (ad_) {
    e.Add(T("sAMAccountName"), {username});
    e.Add(T("userPrincipalName"),
          {username.find('@') != std::string::npos ? username
                                                   : username + "@" + DnsDomainOf(tree_.suffix())});
    e.Add(T("name"), {username});
    e.Add(T("distinguishedName"), {e.dn});
    e.Add(T("objectGUID"), {ObjectGuid(row.id)});
    e.Add(T("objectCategory"), {"CN=Person,CN=Schema,CN=Configuration," + tree_.suffix()});
    e.Add(T("userAccountControl"), {row.state == "active" ? "512" : "514"});
    e.Add(T("whenCreated"), {FormatAdTime(row.created)});
    e.Add(T("whenChanged"), {FormatAdTime(row.last_modified)});
    if (Need("uSNCreated") || Need("uSNChanged")) {
      auto usn = tx_.Ldap().UsnOf(view_.name, row.id);
      if (!usn) return usn.error();
      e.Add(T("uSNCreated"), {std::to_string(usn->created)});
      e.Add(T("uSNChanged"), {std::to_string(usn->changed)});
    }
  }

  // Operational attributes only when asked for ("+", by name, or in the filter): a `*` dump
  // would format two timestamps per user only for Select to drop them.
  if (Need("entryUUID")) e.Add(T("entryUUID"), {row.id});
  if (Need("createTimestamp")) e.Add(T("createTimestamp"), {FormatGeneralizedTime(row.created)});
  if (Need("modifyTimestamp")) {
    e.Add(T("modifyTimestamp"), {FormatGeneralizedTime(row.last_modified)});
  }
  if (Need("structuralObjectClass")) {
    e.Add(T("structuralObjectClass"), {ad_ ? "user" : "inetOrgPerson"});
  }
  if (Need("entryDN")) e.Add(T("entryDN"), {e.dn});
  if (Need("subschemaSubentry")) e.Add(T("subschemaSubentry"), {kSubschemaDn});
  if (Need("hasSubordinates")) e.Add(T("hasSubordinates"), {"FALSE"});
  return e;
}

Result<Entry> EntryBuilder::Group(const store::EffectiveGroupRow& row) {
  Entry e;
  e.dn = tree_.GroupDn(view_.name, row.name);
  const DirectorySettings& s = view_.settings;
  std::vector<std::string> classes = {"top"};
  if (ad_) {
    classes.push_back("group");
  } else {
    classes.push_back("groupOfNames");
    classes.push_back("groupOfUniqueNames");
  }
  if (s.posix) classes.push_back("posixGroup");
  e.Add(T("objectClass"), classes);
  e.Add(T("cn"), {row.name});

  const bool need_members = Need("member") || Need("uniqueMember") || Need("memberUid");
  if (need_members) {
    std::vector<std::string> dns, uids;
    Status listed = tx_.Ldap().MemberNames(view_.name, row.id, [&](const store::MemberName& m) {
      if (m.state != "active" && !s.show_disabled) return true;
      dns.push_back(tree_.UserDn(view_.name, m.username));
      if (s.posix) uids.push_back(m.username);
      return true;
    });
    if (!listed) return listed.error();
    e.Add(T("member"), dns);
    if (!ad_) e.Add(T("uniqueMember"), std::move(dns));
    if (s.posix) e.Add(T("memberUid"), std::move(uids));
  }
  if (s.posix && Need("gidNumber")) {
    auto number = tx_.Ldap().PosixNumber(view_.name, "group", row.id);
    if (number) {
      e.Add(T("gidNumber"), {std::to_string(s.gid_base + *number)});
    } else if (number.error().code != ErrorCode::kNotFound) {
      return number.error();
    }
  }
  if (ad_) {
    e.Add(T("sAMAccountName"), {row.name});
    e.Add(T("name"), {row.name});
    e.Add(T("distinguishedName"), {e.dn});
    e.Add(T("objectGUID"), {ObjectGuid(row.id)});
    e.Add(T("objectCategory"), {"CN=Group,CN=Schema,CN=Configuration," + tree_.suffix()});
    e.Add(T("groupType"), {"-2147483646"});  // global security group
    e.Add(T("whenCreated"), {FormatAdTime(row.created)});
    e.Add(T("whenChanged"), {FormatAdTime(row.last_modified)});
    if (Need("uSNCreated") || Need("uSNChanged")) {
      auto usn = tx_.Ldap().UsnOf(view_.name, row.id);
      if (!usn) return usn.error();
      e.Add(T("uSNCreated"), {std::to_string(usn->created)});
      e.Add(T("uSNChanged"), {std::to_string(usn->changed)});
    }
  }
  e.Add(T("entryUUID"), {row.id});
  e.Add(T("createTimestamp"), {FormatGeneralizedTime(row.created)});
  e.Add(T("modifyTimestamp"), {FormatGeneralizedTime(row.last_modified)});
  e.Add(T("structuralObjectClass"), {ad_ ? "group" : "groupOfNames"});
  e.Add(T("entryDN"), {e.dn});
  e.Add(T("subschemaSubentry"), {kSubschemaDn});
  e.Add(T("hasSubordinates"), {"FALSE"});
  return e;
}

Result<Entry> EntryBuilder::Tombstone(const std::string& type, const std::string& id,
                                      const Json& resource, int64_t usn_changed, TimePoint when) {
  Entry e;
  const bool user = type == "User";
  std::string name =
      resource.is_object() ? resource.value(user ? "userName" : "displayName", id) : id;
  // Active Directory renames a deleted object "<name>\0ADEL:<guid>" so that it cannot collide
  // with a live entry of the same name; the tombstone stays under its last parent here (AD
  // moves it to CN=Deleted Objects, which would be outside an application's base DN).
  std::string rdn = EscapeDnValue(name) + "\\0ADEL:" + id;
  e.dn = user ? "uid=" + rdn + "," + tree_.PeopleDn(view_.name)
              : "cn=" + rdn + "," + tree_.GroupsDn(view_.name);
  e.Add(T("objectClass"),
        user ? std::vector<std::string>{"top", "person", "organizationalPerson", "user"}
             : std::vector<std::string>{"top", "group"});
  e.Add(T("cn"), {name});
  e.Add(T("name"), {name});
  if (user) e.Add(T("sAMAccountName"), {name});
  e.Add(T("isDeleted"), {"TRUE"});
  e.Add(T("objectGUID"), {ObjectGuid(id)});
  e.Add(T("uSNChanged"), {std::to_string(usn_changed)});
  e.Add(T("whenChanged"), {FormatAdTime(when)});
  e.Add(T("distinguishedName"), {e.dn});
  e.Add(T("entryUUID"), {id});
  return e;
}

namespace {

bool Selected(const AttributeType* type, const Wanted& wanted, Profile profile) {
  return wanted.named.count(type) > 0 ||
         (IsOperational(type, profile) ? wanted.all_operational : wanted.all_user);
}

}  // namespace

std::vector<Attribute> Select(const Entry& entry, const Wanted& wanted, Profile profile) {
  std::vector<Attribute> out;
  if (wanted.none) return out;
  for (const auto& a : entry.attributes) {
    if (Selected(a.type, wanted, profile)) out.push_back({a.type->name, a.values});
  }
  return out;
}

std::vector<Attribute> Select(Entry&& entry, const Wanted& wanted, Profile profile) {
  std::vector<Attribute> out;
  if (wanted.none) return out;
  out.reserve(entry.attributes.size());
  for (auto& a : entry.attributes) {
    if (Selected(a.type, wanted, profile)) out.push_back({a.type->name, std::move(a.values)});
  }
  return out;
}

std::string ObjectGuid(std::string_view uuid) {
  std::string hex;
  for (char c : uuid) {
    if (c != '-') hex.push_back(c);
  }
  if (hex.size() != 32) return std::string(16, '\0');
  auto byte = [&](size_t i) {
    return static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  };
  std::string out(16, '\0');
  static constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (int i = 0; i < 16; ++i) out[i] = byte(kOrder[i]);
  return out;
}

std::string InvocationId(const DirectoryView& view) {
  std::string hex = Sha256Hex("idsync invocationId\n" + FoldCase(view.name) + "\n" +
                              std::to_string(ToUnixMillis(view.created)));
  std::string out(16, '\0');
  for (size_t i = 0; i < 16; ++i) {
    out[i] = static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return out;
}

}  // namespace idsync::ldap
