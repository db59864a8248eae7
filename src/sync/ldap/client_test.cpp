// LdapClient against a real slapd (testing/slapd_fixture.h). Skipped, with the reason, when
// slapd is not installed; CI installs it (tools/install-deps.sh test).
#include "sync/ldap/client.h"

#include <chrono>
#include <set>
#include <stdexcept>
#include <string>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/strings.h"
#include "base/uuid.h"
#include "sync/ldap/testing/slapd_fixture.h"

namespace idsync::sync::ldap {
namespace {

using testing::SlapdFixture;
using testing::SlapdOptions;
using namespace std::chrono_literals;

constexpr int kUsers = 1200 + SlapdFixture::kSpecialUsers;

LdapSettings ServiceSettings(const SlapdFixture& slapd) {
  LdapSettings s;
  s.url = slapd.url();
  s.bind_dn = SlapdFixture::kServiceDn;
  s.bind_password = SlapdFixture::kServicePassword;
  s.base_dns = {SlapdFixture::kPeopleDn, SlapdFixture::kGroupsDn};
  s.page_size = 200;
  s.network_timeout = 2s;
  s.operation_timeout = 5s;
  return s;
}

LdapClient Client(const LdapSettings& settings) {
  auto client = LdapClient::Connect(settings);
  if (!client) throw std::runtime_error(client.error().detail);
  return std::move(*client);
}

std::string Describe(const LdapClient& client, const Status& status) {
  if (status) return "ok";
  return std::string(FailureName(client.last_failure().value_or(LdapFailure::kOther))) + ": " +
         status.error().detail;
}

// Starts a slapd per test suite, or skips when slapd is not installed.
class SlapdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (SlapdFixture::MissingPrerequisite()) return;
    auto created = SlapdFixture::Create();
    if (created) {
      shared_ = std::move(*created).release();
    } else {
      setup_error_ = new std::string(created.error().detail);
    }
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }
  void SetUp() override {
    if (auto missing = SlapdFixture::MissingPrerequisite()) GTEST_SKIP() << *missing;
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
    ASSERT_NE(shared_, nullptr);
  }
  SlapdFixture& slapd() { return *shared_; }

  // A private server, for tests that stop or pause it.
  std::unique_ptr<SlapdFixture> OwnSlapd(const SlapdOptions& options) {
    auto created = SlapdFixture::Create(options);
    if (!created) {
      ADD_FAILURE() << created.error().detail;
      return nullptr;
    }
    return std::move(*created);
  }

  static SlapdFixture* shared_;
  static std::string* setup_error_;
};

SlapdFixture* SlapdTest::shared_ = nullptr;
std::string* SlapdTest::setup_error_ = nullptr;

// Bound but not listening: connecting is refused, and no other process can take the port
// while the test runs.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~RefusingPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(SlapdTest, TestConnectionSucceeds) {
  LdapClient client = Client(ServiceSettings(slapd()));
  Status status = client.TestConnection();
  EXPECT_TRUE(status) << Describe(client, status);
  EXPECT_EQ(client.last_failure(), std::nullopt);
}

TEST_F(SlapdTest, StartTlsWithTheTestCaWorks) {
  LdapSettings settings = ServiceSettings(slapd());
  settings.start_tls = true;
  settings.ca_file = slapd().ca_file();
  LdapClient client = Client(settings);
  Status status = client.TestConnection();
  EXPECT_TRUE(status) << Describe(client, status);
  auto alice = client.FindUser("alice");
  ASSERT_TRUE(alice) << alice.error().detail;
  EXPECT_TRUE(alice->has_value());
}

TEST_F(SlapdTest, LdapsWithTheTestCaWorks) {
  LdapSettings settings = ServiceSettings(slapd());
  settings.url = slapd().ldaps_url();
  settings.ca_file = slapd().ca_file();
  LdapClient client = Client(settings);
  Status status = client.TestConnection();
  EXPECT_TRUE(status) << Describe(client, status);
}

TEST_F(SlapdTest, UnreachablePortIsReportedAsUnreachable) {
  RefusingPort refusing;
  LdapSettings settings = ServiceSettings(slapd());
  settings.url = "ldap://127.0.0.1:" + std::to_string(refusing.port());
  LdapClient client = Client(settings);
  Status status = client.TestConnection();
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kUnreachable) << Describe(client, status);
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(status.error().detail.find("refused"), std::string::npos) << status.error().detail;
}

