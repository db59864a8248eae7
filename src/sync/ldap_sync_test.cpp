// LdapSync against a real slapd (SlapdFixture): full and incremental sync, failures that must
// deprovision nobody, the mass-deprovision guard, test search, login sync, the scheduler and
// overlapping triggers. Each test that changes the directory gets a server of its own.
#include "sync/ldap_sync.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/strings.h"
#include "directory/directory_service.h"
#include "store/sqlite/sqlite_store.h"
#include "sync/ldap/testing/slapd_fixture.h"
#include "sync/scheduler.h"

namespace idsync::sync {
namespace {

using ldap::testing::SlapdFixture;
using ldap::testing::SlapdOptions;
using scim::ResourceType;

constexpr int kBulk = 1200;
constexpr int kUsers = kBulk + SlapdFixture::kSpecialUsers;

RunOptions Full(bool confirm = false) {
  RunOptions o;
  o.full = true;
  o.confirm = confirm;
  return o;
}

class LdapSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto missing = SlapdFixture::MissingPrerequisite()) GTEST_SKIP() << *missing;
    std::string pattern = std::filesystem::temp_directory_path().string() + "/idsync-sync-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto slapd = SlapdFixture::Create(SlapdOptions{});
    ASSERT_TRUE(slapd) << slapd.error().detail;
    slapd_ = std::move(*slapd);
    auto store = store::sqlite::SqliteStore::Open(dir_, {});
    ASSERT_TRUE(store) << store.error().detail;
    store_ = std::move(*store);
    directory_ = std::make_unique<directory::DirectoryService>(*store_, clock_);
    auto box = SecretBox::Open(dir_);
    ASSERT_TRUE(box) << box.error().detail;
    box_ = std::make_unique<SecretBox>(std::move(*box));
    sync_ = std::make_unique<LdapSync>(*store_, *directory_, *box_, clock_);
  }

  void TearDown() override {
    sync_.reset();
    directory_.reset();
    if (store_) store_->Close();
    store_.reset();
    slapd_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Json Settings() const {
    return Json{{"url", slapd_->url()},
                {"start_tls", true},
                {"ca_file", slapd_->ca_file()},
                {"bind_dn", SlapdFixture::kServiceDn},
                {"base_dns", {SlapdFixture::kPeopleDn, SlapdFixture::kGroupsDn}},
                {"page_size", 200},
                {"batch_size", 200}};
  }

  void Add(const std::string& name, Json settings,
           const std::string& password = SlapdFixture::kServicePassword) {
    auto c = sync_->AddConnection(name, "users", settings, password, "test");
    ASSERT_TRUE(c) << c.error().detail;
  }

  store::SyncRun MustRun(const std::string& name, RunOptions options = {}) {
    auto run = sync_->Run(name, options);
    EXPECT_TRUE(run) << run.error().detail;
    if (!run) return {};
    EXPECT_EQ(run->outcome, "succeeded") << run->error;
    return *run;
  }

  int64_t Count(const std::string& name, ResourceType type) {
    int64_t n = -1;
    EXPECT_TRUE(store_->Read([&](store::Transaction& tx) -> Status {
      auto c = tx.GetConnectionByName(name);
      if (!c) return c.error();
      auto count = tx.CountResources(c->id, type);
      if (!count) return count.error();
      n = *count;
      return Status::Ok();
    }));
    return n;
  }

  // Effective users of "users" by state.
  std::map<std::string, int> States() {
    std::map<std::string, int> out;
    EXPECT_TRUE(store_->Read([&](store::Transaction& tx) -> Status {
      return tx.ScanEffectiveUsers("users", [&](const store::EffectiveUserRow& u) {
        ++out[u.state];
        return true;
      });
    }));
    return out;
  }

  std::optional<store::EffectiveUserRow> Effective(const std::string& username) {
    std::optional<store::EffectiveUserRow> out;
    EXPECT_TRUE(store_->Read([&](store::Transaction& tx) -> Status {
      auto u = tx.FindEffectiveUserByUsername("users", FoldCase(username));
      if (u) out = *u;
      return Status::Ok();
    }));
    return out;
  }

  // Names of the mirror groups `username` is a member of (flattened).
  std::set<std::string> GroupsOf(const std::string& connection, const std::string& uid) {
    std::set<std::string> out;
    EXPECT_TRUE(store_->Read([&](store::Transaction& tx) -> Status {
      auto c = tx.GetConnectionByName(connection);
      if (!c) return c.error();
      auto users = tx.FindByIndex(c->id, ResourceType::kUser, "username", FoldCase(uid));
      if (!users) return users.error();
      if (users->size() != 1) return MakeError(ErrorCode::kNotFound, "no user " + uid);
      auto groups = tx.GroupsOf(c->id, users->front().id);
      if (!groups) return groups.error();
      for (const auto& [id, name] : *groups) out.insert(name);
      return Status::Ok();
    }));
    return out;
  }

  std::string dir_;
  SystemClock clock_;
  std::unique_ptr<SlapdFixture> slapd_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  std::unique_ptr<directory::DirectoryService> directory_;
  std::unique_ptr<SecretBox> box_;
  std::unique_ptr<LdapSync> sync_;
};

