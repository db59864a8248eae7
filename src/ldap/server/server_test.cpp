#include "ldap/server/server.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <ldap.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace idsync::ldap {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// --- BER by hand, so that tests control every byte ---------------------------------------------

std::string Tlv(unsigned char tag, const std::string& content) {
  std::string out(1, static_cast<char>(tag));
  size_t n = content.size();
  if (n < 0x80) {
    out += static_cast<char>(n);
  } else {
    std::string len;
    while (n > 0) {
      len.insert(len.begin(), static_cast<char>(n & 0xff));
      n >>= 8;
    }
    out += static_cast<char>(0x80 | len.size());
    out += len;
  }
  return out + content;
}

std::string IntContent(int64_t v) {
  std::string out;
  do {
    out.insert(out.begin(), static_cast<char>(v & 0xff));
    v >>= 8;
  } while (v > 0);
  if (static_cast<unsigned char>(out[0]) & 0x80) out.insert(out.begin(), '\0');
  return out;
}

std::string Int(int64_t v, unsigned char tag = 0x02) {
  return Tlv(tag, IntContent(v));
}
std::string Msg(int32_t id, const std::string& op) {
  return Tlv(0x30, Int(id) + op);
}

std::string BindReq(int32_t id, const std::string& dn = "cn=admin", const std::string& pw = "pw") {
  return Msg(id, Tlv(0x60, Int(3) + Tlv(0x04, dn) + Tlv(0x80, pw)));
}
std::string SearchReq(int32_t id, const std::string& base, const std::string& filter = "",
                      int scope = 2) {
  std::string f = filter.empty() ? Tlv(0x87, "objectClass") : filter;
  return Msg(id, Tlv(0x63, Tlv(0x04, base) + Int(scope, 0x0a) + Int(0, 0x0a) + Int(0) + Int(0) +
                               Tlv(0x01, std::string(1, '\0')) + f + Tlv(0x30, "")));
}
std::string CompareReq(int32_t id) {
  return Msg(id, Tlv(0x6e, Tlv(0x04, "cn=x") + Tlv(0x30, Tlv(0x04, "cn") + Tlv(0x04, "x"))));
}
std::string AbandonReq(int32_t id, int32_t target) {
  return Msg(id, Tlv(0x50, IntContent(target)));
}
std::string UnbindReq(int32_t id) {
  return Msg(id, Tlv(0x42, ""));
}
std::string ExtendedReq(int32_t id, const std::string& oid) {
  return Msg(id, Tlv(0x77, Tlv(0x80, oid)));
}
constexpr const char* kStartTls = "1.3.6.1.4.1.1466.20037";
constexpr const char* kNoticeOid = "1.3.6.1.4.1.1466.20036";

struct Reply {
  int32_t id = -1;
  unsigned char tag = 0;
  int code = -1;    // resultCode of a final response
  std::string oid;  // extendedResponse responseName
};

// Reads a tag and length at `pos` (the test's own minimal BER reader).
bool Header(const std::string& m, size_t& pos, unsigned char& tag, size_t& len) {
  if (pos + 2 > m.size()) return false;
  tag = static_cast<unsigned char>(m[pos++]);
  auto first = static_cast<unsigned char>(m[pos++]);
  if (first < 0x80) {
    len = first;
    return true;
  }
  len = 0;
  for (int i = 0; i < (first & 0x7f); ++i) len = (len << 8) | static_cast<unsigned char>(m[pos++]);
  return true;
}

Reply ParseReply(const std::string& m) {
  Reply r;
  size_t pos = 0, len = 0;
  unsigned char tag = 0;
  Header(m, pos, tag, len);
  Header(m, pos, tag, len);
  r.id = 0;
  for (size_t i = 0; i < len; ++i) r.id = (r.id << 8) | static_cast<unsigned char>(m[pos++]);
  Header(m, pos, r.tag, len);
  if (r.tag == 0x64) return r;  // searchResEntry
  size_t end = pos + len;
  Header(m, pos, tag, len);
  r.code = 0;
  for (size_t i = 0; i < len; ++i) r.code = (r.code << 8) | static_cast<unsigned char>(m[pos++]);
  Header(m, pos, tag, len);  // matchedDN
  pos += len;
  Header(m, pos, tag, len);  // diagnosticMessage
  pos += len;
  if (r.tag == 0x78 && pos < end && Header(m, pos, tag, len) && tag == 0x8a) {
    r.oid = m.substr(pos, len);
  }
  return r;
}