TEST_F(SlapdTest, UnresolvableHostIsReportedAsUnreachable) {
  LdapSettings settings = ServiceSettings(slapd());
  settings.url = "ldap://idsync-test-host.invalid";  // RFC 2606: never resolves
  LdapClient client = Client(settings);
  Status status = client.TestConnection();
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kUnreachable) << Describe(client, status);
  EXPECT_NE(status.error().detail.find("resolve"), std::string::npos) << status.error().detail;
}

TEST_F(SlapdTest, StartTlsWithTheWrongCaIsATlsFailure) {
  LdapSettings settings = ServiceSettings(slapd());
  settings.start_tls = true;
  settings.ca_file = slapd().other_ca_file();
  LdapClient client = Client(settings);
  Status status = client.TestConnection();
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kTls) << Describe(client, status);
}

TEST_F(SlapdTest, LdapsWithTheWrongCaIsATlsFailure) {
  LdapSettings settings = ServiceSettings(slapd());
  settings.url = slapd().ldaps_url();
  settings.ca_file = slapd().other_ca_file();
  LdapClient client = Client(settings);
  Status status = client.TestConnection();
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kTls) << Describe(client, status);
}

TEST_F(SlapdTest, MissingCaFileIsATlsFailure) {
  LdapSettings settings = ServiceSettings(slapd());
  settings.start_tls = true;
  settings.ca_file = "/nonexistent/ca.pem";
  LdapClient client = Client(settings);
  Status status = client.TestConnection();
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kTls) << Describe(client, status);
  EXPECT_NE(status.error().detail.find("/nonexistent/ca.pem"), std::string::npos);
}

TEST_F(SlapdTest, StartTlsToAServerWithoutTlsIsATlsFailure) {
  auto plain = OwnSlapd({.tls = false, .bulk_users = 0});
  ASSERT_NE(plain, nullptr);
  LdapSettings settings = ServiceSettings(*plain);
  settings.start_tls = true;
  settings.ca_file = slapd().ca_file();
  LdapClient client = Client(settings);
  Status status = client.TestConnection();
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kTls) << Describe(client, status);
  EXPECT_NE(status.error().detail.find("StartTLS"), std::string::npos) << status.error().detail;
}

TEST_F(SlapdTest, BadPasswordIsBadCredentialsAndNeverEchoed) {
  LdapSettings settings = ServiceSettings(slapd());
  settings.bind_password = "wrong-password-do-not-print";
  LdapClient client = Client(settings);
  Status status = client.TestConnection();
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kBadCredentials) << Describe(client, status);
  EXPECT_EQ(status.error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(status.error().detail.find(settings.bind_password), std::string::npos);
  EXPECT_NE(status.error().detail.find(SlapdFixture::kServiceDn), std::string::npos);
}

TEST_F(SlapdTest, MissingBaseDnIsBaseDnNotFound) {
  LdapSettings settings = ServiceSettings(slapd());
  settings.base_dns = {SlapdFixture::kPeopleDn, "ou=nowhere,dc=example,dc=com"};
  LdapClient client = Client(settings);
  Status status = client.TestConnection();
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kBaseDnNotFound) << Describe(client, status);
  EXPECT_EQ(status.error().code, ErrorCode::kNotFound);
  EXPECT_NE(status.error().detail.find("ou=nowhere,dc=example,dc=com"), std::string::npos);
  EXPECT_NE(status.error().detail.find("closest existing entry is 'dc=example,dc=com'"),
            std::string::npos)
      << status.error().detail;
}