TEST(LdapConfig, RejectsUnknownSettingsAndKeepsNoPassword) {
  auto bad = ParseLdapConfig(Json{{"url", "ldap://x"}, {"base_dns", {"dc=x"}}, {"colour", 1}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().detail.find("colour"), std::string::npos);
  EXPECT_FALSE(
      ParseLdapConfig(Json{{"url", "ldap://x"}, {"base_dns", {"dc=x"}}, {"bind_password", "p"}}));
  auto good = ParseLdapConfig(Json{{"url", "ldap://x"},
                                   {"base_dns", {"dc=x"}},
                                   {"schedule", "15m"},
                                   {"deprovision_guard", 0.2}});
  ASSERT_TRUE(good) << good.error().detail;
  EXPECT_EQ(good->schedule, std::chrono::minutes(15));
  Json stored = LdapConfigToJson(*good);
  EXPECT_FALSE(stored.contains("bind_password"));
  auto again = ParseLdapConfig(stored);
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_EQ(LdapConfigToJson(*again), stored);
}

TEST(LdapConfig, SaveRefusesBadFiltersAndSchedulesUnderAMinute) {
  auto check = [](Json settings) {
    settings["url"] = "ldap://x";
    settings["base_dns"] = {"dc=x"};
    auto c = ParseLdapConfig(settings);
    EXPECT_TRUE(c) << c.error().detail;
    return CheckForSave(*c);
  };
  EXPECT_TRUE(check(Json::object()));
  EXPECT_TRUE(check(Json{{"user_filter", "objectClass=user"}, {"schedule", "1m"}}));
  Status bad_user = check(Json{{"user_filter", "(&(objectClass=user)"}});
  ASSERT_FALSE(bad_user);
  EXPECT_EQ(bad_user.error().detail.rfind("user_filter: ", 0), 0u) << bad_user.error().detail;
  Status bad_group = check(Json{{"group_filter", "(cn=a)(cn=b)"}});
  ASSERT_FALSE(bad_group);
  EXPECT_EQ(bad_group.error().detail.rfind("group_filter: ", 0), 0u) << bad_group.error().detail;
  Status fast = check(Json{{"schedule", "30s"}});
  ASSERT_FALSE(fast);
  EXPECT_NE(fast.error().detail.find("one minute"), std::string::npos) << fast.error().detail;
  EXPECT_TRUE(check(Json{{"schedule", "0"}}));
}

TEST_F(LdapSyncTest, UpdateKeepsTheMirrorAndMakesTheNextRunFull) {
  Add("corp", Settings());
  MustRun("corp");
  auto refused = sync_->UpdateConnection("corp", Json{{"user_filter", "(uid=a"}}, "test");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidValue);
  auto same = sync_->UpdateConnection("corp", Json{{"schedule", "0"}}, "test");
  ASSERT_TRUE(same) << same.error().detail;
  EXPECT_TRUE(same->changed.empty());
  auto changed = sync_->UpdateConnection(
      "corp",
      Json{{"user_filter", "(&(objectClass=inetOrgPerson)(!(uid=alice)))"}, {"schedule", "15m"}},
      "test");
  ASSERT_TRUE(changed) << changed.error().detail;
  EXPECT_EQ(changed->changed, (std::vector<std::string>{"schedule", "user_filter"}));
  EXPECT_EQ(Count("corp", ResourceType::kUser), kUsers);  // the change deprovisions nobody
  auto run = sync_->Run("corp", RunOptions{});
  ASSERT_TRUE(run) << run.error().detail;
  EXPECT_EQ(run->mode, "full");  // the scope changed
  EXPECT_EQ(run->counts["removed"].get<int64_t>() + run->counts["disabled"].get<int64_t>(), 1);
}

