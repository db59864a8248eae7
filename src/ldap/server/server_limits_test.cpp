#include <gtest/gtest.h>
#include <ldap.h>

#include "ldap/server/server_test_support.h"

namespace idsync::ldap {
namespace {

using namespace server_testing;  // NOLINT: test helpers
using namespace std::chrono_literals;

// --- Limits and backpressure -------------------------------------------------------------------

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

#ifdef __SANITIZE_ADDRESS__
// ASan keeps freed memory in quarantine, so resident memory counts every entry built; the bound
// still catches output that is not bounded (100 MB).
constexpr size_t kRssBound = 64u * 1024 * 1024;
#else
constexpr size_t kRssBound = 8u * 1024 * 1024;
#endif

TEST_F(LdapServerTest, ClientThatStopsReadingIsBoundedAndCutOff) {
  ServerOptions options = Options();
  options.write_timeout = 1000ms;
  StartServer(options);
  ExpectServing();  // warm up: threads, allocator arenas
  size_t before = ResidentBytes();
  RawClient stalled(server_->ldap_port(), 64 * 1024);
  stalled.Send(SearchReq(1, "cn=stream"));
  size_t peak = before;
  auto start = Clock::now();
  bool served_meanwhile = false;
  while (!handler_.WaitFor([&] { return handler_.stream_stopped_; }, 20ms)) {
    peak = std::max(peak, ResidentBytes());
    if (!served_meanwhile && Clock::now() - start > 300ms) {
      ExpectServing();
      served_meanwhile = true;
    }
    ASSERT_LT(Clock::now() - start, 10s) << "the stalled session was not cut off";
  }
  peak = std::max(peak, ResidentBytes());
  EXPECT_TRUE(served_meanwhile);
  EXPECT_GE(Clock::now() - start, 900ms);
  EXPECT_LT(handler_.stream_sent_, 20u * 1024 * 1024);
  EXPECT_LT(peak - before, kRssBound) << "resident memory grew by " << (peak - before);
  RecordProperty("rss_growth_bytes", std::to_string(peak - before));
  RecordProperty("stream_sent_bytes", std::to_string(handler_.stream_sent_));
  EXPECT_TRUE(stalled.ClosedWithin(3000ms));
}

TEST_F(LdapServerTest, PastMaxConnectionsNoticeOfDisconnection) {
  ServerOptions options = Options();
  options.max_connections = 2;
  StartServer(options);
  auto a = std::make_unique<RawClient>(server_->ldap_port());
  RawClient b(server_->ldap_port());
  for (RawClient* c : {a.get(), &b}) {
    c->Send(BindReq(1));
    ASSERT_TRUE(c->Read());
  }
  RawClient refused(server_->ldap_port());
  ExpectNotice(refused, kUnavailable);
  a.reset();
  std::this_thread::sleep_for(200ms);
  ExpectServing();
  EXPECT_NE(server_->Render().find("idsync_ldap_connections_refused_total 1\n"), std::string::npos);
}

TEST_F(LdapServerTest, IdleConnectionIsClosed) {
  ServerOptions options = Options();
  options.idle_timeout = 300ms;
  StartServer(options);
  RawClient client(server_->ldap_port());
  client.Send(BindReq(1));
  ASSERT_TRUE(client.Read());
  auto start = Clock::now();
  EXPECT_TRUE(client.ClosedWithin(3000ms));
  EXPECT_GE(Clock::now() - start, 250ms);
}

TEST_F(LdapServerTest, ConnectionWithARequestRunningIsNotIdle) {
  ServerOptions options = Options();
  options.idle_timeout = 200ms;
  StartServer(options);
  RawClient client(server_->ldap_port());
  client.Send(SearchReq(1, "cn=block"));
  ASSERT_TRUE(handler_.WaitBlocked());
  std::this_thread::sleep_for(600ms);
  handler_.Release();
  auto reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->id, 1);
}

TEST_F(LdapServerTest, MessageTricklingInIsCutOffAfterMessageTimeout) {
  ServerOptions options = Options();
  options.message_timeout = 300ms;
  StartServer(options);
  RawClient client(server_->ldap_port());
  std::string search = SearchReq(1, std::string(200, 'a'));
  auto start = Clock::now();
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    for (size_t i = 0; i < search.size() && !stop; ++i) {
      client.Send(search.substr(i, 1));
      std::this_thread::sleep_for(20ms);
    }
  });
  bool closed = client.ClosedWithin(3000ms);
  stop = true;
  trickle.join();
  EXPECT_TRUE(closed);
  EXPECT_GE(Clock::now() - start, 250ms);
  EXPECT_TRUE(handler_.Calls().empty());
}

