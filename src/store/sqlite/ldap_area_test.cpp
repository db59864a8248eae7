// The LDAP server's area of SqliteStore (ldap_area.h, migration 8): service accounts, LDAP
// settings, keyset scans, member names, mail lookups, POSIX numbers and change-feed keys.
#include "store/sqlite/ldap_area.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/test_support.h"

namespace idsync::store::sqlite {
namespace {

using test_support::MakeEGroup;
using test_support::Query;
using test_support::TempDir;

EffectiveUserRow MakeUser(const std::string& id, const std::string& username,
                          const std::string& mail_key = "") {
  EffectiveUserRow u;
  u.directory = "users";
  u.id = id;
  u.username = username;
  u.username_key = username;
  u.mail_key = mail_key;
  u.state = "active";
  u.body = Json{{"attributes", {{"username", {{"value", username}}}}}};
  u.created = FromUnixMillis(5000);
  u.last_modified = FromUnixMillis(5000);
  return u;
}

template <typename T>
Status AsStatus(const Result<T>& result) {
  return result ? Status::Ok() : Status(result.error());
}

ChangeRecord MakeChange(const std::string& type, const std::string& op, const std::string& id,
                        Json resource = nullptr, const std::string& member_id = "") {
  ChangeRecord c;
  c.directory = "users";
  c.time = FromUnixMillis(9000);
  c.type = type;
  c.op = op;
  c.id = id;
  c.member_id = member_id;
  c.resource = std::move(resource);
  return c;
}

class LdapAreaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_.path(), {});
    ASSERT_TRUE(store) << store.error().detail;
    store_ = std::move(*store);
  }
  void MustWrite(const std::function<Status(Transaction&)>& job) {
    test_support::MustWrite(*store_, job);
  }
  void MustRead(const std::function<Status(Transaction&)>& job) {
    test_support::MustRead(*store_, job);
  }
  ErrorCode WriteError(const std::function<Status(Transaction&)>& job) {
    auto status = store_->Write(job);
    EXPECT_FALSE(status);
    return status ? ErrorCode::kInternal : status.error().code;
  }
  // Users u0..u{n-1} named user0..., in creation order.
  void AddUsers(int n) {
    MustWrite([&](Transaction& tx) -> Status {
      for (int i = 0; i < n; ++i) {
        auto put =
            tx.PutEffectiveUser(MakeUser("u" + std::to_string(i), "user" + std::to_string(i)));
        if (!put) return put.error();
      }
      return Status::Ok();
    });
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

LdapAccount MakeAccount(const std::string& name) {
  LdapAccount a;
  a.name = name;
  a.directory = "users";
  a.hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
  a.created = FromUnixMillis(1000);
  a.rotated = FromUnixMillis(1000);
  return a;
}

TEST_F(LdapAreaTest, AccountsAreCreatedListedRotatedAndDeleted) {
  int64_t generation = *store_->ConfigGeneration();
  MustWrite([&](Transaction& tx) -> Status {
    auto b = tx.Ldap().CreateLdapAccount(MakeAccount("wiki"));
    if (!b) return b.error();
    EXPECT_GT(b->id, 0);
    return AsStatus(tx.Ldap().CreateLdapAccount(MakeAccount("app")));
  });
  // Cached bind results are validated against the generation: every change must bump it.
  EXPECT_GT(*store_->ConfigGeneration(), generation);
  EXPECT_EQ(WriteError([](Transaction& tx) {
              return AsStatus(tx.Ldap().CreateLdapAccount(MakeAccount("wiki")));
            }),
            ErrorCode::kUniqueness);
  MustRead([&](Transaction& tx) -> Status {
    auto all = tx.Ldap().ListLdapAccounts();
    if (!all) return all.error();
    EXPECT_EQ(all->size(), 2u);
    if (all->size() == 2u) {
      EXPECT_EQ((*all)[0].name, "app");  // by name
      EXPECT_EQ((*all)[1].name, "wiki");
    }
    auto one = tx.Ldap().GetLdapAccount("wiki");
    if (!one) return one.error();
    EXPECT_EQ(one->directory, "users");
    EXPECT_EQ(one->hash, MakeAccount("wiki").hash);
    EXPECT_EQ(one->created, FromUnixMillis(1000));
    EXPECT_EQ(tx.Ldap().GetLdapAccount("nope").error().code, ErrorCode::kNotFound);
    return Status::Ok();
  });
  generation = *store_->ConfigGeneration();
  MustWrite([](Transaction& tx) {
    return tx.Ldap().SetLdapAccountHash("wiki", "$argon2id$new", FromUnixMillis(2000));
  });
  EXPECT_GT(*store_->ConfigGeneration(), generation);
  MustRead([](Transaction& tx) -> Status {
    auto one = tx.Ldap().GetLdapAccount("wiki");
    if (!one) return one.error();
    EXPECT_EQ(one->hash, "$argon2id$new");
    EXPECT_EQ(one->created, FromUnixMillis(1000));
    EXPECT_EQ(one->rotated, FromUnixMillis(2000));
    return Status::Ok();
  });
  EXPECT_EQ(WriteError([](Transaction& tx) {
              return tx.Ldap().SetLdapAccountHash("nope", "x", FromUnixMillis(1));
            }),
            ErrorCode::kNotFound);
  generation = *store_->ConfigGeneration();
  MustWrite([](Transaction& tx) { return tx.Ldap().DeleteLdapAccount("wiki"); });
  EXPECT_GT(*store_->ConfigGeneration(), generation);
  EXPECT_EQ(WriteError([](Transaction& tx) { return tx.Ldap().DeleteLdapAccount("wiki"); }),
            ErrorCode::kNotFound);
  MustRead([](Transaction& tx) -> Status {
    EXPECT_EQ(tx.Ldap().ListLdapAccounts()->size(), 1u);
    return Status::Ok();
  });
}

TEST_F(LdapAreaTest, WritesThroughAReadTransactionFail) {
  auto status = store_->Read([](Transaction& tx) -> Status {
    EXPECT_EQ(tx.Ldap().CreateLdapAccount(MakeAccount("x")).error().code, ErrorCode::kInternal);
    EXPECT_EQ(tx.Ldap().DeleteLdapAccount("x").error().code, ErrorCode::kInternal);
    EXPECT_EQ(tx.Ldap().PutLdapSettings("users", Json::object()).error().code,
              ErrorCode::kInternal);
    return Status::Ok();
  });
  EXPECT_TRUE(status);
}

TEST_F(LdapAreaTest, SettingsAreEmptyUntilPutThenReplaced) {
  MustRead([](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.Ldap().GetLdapSettings("users"), Json::object());
    return Status::Ok();
  });
  const int64_t generation = *store_->ConfigGeneration();
  MustWrite([](Transaction& tx) {
    return tx.Ldap().PutLdapSettings("users", Json{{"posix", true}});
  });
  EXPECT_GT(*store_->ConfigGeneration(), generation);
  MustWrite([](Transaction& tx) {
    return tx.Ldap().PutLdapSettings("users", Json{{"profile", "active_directory"}});
  });
  MustRead([](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.Ldap().GetLdapSettings("users"), (Json{{"profile", "active_directory"}}));
    EXPECT_EQ(*tx.Ldap().GetLdapSettings("customers"), Json::object());
    return Status::Ok();
  });
}

