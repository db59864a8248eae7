#include <gtest/gtest.h>
#include <ldap.h>

#include "ldap/server/server_test_support.h"

namespace idsync::ldap {
namespace {

using namespace server_testing;  // NOLINT: test helpers
using namespace std::chrono_literals;

// --- The normal path and framing ---------------------------------------------------------------

TEST_F(LdapServerTest, ServesBindAndSearchThroughLibldap) {
  StartServer();
  LDAP* ld = Connect(Url("ldap", server_->ldap_port()));
  ASSERT_NE(ld, nullptr);
  EXPECT_EQ(Bind(ld), LDAP_SUCCESS);
  int entries = 0;
  EXPECT_EQ(SearchCount(ld, "dc=example", entries), LDAP_SUCCESS);
  EXPECT_EQ(entries, 3);
  EXPECT_FALSE(handler_.WaitFor([&] { return handler_.saw_tls_; }, 0ms));
  ldap_unbind_ext_s(ld, nullptr, nullptr);
}

TEST_F(LdapServerTest, ReassemblesAMessageSentByteByByte) {
  StartServer();
  RawClient client(server_->ldap_port());
  std::string bind = BindReq(7);
  for (char c : bind) {
    client.Send(std::string(1, c));
    std::this_thread::sleep_for(1ms);
  }
  auto reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->id, 7);
  EXPECT_EQ(reply->tag, 0x61);
}

TEST_F(LdapServerTest, OversizedLengthPrefixDisconnectsWithoutWaitingForTheBody) {
  StartServer();
  RawClient client(server_->ldap_port());
  // A 2 GB message: refused from its length octets alone.
  client.Send(std::string("\x30\x84\x7f\xff\xff\xff\x02\x01\x01", 9));
  ExpectNotice(client, kProtocolError);
  ExpectServing();
}

TEST_F(LdapServerTest, MessageJustOverTheLimitIsRefused) {
  ServerOptions options = Options();
  options.max_message_bytes = 1000;
  StartServer(options);
  RawClient client(server_->ldap_port());
  client.Send(SearchReq(1, std::string(1000, 'a')));
  ExpectNotice(client, kProtocolError);
  ExpectServing();
}

TEST_F(LdapServerTest, MalformedFramingDisconnects) {
  StartServer();
  for (std::string bad : {std::string("\x31\x03\x02\x01\x01", 5), std::string("\x30\x80", 2),
                          std::string("\x30\x85\x01\x01\x01\x01\x01", 7)}) {
    RawClient client(server_->ldap_port());
    client.Send(bad);
    ExpectNotice(client, kProtocolError);
    ExpectServing();
  }
}

TEST_F(LdapServerTest, UndecodableRequestWithIdIsAnsweredProtocolErrorInItsOwnType) {
  StartServer();
  RawClient client(server_->ldap_port());
  // A search whose filter has a tag no filter has ([15]).
  client.Send(SearchReq(5, "dc=x", Tlv(0x8f, "x")));
  auto reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->id, 5);
  EXPECT_EQ(reply->tag, 0x65);  // searchResDone
  EXPECT_EQ(reply->code, kProtocolError);
  // A bind with a wrongly typed version.
  client.Send(Msg(6, Tlv(0x60, Tlv(0x04, "3") + Tlv(0x04, "") + Tlv(0x80, ""))));
  reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->id, 6);
  EXPECT_EQ(reply->tag, 0x61);
  EXPECT_EQ(reply->code, kProtocolError);
  // The session goes on.
  client.Send(BindReq(8));
  reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->id, 8);
  EXPECT_EQ(reply->code, kSuccess);
  EXPECT_TRUE(handler_.Calls().size() == 1u && handler_.Calls()[0] == 8);
}

