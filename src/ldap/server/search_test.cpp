// DirectorySearch over a real SQLite store: scopes, plans, paging with cookies, size limits,
// hidden disabled users, and the Active Directory feed plan and tombstones.
#include "ldap/server/search.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <lber.h>

#include "base/strings.h"
#include "base/time.h"
#include "ldap/protocol/filter.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/test_support.h"

namespace idsync::ldap {
namespace {

using store::sqlite::test_support::TempDir;

// What a test sees of one response message: the DN of an entry and its attribute names, or the
// result code of searchResultDone and the cookie of its paged-results control.
struct Message {
  int tag = 0;
  std::string dn;
  std::map<std::string, std::vector<std::string>> attributes;
  int code = -1;
  std::string cookie;
};

Message Decode(const std::string& bytes) {
  Message m;
  berval bv{static_cast<ber_len_t>(bytes.size()), const_cast<char*>(bytes.data())};
  BerElement* ber = ber_init(&bv);
  ber_int_t id = 0;
  ber_len_t len = 0;
  EXPECT_NE(ber_scanf(ber, "{i", &id), LBER_ERROR);
  ber_tag_t tag = ber_peek_tag(ber, &len);
  m.tag = static_cast<int>(tag);
  if (tag == 0x64) {
    berval dn{};
    EXPECT_NE(ber_scanf(ber, "{m{", &dn), LBER_ERROR);
    m.dn.assign(dn.bv_val, dn.bv_len);
    while (ber_peek_tag(ber, &len) == LBER_SEQUENCE) {
      berval type{};
      berval* values = nullptr;
      EXPECT_NE(ber_scanf(ber, "{m[W]}", &type, &values), LBER_ERROR);
      auto& out = m.attributes[std::string(type.bv_val, type.bv_len)];
      for (int i = 0; values && values[i].bv_val; ++i) {
        out.emplace_back(values[i].bv_val, values[i].bv_len);
      }
      ber_bvarray_free(values);
    }
  } else if (tag == 0x65) {
    ber_int_t code = 0;
    berval matched{}, text{};
    EXPECT_NE(ber_scanf(ber, "{emm}", &code, &matched, &text), LBER_ERROR);
    m.code = code;
    if (ber_peek_tag(ber, &len) == 0xa0) {
      berval oid{}, value{};
      EXPECT_NE(ber_scanf(ber, "{{m", &oid, &value), LBER_ERROR);
      if (ber_peek_tag(ber, &len) == LBER_BOOLEAN) {
        ber_int_t b = 0;
        ber_scanf(ber, "b", &b);
      }
      EXPECT_NE(ber_scanf(ber, "m", &value), LBER_ERROR);
      auto paged = DecodePagedResults(std::string_view(value.bv_val, value.bv_len));
      EXPECT_TRUE(paged);
      if (paged) m.cookie = paged->cookie;
    }
  }
  ber_free(ber, 1);  // ber_init copied the bytes
  return m;
}

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::sqlite::SqliteStore::Open(dir_.path(), {});
    ASSERT_TRUE(opened) << opened.error().detail;
    store_ = std::move(*opened);
    view_.name = "users";
  }

  void AddUser(const std::string& id, const std::string& username, bool active = true) {
    ASSERT_TRUE(store_->Write([&](store::Transaction& tx) -> Status {
      store::EffectiveUserRow row;
      row.directory = "users";
      row.id = id;
      row.username = username;
      row.username_key = FoldCase(username);
      row.mail_key = FoldCase(username + "@example.com");
      row.state = active ? "active" : "disabled";
      row.body = {{"attributes",
                   {{"email", {{"value", username + "@example.com"}}},
                    {"familyName", {{"value", "F" + username}}}}}};
      row.created = row.last_modified = FromUnixMillis(1700000000000 + ++clock_ * 1000);
      auto put = tx.PutEffectiveUser(row);
      if (!put) return put.error();
      store::ChangeRecord change;
      change.directory = "users";
      change.type = "User";
      change.op = "upsert";
      change.id = id;
      change.resource = {{"userName", username}};
      change.time = row.created;
      auto appended = tx.AppendChange(change);
      return appended ? Status::Ok() : Status(appended.error());
    }));
  }