TEST_F(LdapAreaTest, KeysetPagesGiveEveryRowExactlyOnce) {
  constexpr int kUsers = 600;  // more than two internal chunks of 256
  AddUsers(kUsers);
  MustWrite([](Transaction& tx) -> Status {
    for (int i = 0; i < 7; ++i) {
      auto put =
          tx.PutEffectiveGroup(MakeEGroup("g" + std::to_string(i), "group" + std::to_string(i)));
      if (!put) return put.error();
    }
    // A user deleted between pages must not shift the others (no OFFSET).
    return tx.DeleteEffectiveUser("users", "u3");
  });
  MustRead([&](Transaction& tx) -> Status {
    std::vector<std::string> seen;
    int64_t after = 0;
    int pages = 0;
    for (;;) {
      int64_t last = after;
      int in_page = 0;
      auto walked =
          tx.Ldap().UsersAfter("users", after, 100, [&](int64_t pk, const EffectiveUserRow& row) {
            EXPECT_GT(pk, last);
            last = pk;
            seen.push_back(row.id);
            ++in_page;
            return true;
          });
      if (!walked) return walked;
      ++pages;
      if (in_page == 0) break;
      EXPECT_LE(in_page, 100);
      after = last;
    }
    EXPECT_EQ(pages, 7);  // six full pages of 100 (599 users), then an empty one
    EXPECT_EQ(seen.size(), static_cast<size_t>(kUsers - 1));
    std::vector<std::string> expected;
    for (int i = 0; i < kUsers; ++i) {
      if (i != 3) expected.push_back("u" + std::to_string(i));
    }
    EXPECT_EQ(seen, expected);

    // One call with a limit larger than a chunk, stopped early by the visitor.
    int visited = 0;
    EXPECT_TRUE(tx.Ldap().UsersAfter(
        "users", 0, 1000, [&](int64_t, const EffectiveUserRow&) { return ++visited < 300; }));
    EXPECT_EQ(visited, 300);
    visited = 0;
    EXPECT_TRUE(tx.Ldap().UsersAfter("users", 0, 0, [&](int64_t, const EffectiveUserRow&) {
      ++visited;
      return true;
    }));
    EXPECT_EQ(visited, 0);

    std::vector<std::string> groups;
    int64_t gafter = 0;
    for (;;) {
      int n = 0;
      auto walked =
          tx.Ldap().GroupsAfter("users", gafter, 3, [&](int64_t pk, const EffectiveGroupRow& row) {
            gafter = pk;
            groups.push_back(row.name);
            ++n;
            return true;
          });
      if (!walked) return walked;
      if (n == 0) break;
    }
    EXPECT_EQ(groups, (std::vector<std::string>{"group0", "group1", "group2", "group3", "group4",
                                                "group5", "group6"}));
    EXPECT_TRUE(tx.Ldap().UsersAfter("customers", 0, 10, [](int64_t, const EffectiveUserRow&) {
      ADD_FAILURE() << "customers has no users";
      return true;
    }));
    return Status::Ok();
  });
}

