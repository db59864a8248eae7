// LdapAccounts and the LDAP settings functions over a real SqliteStore in a temporary folder.
#include "service/ldap_accounts.h"

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/password_hash.h"
#include "service/ldap_settings.h"
#include "store/sqlite/sqlite_store.h"

namespace idsync::service {
namespace {

class LdapAccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/idsync-ldap-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = store::sqlite::SqliteStore::Open(dir_, {});
    ASSERT_TRUE(store) << store.error().detail;
    store_ = std::move(*store);
    accounts_ = std::make_unique<LdapAccounts>(*store_, SystemClock::Instance());
  }
  void TearDown() override {
    accounts_.reset();
    if (store_) store_->Close();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::vector<store::AuditRecord> Audit() {
    std::vector<store::AuditRecord> out;
    EXPECT_TRUE(store_->Read([&](store::Transaction& tx) -> Status {
      auto list = tx.ListAudit({});
      if (!list) return list.error();
      out = *list;
      return Status::Ok();
    }));
    return out;
  }

  std::string dir_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  std::unique_ptr<LdapAccounts> accounts_;
};

TEST_F(LdapAccountsTest, AddStoresOnlyAHashAndTheNewPasswordAuthenticates) {
  auto added = accounts_->Add("wiki", "users", "cli");
  ASSERT_TRUE(added) << added.error().detail;
  EXPECT_EQ(added->password.rfind("idsync_ldap_", 0), 0u);
  EXPECT_EQ(added->password.size(), 12u + 43u);  // 256 bits in unpadded base64url
  EXPECT_EQ(added->account.name, "wiki");
  EXPECT_EQ(added->account.directory, "users");
  EXPECT_EQ(added->account.hash.rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(added->account.hash.find(added->password), std::string::npos);
  EXPECT_EQ(added->account.created, added->account.rotated);

  auto ok = accounts_->Authenticate("wiki", added->password);
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_EQ(ok->directory, "users");
  // A DN's cn is case-insensitive.
  EXPECT_TRUE(accounts_->Authenticate("WIKI", added->password));

  auto wrong = accounts_->Authenticate("wiki", added->password + "x");
  ASSERT_FALSE(wrong);
  auto unknown = accounts_->Authenticate("nobody", added->password);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(unknown.error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(wrong.error().detail, unknown.error().detail);  // names are not revealed
  EXPECT_FALSE(accounts_->Authenticate("wiki", ""));
  EXPECT_FALSE(accounts_->Authenticate("bad name", added->password));

  auto list = accounts_->List();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "wiki");
}

TEST_F(LdapAccountsTest, AddRefusesBadNamesUnknownDirectoriesAndDuplicates) {
  const std::string bad_names[] = {"", "has space", "cn=x", "a,b", "é", std::string(65, 'a')};
  for (const std::string& name : bad_names) {
    auto added = accounts_->Add(name, "users", "cli");
    ASSERT_FALSE(added) << name;
    EXPECT_EQ(added.error().code, ErrorCode::kInvalidValue) << name;
    EXPECT_NE(added.error().detail.find("1-64 letters, digits"), std::string::npos);
  }
  EXPECT_TRUE(accounts_->Add(std::string(64, 'a'), "users", "cli"));
  auto no_dir = accounts_->Add("app", "nope", "cli");
  ASSERT_FALSE(no_dir);
  EXPECT_EQ(no_dir.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(accounts_->Add("App.1_x-y", "customers", "cli"));
  auto dup = accounts_->Add("app.1_X-Y", "users", "cli");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kUniqueness);
}

TEST_F(LdapAccountsTest, RotateAndRemoveTakeEffectOnTheNextBindDespiteTheCache) {
  auto added = accounts_->Add("app", "users", "admin:ops");
  ASSERT_TRUE(added);
  ASSERT_TRUE(accounts_->Authenticate("app", added->password));  // now cached
  auto rotated = accounts_->Rotate("app", "admin:ops");
  ASSERT_TRUE(rotated) << rotated.error().detail;
  EXPECT_NE(rotated->password, added->password);
  EXPECT_GE(rotated->account.rotated, added->account.rotated);
  EXPECT_FALSE(accounts_->Authenticate("app", added->password));
  ASSERT_TRUE(accounts_->Authenticate("app", rotated->password));
  ASSERT_TRUE(accounts_->Authenticate("app", rotated->password));  // from the cache

  ASSERT_TRUE(accounts_->Remove("app", "admin:ops"));
  auto gone = accounts_->Authenticate("app", rotated->password);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(accounts_->Remove("app", "cli").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(accounts_->Rotate("app", "cli").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(accounts_->Get("app").error().code, ErrorCode::kNotFound);

  // Another LdapAccounts on the same store (another process: the CLI) sees the change too.
  auto again = accounts_->Add("app", "users", "cli");
  ASSERT_TRUE(again);
  LdapAccounts other(*store_, SystemClock::Instance());
  ASSERT_TRUE(other.Authenticate("app", again->password));
  ASSERT_TRUE(accounts_->Rotate("app", "cli"));
  EXPECT_FALSE(other.Authenticate("app", again->password));
}

TEST_F(LdapAccountsTest, EveryChangeIsAuditedWithoutThePassword) {
  auto added = accounts_->Add("app", "users", "admin:ops");
  ASSERT_TRUE(added);
  auto rotated = accounts_->Rotate("app", "cli");
  ASSERT_TRUE(rotated);
  ASSERT_TRUE(accounts_->Remove("app", "cli"));
  auto audit = Audit();
  std::vector<std::string> ops;
  for (const auto& r : audit) {
    if (r.resource_type != "LdapAccount") continue;
    ops.push_back(r.operation);
    EXPECT_EQ(r.resource_id, "app");
    EXPECT_NE(r.detail.find("app"), std::string::npos) << r.detail;
    EXPECT_NE(r.detail.find("users"), std::string::npos) << r.detail;
    EXPECT_EQ(r.detail.find(added->password), std::string::npos);
    EXPECT_EQ(r.detail.find(rotated->password), std::string::npos);
  }
  EXPECT_EQ(ops, (std::vector<std::string>{"ldap_account.add", "ldap_account.rotate",
                                           "ldap_account.remove"}));
  EXPECT_EQ(audit.front().actor, "admin:ops");
}

TEST_F(LdapAccountsTest, ConcurrentBindsAllSucceed) {
  auto added = accounts_->Add("app", "users", "cli");
  ASSERT_TRUE(added);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      if (accounts_->Authenticate("app", added->password)) ++ok;
      if (!accounts_->Authenticate("app", "wrong")) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 12);
}

TEST(LdapBindDn, FormatsAndParsesBack) {
  EXPECT_EQ(LdapAccounts::BindDn("app", "dc=idsync"), "cn=app,ou=services,dc=idsync");
  EXPECT_EQ(LdapAccounts::NameOfBindDn("cn=app,ou=services,dc=idsync", "dc=idsync"), "app");
  EXPECT_EQ(LdapAccounts::NameOfBindDn("CN=App.1,OU=Services,DC=IdSync", "dc=idsync"), "App.1");
  EXPECT_EQ(
      LdapAccounts::NameOfBindDn("cn = app , ou=services, dc=example,dc=com", "dc=example, dc=com"),
      "app");
  const char* not_accounts[] = {
      "",
      "cn=app",
      "cn=app,ou=people,dc=idsync",
      "uid=app,ou=services,dc=idsync",
      "cn=app,ou=services,dc=other",
      "cn=app,ou=services,dc=idsync,dc=extra",
      "cn=a b,ou=services,dc=idsync",
      "cn=,ou=services,dc=idsync",
      "cn=a\\2cb,ou=services,dc=idsync",
  };
  for (const char* dn : not_accounts) {
    EXPECT_EQ(LdapAccounts::NameOfBindDn(dn, "dc=idsync"), std::nullopt) << dn;
  }
}

TEST_F(LdapAccountsTest, SettingsDefaultThenValidateAgainstTheDirectory) {
  auto initial = GetLdapSettings(*store_, "users");
  ASSERT_TRUE(initial) << initial.error().detail;
  EXPECT_EQ(*initial, ldap::DirectorySettings{});
  EXPECT_EQ(GetLdapSettings(*store_, "nope").error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store_->Write([](store::Transaction& tx) -> Status {
    auto d = tx.GetDirectory("users");
    if (!d) return d.error();
    d->custom_attributes = Json::parse(R"([{"name": "badge", "type": "string",
                                           "multi_valued": false}])");
    auto put = tx.PutDirectory(*d);
    return put ? Status::Ok() : Status(put.error());
  }));
  auto bad = PutLdapSettings(*store_, SystemClock::Instance(), "users",
                             Json{{"attribute_names", {{"costCenter", "cc"}}}}, "cli");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidValue);
  EXPECT_EQ(bad.error().detail.rfind("attribute_names.costCenter: ", 0), 0u) << bad.error().detail;
  EXPECT_NE(bad.error().detail.find("badge"), std::string::npos);  // says what is defined
  auto invalid =
      PutLdapSettings(*store_, SystemClock::Instance(), "users", Json{{"uid_base", 5}}, "cli");
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().detail.rfind("uid_base:", 0), 0u);
  EXPECT_EQ(
      PutLdapSettings(*store_, SystemClock::Instance(), "nope", Json::object(), "cli").error().code,
      ErrorCode::kNotFound);

  auto put = PutLdapSettings(*store_, SystemClock::Instance(), "users",
                             Json{{"posix", true}, {"attribute_names", {{"badge", "badgeNumber"}}}},
                             "admin:ops");
  ASSERT_TRUE(put) << put.error().detail;
  auto read = GetLdapSettings(*store_, "users");
  ASSERT_TRUE(read);
  EXPECT_TRUE(read->posix);
  EXPECT_EQ(read->attribute_names.at("badge"), "badgeNumber");
  EXPECT_EQ(read->uid_base, 10000);
  auto audit = Audit();
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit.back().operation, "directory.ldap");
  EXPECT_EQ(audit.back().resource_id, "users");
}

}  // namespace
}  // namespace idsync::service