  void AddGroup(const std::string& id, const std::string& name,
                const std::vector<std::string>& members) {
    ASSERT_TRUE(store_->Write([&](store::Transaction& tx) -> Status {
      store::EffectiveGroupRow row;
      row.directory = "users";
      row.id = id;
      row.name = name;
      row.name_key = FoldCase(name);
      row.created = row.last_modified = FromUnixMillis(1700000000000 + ++clock_ * 1000);
      auto put = tx.PutEffectiveGroup(row);
      if (!put) return put.error();
      for (const auto& m : members) {
        auto added = tx.AddEffectiveMember("users", id, m);
        if (!added) return added.error();
      }
      return Status::Ok();
    }));
  }

  void DeleteUser(const std::string& id) {
    ASSERT_TRUE(store_->Write([&](store::Transaction& tx) -> Status {
      if (Status s = tx.DeleteEffectiveUser("users", id); !s) return s;
      store::ChangeRecord change;
      change.directory = "users";
      change.type = "User";
      change.op = "delete";
      change.id = id;
      change.time = SystemClock::Instance().Now();
      auto appended = tx.AppendChange(change);
      return appended ? Status::Ok() : Status(appended.error());
    }));
  }

  // Runs a search; returns every message it sent, the searchResultDone last.
  std::vector<Message> Search(const std::string& base, Scope scope, const std::string& filter,
                              std::vector<std::string> attributes = {},
                              std::vector<Control> controls = {}, int64_t size_limit = 0) {
    SearchRequest request;
    request.base = base;
    request.scope = scope;
    auto parsed = ParseFilter(filter);
    EXPECT_TRUE(parsed) << filter;
    request.filter = *parsed;
    request.attributes = std::move(attributes);
    request.size_limit = size_limit;
    DirectorySearch search(*store_, schema_, tree_, limits_);
    std::vector<Message> out;
    std::atomic<bool> abandoned{false};
    auto outcome = search.Run(7, request, controls, view_, "cn=test,ou=services,dc=idsync",
                              abandoned, [&](std::string m) {
                                out.push_back(Decode(m));
                                return true;
                              });
    EXPECT_FALSE(outcome.stopped);
    out.push_back(Decode(EncodeSearchDone(7, outcome.result, outcome.controls)));
    return out;
  }

  static std::vector<std::string> Dns(const std::vector<Message>& messages) {
    std::vector<std::string> dns;
    for (const auto& m : messages) {
      if (m.tag == 0x64) dns.push_back(m.dn);
    }
    return dns;
  }

  static Control Paged(int64_t size, const std::string& cookie = "") {
    return {std::string(kPagedResultsOid), true, EncodePagedResults(size, cookie)};
  }

  TempDir dir_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  Schema schema_;
  Tree tree_{"dc=idsync"};
  SearchLimits limits_{.size_limit = 50, .time_limit = std::chrono::seconds(10), .chunk = 7};
  DirectoryView view_;
  int64_t clock_ = 0;
};

const std::string kPeople = "ou=people,ou=users,dc=idsync";
const std::string kContext = "ou=users,dc=idsync";

TEST_F(SearchTest, ScopesOfTheNamingContext) {
  AddUser("00000000-0000-0000-0000-000000000001", "alice");
  AddGroup("00000000-0000-0000-0000-0000000000a1", "Staff",
           {"00000000-0000-0000-0000-000000000001"});
  EXPECT_EQ(Dns(Search(kContext, Scope::kBase, "(objectClass=*)")),
            (std::vector<std::string>{kContext}));
  EXPECT_EQ(Dns(Search(kContext, Scope::kOneLevel, "(objectClass=*)")),
            (std::vector<std::string>{kPeople, "ou=groups," + kContext}));
  EXPECT_EQ(Dns(Search(kContext, Scope::kSubtree, "(objectClass=*)")),
            (std::vector<std::string>{kContext, kPeople, "ou=groups," + kContext,
                                      "uid=alice," + kPeople, "cn=Staff,ou=groups," + kContext}));
  EXPECT_EQ(Dns(Search("uid=ALICE," + kPeople, Scope::kBase, "(objectClass=*)")),
            (std::vector<std::string>{"uid=alice," + kPeople}));
  auto missing = Search("uid=nobody," + kPeople, Scope::kBase, "(objectClass=*)");
  EXPECT_EQ(missing.back().code, kNoSuchObject);
  EXPECT_EQ(Search("ou=customers,dc=idsync", Scope::kSubtree, "(objectClass=*)").back().code,
            kNoSuchObject);  // another directory does not exist for this identity
  EXPECT_EQ(Search("cn=x,dc=other", Scope::kSubtree, "(objectClass=*)").back().code, kNoSuchObject);
  EXPECT_EQ(Search("not a dn", Scope::kSubtree, "(objectClass=*)").back().code, kInvalidDnSyntax);
}