// A blocking client on a raw TCP socket.
class RawClient {
 public:
  explicit RawClient(uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() { Close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  // One whole LDAPMessage, or nullopt on timeout, end of stream or error.
  std::optional<Reply> Read(std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      if (buf_.size() >= 2) {
        size_t pos = 0, len = 0;
        unsigned char tag = 0;
        auto first = static_cast<unsigned char>(buf_[1]);
        size_t header = 2 + (first >= 0x80 ? (first & 0x7f) : 0);
        if (buf_.size() >= header && Header(buf_, pos, tag, len) && buf_.size() >= pos + len) {
          std::string m = buf_.substr(0, pos + len);
          buf_.erase(0, pos + len);
          return ParseReply(m);
        }
      }
      if (!Fill(deadline)) return std::nullopt;
    }
  }

  // True if the server closes the connection (end of stream or reset) within `within`; what it
  // sends meanwhile is discarded.
  bool ClosedWithin(std::chrono::milliseconds within) {
    auto deadline = Clock::now() + within;
    buf_.clear();
    for (;;) {
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) continue;
      char tmp[65536];
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0) return true;
    }
  }

 private:
  bool Fill(Clock::time_point deadline) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) return false;
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

// --- A fake Handler ----------------------------------------------------------------------------

// Bind: success. Compare: compareTrue. Search by base: "cn=block" waits until abandoned or
// released; "cn=slow" takes 5 ms; "cn=stream" sends 32 KiB entries up to 100 MB; any other base
// sends three entries. Other extended operations: success.
class FakeHandler : public Handler {
 public:
  void Handle(Session& session, const Request& request, const std::atomic<bool>& abandoned,
              const Send& send) override {
    int now_running = ++running_;
    {
      std::lock_guard lock(mu_);
      max_running_ = std::max(max_running_, now_running);
      calls_.push_back(request.message_id);
      saw_tls_ = session.tls;
      if (++per_session_[session.id] > 1) overlapped_ = true;
    }
    cv_.notify_all();
    const int32_t id = request.message_id;
    switch (request.op) {
      case Operation::kBind: send(EncodeBindResponse(id, {kSuccess, "", ""})); break;
      case Operation::kCompare:
        send(EncodeResponse(id, Operation::kCompare, {kCompareTrue, "", ""}));
        break;
      case Operation::kSearch:
        Search(std::get<SearchRequest>(request.body), id, abandoned, send);
        break;
      case Operation::kExtended:
        send(EncodeExtendedResponse(id, {kSuccess, "", ""}, std::nullopt, std::nullopt));
        break;
      default: send(EncodeResponse(id, request.op, {kUnwillingToPerform, "", "read-only"}));
    }
    {
      std::lock_guard lock(mu_);
      --per_session_[session.id];
      done_.push_back(id);
    }
    --running_;
    cv_.notify_all();
  }

  void Search(const SearchRequest& search, int32_t id, const std::atomic<bool>& abandoned,
              const Send& send) {
    if (search.base == "cn=block") {
      {
        std::unique_lock lock(mu_);
        blocked_ = true;
        cv_.notify_all();
        while (!abandoned && !release_) cv_.wait_for(lock, 1ms);
        blocked_ = false;
        if (abandoned) saw_abandoned_ = true;
      }
      if (abandoned) return;
    } else if (search.base == "cn=slow") {
      std::this_thread::sleep_for(5ms);
    } else if (search.base == "cn=stream") {
      std::string value(32 * 1024, 'x');
      std::vector<Attribute> attributes{{"description", {value}}};
      size_t sent = 0;
      while (sent < 100u * 1024 * 1024) {
        std::string entry = EncodeSearchEntry(id, "cn=e", attributes, false);
        sent += entry.size();
        if (!send(std::move(entry))) {
          std::lock_guard lock(mu_);
          stream_stopped_ = true;
          stream_sent_ = sent;
          cv_.notify_all();
          return;
        }
      }
    } else {
      for (int i = 0; i < 3; ++i) {
        if (!send(EncodeSearchEntry(id, "cn=e" + std::to_string(i), {{"cn", {"e"}}}, false))) {
          return;
        }
      }
    }
    send(EncodeSearchDone(id, {kSuccess, "", ""}));
  }