// --- TLS ---------------------------------------------------------------------------------------

TEST_F(LdapServerTest, StartTlsThenBindOverTls) {
  MakeCertificate();
  ServerOptions options = Options();
  options.tls_cert_file = cert_;
  options.tls_key_file = key_;
  options.treat_loopback_as_remote = true;  // bind is refused unless TLS is really on
  StartServer(options);
  LDAP* ld = Connect(Url("ldap", server_->ldap_port()));
  ASSERT_NE(ld, nullptr);
  ASSERT_EQ(ldap_start_tls_s(ld, nullptr, nullptr), LDAP_SUCCESS);
  EXPECT_EQ(Bind(ld), LDAP_SUCCESS);
  EXPECT_TRUE(handler_.WaitFor([&] { return handler_.saw_tls_; }, 0ms));
  int entries = 0;
  EXPECT_EQ(SearchCount(ld, "dc=example", entries), LDAP_SUCCESS);
  EXPECT_EQ(entries, 3);
  // RFC 4511 §4.14.2: StartTLS on a TLS session.
  char* oid = nullptr;
  berval* data = nullptr;
  EXPECT_EQ(
      ldap_extended_operation_s(ld, LDAP_EXOP_START_TLS, nullptr, nullptr, nullptr, &oid, &data),
      LDAP_PROTOCOL_ERROR);
  if (oid) ldap_memfree(oid);
  if (data) ber_bvfree(data);
  ldap_unbind_ext_s(ld, nullptr, nullptr);
}

TEST_F(LdapServerTest, StartTlsWithoutCertificateIsUnavailable) {
  StartServer();
  RawClient client(server_->ldap_port());
  client.Send(ExtendedReq(1, kStartTls));
  auto reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->tag, 0x78);
  EXPECT_EQ(reply->code, kUnavailable);
  EXPECT_EQ(reply->oid, kStartTls);
  client.Send(BindReq(2));  // the session goes on in clear
  reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, kSuccess);
}

TEST_F(LdapServerTest, StartTlsWithAnOperationOutstandingIsOperationsError) {
  MakeCertificate();
  ServerOptions options = Options();
  options.tls_cert_file = cert_;
  options.tls_key_file = key_;
  StartServer(options);
  RawClient client(server_->ldap_port());
  client.Send(SearchReq(1, "cn=block"));
  ASSERT_TRUE(handler_.WaitBlocked());
  client.Send(ExtendedReq(2, kStartTls));
  auto reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->id, 2);
  EXPECT_EQ(reply->code, kOperationsError);
  handler_.Release();
  reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->id, 1);
}

TEST_F(LdapServerTest, ClientSilentAfterStartTlsIsClosed) {
  MakeCertificate();
  ServerOptions options = Options();
  options.tls_cert_file = cert_;
  options.tls_key_file = key_;
  options.message_timeout = 300ms;
  StartServer(options);
  RawClient client(server_->ldap_port());
  client.Send(ExtendedReq(1, kStartTls));
  auto reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, kSuccess);
  EXPECT_EQ(reply->oid, kStartTls);
  auto start = Clock::now();
  EXPECT_TRUE(client.ClosedWithin(3000ms));
  EXPECT_GE(Clock::now() - start, 250ms);
}