// LDAP scans read only what the LDAP view uses (attributes.<name>.value and entitlements),
// with a scanner that skips the rest; its values must equal a full parse's, escapes and all,
// and a body it does not expect must still read in full.
TEST_F(LdapAreaTest, ScansKeepAttributeValuesAndEntitlementsOfEveryBody) {
  const Json provenance = {{"connection", "c\"1\\"},
                           {"rule", "attributes.x.sources[0]"},
                           {"time", "2026-01-01T00:00:00Z"},
                           {"nested", {{"a", {1, 2.5, nullptr}}}}};
  Json attrs = Json::object();
  const std::vector<Json> values = {
      "plain", "quote \" and backslash \\", "tail\\", "\u00e9\n\t", 12.5, true,
      nullptr, Json::array({"a\\\"", "b"})};
  for (size_t i = 0; i < values.size(); ++i) {
    Json a = provenance;
    a["value"] = values[i];
    attrs["attr" + std::to_string(i)] = a;
  }
  attrs["flat"] = "not an object";
  const Json full = {{"attributes", attrs},
                     {"entitlements", {{{"value", "e\"1"}}, {{"value", "e2"}}}},
                     {"memberships", {{{"group", "g}"}}}},
                     {"warnings", Json::array()}};
  const Json escaped_key = {{"attributes", {{"k\"ey", {{"value", "v"}, {"rule", "r"}}}}},
                            {"state_reason", "x"}};
  MustWrite([&](Transaction& tx) -> Status {
    EffectiveUserRow a = MakeUser("a", "a");
    a.body = full;
    EffectiveUserRow b = MakeUser("b", "b");
    b.body = escaped_key;  // an escaped key: the scanner gives up, the full parse reads it
    for (auto* u : {&a, &b}) {
      auto put = tx.PutEffectiveUser(*u);
      if (!put) return put.error();
    }
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    std::vector<Json> bodies;
    auto walked = tx.Ldap().UsersAfter("users", 0, 10, [&](int64_t, const EffectiveUserRow& row) {
      bodies.push_back(row.body);
      return true;
    });
    if (!walked) return walked;
    EXPECT_EQ(bodies.size(), 2u);
    if (bodies.size() != 2) return Status::Ok();
    Json expected_attrs = Json::object();
    for (size_t i = 0; i < values.size(); ++i) {
      expected_attrs["attr" + std::to_string(i)] = {{"value", values[i]}};
    }
    expected_attrs["flat"] = "not an object";
    EXPECT_EQ(bodies[0],
              (Json{{"attributes", expected_attrs}, {"entitlements", full["entitlements"]}}));
    EXPECT_EQ(bodies[1], escaped_key);
    return Status::Ok();
  });
}