TEST_F(SlapdTest, PagedSearchReadsEveryUserDespiteTheSizeLimit) {
  LdapClient client = Client(ServiceSettings(slapd()));
  std::set<std::string> ids;
  std::uint64_t pages = 0;
  std::uint64_t last_count = 0;
  Status status = client.PagedSearch(
      {SlapdFixture::kPeopleDn, SearchScope::kSubtree, "(objectClass=inetOrgPerson)",
       client.AttributesToRead(), 0, true},
      [&](const LdapEntry& entry) -> Status {
        auto id = StableId(entry, "entryUUID");
        if (!id) return id.error();
        ids.insert(*id);
        return Status::Ok();
      },
      [&](const SearchProgress& progress) {
        pages = progress.pages_read;
        last_count = progress.entries_read;
      });
  ASSERT_TRUE(status) << Describe(client, status);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kUsers));  // more than sizelimit 500
  EXPECT_EQ(last_count, static_cast<std::uint64_t>(kUsers));
  EXPECT_EQ(pages, static_cast<std::uint64_t>((kUsers + 199) / 200));
  for (const auto& id : ids) EXPECT_TRUE(IsUuid(id)) << id;
}

TEST_F(SlapdTest, PageSizeAboveTheServerLimitStillReadsEverything) {
  LdapClient client = Client(ServiceSettings(slapd()));
  int count = 0;
  Status status = client.PagedSearch({SlapdFixture::kPeopleDn,
                                      SearchScope::kSubtree,
                                      "(objectClass=inetOrgPerson)",
                                      {"1.1"},
                                      1000,
                                      true},
                                     [&](const LdapEntry&) {
                                       ++count;
                                       return Status::Ok();
                                     });
  ASSERT_TRUE(status) << Describe(client, status);
  EXPECT_EQ(count, kUsers);
}

TEST_F(SlapdTest, UnpagedSearchPastTheSizeLimitFails) {
  LdapClient client = Client(ServiceSettings(slapd()));
  int count = 0;
  Status status = client.PagedSearch({SlapdFixture::kPeopleDn,
                                      SearchScope::kSubtree,
                                      "(objectClass=inetOrgPerson)",
                                      {"1.1"},
                                      0,
                                      false},
                                     [&](const LdapEntry&) {
                                       ++count;
                                       return Status::Ok();
                                     });
  ASSERT_FALSE(status) << count << " entries";
  EXPECT_EQ(client.last_failure(), LdapFailure::kSizeLimit) << Describe(client, status);
  EXPECT_EQ(status.error().code, ErrorCode::kTooMany);
  EXPECT_EQ(count, 500);  // what the server sent before it stopped; the caller must discard it
}

TEST_F(SlapdTest, ReadsGroupsOfEveryKindIncludingACycle) {
  const LdapSettings settings = ServiceSettings(slapd());
  LdapClient client = Client(settings);
  std::map<std::string, LdapEntry> groups;
  Status status = client.PagedSearch({SlapdFixture::kGroupsDn,
                                      SearchScope::kSubtree,
                                      settings.group_filter,
                                      {"cn", "member", "uniqueMember", "memberUid", "entryUUID"},
                                      0,
                                      true},
                                     [&](const LdapEntry& entry) {
                                       groups[*entry.First("cn")] = entry;
                                       return Status::Ok();
                                     });
  ASSERT_TRUE(status) << Describe(client, status);
  ASSERT_EQ(groups.size(), static_cast<std::size_t>(SlapdFixture::kGroups));
  EXPECT_EQ(*groups["cycle-a"].Find("member"),
            (std::vector<std::string>{"cn=cycle-b,ou=groups,dc=example,dc=com",
                                      "uid=alice,ou=people,dc=example,dc=com"}));
  EXPECT_EQ(groups["cycle-b"].Find("member")->front(), "cn=cycle-a,ou=groups,dc=example,dc=com");
  EXPECT_EQ(groups["admins"].Find("uniquemember")->size(), 1u);
  EXPECT_EQ(*groups["devs"].Find("memberUid"), (std::vector<std::string>{"alice", "bob"}));
}

TEST_F(SlapdTest, EntryUuidIsRenderedAsUuidText) {
  LdapClient client = Client(ServiceSettings(slapd()));
  auto alice = client.FindUser("alice");
  ASSERT_TRUE(alice) << alice.error().detail;
  ASSERT_TRUE(alice->has_value());
  auto id = StableId(**alice, "entryUUID");
  ASSERT_TRUE(id) << id.error().detail;
  EXPECT_TRUE(IsUuid(*id)) << *id;
  EXPECT_EQ(*id, AsciiLower(*id));
}