TEST_F(LdapServerTest, ServesLdaps) {
  MakeCertificate();
  ServerOptions options = Options();
  options.ldaps_listen = "127.0.0.1:0";
  options.tls_cert_file = cert_;
  options.tls_key_file = key_;
  options.treat_loopback_as_remote = true;
  StartServer(options);
  ASSERT_NE(server_->ldaps_port(), 0);
  LDAP* ld = Connect(Url("ldaps", server_->ldaps_port()));
  ASSERT_NE(ld, nullptr);
  EXPECT_EQ(Bind(ld), LDAP_SUCCESS);
  EXPECT_TRUE(handler_.WaitFor([&] { return handler_.saw_tls_; }, 0ms));
  ldap_unbind_ext_s(ld, nullptr, nullptr);
}

TEST_F(LdapServerTest, LdapsHandshakeHasADeadline) {
  MakeCertificate();
  ServerOptions options = Options();
  options.ldap_listen = "";
  options.ldaps_listen = "127.0.0.1:0";
  options.tls_cert_file = cert_;
  options.tls_key_file = key_;
  options.message_timeout = 300ms;
  StartServer(options);
  EXPECT_EQ(server_->ldap_port(), 0);
  RawClient client(server_->ldaps_port());
  auto start = Clock::now();
  EXPECT_TRUE(client.ClosedWithin(3000ms));
  EXPECT_GE(Clock::now() - start, 250ms);
}

// --- Start errors, Stop, metrics ---------------------------------------------------------------

TEST_F(LdapServerTest, StartErrorsSayWhatToFix) {
  ServerOptions options = Options();
  options.ldaps_listen = "127.0.0.1:0";
  auto started = Server::Start(options, handler_);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().detail, "LDAPS needs --tls-cert and --tls-key");

  options = Options();
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  started = Server::Start(options, handler_);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().detail,
            "cannot read TLS certificate /nonexistent/cert.pem: No such file or directory");

  StartServer();
  options = Options();
  options.ldap_listen = "127.0.0.1:" + std::to_string(server_->ldap_port());
  started = Server::Start(options, handler_);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().detail, "address " + options.ldap_listen + " is already in use");

  options.ldap_listen = "localhost";
  started = Server::Start(options, handler_);
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().detail.find("expected HOST:PORT"), std::string::npos);
}

TEST_F(LdapServerTest, StopAbandonsRunningRequestsAndReturns) {
  StartServer();
  RawClient client(server_->ldap_port());
  client.Send(SearchReq(1, "cn=block"));
  ASSERT_TRUE(handler_.WaitBlocked());
  auto start = Clock::now();
  server_->Stop(2000ms);
  EXPECT_LT(Clock::now() - start, 1500ms);
  EXPECT_TRUE(handler_.WaitFor([&] { return handler_.saw_abandoned_; }, 0ms));
  ExpectNotice(client, kUnavailable);
  server_->Stop();  // idempotent
  RawClient late(server_->ldap_port());
  EXPECT_FALSE(late.connected());
}

TEST_F(LdapServerTest, RendersMetrics) {
  StartServer();
  ExpectServing();
  RawClient client(server_->ldap_port());
  client.Send(SearchReq(2, "dc=x"));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client.Read());
  client.Send(UnbindReq(3));
  EXPECT_TRUE(client.ClosedWithin(3000ms));
  std::string text = server_->Render();
  for (const char* line : {"idsync_ldap_requests_total{op=\"bind\"} 1\n",
                           "idsync_ldap_requests_total{op=\"search\"} 1\n",
                           "idsync_ldap_requests_total{op=\"unbind\"} 1\n",
                           "idsync_ldap_responses_total{op=\"bind\",code=\"0\"} 1\n",
                           "idsync_ldap_responses_total{op=\"search\",code=\"0\"} 1\n",
                           "idsync_ldap_connections_total 2\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " missing in:\n" << text;
  }
}

}  // namespace
}  // namespace idsync::ldap