TEST_F(LdapAreaTest, MembersComeInUserPkOrderWithNamesAndState) {
  AddUsers(5);
  MustWrite([](Transaction& tx) -> Status {
    if (auto g = tx.PutEffectiveGroup(MakeEGroup("g", "staff")); !g) return g.error();
    if (auto g = tx.PutEffectiveGroup(MakeEGroup("empty", "empty")); !g) return g.error();
    auto disabled = MakeUser("u1", "user1");
    disabled.state = "disabled";
    if (auto put = tx.PutEffectiveUser(disabled); !put) return put.error();
    // Added in an order other than creation order.
    for (const char* id : {"u4", "u1", "u3", "u0"}) {
      if (auto added = tx.AddEffectiveMember("users", "g", id); !added) return added.error();
    }
    return Status::Ok();
  });
  MustRead([](Transaction& tx) -> Status {
    std::vector<MemberName> names;
    auto listed = tx.Ldap().MemberNames("users", "g", [&](const MemberName& m) {
      names.push_back(m);
      return true;
    });
    if (!listed) return listed;
    std::vector<std::string> ids;
    for (const auto& m : names) ids.push_back(m.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"u0", "u1", "u3", "u4"}));
    if (names.size() == 4u) {
      EXPECT_EQ(names[1].username, "user1");
      EXPECT_EQ(names[1].state, "disabled");
      EXPECT_EQ(names[0].state, "active");
      EXPECT_EQ(names[0].pk, *tx.Ldap().UserPk("users", "u0"));
      EXPECT_LT(names[0].pk, names[1].pk);
    }
    // MembersAfter continues after a member's pk.
    std::vector<std::string> after;
    auto walked = tx.Ldap().MembersAfter("users", "g", names[1].pk, 10,
                                         [&](int64_t pk, const EffectiveUserRow& row) {
                                           EXPECT_EQ(pk, *tx.Ldap().UserPk("users", row.id));
                                           after.push_back(row.id);
                                           return true;
                                         });
    if (!walked) return walked;
    EXPECT_EQ(after, (std::vector<std::string>{"u3", "u4"}));
    after.clear();
    EXPECT_TRUE(tx.Ldap().MembersAfter("users", "g", 0, 1, [&](int64_t, const EffectiveUserRow& r) {
      after.push_back(r.id);
      return true;
    }));
    EXPECT_EQ(after, (std::vector<std::string>{"u0"}));
    int none = 0;
    EXPECT_TRUE(tx.Ldap().MemberNames("users", "empty", [&](const MemberName&) {
      ++none;
      return true;
    }));
    EXPECT_EQ(none, 0);
    auto no_group = [](const MemberName&) { return true; };
    EXPECT_EQ(tx.Ldap().MemberNames("users", "nope", no_group).error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.Ldap()
                  .MembersAfter("users", "nope", 0, 10,
                                [](int64_t, const EffectiveUserRow&) { return true; })
                  .error()
                  .code,
              ErrorCode::kNotFound);
    EXPECT_EQ(tx.Ldap().UserPk("users", "nope").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.Ldap().GroupPk("customers", "g").error().code, ErrorCode::kNotFound);
    EXPECT_GT(*tx.Ldap().GroupPk("users", "g"), 0);
    return Status::Ok();
  });
}