TEST_F(SlapdTest, FindsAnActiveDirectoryStyleUserByAccountNameWithABinaryGuid) {
  LdapSettings settings = ServiceSettings(slapd());
  settings.username_attribute = "sAMAccountName";
  settings.id_attribute = "objectGUID";
  settings.user_filter = "objectClass=idsyncAdUser";  // parentheses are optional
  settings.attributes = {"mail", "cn"};
  LdapClient client = Client(settings);
  auto user = client.FindUser("alice.ad");
  ASSERT_TRUE(user) << user.error().detail;
  ASSERT_TRUE(user->has_value());
  EXPECT_EQ((*user)->dn, "uid=alice,ou=people,dc=example,dc=com");
  EXPECT_EQ((*user)->First("mail"), "alice@example.com");
  EXPECT_EQ((*user)->First("objectGUID")->size(), 16u);
  auto id = StableId(**user, settings.id_attribute);
  ASSERT_TRUE(id) << id.error().detail;
  EXPECT_EQ(*id, SlapdFixture::kAliceGuid);
  EXPECT_EQ((*user)->Find("sn"), nullptr);  // only the attributes asked for
}

TEST_F(SlapdTest, FindUserTreatsFilterMetacharactersLiterally) {
  LdapClient client = Client(ServiceSettings(slapd()));
  auto find = [&](const std::string& username) -> std::optional<std::string> {
    auto user = client.FindUser(username);
    EXPECT_TRUE(user) << username << ": " << user.error().detail;
    if (!user || !user->has_value()) return std::nullopt;
    return (*user)->First("uid");
  };
  // Unescaped, each of these would match many entries (or all of them).
  EXPECT_EQ(find("*"), std::nullopt);
  EXPECT_EQ(find("wild*"), std::nullopt);
  EXPECT_EQ(find("user*"), std::nullopt);
  EXPECT_EQ(find("x)(uid=*"), std::nullopt);
  EXPECT_EQ(find("*)(|(objectClass=*"), std::nullopt);
  EXPECT_EQ(find(std::string("alice\0", 6)), std::nullopt);
  EXPECT_EQ(find(std::string("alice\0)(uid=*", 13)), std::nullopt);
  EXPECT_EQ(find(""), std::nullopt);
  // The literal values are found, and only them.
  EXPECT_EQ(find("wild*card"), "wild*card");
  EXPECT_EQ(find("paren(s)"), "paren(s)");
  EXPECT_EQ(find("back\\slash"), "back\\slash");
  EXPECT_EQ(find("ALICE"), "alice");  // the server's matching rule for uid ignores case
  EXPECT_EQ(client.last_failure(), std::nullopt);
}

TEST_F(SlapdTest, AContinuationReferenceFailsTheSearchUnlessIgnored) {
  LdapSettings settings = ServiceSettings(slapd());
  LdapClient client = Client(settings);
  int count = 0;
  auto count_entries = [&](const LdapEntry&) {
    ++count;
    return Status::Ok();
  };
  const SearchRequest whole_tree{SlapdFixture::kSuffix,
                                 SearchScope::kSubtree,
                                 "(objectClass=organizationalUnit)",
                                 {"ou"},
                                 0,
                                 true};
  Status status = client.PagedSearch(whole_tree, count_entries);
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kReferral) << Describe(client, status);
  EXPECT_NE(status.error().detail.find("ldap://127.0.0.1:1/"), std::string::npos);

  // A base DN that is itself a referral: the server answers with a referral result.
  status = client.PagedSearch(
      {SlapdFixture::kReferralDn, SearchScope::kSubtree, "(objectClass=*)", {"1.1"}, 0, true},
      count_entries);
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kReferral) << Describe(client, status);

  settings.ignore_search_references = true;
  LdapClient lenient = Client(settings);
  count = 0;
  status = lenient.PagedSearch(whole_tree, count_entries);
  EXPECT_TRUE(status) << Describe(lenient, status);
  EXPECT_EQ(count, 3);  // people, groups, system
}

TEST_F(SlapdTest, InvalidFilterIsAnInvalidSetting) {
  LdapClient client = Client(ServiceSettings(slapd()));
  Status status = client.PagedSearch(
      {SlapdFixture::kPeopleDn, SearchScope::kSubtree, "(uid=alice", {"1.1"}, 0, true},
      [](const LdapEntry&) { return Status::Ok(); });
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kInvalidSettings) << Describe(client, status);
}