TEST_F(SearchTest, MemberValuesAreTheMembersDnsAndDisabledUsersAreHidden) {
  AddUser("00000000-0000-0000-0000-000000000001", "a,b+c");
  AddUser("00000000-0000-0000-0000-000000000002", "gone", /*active=*/false);
  AddGroup("00000000-0000-0000-0000-0000000000a1", "Staff",
           {"00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"});
  AddGroup("00000000-0000-0000-0000-0000000000a2", "Empty", {});
  auto groups = Search(kContext, Scope::kSubtree, "(objectClass=groupOfUniqueNames)");
  ASSERT_EQ(Dns(groups).size(), 2u);
  const std::string member = "uid=a\\,b\\+c," + kPeople;
  EXPECT_EQ(groups[0].attributes["uniqueMember"], (std::vector<std::string>{member}));
  EXPECT_EQ(groups[0].attributes["member"], (std::vector<std::string>{member}));
  EXPECT_EQ(groups[1].attributes.count("member"), 0u);  // an empty group is served, memberless
  EXPECT_EQ(Dns(Search(kPeople, Scope::kOneLevel, "(objectClass=*)")),
            (std::vector<std::string>{member}));
  auto alice = Search(member, Scope::kBase, "(objectClass=*)", {"memberOf"});
  EXPECT_EQ(alice[0].attributes["memberOf"],
            (std::vector<std::string>{"cn=Staff,ou=groups," + kContext}));
  // The memberOf plan reads the group's members, and still hides the disabled one.
  EXPECT_EQ(Dns(Search(kPeople, Scope::kSubtree, "(memberOf=cn=staff,ou=groups," + kContext + ")")),
            (std::vector<std::string>{member}));
  view_.settings.show_disabled = true;
  EXPECT_EQ(Dns(Search(kPeople, Scope::kSubtree, "(memberOf=cn=staff,ou=groups," + kContext + ")"))
                .size(),
            2u);
}

TEST_F(SearchTest, IndexPlansReturnWhatTheFilterSelects) {
  for (int i = 0; i < 30; ++i) {
    char id[40];
    std::snprintf(id, sizeof(id), "00000000-0000-0000-0000-%012d", i);
    AddUser(id, "user" + std::to_string(i));
  }
  EXPECT_EQ(Dns(Search(kContext, Scope::kSubtree, "(&(objectClass=inetOrgPerson)(uid=USER7))")),
            (std::vector<std::string>{"uid=user7," + kPeople}));
  EXPECT_EQ(Dns(Search(kContext, Scope::kSubtree, "(mail=user8@EXAMPLE.com)")),
            (std::vector<std::string>{"uid=user8," + kPeople}));
  EXPECT_EQ(
      Dns(Search(kContext, Scope::kSubtree, "(entryUUID=00000000-0000-0000-0000-000000000009)")),
      (std::vector<std::string>{"uid=user9," + kPeople}));
  EXPECT_EQ(Dns(Search(kContext, Scope::kSubtree, "(|(uid=user1)(cn=user2)(uid=nobody))")).size(),
            2u);
  EXPECT_EQ(
      Dns(Search(kContext, Scope::kSubtree,
                 "(|(entryDN=uid=user3," + kPeople + ")(entryDN=UID=user4," + kPeople + "))")),
      (std::vector<std::string>{"uid=user3," + kPeople, "uid=user4," + kPeople}));
  // The whole filter still applies to the index's candidates.
  EXPECT_TRUE(Dns(Search(kContext, Scope::kSubtree, "(&(uid=user7)(sn=nope))")).empty());
}