  template <class Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(); });
  }
  std::vector<int32_t> Calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  bool WaitBlocked() {
    return WaitFor([&] { return blocked_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    release_ = true;
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int> running_{0};
  int max_running_ = 0;
  std::vector<int32_t> calls_;
  std::vector<int32_t> done_;
  std::map<uint64_t, int> per_session_;
  bool overlapped_ = false;
  bool blocked_ = false;
  bool release_ = false;
  bool saw_abandoned_ = false;
  bool saw_tls_ = false;
  bool stream_stopped_ = false;
  size_t stream_sent_ = 0;
};

// --- Fixture -----------------------------------------------------------------------------------

class LdapServerTest : public ::testing::Test {
 protected:
  static ServerOptions Options() {
    ServerOptions options;
    options.ldap_listen = "127.0.0.1:0";
    options.io_threads = 2;
    options.worker_threads = 4;
    return options;
  }

  void StartServer(ServerOptions options = Options()) {
    auto started = Server::Start(options, handler_);
    ASSERT_TRUE(started) << started.error().detail;
    server_ = std::move(*started);
  }

  // A bind on a fresh connection is answered: the server still serves.
  void ExpectServing() {
    RawClient client(server_->ldap_port());
    ASSERT_TRUE(client.connected());
    client.Send(BindReq(1));
    auto reply = client.Read();
    ASSERT_TRUE(reply) << "a second connection is not served";
    EXPECT_EQ(reply->tag, 0x61);
    EXPECT_EQ(reply->code, 0);
  }

  static void ExpectNotice(RawClient& client, int code) {
    auto reply = client.Read();
    ASSERT_TRUE(reply) << "no Notice of Disconnection";
    EXPECT_EQ(reply->id, 0);
    EXPECT_EQ(reply->tag, 0x78);
    EXPECT_EQ(reply->code, code);
    EXPECT_EQ(reply->oid, kNoticeOid);
    EXPECT_TRUE(client.ClosedWithin(3000ms));
  }

  void MakeCertificate() {
    dir_ = std::filesystem::temp_directory_path() /
           ("idsync_ldap_tls_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-days 1 -subj /CN=localhost -keyout '" +
        key_ + "' -out '" + cert_ + "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  void TearDown() override {
    server_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  FakeHandler handler_;
  std::unique_ptr<Server> server_;
  std::filesystem::path dir_;
  std::string cert_;
  std::string key_;
};

// libldap, with timeouts so that a failing test does not hang, and no certificate checks.
LDAP* Connect(const std::string& url) {
  LDAP* ld = nullptr;
  if (ldap_initialize(&ld, url.c_str()) != LDAP_SUCCESS) return nullptr;
  int version = LDAP_VERSION3;
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  timeval tv{5, 0};
  ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
  ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
  int never = LDAP_OPT_X_TLS_NEVER;
  ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &never);
  int zero = 0;
  ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
  return ld;
}

int Bind(LDAP* ld) {
  berval cred{2, const_cast<char*>("pw")};
  return ldap_sasl_bind_s(ld, "cn=admin", LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
}

int SearchCount(LDAP* ld, const char* base, int& entries) {
  LDAPMessage* res = nullptr;
  timeval tv{5, 0};
  int rc = ldap_search_ext_s(ld, base, LDAP_SCOPE_SUBTREE, "(objectClass=*)", nullptr, 0, nullptr,
                             nullptr, &tv, 0, &res);
  entries = res ? ldap_count_entries(ld, res) : -1;
  if (res) ldap_msgfree(res);
  return rc;
}

std::string Url(const char* scheme, uint16_t port) {
  return std::string(scheme) + "://127.0.0.1:" + std::to_string(port);
}

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