TEST_F(LdapAreaTest, MailKeyIsStoredAndReadBack) {
  MustWrite([](Transaction& tx) -> Status {
    if (auto p = tx.PutEffectiveUser(MakeUser("a", "alice", "alice@example.com")); !p) {
      return p.error();
    }
    if (auto p = tx.PutEffectiveUser(MakeUser("b", "bob", "")); !p) return p.error();
    // An update replaces the key.
    return AsStatus(tx.PutEffectiveUser(MakeUser("b", "bob", "bob@example.com")));
  });
  MustRead([](Transaction& tx) -> Status {
    EXPECT_EQ(tx.GetEffectiveUser("users", "a")->mail_key, "alice@example.com");
    EXPECT_EQ(tx.GetEffectiveUser("users", "b")->mail_key, "bob@example.com");
    return Status::Ok();
  });
  EXPECT_EQ(Query(store_->path(), "SELECT mail_key FROM effective_users ORDER BY pk"),
            (std::vector<std::string>{"alice@example.com", "bob@example.com"}));
}

TEST_F(LdapAreaTest, FindUsersByMailReturnsMatchesAndUnknownKeysInCreationOrder) {
  MustWrite([](Transaction& tx) -> Status {
    for (auto [id, mail] :
         std::vector<std::pair<std::string, std::string>>{{"a", "shared@example.com"},
                                                          {"b", "other@example.com"},
                                                          {"c", ""},
                                                          {"d", "shared@example.com"},
                                                          {"e", "unknown-yet@example.com"}}) {
      if (auto p = tx.PutEffectiveUser(MakeUser(id, "n" + id, mail)); !p) return p.error();
    }
    return Status::Ok();
  });
  // As a row written before migration 8 would be: key not known.
  Query(store_->path(), "UPDATE effective_users SET mail_key = NULL WHERE id = 'e'");
  MustRead([](Transaction& tx) -> Status {
    auto found = tx.Ldap().FindUsersByMail("users", "shared@example.com");
    if (!found) return found.error();
    std::vector<std::string> ids;
    for (const auto& u : *found) ids.push_back(u.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"a", "d", "e"}));
    auto none = tx.Ldap().FindUsersByMail("customers", "shared@example.com");
    EXPECT_TRUE(none && none->empty());
    auto only_unknown = tx.Ldap().FindUsersByMail("users", "nobody@example.com");
    EXPECT_EQ(only_unknown->size(), 1u);
    return Status::Ok();
  });
}

TEST_F(LdapAreaTest, LdapNameLookupsIgnoreInsignificantSpaces) {
  MustWrite([](Transaction& tx) -> Status {
    for (auto [id, name] :
         std::vector<std::pair<std::string, std::string>>{{"a", "  two-leading"},
                                                          {"b", "in  ner   spaces "},
                                                          {"c", "plain"},
                                                          {"d", "plainer"},
                                                          {"e", "two  words"},
                                                          {"f", "two words"}}) {
      if (auto p = tx.PutEffectiveUser(MakeUser(id, name, "")); !p) return p.error();
    }
    return Status::Ok();
  });
  MustRead([](Transaction& tx) -> Status {
    auto ids = [&](const std::string& key) {
      std::vector<std::string> out;
      auto found = tx.Ldap().FindUsersByLdapName("users", key);
      EXPECT_TRUE(found) << key;
      if (found) {
        for (const auto& u : *found) out.push_back(u.id);
      }
      return out;
    };
    EXPECT_EQ(ids("two-leading"), (std::vector<std::string>{"a"}));
    EXPECT_EQ(ids("in ner spaces"), (std::vector<std::string>{"b"}));
    EXPECT_EQ(ids("plain"), (std::vector<std::string>{"c"}));
    // One key with spaces to squeeze, one without: found by different indexes (migration 18),
    // returned together in creation order.
    EXPECT_EQ(ids("two words"), (std::vector<std::string>{"e", "f"}));
    EXPECT_TRUE(ids("Plain").empty());  // the key is already folded by the caller
    EXPECT_TRUE(ids("in ner  spaces").empty());
    auto none = tx.Ldap().FindUsersByLdapName("customers", "plain");
    EXPECT_TRUE(none && none->empty());
    return Status::Ok();
  });
}