TEST_F(LdapServerTest, UnknownOperationOrUnreadableIdDisconnects) {
  StartServer();
  const std::string cases[] = {
      Msg(3, Tlv(0x73, Tlv(0x04, "ldap://x"))),       // searchResRef: not a request
      Tlv(0x30, Tlv(0x04, "x") + Tlv(0x60, Int(3))),  // messageID is not an INTEGER
      Msg(4, Tlv(0x50, "")),                          // abandon without an id
  };
  for (const std::string& bad : cases) {
    RawClient client(server_->ldap_port());
    client.Send(bad);
    ExpectNotice(client, kProtocolError);
    ExpectServing();
  }
  EXPECT_TRUE(handler_.Calls().size() == 3u);  // only the ExpectServing binds
}

TEST_F(LdapServerTest, TruncatedMessageThenCloseLeavesTheServerServing) {
  StartServer();
  {
    RawClient client(server_->ldap_port());
    std::string bind = BindReq(1);
    client.Send(bind.substr(0, bind.size() / 2));
  }
  ExpectServing();
}

// --- Dispatch, abandon, unbind -----------------------------------------------------------------

TEST_F(LdapServerTest, RequestsOfOneConnectionRunOneAtATimeInOrder) {
  StartServer();
  RawClient client(server_->ldap_port());
  std::string batch;
  for (int id = 1; id <= 20; ++id) batch += SearchReq(id, "cn=slow");
  client.Send(batch);
  for (int id = 1; id <= 20; ++id) {
    auto reply = client.Read();
    ASSERT_TRUE(reply) << id;
    EXPECT_EQ(reply->id, id);
    EXPECT_EQ(reply->tag, 0x65);
  }
  std::vector<int32_t> expected;
  for (int id = 1; id <= 20; ++id) expected.push_back(id);
  EXPECT_EQ(handler_.Calls(), expected);
  EXPECT_FALSE(handler_.overlapped_);
}

TEST_F(LdapServerTest, ConnectionsRunConcurrently) {
  StartServer();
  RawClient blocked(server_->ldap_port());
  blocked.Send(SearchReq(1, "cn=block"));
  ASSERT_TRUE(handler_.WaitBlocked());
  ExpectServing();
  handler_.Release();
  auto reply = blocked.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->id, 1);
}

TEST_F(LdapServerTest, AbandonSetsTheRunningRequestsFlagAndNothingAnswersIt) {
  StartServer();
  RawClient client(server_->ldap_port());
  client.Send(SearchReq(1, "cn=block"));
  ASSERT_TRUE(handler_.WaitBlocked());
  client.Send(AbandonReq(2, 1));
  ASSERT_TRUE(handler_.WaitFor([&] { return handler_.saw_abandoned_; }));
  client.Send(BindReq(3));
  auto reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->id, 3);  // neither the search nor the abandon was answered
}

TEST_F(LdapServerTest, AbandonOfAQueuedRequestRemovesIt) {
  StartServer();
  RawClient client(server_->ldap_port());
  client.Send(SearchReq(1, "cn=block"));
  ASSERT_TRUE(handler_.WaitBlocked());
  client.Send(SearchReq(2, "dc=x") + AbandonReq(3, 2) + CompareReq(4));
  std::this_thread::sleep_for(100ms);  // let the server read all three
  handler_.Release();
  std::vector<int32_t> ids;
  for (int i = 0; i < 2; ++i) {
    auto reply = client.Read();
    ASSERT_TRUE(reply);
    ids.push_back(reply->id);
  }
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 4}));
  EXPECT_EQ(handler_.Calls(), (std::vector<int32_t>{1, 4}));
}

TEST_F(LdapServerTest, LibldapAbandonReachesTheRunningSearch) {
  StartServer();
  LDAP* ld = Connect(Url("ldap", server_->ldap_port()));
  ASSERT_NE(ld, nullptr);
  int msgid = 0;
  ASSERT_EQ(ldap_search_ext(ld, "cn=block", LDAP_SCOPE_BASE, "(objectClass=*)", nullptr, 0, nullptr,
                            nullptr, nullptr, 0, &msgid),
            LDAP_SUCCESS);
  ASSERT_TRUE(handler_.WaitBlocked());
  EXPECT_EQ(ldap_abandon_ext(ld, msgid, nullptr, nullptr), LDAP_SUCCESS);
  EXPECT_TRUE(handler_.WaitFor([&] { return handler_.saw_abandoned_; }));
  ldap_unbind_ext_s(ld, nullptr, nullptr);
}