TEST_F(SearchTest, PagingVisitsEveryEntryOnceAndSizeLimitsAreNeverAShortSuccess) {
  for (int i = 0; i < 120; ++i) {
    char id[40];
    std::snprintf(id, sizeof(id), "00000000-0000-0000-0000-%012d", i);
    AddUser(id, "user" + std::to_string(i));
  }
  // Without paging: 120 matches, server limit 50 -> 50 entries, then sizeLimitExceeded.
  auto unpaged = Search(kPeople, Scope::kOneLevel, "(objectClass=person)");
  EXPECT_EQ(Dns(unpaged).size(), 50u);
  EXPECT_EQ(unpaged.back().code, kSizeLimitExceeded);
  // The client's own limit, below the server's.
  auto limited = Search(kPeople, Scope::kOneLevel, "(objectClass=person)", {}, {}, 10);
  EXPECT_EQ(Dns(limited).size(), 10u);
  EXPECT_EQ(limited.back().code, kSizeLimitExceeded);
  // Exactly the limit is a success.
  auto exact = Search(kPeople, Scope::kOneLevel, "(|(uid=user1)(uid=user2))", {}, {}, 2);
  EXPECT_EQ(exact.back().code, kSuccess);

  // Paged by 13 (chunk 7): every user exactly once, the last page without a cookie.
  std::map<std::string, int> seen;
  std::string cookie;
  int pages = 0;
  do {
    auto page =
        Search(kPeople, Scope::kOneLevel, "(objectClass=person)", {"1.1"}, {Paged(13, cookie)});
    ASSERT_EQ(page.back().code, kSuccess);
    for (const auto& dn : Dns(page)) ++seen[dn];
    cookie = page.back().cookie;
    ++pages;
    // A change between pages: a new user appears once, later in creation order.
    if (pages == 3) AddUser("00000000-0000-0000-0000-999999999999", "late");
  } while (!cookie.empty() && pages < 100);
  EXPECT_EQ(seen.size(), 121u);
  for (const auto& [dn, n] : seen) EXPECT_EQ(n, 1) << dn;
  // A cookie of another search is refused.
  auto first = Search(kPeople, Scope::kOneLevel, "(objectClass=person)", {}, {Paged(5)});
  auto other = Search(kPeople, Scope::kOneLevel, "(uid=*)", {}, {Paged(5, first.back().cookie)});
  EXPECT_EQ(other.back().code, kUnwillingToPerform);
  // Size 0 ends a paged search.
  auto end = Search(kPeople, Scope::kOneLevel, "(objectClass=person)", {},
                    {Paged(0, first.back().cookie)});
  EXPECT_EQ(end.back().code, kSuccess);
  EXPECT_TRUE(Dns(end).empty());
  EXPECT_TRUE(end.back().cookie.empty());
}

TEST_F(SearchTest, AttributeSelection) {
  AddUser("00000000-0000-0000-0000-000000000001", "alice");
  auto all = Search("uid=alice," + kPeople, Scope::kBase, "(objectClass=*)");
  EXPECT_TRUE(all[0].attributes.count("uid"));
  EXPECT_FALSE(all[0].attributes.count("entryUUID"));  // operational: only when asked
  auto ops = Search("uid=alice," + kPeople, Scope::kBase, "(objectClass=*)", {"+"});
  EXPECT_FALSE(ops[0].attributes.count("uid"));
  EXPECT_EQ(ops[0].attributes["entryUUID"],
            (std::vector<std::string>{"00000000-0000-0000-0000-000000000001"}));
  EXPECT_TRUE(ops[0].attributes.count("createTimestamp"));
  auto none = Search("uid=alice," + kPeople, Scope::kBase, "(objectClass=*)", {"1.1"});
  EXPECT_TRUE(none[0].attributes.empty());
  auto named = Search("uid=alice," + kPeople, Scope::kBase, "(objectClass=*)",
                      {"commonName", "MAIL", "nonsense"});
  EXPECT_EQ(named[0].attributes.size(), 2u);
  EXPECT_EQ(named[0].attributes["cn"], (std::vector<std::string>{"alice"}));
  EXPECT_EQ(named[0].attributes["sn"].size(), 0u);
}