TEST_F(LdapAreaTest, PosixNumbersAreStableAndNeverReused) {
  int64_t alice = 0;
  int64_t bob = 0;
  MustWrite([](Transaction& tx) -> Status {
    if (auto p = tx.PutEffectiveUser(MakeUser("a", "alice")); !p) return p.error();
    if (auto p = tx.PutEffectiveUser(MakeUser("b", "bob")); !p) return p.error();
    return AsStatus(tx.PutEffectiveGroup(MakeEGroup("g", "staff")));
  });
  MustRead([&](Transaction& tx) -> Status {
    alice = *tx.Ldap().PosixNumber("users", "user", "a");
    bob = *tx.Ldap().PosixNumber("users", "user", "b");
    EXPECT_LT(alice, bob);
    EXPECT_GT(*tx.Ldap().PosixNumber("users", "group", "g"), 0);
    EXPECT_EQ(tx.Ldap().PosixNumber("users", "group", "a").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(tx.Ldap().PosixNumber("users", "user", "zz").error().code, ErrorCode::kNotFound);
    return Status::Ok();
  });
  // Rewriting keeps the number; deleting bob and creating someone else named bob gives the
  // new person a new number; re-creating bob's effective id gives bob's number back.
  MustWrite([](Transaction& tx) -> Status {
    auto renamed = MakeUser("a", "alicia");
    if (auto p = tx.PutEffectiveUser(renamed); !p) return p.error();
    if (Status s = tx.DeleteEffectiveUser("users", "b"); !s) return s;
    return AsStatus(tx.PutEffectiveUser(MakeUser("b2", "bob")));
  });
  int64_t newcomer = 0;
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.Ldap().PosixNumber("users", "user", "a"), alice);
    newcomer = *tx.Ldap().PosixNumber("users", "user", "b2");
    EXPECT_GT(newcomer, bob);
    EXPECT_NE(newcomer, alice);
    return Status::Ok();
  });
  MustWrite([](Transaction& tx) { return AsStatus(tx.PutEffectiveUser(MakeUser("b", "bobby"))); });
  MustRead([&](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.Ldap().PosixNumber("users", "user", "b"), bob);
    return Status::Ok();
  });
}

TEST_F(LdapAreaTest, UsnsAndLastResourceComeFromTheChangeFeed) {
  int64_t user_upsert = 0, group_upsert = 0, add = 0, user_update = 0, remove = 0, user_delete = 0;
  MustWrite([&](Transaction& tx) -> Status {
    auto s1 = tx.AppendChange(MakeChange("User", "upsert", "u", Json{{"userName", "v1"}}));
    auto s2 = tx.AppendChange(MakeChange("Group", "upsert", "g", Json{{"displayName", "G"}}));
    auto s3 = tx.AppendChange(MakeChange("Membership", "add", "g", nullptr, "u"));
    auto s4 = tx.AppendChange(MakeChange("User", "upsert", "u", Json{{"userName", "v2"}}));
    auto s5 = tx.AppendChange(MakeChange("Membership", "remove", "g", nullptr, "u"));
    auto s6 = tx.AppendChange(MakeChange("User", "delete", "u"));
    for (auto* s : {&s1, &s2, &s3, &s4, &s5, &s6}) {
      if (!*s) return s->error();
    }
    user_upsert = *s1, group_upsert = *s2, add = *s3, user_update = *s4, remove = *s5,
    user_delete = *s6;
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    auto user = tx.Ldap().UsnOf("users", "u");
    if (!user) return user.error();
    EXPECT_EQ(user->created, user_upsert);
    EXPECT_EQ(user->changed, user_delete);
    // Membership changes change the group's member attribute.
    auto group = tx.Ldap().UsnOf("users", "g");
    EXPECT_EQ(group->created, group_upsert);
    EXPECT_EQ(group->changed, remove);
    auto none = tx.Ldap().UsnOf("users", "nope");
    EXPECT_EQ(none->created, 0);
    EXPECT_EQ(none->changed, 0);
    EXPECT_EQ(tx.Ldap().UsnOf("customers", "u")->created, 0);

    EXPECT_EQ(*tx.Ldap().LastResourceOf("users", "u"), (Json{{"userName", "v2"}}));
    EXPECT_EQ(*tx.Ldap().LastResourceOf("users", "g"), (Json{{"displayName", "G"}}));
    EXPECT_EQ(tx.Ldap().LastResourceOf("users", "nope").error().code, ErrorCode::kNotFound);

    auto keys = tx.Ldap().ChangeKeysAfter("users", add, 2);
    if (!keys) return keys.error();
    EXPECT_EQ(keys->size(), 2u);
    if (keys->size() == 2u) {
      EXPECT_EQ((*keys)[0].seq, user_update);
      EXPECT_EQ((*keys)[0].type, "User");
      EXPECT_EQ((*keys)[0].op, "upsert");
      EXPECT_EQ((*keys)[0].id, "u");
      EXPECT_EQ((*keys)[0].time, FromUnixMillis(9000));
      EXPECT_EQ((*keys)[1].seq, remove);
      EXPECT_EQ((*keys)[1].member_id, "u");
    }
    EXPECT_TRUE(tx.Ldap().ChangeKeysAfter("users", user_delete, 10)->empty());
    return Status::Ok();
  });
}