TEST_F(LdapSyncTest, PasswordIsStoredSealedAndNeverInSettings) {
  Add("corp", Settings());
  std::string settings_text, sealed;
  ASSERT_TRUE(store_->Read([&](store::Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName("corp");
    settings_text = DumpJson(c->settings);
    sealed = *tx.GetSecret(c->id, "bind_password");
    return Status::Ok();
  }));
  EXPECT_EQ(settings_text.find(SlapdFixture::kServicePassword), std::string::npos);
  EXPECT_EQ(sealed.find(SlapdFixture::kServicePassword), std::string::npos);
  // The database file holds no plain password either.
  store_->Close();
  std::ifstream db(dir_ + "/idsync.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(db)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find(SlapdFixture::kServicePassword), std::string::npos);
}

TEST_F(LdapSyncTest, TestConnectionNamesEveryFailure) {
  Json s = Settings();
  Add("good", s);
  auto ok = sync_->Test("good", std::nullopt);
  ASSERT_TRUE(ok);
  EXPECT_TRUE((*ok)["ok"].get<bool>()) << ok->dump();

  Json unreachable = s;
  unreachable["url"] = "ldap://127.0.0.1:1";
  Add("unreachable", unreachable);
  Json tls = s;
  tls["ca_file"] = slapd_->other_ca_file();
  Add("tls", tls);
  Add("credentials", s, "wrong-password");
  Json base = s;
  base["base_dns"] = {"ou=nowhere,dc=example,dc=com"};
  Add("base", base);
  for (auto [name, failure] :
       std::vector<std::pair<std::string, std::string>>{{"unreachable", "unreachable"},
                                                        {"tls", "tls"},
                                                        {"credentials", "bad_credentials"},
                                                        {"base", "base_dn_not_found"}}) {
    auto r = sync_->Test(name, std::nullopt);
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_FALSE((*r)["ok"].get<bool>()) << name;
    EXPECT_EQ((*r)["failure"], failure) << name << ": " << r->dump();
    EXPECT_FALSE((*r)["message"].get<std::string>().empty());
    EXPECT_EQ(r->dump().find("wrong-password"), std::string::npos);
  }
}

TEST_F(LdapSyncTest, TestSearchShowsEntryEffectiveAttributesAndGroupsAndWritesNothing) {
  Add("corp", Settings());
  auto r = sync_->Test("corp", std::string("alice"));
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_TRUE((*r)["ok"].get<bool>()) << r->dump();
  const Json& user = (*r)["user"];
  EXPECT_EQ(user["entry"]["dn"], "uid=alice,ou=people,dc=example,dc=com");
  EXPECT_EQ(user["effective"]["username"]["value"], "alice");
  EXPECT_EQ(user["effective"]["email"]["value"], "alice@example.com");
  std::set<std::string> groups;
  for (const auto& g : user["groups"]) groups.insert(g.get<std::string>());
  EXPECT_EQ(groups,
            (std::set<std::string>{"staff", "admins", "devs", "cycle-a", "cycle-b", "parent"}));
  EXPECT_EQ(Count("corp", ResourceType::kUser), 0);
  EXPECT_EQ(Count("corp", ResourceType::kGroup), 0);
  EXPECT_TRUE(States().empty());
  auto runs = sync_->Runs("corp", 10);
  ASSERT_TRUE(runs);
  EXPECT_TRUE(runs->empty());
}

TEST_F(LdapSyncTest, FullSyncReadsPastTheSizeLimitAndFlattensNestedGroups) {
  Add("corp", Settings());
  auto run = MustRun("corp");
  EXPECT_EQ(run.mode, "full");
  EXPECT_EQ(run.counts["created"], kUsers);
  EXPECT_EQ(run.counts["groups_created"], SlapdFixture::kGroups);
  EXPECT_EQ(run.progress["entries_read"], kUsers + SlapdFixture::kGroups);
  EXPECT_EQ(Count("corp", ResourceType::kUser), kUsers);
  EXPECT_EQ(States()["active"], kUsers);
  // member, uniqueMember, memberUid; parent holds staff; cycle-a and cycle-b hold each other.
  EXPECT_EQ(GroupsOf("corp", "alice"),
            (std::set<std::string>{"staff", "admins", "devs", "cycle-a", "cycle-b", "parent"}));
  EXPECT_EQ(GroupsOf("corp", "bob"),
            (std::set<std::string>{"staff", "devs", "cycle-a", "cycle-b", "parent"}));
  auto alice = Effective("alice");
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->state, "active");

  auto again = MustRun("corp", Full());
  EXPECT_EQ(again.counts["unchanged"], kUsers);
  EXPECT_EQ(again.counts["created"], 0);
  EXPECT_EQ(again.counts["memberships_added"], 0);
}