TEST_F(SearchTest, ActiveDirectoryUsnPlanAndTombstones) {
  view_.settings.profile = Profile::kActiveDirectory;
  AddUser("00000000-0000-0000-0000-000000000001", "alice");
  AddUser("00000000-0000-0000-0000-000000000002", "bob");
  int64_t watermark = 0;
  ASSERT_TRUE(store_->Read([&](store::Transaction& tx) -> Status {
    auto last = tx.LastChangeSeq("users");
    if (last) watermark = *last;
    return Status::Ok();
  }));
  AddUser("00000000-0000-0000-0000-000000000003", "carol");
  DeleteUser("00000000-0000-0000-0000-000000000002");
  const std::string since = "(uSNChanged>=" + std::to_string(watermark + 1) + ")";
  // Changed since the watermark: carol only (bob is deleted, alice did not change).
  auto changed =
      Search(kContext, Scope::kSubtree, "(&(objectCategory=Person)(sAMAccountName=*)" + since + ")",
             {"sAMAccountName", "objectGUID", "uSNChanged", "userAccountControl"});
  ASSERT_EQ(Dns(changed).size(), 1u);
  EXPECT_EQ(changed[0].attributes["sAMAccountName"], (std::vector<std::string>{"carol"}));
  EXPECT_EQ(changed[0].attributes["userAccountControl"], (std::vector<std::string>{"512"}));
  EXPECT_EQ(changed[0].attributes["objectGUID"][0].size(), 16u);
  // Tombstones need the show-deleted control.
  EXPECT_TRUE(Dns(Search(kContext, Scope::kSubtree, "(&(isDeleted=TRUE)" + since + ")")).empty());
  auto deleted = Search(
      kContext, Scope::kSubtree, "(&(objectClass=user)(isDeleted=TRUE)" + since + ")",
      {"objectGUID", "sAMAccountName"}, {{std::string(kShowDeletedOid), true, std::nullopt}});
  ASSERT_EQ(Dns(deleted).size(), 1u);
  EXPECT_EQ(deleted[0].attributes["sAMAccountName"], (std::vector<std::string>{"bob"}));
  EXPECT_EQ(deleted[0].attributes["objectGUID"][0],
            ObjectGuid("00000000-0000-0000-0000-000000000002"));
  EXPECT_NE(deleted[0].dn.find("\\0ADEL:00000000-0000-0000-0000-000000000002"), std::string::npos);
}

TEST_F(SearchTest, PosixAccountsAndGroupsForSssd) {
  view_.settings.posix = true;
  view_.settings.uid_base = 20000;
  view_.settings.home_template = "/home/{uid}";
  AddUser("00000000-0000-0000-0000-000000000001", "alice");
  AddUser("00000000-0000-0000-0000-000000000002", "bob");
  AddGroup("00000000-0000-0000-0000-0000000000a1", "Staff",
           {"00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"});
  auto users = Search(kPeople, Scope::kOneLevel, "(objectClass=posixAccount)",
                      {"uidNumber", "gidNumber", "homeDirectory", "loginShell"});
  ASSERT_EQ(Dns(users).size(), 2u);
  EXPECT_EQ(users[0].attributes["uidNumber"], (std::vector<std::string>{"20001"}));
  EXPECT_EQ(users[1].attributes["uidNumber"], (std::vector<std::string>{"20002"}));
  EXPECT_EQ(users[0].attributes["gidNumber"], users[0].attributes["uidNumber"]);
  EXPECT_EQ(users[1].attributes["homeDirectory"], (std::vector<std::string>{"/home/bob"}));
  EXPECT_EQ(users[1].attributes["loginShell"], (std::vector<std::string>{"/bin/bash"}));
  // SSSD's lookups: by number, and a group's members by uid.
  EXPECT_EQ(Dns(Search(kPeople, Scope::kSubtree, "(&(objectClass=posixAccount)(uidNumber=20002))")),
            (std::vector<std::string>{"uid=bob," + kPeople}));
  auto group = Search(kContext, Scope::kSubtree, "(&(objectClass=posixGroup)(memberUid=bob))",
                      {"gidNumber", "memberUid"});
  ASSERT_EQ(Dns(group).size(), 1u);
  EXPECT_EQ(group[0].attributes["memberUid"], (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(group[0].attributes["gidNumber"], (std::vector<std::string>{"10001"}));
  // Without the setting, no POSIX class or attribute.
  view_.settings.posix = false;
  EXPECT_TRUE(Dns(Search(kPeople, Scope::kOneLevel, "(objectClass=posixAccount)")).empty());
}

TEST(ObjectGuid, FirstThreeFieldsAreLittleEndian) {
  std::string g = ObjectGuid("00112233-4455-6677-8899-aabbccddeeff");
  EXPECT_EQ(g, std::string("\x33\x22\x11\x00\x55\x44\x77\x66\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16));
}

}  // namespace
}  // namespace idsync::ldap