// A database left by migration 7 gains migration 8: its rows stay, users and groups get POSIX
// numbers in creation order, mail keys are unknown (NULL) until rewritten, and the new tables
// work.
TEST(LdapAreaUpgrade, MigratesADatabaseBuiltWithMigrationSeven) {
  TempDir dir;
  const std::string path = dir.path() + "/idsync.db";
  {
    SqliteOptions older;
    older.migrations = 7;
    auto store = SqliteStore::Open(dir.path(), older);
    ASSERT_TRUE(store) << store.error().detail;
    // Through SQL: this build's PutEffectiveUser writes mail_key, which migration 7 lacks.
    (*store)->Close();
  }
  for (const char* id : {"zed", "amy", "kim"}) {
    Query(path, std::string("INSERT INTO effective_users(directory, id, username, username_key, "
                            "state, body, version, created_ms, modified_ms) VALUES ('users', '") +
                    id + "', '" + id + "', '" + id + "', 'active', '{}', 1, 1, 1)");
  }
  Query(path,
        "INSERT INTO effective_groups(directory, id, name, name_key, body, version, created_ms, "
        "modified_ms) VALUES ('users', 'g1', 'G1', 'g1', '{}', 1, 1, 1)");
  EXPECT_EQ(Query(path, "SELECT max(version) FROM schema_migrations"),
            std::vector<std::string>{"7"});

  auto store = SqliteStore::Open(dir.path(), {});
  ASSERT_TRUE(store) << store.error().detail;
  EXPECT_EQ(Query(path, "SELECT max(version) FROM schema_migrations"),
            std::vector<std::string>{std::to_string(Migrations().back().version)});
  EXPECT_EQ(Query(path, "SELECT mail_key FROM effective_users ORDER BY pk"),
            (std::vector<std::string>{"NULL", "NULL", "NULL"}));
  ASSERT_TRUE((*store)->Read([](Transaction& tx) -> Status {
    EXPECT_EQ(*tx.CountEffectiveUsers("users"), 3);
    EXPECT_EQ(tx.GetEffectiveUser("users", "amy")->mail_key, "");
    const int64_t zed = *tx.Ldap().PosixNumber("users", "user", "zed");
    const int64_t amy = *tx.Ldap().PosixNumber("users", "user", "amy");
    const int64_t kim = *tx.Ldap().PosixNumber("users", "user", "kim");
    EXPECT_LT(zed, amy);  // creation order, not name order
    EXPECT_LT(amy, kim);
    EXPECT_GT(*tx.Ldap().PosixNumber("users", "group", "g1"), 0);
    EXPECT_EQ(tx.Ldap().FindUsersByMail("users", "amy@example.com")->size(), 3u);
    return Status::Ok();
  }));
  ASSERT_TRUE((*store)->Write([](Transaction& tx) -> Status {
    if (auto p = tx.PutEffectiveUser(MakeUser("new", "newcomer", "n@example.com")); !p) {
      return p.error();
    }
    return AsStatus(tx.Ldap().CreateLdapAccount(MakeAccount("app")));
  }));
  ASSERT_TRUE((*store)->Read([](Transaction& tx) -> Status {
    EXPECT_GT(*tx.Ldap().PosixNumber("users", "user", "new"),
              *tx.Ldap().PosixNumber("users", "user", "kim"));
    EXPECT_EQ(tx.Ldap().GetLdapAccount("app")->directory, "users");
    return Status::Ok();
  }));
}

}  // namespace
}  // namespace idsync::store::sqlite