TEST_F(LdapSyncTest, ActiveDirectoryStyleAccountBySamAccountNameAndObjectGuid) {
  Json s = Settings();
  s["user_filter"] = "(objectClass=idsyncAdUser)";
  s["id_attribute"] = "objectGUID";
  s["username_attribute"] = "sAMAccountName";
  Add("ad", s);
  auto run = MustRun("ad");
  EXPECT_EQ(run.counts["created"], 1);
  auto user = Effective("alice.ad");
  ASSERT_TRUE(user);
  EXPECT_TRUE(store_->Read([&](store::Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName("ad");
    auto r = tx.GetResource(c->id, ResourceType::kUser, SlapdFixture::kAliceGuid);
    if (!r) return r.error();
    EXPECT_TRUE(r->body.contains("objectGUID;binary"));
    return Status::Ok();
  }));
}

TEST_F(LdapSyncTest, IncrementalPicksUpAChangeARenameAndADeletion) {
  Add("corp", Settings());
  // The seed's modifyTimestamps must lie before the full run's start minus the 2 s clock-skew
  // allowance, or the first incremental run would read them again (correct, but not what this
  // test measures).
  std::this_thread::sleep_for(std::chrono::seconds(3));
  MustRun("corp");
  ASSERT_TRUE(slapd_->Apply(
      "dn: uid=bob,ou=people,dc=example,dc=com\nchangetype: modify\nreplace: mail\n"
      "mail: robert@example.com\n\n"
      "dn: uid=user0001,ou=people,dc=example,dc=com\nchangetype: modrdn\n"
      "newrdn: uid=user0001-renamed\ndeleteoldrdn: 1\n\n"
      "dn: uid=user0002,ou=people,dc=example,dc=com\nchangetype: delete\n\n"
      "dn: cn=admins,ou=groups,dc=example,dc=com\nchangetype: modify\nadd: uniqueMember\n"
      "uniqueMember: uid=bob,ou=people,dc=example,dc=com\n"));
  auto run = MustRun("corp");
  EXPECT_EQ(run.mode, "incremental");
  EXPECT_EQ(run.counts["updated"], 2) << run.counts.dump();  // bob, the renamed user
  EXPECT_EQ(run.counts["created"], 0);
  EXPECT_EQ(run.counts["disabled"], 1);           // default on_delete: disable
  EXPECT_EQ(run.counts["memberships_added"], 1);  // bob into admins
  // The incremental group pass (every group, flattened by group) agrees with the full run's
  // per-user memberships on everything else.
  EXPECT_EQ(run.counts["memberships_removed"], 0);
  EXPECT_LT(run.progress["entries_read"].get<int64_t>(), 2 * SlapdFixture::kGroups + 5);
  auto bob = Effective("bob");
  ASSERT_TRUE(bob);
  EXPECT_NE(DumpJson(bob->body).find("robert@example.com"), std::string::npos);
  EXPECT_TRUE(Effective("user0001-renamed"));
  EXPECT_FALSE(Effective("user0001"));
  auto gone = Effective("user0002");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->state, "disabled");
  EXPECT_TRUE(GroupsOf("corp", "bob").count("admins"));

  // Nothing changed since. The next run reads again only what changed within the clock-skew
  // allowance before the previous run (unchanged); the one after reads nothing but the ids.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto idle = MustRun("corp");
  EXPECT_EQ(idle.mode, "incremental");
  EXPECT_EQ(idle.counts["updated"], 0);
  EXPECT_EQ(idle.counts["created"], 0);
  auto idle2 = MustRun("corp");
  EXPECT_EQ(idle2.counts["unchanged"], 0);
  EXPECT_EQ(idle2.progress["entries_read"], 0);
}