TEST_F(LdapServerTest, UnbindClosesAndRunsNothingMore) {
  StartServer();
  RawClient client(server_->ldap_port());
  client.Send(SearchReq(1, "cn=block"));
  ASSERT_TRUE(handler_.WaitBlocked());
  client.Send(SearchReq(2, "dc=x") + UnbindReq(3));
  EXPECT_TRUE(client.ClosedWithin(3000ms));
  EXPECT_TRUE(handler_.WaitFor([&] { return handler_.saw_abandoned_; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(handler_.Calls(), (std::vector<int32_t>{1}));
}

TEST_F(LdapServerTest, PastMaxQueuedRequestsAnswersBusy) {
  ServerOptions options = Options();
  options.max_queued_requests = 2;
  StartServer(options);
  RawClient client(server_->ldap_port());
  client.Send(SearchReq(1, "cn=block"));
  ASSERT_TRUE(handler_.WaitBlocked());
  client.Send(SearchReq(2, "cn=slow") + SearchReq(3, "cn=slow") + CompareReq(4));
  auto busy = client.Read();
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->id, 4);
  EXPECT_EQ(busy->tag, 0x6f);  // compareResponse
  EXPECT_EQ(busy->code, kBusy);
  handler_.Release();
  for (int id = 1; id <= 3; ++id) {
    auto reply = client.Read();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->id, id);
  }
}

// --- Plaintext rule ----------------------------------------------------------------------------

TEST_F(LdapServerTest, PlaintextBindAndSearchFromRemotePeersAreRefused) {
  ServerOptions options = Options();
  options.treat_loopback_as_remote = true;
  StartServer(options);
  RawClient client(server_->ldap_port());
  client.Send(BindReq(1) + SearchReq(2, "dc=x") + CompareReq(3));
  auto bind = client.Read();
  auto search = client.Read();
  auto compare = client.Read();
  ASSERT_TRUE(bind && search && compare);
  EXPECT_EQ(bind->tag, 0x61);
  EXPECT_EQ(bind->code, kConfidentialityRequired);
  EXPECT_EQ(search->tag, 0x65);
  EXPECT_EQ(search->code, kConfidentialityRequired);
  EXPECT_EQ(compare->code, kCompareTrue);
  EXPECT_EQ(handler_.Calls(), (std::vector<int32_t>{3}));
  // The root DSE (base "", base scope) stays readable in clear: clients read it to learn that
  // StartTLS is offered. Any other scope at "" is still refused.
  client.Send(SearchReq(4, "", "", 0) + SearchReq(5, "", "", 2));
  // Five messages in an order the two threads decide: the fake handler's three entries and
  // its searchResultDone for 4, and the I/O thread's refusal of 5.
  int entries = 0, success = 0, refused = 0;
  for (int i = 0; i < 5; ++i) {
    auto m = client.Read();
    ASSERT_TRUE(m);
    if (m->tag == 0x64) ++entries;
    if (m->tag == 0x65 && m->code == kSuccess) ++success;
    if (m->tag == 0x65 && m->code == kConfidentialityRequired) ++refused;
  }
  EXPECT_EQ(entries, 3);
  EXPECT_EQ(success, 1);
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(handler_.Calls(), (std::vector<int32_t>{3, 4}));
}

TEST_F(LdapServerTest, AllowPlaintextLetsRemotePeersBind) {
  ServerOptions options = Options();
  options.treat_loopback_as_remote = true;
  options.allow_plaintext = true;
  StartServer(options);
  LDAP* ld = Connect(Url("ldap", server_->ldap_port()));
  ASSERT_NE(ld, nullptr);
  EXPECT_EQ(Bind(ld), LDAP_SUCCESS);
  ldap_unbind_ext_s(ld, nullptr, nullptr);
}


}  // namespace
}  // namespace idsync::ldap
