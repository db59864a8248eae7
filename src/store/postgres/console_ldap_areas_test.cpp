// The console's, the LDAP server's, the explorer's, the audit's and the policy apply's store
// areas against both back-ends, as areas_test.cpp (same fixture, same assertions).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/postgres/areas_fixture.h"

namespace idsync::store {
namespace {

using scim::ResourceType;

class ConsoleLdapAreas : public StoreAreas {};

TEST_P(ConsoleLdapAreas, ConsoleAdminUsersSessionsAndActivity) {
  constexpr int64_t kHour = 3'600'000;
  int64_t alice_id = 0;
  MustWrite([&](Transaction& tx) -> Status {
    ConsoleArea& console = tx.Console();
    AdminUser alice{
        0, "alice", "admin", "$argon2id$a", true, FromUnixMillis(100), FromUnixMillis(100)};
    auto made = console.CreateAdminUser(alice);
    if (!made) return made.error();
    alice_id = made->id;
    EXPECT_GT(alice_id, 0);
    auto again = console.CreateAdminUser(alice);
    EXPECT_FALSE(again);
    EXPECT_EQ(again ? ErrorCode::kInternal : again.error().code, ErrorCode::kUniqueness);
    // The refused insert leaves the transaction usable.
    auto bob = console.CreateAdminUser(
        {0, "bob", "viewer", "$argon2id$b", false, FromUnixMillis(200), FromUnixMillis(200)});
    if (!bob) return bob.error();
    if (auto s = console.SetAdminPassword("alice", "$argon2id$a2", false, FromUnixMillis(300));
        !s) {
      return s;
    }
    auto missing = console.SetAdminPassword("carol", "x", false, FromUnixMillis(300));
    EXPECT_EQ(missing ? ErrorCode::kInternal : missing.error().code, ErrorCode::kNotFound);
    for (const ConsoleSession& session :
         {ConsoleSession{"h1", alice_id, FromUnixMillis(1000), FromUnixMillis(1000)},
          ConsoleSession{"h2", alice_id, FromUnixMillis(1000), FromUnixMillis(1000)},
          ConsoleSession{"h3", alice_id, FromUnixMillis(1000), FromUnixMillis(1000)},
          ConsoleSession{"h4", bob->id, FromUnixMillis(10), FromUnixMillis(5000)}}) {
      if (auto s = console.CreateSession(session); !s) return s;
    }
    if (auto s = console.TouchSession("h1", FromUnixMillis(4000)); !s) return s;
    if (auto s = console.DeleteSessionsOf(alice_id, "h1"); !s) return s;
    // h4 was created too long ago; h1 was touched after the idle bound.
    auto expired = console.DeleteExpiredSessions(FromUnixMillis(2000), FromUnixMillis(100));
    if (!expired) return expired.error();
    EXPECT_EQ(*expired, 1);
    // Activity: three SCIM requests (one refused) and an administration record in hour 10,
    // one LDAP run in hour 11, one record before the window; two changes in hour 11.
    struct Rec {
      int64_t ms;
      const char* op;
      int status;
    };
    for (const Rec& rec :
         {Rec{9 * kHour, "create", 201}, Rec{10 * kHour, "create", 201},
          Rec{10 * kHour + 5, "patch", 400}, Rec{10 * kHour + 9, "delete", 204},
          Rec{10 * kHour + 7, "policy.set", 200}, Rec{11 * kHour + 1, "sync.run", 200}}) {
      AuditRecord a;
      a.time = FromUnixMillis(rec.ms);
      a.connection_id = conn_;
      a.operation = rec.op;
      a.status = rec.status;
      if (auto s = tx.AppendAudit(a); !s) return s;
    }
    for (int64_t ms : {9 * kHour, 11 * kHour, 11 * kHour + 2}) {
      ChangeRecord change;
      change.time = FromUnixMillis(ms);
      change.directory = "users";
      change.type = "User";
      change.op = "upsert";
      change.id = "u" + std::to_string(ms);
      if (auto seq = tx.AppendChange(change); !seq) return seq.error();
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    ConsoleArea& console = tx.Console();
    auto all = console.ListAdminUsers();
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 2u);
    if (all->size() == 2) {
      EXPECT_EQ((*all)[0].name, "alice");
      EXPECT_EQ((*all)[1].role, "viewer");
      EXPECT_FALSE((*all)[1].must_change_password);
    }
    auto alice = console.GetAdminUserById(alice_id);
    if (!alice) return alice.error();
    EXPECT_EQ(alice->hash, "$argon2id$a2");
    EXPECT_FALSE(alice->must_change_password);
    EXPECT_EQ(ToUnixMillis(alice->password_changed), 300);
    EXPECT_EQ(ToUnixMillis(alice->created), 100);
    auto h1 = console.GetSession("h1");
    if (!h1) return h1.error();
    EXPECT_EQ(h1->user_id, alice_id);
    EXPECT_EQ(ToUnixMillis(h1->last_seen), 4000);
    for (const char* gone : {"h2", "h3", "h4"}) {
      auto s = console.GetSession(gone);
      EXPECT_EQ(s ? ErrorCode::kInternal : s.error().code, ErrorCode::kNotFound) << gone;
    }
    auto hours = console.ActivityByHour(conn_, "users", FromUnixMillis(10 * kHour));
    if (!hours) return hours.error();
    EXPECT_EQ(hours->size(), 2u);
    if (hours->size() == 2) {
      EXPECT_EQ((*hours)[0].hour, 10 * kHour);
      EXPECT_EQ((*hours)[0].requests, 3);
      EXPECT_EQ((*hours)[0].errors, 1);
      EXPECT_EQ((*hours)[0].changes, 0);
      EXPECT_EQ((*hours)[1].hour, 11 * kHour);
      EXPECT_EQ((*hours)[1].requests, 1);
      EXPECT_EQ((*hours)[1].changes, 2);
    }
    auto last = console.LastAuditTime(conn_);
    if (!last) return last.error();
    EXPECT_TRUE(last->has_value());
    if (last->has_value()) {
      EXPECT_EQ(ToUnixMillis(**last), 11 * kHour + 1);
    }
    auto none = console.LastAuditTime(conn_ + 100);
    if (!none) return none.error();
    EXPECT_FALSE(none->has_value());
    // Writes through a read transaction are refused.
    EXPECT_FALSE(console.DeleteSession("h1"));
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    // Removing a user ends its sessions.
    if (auto s = tx.Console().DeleteAdminUser("alice"); !s) return s;
    auto again = tx.Console().DeleteAdminUser("alice");
    EXPECT_EQ(again ? ErrorCode::kInternal : again.error().code, ErrorCode::kNotFound);
    auto h1 = tx.Console().GetSession("h1");
    EXPECT_EQ(h1 ? ErrorCode::kInternal : h1.error().code, ErrorCode::kNotFound);
    return Status::Ok();
  });
}

TEST_P(ConsoleLdapAreas, LdapAccountsSettingsScansLookupsPosixNumbersAndUsns) {
  int64_t generation = 0;
  MustRead([&](Transaction& tx) -> Status {
    auto g = tx.ConfigGeneration();
    if (!g) return g.error();
    generation = *g;
    auto none = tx.Ldap().GetLdapSettings("users");
    if (!none) return none.error();
    EXPECT_EQ(*none, Json::object());
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    LdapArea& ldap = tx.Ldap();
    for (const char* name : {"wiki", "app"}) {
      LdapAccount a{
          0, name, "users", "$argon2id$v=19$x", FromUnixMillis(7000), FromUnixMillis(7000)};
      auto made = ldap.CreateLdapAccount(a);
      if (!made) return made.error();
      EXPECT_GT(made->id, 0);
    }
    auto dup = ldap.CreateLdapAccount({0, "app", "users", "h", FromUnixMillis(1), {}});
    EXPECT_EQ(dup ? ErrorCode::kInternal : dup.error().code, ErrorCode::kUniqueness);
    if (auto s = ldap.SetLdapAccountHash("app", "$argon2id$new", FromUnixMillis(8000)); !s) {
      return s;
    }
    Status missing = ldap.SetLdapAccountHash("nobody", "h", FromUnixMillis(8000));
    EXPECT_EQ(missing ? ErrorCode::kInternal : missing.error().code, ErrorCode::kNotFound);
    if (auto s = ldap.PutLdapSettings("users", {{"profile", "ad"}}); !s) return s;
    if (auto s = ldap.PutLdapSettings("users", {{"profile", "openldap"}}); !s) return s;
    // Users (one with its name's spaces doubled), groups, memberships, and the feed.
    for (auto [id, name] :
         {std::pair{"e1", "alice"}, std::pair{"e2", "bob  smith"}, std::pair{"e3", "carol"}}) {
      if (auto u = tx.PutEffectiveUser(MakeEUser(id, name)); !u) return u.error();
    }
    auto old = MakeEUser("e4", "dave");
    old.mail_key = "";
    if (auto u = tx.PutEffectiveUser(old); !u) return u.error();
    for (auto [id, name] : {std::pair{"g1", "admins"}, std::pair{"g2", "  staff "}}) {
      if (auto g = tx.PutEffectiveGroup(MakeEGroup(id, name)); !g) return g.error();
    }
    for (auto [g, u] : {std::pair{"g1", "e3"}, std::pair{"g1", "e1"}, std::pair{"g2", "e2"}}) {
      if (auto added = tx.AddEffectiveMember("users", g, u); !added) return added.error();
    }
    for (auto [type, op, id, member] :
         {std::tuple{"User", "upsert", "e1", ""}, std::tuple{"Group", "upsert", "g1", ""},
          std::tuple{"Membership", "add", "g1", "e1"}, std::tuple{"User", "upsert", "e1", ""},
          std::tuple{"User", "delete", "e9", ""}}) {
      ChangeRecord c;
      c.time = FromUnixMillis(9000);
      c.directory = "users";
      c.type = type;
      c.op = op;
      c.id = id;
      c.member_id = member;
      if (std::string(op) == "upsert") c.resource = {{"id", id}, {"n", 1}};
      if (std::string(id) == "e9") c.resource = nullptr;
      if (auto a = tx.AppendChange(c); !a) return a.error();
    }
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status { return tx.Ldap().DeleteLdapAccount("wiki"); });
  MustRead([&](Transaction& tx) -> Status {
    LdapArea& ldap = tx.Ldap();
    auto g = tx.ConfigGeneration();
    if (!g) return g.error();
    EXPECT_GT(*g, generation);  // accounts and settings bump it, as API tokens do
    auto accounts = ldap.ListLdapAccounts();
    if (!accounts) return accounts.error();
    EXPECT_EQ(accounts->size(), 1u);
    auto app = ldap.GetLdapAccount("app");
    if (!app) return app.error();
    EXPECT_EQ(app->hash, "$argon2id$new");
    EXPECT_EQ(ToUnixMillis(app->created), 7000);
    EXPECT_EQ(ToUnixMillis(app->rotated), 8000);
    auto gone = ldap.GetLdapAccount("wiki");
    EXPECT_EQ(gone ? ErrorCode::kInternal : gone.error().code, ErrorCode::kNotFound);
    auto settings = ldap.GetLdapSettings("users");
    if (!settings) return settings.error();
    EXPECT_EQ(*settings, (Json{{"profile", "openldap"}}));

    // Keyset scans: from after the first, at most two, in pk order; a visitor may stop.
    auto first = ldap.UserPk("users", "e1");
    if (!first) return first.error();
    std::vector<std::string> ids;
    auto scan = ldap.UsersAfter("users", *first, 2, [&](int64_t pk, const EffectiveUserRow& u) {
      EXPECT_GT(pk, *first);
      ids.push_back(u.id);
      return true;
    });
    if (!scan) return scan;
    EXPECT_EQ(ids, (std::vector<std::string>{"e2", "e3"}));
    std::vector<std::string> groups;
    auto gscan = ldap.GroupsAfter("users", 0, 10, [&](int64_t, const EffectiveGroupRow& grp) {
      groups.push_back(grp.id);
      return false;
    });
    if (!gscan) return gscan;
    EXPECT_EQ(groups, (std::vector<std::string>{"g1"}));
    std::vector<std::string> members;
    auto mscan = ldap.MembersAfter("users", "g1", 0, 10, [&](int64_t, const EffectiveUserRow& u) {
      members.push_back(u.id);
      return true;
    });
    if (!mscan) return mscan;
    EXPECT_EQ(members, (std::vector<std::string>{"e1", "e3"}));  // user pk order
    std::vector<std::string> names;
    auto nscan = ldap.MemberNames("users", "g1", [&](const MemberName& m) {
      names.push_back(m.username + "/" + m.state);
      return true;
    });
    if (!nscan) return nscan;
    EXPECT_EQ(names, (std::vector<std::string>{"alice/active", "carol/active"}));
    Status no_group = ldap.MemberNames("users", "g9", [](const MemberName&) { return true; });
    EXPECT_EQ(no_group ? ErrorCode::kInternal : no_group.error().code, ErrorCode::kNotFound);
    EXPECT_FALSE(ldap.GroupPk("users", "g9"));

    // Lookups.
    auto by_mail = ldap.FindUsersByMail("users", "carol@example.com");
    if (!by_mail) return by_mail.error();
    EXPECT_EQ(by_mail->size(), 1u);
    if (by_mail->size() != 1u) return MakeError(ErrorCode::kInternal, "by_mail: wrong count");
    EXPECT_EQ(by_mail->front().id, "e3");
    auto by_name = ldap.FindUsersByLdapName("users", "bob smith");
    if (!by_name) return by_name.error();
    EXPECT_EQ(by_name->size(), 1u);
    if (by_name->size() != 1u) return MakeError(ErrorCode::kInternal, "by_name: wrong count");
    EXPECT_EQ(by_name->front().id, "e2");
    auto by_cn = ldap.FindGroupsByLdapName("users", "staff");
    if (!by_cn) return by_cn.error();
    EXPECT_EQ(by_cn->size(), 1u);
    if (by_cn->size() != 1u) return MakeError(ErrorCode::kInternal, "by_cn: wrong count");
    EXPECT_EQ(by_cn->front().id, "g2");

    // POSIX numbers: one per id, users and groups counted apart, in creation order.
    auto u1 = ldap.PosixNumber("users", "user", "e1");
    auto u2 = ldap.PosixNumber("users", "user", "e2");
    auto g1 = ldap.PosixNumber("users", "group", "g1");
    if (!u1 || !u2 || !g1) return MakeError(ErrorCode::kInternal, "no POSIX number");
    EXPECT_LT(*u1, *u2);
    EXPECT_EQ(*g1, 1);
    EXPECT_FALSE(ldap.PosixNumber("users", "user", "e9"));
    EXPECT_FALSE(ldap.PosixNumber("users", "thing", "e1"));

    // The feed as the AD profile reads it.
    auto usn = ldap.UsnOf("users", "e1");
    if (!usn) return usn.error();
    EXPECT_EQ(usn->created, 1);
    EXPECT_EQ(usn->changed, 4);
    auto group_usn = ldap.UsnOf("users", "g1");
    if (!group_usn) return group_usn.error();
    EXPECT_EQ(group_usn->changed, 3);  // a membership change changes the group
    auto never = ldap.UsnOf("users", "e3");
    if (!never) return never.error();
    EXPECT_EQ(never->created, 0);
    auto keys = ldap.ChangeKeysAfter("users", 2, 2);
    if (!keys) return keys.error();
    EXPECT_EQ(keys->size(), 2u);
    if (keys->size() != 2u) return MakeError(ErrorCode::kInternal, "keys: wrong count");
    EXPECT_EQ((*keys)[0].seq, 3);
    EXPECT_EQ((*keys)[0].type, "Membership");
    EXPECT_EQ((*keys)[0].member_id, "e1");
    EXPECT_EQ(ToUnixMillis((*keys)[0].time), 9000);
    auto last = ldap.LastResourceOf("users", "e1");
    if (!last) return last.error();
    EXPECT_EQ(*last, (Json{{"id", "e1"}, {"n", 1}}));
    EXPECT_FALSE(ldap.LastResourceOf("users", "e9"));
    return Status::Ok();
  });
  // A user deleted and re-created under its id keeps its number; a new one gets a new number.
  int64_t before = 0;
  MustRead([&](Transaction& tx) -> Status {
    auto n = tx.Ldap().PosixNumber("users", "user", "e2");
    if (!n) return n.error();
    before = *n;
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    if (auto s = tx.DeleteEffectiveUser("users", "e2"); !s) return s;
    if (auto u = tx.PutEffectiveUser(MakeEUser("e2", "bob")); !u) return u.error();
    return AsStatus(tx.PutEffectiveUser(MakeEUser("e5", "erin")));
  });
  MustRead([&](Transaction& tx) -> Status {
    auto n = tx.Ldap().PosixNumber("users", "user", "e2");
    auto e5 = tx.Ldap().PosixNumber("users", "user", "e5");
    if (!n || !e5) return MakeError(ErrorCode::kInternal, "no POSIX number");
    EXPECT_EQ(*n, before);
    EXPECT_GT(*e5, before);
    return Status::Ok();
  });
}

// The explorer's search: each driving index, residual criteria, pages and their cursors, byte
// order whatever the database's collation.
EffectiveUserSearch Search(std::string name, std::string mail = "", std::string group = "",
                           std::string state = "", std::string after = "", int64_t limit = 2) {
  EffectiveUserSearch search;
  search.username_prefix = std::move(name);
  search.mail_prefix = std::move(mail);
  search.group_id = std::move(group);
  search.state = std::move(state);
  search.after = std::move(after);
  search.limit = limit;
  return search;
}

TEST_P(ConsoleLdapAreas, ExplorerSearchPagesThroughEachIndex) {
  MustWrite([&](Transaction& tx) -> Status {
    int i = 0;
    for (const char* name : {"ann", "anna", "Anne", "annie", "bert", "an_x", "zed"}) {
      auto u = MakeEUser("u" + std::to_string(++i), name);
      u.username_key = name;
      u.mail_key = std::string(i % 2 == 0 ? "shared" : name) + "@example.com";
      if (i == 4) u.state = "disabled";
      if (auto s = tx.PutEffectiveUser(u); !s) return s.error();
    }
    if (auto g = tx.PutEffectiveGroup(MakeEGroup("g1", "team")); !g) return g.error();
    for (const char* u : {"u7", "u2", "u4"}) {
      if (auto a = tx.AddEffectiveMember("users", "g1", u); !a) return a.error();
    }
    return Status::Ok();
  });
  auto all_pages = [&](EffectiveUserSearch search, UserSearchIndex want) {
    std::vector<std::string> names;
    search.limit = 2;
    for (int guard = 0; guard < 10; ++guard) {
      Result<EffectiveUserPage> page = MakeError(ErrorCode::kInternal, "unread");
      MustRead([&](Transaction& tx) -> Status {
        page = tx.SearchEffectiveUsers("users", search);
        return AsStatus(page);
      });
      if (!page) break;
      EXPECT_EQ(page->index, want);
      for (const auto& u : page->users) names.push_back(u.username);
      if (page->next.empty()) break;
      search.after = page->next;
    }
    return names;
  };
  using Names = std::vector<std::string>;
  // Byte order: "Anne" before "an_x" before "ann", "_" (0x5F) before "n"; "an_" is no pattern.
  EXPECT_EQ(all_pages(Search(""), UserSearchIndex::kUsername),
            (Names{"Anne", "an_x", "ann", "anna", "annie", "bert", "zed"}));
  EXPECT_EQ(all_pages(Search("ann"), UserSearchIndex::kUsername), (Names{"ann", "anna", "annie"}));
  EXPECT_EQ(all_pages(Search("an_"), UserSearchIndex::kUsername), (Names{"an_x"}));
  EXPECT_EQ(all_pages(Search("ann", "", "", "active"), UserSearchIndex::kUsername),
            (Names{"ann", "anna"}));
  EXPECT_EQ(all_pages(Search("", "shared@"), UserSearchIndex::kMail),
            (Names{"anna", "annie", "an_x"}));  // equal mails by creation
  EXPECT_EQ(all_pages(Search("", "shared@", "g1"), UserSearchIndex::kMail),
            (Names{"anna", "annie"}));
  EXPECT_EQ(all_pages(Search("", "", "g1"), UserSearchIndex::kGroup),
            (Names{"anna", "annie", "zed"}));  // member user pk order
  EXPECT_EQ(all_pages(Search("", "", "g9"), UserSearchIndex::kGroup), Names{});
  EXPECT_EQ(all_pages(Search("", "", "", "disabled"), UserSearchIndex::kState), (Names{"annie"}));
  // Nearly everyone is active: that state is checked row by row in username order.
  EXPECT_EQ(all_pages(Search("", "", "", "active"), UserSearchIndex::kUsername),
            (Names{"Anne", "an_x", "ann", "anna", "bert", "zed"}));
  MustRead([&](Transaction& tx) -> Status {
    auto first = tx.SearchEffectiveUsers("users", Search("a", "", "", "", "", 1));
    if (!first) return first.error();
    EXPECT_FALSE(first->next.empty());
    // A cursor of another index, or not a cursor at all, is refused.
    for (std::string after : {first->next, std::string("!!"), std::string("bm8")}) {
      auto bad = tx.SearchEffectiveUsers("users", Search("", "a", "", "", after));
      EXPECT_EQ(bad ? ErrorCode::kInternal : bad.error().code, ErrorCode::kInvalidValue);
    }
    return Status::Ok();
  });
}

// The Activity page's user filter: records naming the effective user and those naming the
// source resources linked to it, in their own connection, merged in seq order.
TEST_P(ConsoleLdapAreas, AuditOfAUserIncludesItsLinkedSourceResources) {
  MustWrite([&](Transaction& tx) -> Status {
    if (auto u = tx.PutEffectiveUser(MakeEUser("e1", "alice")); !u) return u.error();
    if (auto s = tx.PutLink({conn_, "s1", "users", "e1", false, "alice"}); !s) return s;
    int n = 0;
    for (auto [connection, resource] :
         {std::pair{conn_, "s1"}, std::pair{conn_, "e1"}, std::pair{conn_ + 1, "s1"},
          std::pair{conn_, "s2"}, std::pair{conn_, "s1"}}) {
      AuditRecord a;
      a.time = FromUnixMillis(10000 + n);
      a.connection_id = connection;
      a.request_id = "r" + std::to_string(++n);
      a.operation = "patch";
      a.resource_id = resource;
      a.status = 200;
      if (auto s = tx.AppendAudit(a); !s) return s;
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    AuditQuery q;
    q.resource_id = "e1";
    auto records = tx.ListAudit(q);
    if (!records) return records.error();
    std::vector<std::string> ids;
    for (const auto& r : *records) ids.push_back(r.request_id);
    EXPECT_EQ(ids, (std::vector<std::string>{"r1", "r2", "r5"}));
    q.limit = 2;
    records = tx.ListAudit(q);
    if (!records) return records.error();
    EXPECT_EQ(records->size(), 2u);
    q.limit = 100;
    q.connection_id = conn_ + 1;  // the link is in conn_: only records naming e1 there (none)
    records = tx.ListAudit(q);
    if (!records) return records.error();
    EXPECT_TRUE(records->empty());
    return Status::Ok();
  });
}

TEST_P(ConsoleLdapAreas, PolicyApplyRecords) {
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_TRUE(tx.KeepsPolicyApplies());
    auto none = tx.GetPolicyApply("users");
    EXPECT_EQ(none ? ErrorCode::kInternal : none.error().code, ErrorCode::kNotFound);
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    if (auto s = tx.PutPolicyApply("users", {{"version", 3}, {"after", 10}}); !s) return s;
    return tx.PutPolicyApply("users", {{"version", 3}, {"after", 20}});  // replaces
  });
  MustRead([&](Transaction& tx) -> Status {
    auto record = tx.GetPolicyApply("users");
    if (!record) return record.error();
    EXPECT_EQ(*record, (Json{{"version", 3}, {"after", 20}}));
    EXPECT_FALSE(tx.GetPolicyApply("customers"));
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) { return tx.DeletePolicyApply("users"); });
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_FALSE(tx.GetPolicyApply("users"));
    return Status::Ok();
  });
}

// FindConflicts reads the conflicts with a wanted key (each once, whichever keys found it) and
// those stored before conflicts had keys, never the directory's others nor another directory's.
INSTANTIATE_TEST_SUITE_P(BothBackEnds, ConsoleLdapAreas, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace idsync::store