TEST_F(LdapSyncTest, ServerStoppedDuringASyncDeprovisionsNobody) {
  Json s = Settings();
  s["page_size"] = 50;
  s["batch_size"] = 50;
  Add("corp", s);
  MustRun("corp");
  ASSERT_TRUE(slapd_->Apply("dn: uid=user0003,ou=people,dc=example,dc=com\nchangetype: delete\n"));
  std::atomic<bool> stopped{false};
  std::thread killer([&] {
    // Stop slapd once the run has written a few batches.
    for (int i = 0; i < 2000 && !stopped; ++i) {
      auto runs = sync_->Runs("corp", 1);
      if (runs && !runs->empty() && runs->front().outcome == "running" &&
          runs->front().progress.value("entries_read", 0) >= 200) {
        slapd_->Stop();
        stopped = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  auto run = sync_->Run("corp", Full());
  killer.join();
  ASSERT_TRUE(stopped) << "the run ended before slapd could be stopped";
  ASSERT_TRUE(run) << run.error().detail;
  EXPECT_EQ(run->outcome, "failed");
  EXPECT_NE(run->error.find("unreachable"), std::string::npos) << run->error;
  EXPECT_NE(run->error.find("nothing was deprovisioned"), std::string::npos);
  EXPECT_EQ(Count("corp", ResourceType::kUser), kUsers);  // user0003 still there
  EXPECT_EQ(States()["active"], kUsers);
  EXPECT_EQ(States()["disabled"], 0);

  ASSERT_TRUE(slapd_->Start());
  auto after = MustRun("corp", Full());
  EXPECT_EQ(after.counts["disabled"], 1);
}

TEST_F(LdapSyncTest, HungServerTimesOutAndDeprovisionsNobody) {
  Json s = Settings();
  s["operation_timeout"] = "1s";
  s["network_timeout"] = "1s";
  Add("corp", s);
  MustRun("corp");
  ASSERT_TRUE(slapd_->Apply("dn: uid=user0004,ou=people,dc=example,dc=com\nchangetype: delete\n"));
  slapd_->Pause();  // accepts connections, answers nothing
  auto run = sync_->Run("corp", Full());
  slapd_->Resume();
  ASSERT_TRUE(run) << run.error().detail;
  EXPECT_EQ(run->outcome, "failed");
  EXPECT_NE(run->error.find("timeout"), std::string::npos) << run->error;
  EXPECT_EQ(States()["disabled"], 0);
  EXPECT_EQ(Count("corp", ResourceType::kUser), kUsers);
}

TEST_F(LdapSyncTest, MassDeprovisionGuardStopsUntilConfirmed) {
  Add("corp", Settings());
  MustRun("corp");
  // A filter mistake: only 100 of the users match any more.
  ASSERT_TRUE(store_->Write([&](store::Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName("corp");
    c->settings["user_filter"] = "(&(objectClass=inetOrgPerson)(uid=user00*))";
    return tx.UpdateConnection(*c);
  }));
  auto stopped = sync_->Run("corp", Full());
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->outcome, "needs_confirmation");
  EXPECT_NE(stopped->error.find("--confirm"), std::string::npos) << stopped->error;
  EXPECT_EQ(States()["active"], kUsers);
  EXPECT_EQ(Count("corp", ResourceType::kUser), kUsers);

  auto confirmed = MustRun("corp", Full(true));
  EXPECT_EQ(confirmed.counts["disabled"], kUsers - 100);
  EXPECT_EQ(States()["active"], 100);
}

TEST_F(LdapSyncTest, LoginSyncRefreshesOneUserAndReturnsTheEffectiveRecord) {
  Add("corp", Settings());
  auto first = sync_->LoginSync("corp", "alice", directory::Actor{"test", "req-1"});
  ASSERT_TRUE(first) << first.error().detail;
  EXPECT_EQ((*first)["mirror"], "created");
  EXPECT_EQ((*first)["effective"]["username"], "alice");
  EXPECT_EQ(Count("corp", ResourceType::kUser), 1);
  EXPECT_TRUE(GroupsOf("corp", "alice").count("parent"));
  ASSERT_TRUE(
      slapd_->Apply("dn: uid=alice,ou=people,dc=example,dc=com\nchangetype: modify\n"
                    "replace: mail\nmail: alice.new@example.com\n"));
  auto second = sync_->LoginSync("corp", "alice", directory::Actor{"test", "req-2"});
  ASSERT_TRUE(second) << second.error().detail;
  EXPECT_EQ((*second)["mirror"], "updated");
  EXPECT_NE((*second)["effective"].dump().find("alice.new@example.com"), std::string::npos);
  auto missing = sync_->LoginSync("corp", "nobody", directory::Actor{"test", "req-3"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(LdapSyncTest, ScheduleFires) {
  Add("corp", Settings());
  // A one-second schedule cannot be saved any more (CheckForSave: at least 1m); one stored
  // before that rule still runs, which lets this test see two runs without waiting a minute.
  ASSERT_TRUE(store_->Write([&](store::Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName("corp");
    c->settings["schedule"] = "1s";
    return tx.UpdateConnection(*c);
  }));
  SyncScheduler scheduler(*sync_, clock_, std::chrono::milliseconds(50));
  scheduler.Start();
  std::vector<store::SyncRun> runs;
  for (int i = 0; i < 600; ++i) {
    auto r = sync_->Runs("corp", 10);
    ASSERT_TRUE(r);
    runs = *r;
    if (runs.size() >= 2 && runs.front().outcome != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  scheduler.Stop();
  ASSERT_GE(runs.size(), 2u);
  EXPECT_EQ(runs.back().trigger, "schedule");
  EXPECT_EQ(runs.back().mode, "full");
  EXPECT_EQ(runs.back().outcome, "succeeded");
  EXPECT_EQ(runs[runs.size() - 2].mode, "incremental");
}

TEST_F(LdapSyncTest, OverlappingTriggersAreSerialised) {
  Add("corp", Settings());
  // A second engine on the same database stands for another process (the CLI beside serve).
  LdapSync other(*store_, *directory_, *box_, clock_);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      LdapSync& engine = i == 1 ? other : *sync_;
      RunOptions o = Full();
      o.trigger = "t" + std::to_string(i);
      auto run = engine.Run("corp", o);
      if (!run || run->outcome != "succeeded") ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  auto runs = sync_->Runs("corp", 10);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 3u);
  std::vector<store::SyncRun> ordered(runs->rbegin(), runs->rend());
  for (size_t i = 1; i < ordered.size(); ++i) {
    ASSERT_TRUE(ordered[i - 1].ended);
    EXPECT_GE(ordered[i].started, *ordered[i - 1].ended) << "runs overlapped";
  }
  // A trigger that will not wait is refused while another process holds the lease.
  std::atomic<bool> refused{false};
  std::thread long_run([&] {
    RunOptions o = Full();
    o.on_started = [&](int64_t) {
      RunOptions impatient;
      impatient.wait_for_lease = std::chrono::milliseconds(0);
      auto r = other.Run("corp", impatient);
      refused = !r && r.error().code == ErrorCode::kUnavailable;
    };
    (void)sync_->Run("corp", o);
  });
  long_run.join();
  EXPECT_TRUE(refused);
}

}  // namespace
}  // namespace idsync::sync