TEST_F(SlapdTest, EntryCallbackErrorsAndExceptionsStopTheSearch) {
  LdapClient client = Client(ServiceSettings(slapd()));
  const SearchRequest request{SlapdFixture::kPeopleDn,
                              SearchScope::kSubtree,
                              "(objectClass=inetOrgPerson)",
                              {"1.1"},
                              0,
                              true};
  int count = 0;
  Status status = client.PagedSearch(request, [&](const LdapEntry&) -> Status {
    if (++count == 10) return MakeError(ErrorCode::kInvalidValue, "stop here");
    return Status::Ok();
  });
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().detail, "stop here");
  EXPECT_EQ(count, 10);

  status = client.PagedSearch(
      request, [&](const LdapEntry&) -> Status { throw std::runtime_error("handler bug"); });
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kOther);
  EXPECT_NE(status.error().detail.find("handler bug"), std::string::npos);

  // The client recovers: the next search reconnects and completes.
  count = 0;
  status = client.PagedSearch(request, [&](const LdapEntry&) {
    ++count;
    return Status::Ok();
  });
  EXPECT_TRUE(status) << Describe(client, status);
  EXPECT_EQ(count, kUsers);
}

TEST_F(SlapdTest, ServerKilledMidSearchIsAnErrorNotAPartialSuccess) {
  auto own = OwnSlapd({.tls = false});
  ASSERT_NE(own, nullptr);
  LdapClient client = Client(ServiceSettings(*own));
  int count = 0;
  const SearchRequest request{SlapdFixture::kPeopleDn,
                              SearchScope::kSubtree,
                              "(objectClass=inetOrgPerson)",
                              {"1.1"},
                              200,
                              true};
  Status status = client.PagedSearch(request, [&](const LdapEntry&) {
    if (++count == 250) own->Stop();  // in the middle of the second page
    return Status::Ok();
  });
  ASSERT_FALSE(status) << count << " entries";
  EXPECT_EQ(client.last_failure(), LdapFailure::kUnreachable) << Describe(client, status);
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
  EXPECT_LT(count, kUsers);

  // Back up: the same client reconnects and reads everything.
  ASSERT_TRUE(own->Start());
  count = 0;
  status = client.PagedSearch(request, [&](const LdapEntry&) {
    ++count;
    return Status::Ok();
  });
  EXPECT_TRUE(status) << Describe(client, status);
  EXPECT_EQ(count, kUsers);
}

TEST_F(SlapdTest, HungServerTimesOut) {
  auto own = OwnSlapd({.tls = false, .bulk_users = 600});
  ASSERT_NE(own, nullptr);
  LdapSettings settings = ServiceSettings(*own);
  settings.operation_timeout = 1s;
  LdapClient client = Client(settings);
  int count = 0;
  const SearchRequest request{SlapdFixture::kPeopleDn,
                              SearchScope::kSubtree,
                              "(objectClass=inetOrgPerson)",
                              {"1.1"},
                              200,
                              true};
  const auto start = std::chrono::steady_clock::now();
  Status status = client.PagedSearch(request, [&](const LdapEntry&) {
    if (++count == 200) own->Pause();  // end of the first page
    return Status::Ok();
  });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(status);
  EXPECT_EQ(client.last_failure(), LdapFailure::kTimeout) << Describe(client, status);
  EXPECT_LT(elapsed, 10s);

  // A bind to a hung server times out as well (TCP still connects: the kernel accepts).
  LdapClient fresh = Client(settings);
  status = fresh.TestConnection();
  ASSERT_FALSE(status);
  EXPECT_EQ(fresh.last_failure(), LdapFailure::kTimeout) << Describe(fresh, status);
  own->Resume();
}

TEST(LdapClient, ConnectRejectsInvalidSettingsWithoutNetworkIo) {
  LdapSettings settings;
  settings.url = "ldap://127.0.0.1:1";
  auto client = LdapClient::Connect(settings);  // no base DN
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, ErrorCode::kInvalidValue);
  settings.base_dns = {"dc=example,dc=com"};
  EXPECT_TRUE(LdapClient::Connect(settings));  // nothing listens there; Connect does no I/O
}

}  // namespace
}  // namespace idsync::sync::ldap
