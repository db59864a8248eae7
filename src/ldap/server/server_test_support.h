// Shared by the LDAP network layer's tests (server_test.cpp, server_limits_test.cpp): BER
// built by hand so that tests control every byte, a raw TCP client, a fake Handler, the
// fixture that starts a Server, and libldap helpers for the normal path and TLS.
#pragma once

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

namespace idsync::ldap::server_testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// --- BER by hand, so that tests control every byte ---------------------------------------------

inline std::string Tlv(unsigned char tag, const std::string& content) {
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

inline std::string IntContent(int64_t v) {
  std::string out;
  do {
    out.insert(out.begin(), static_cast<char>(v & 0xff));
    v >>= 8;
  } while (v > 0);
  if (static_cast<unsigned char>(out[0]) & 0x80) out.insert(out.begin(), '\0');
  return out;
}

inline std::string Int(int64_t v, unsigned char tag = 0x02) {
  return Tlv(tag, IntContent(v));
}
inline std::string Msg(int32_t id, const std::string& op) {
  return Tlv(0x30, Int(id) + op);
}

inline std::string BindReq(int32_t id, const std::string& dn = "cn=admin", const std::string& pw = "pw") {
  return Msg(id, Tlv(0x60, Int(3) + Tlv(0x04, dn) + Tlv(0x80, pw)));
}
inline std::string SearchReq(int32_t id, const std::string& base, const std::string& filter = "",
                      int scope = 2) {
  std::string f = filter.empty() ? Tlv(0x87, "objectClass") : filter;
  return Msg(id, Tlv(0x63, Tlv(0x04, base) + Int(scope, 0x0a) + Int(0, 0x0a) + Int(0) + Int(0) +
                               Tlv(0x01, std::string(1, '\0')) + f + Tlv(0x30, "")));
}
inline std::string CompareReq(int32_t id) {
  return Msg(id, Tlv(0x6e, Tlv(0x04, "cn=x") + Tlv(0x30, Tlv(0x04, "cn") + Tlv(0x04, "x"))));
}
inline std::string AbandonReq(int32_t id, int32_t target) {
  return Msg(id, Tlv(0x50, IntContent(target)));
}
inline std::string UnbindReq(int32_t id) {
  return Msg(id, Tlv(0x42, ""));
}
inline std::string ExtendedReq(int32_t id, const std::string& oid) {
  return Msg(id, Tlv(0x77, Tlv(0x80, oid)));
}
inline constexpr const char* kStartTls = "1.3.6.1.4.1.1466.20037";
inline constexpr const char* kNoticeOid = "1.3.6.1.4.1.1466.20036";

struct Reply {
  int32_t id = -1;
  unsigned char tag = 0;
  int code = -1;    // resultCode of a final response
  std::string oid;  // extendedResponse responseName
};

// Reads a tag and length at `pos` (the test's own minimal BER reader).
inline bool Header(const std::string& m, size_t& pos, unsigned char& tag, size_t& len) {
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

inline Reply ParseReply(const std::string& m) {
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
inline LDAP* Connect(const std::string& url) {
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

inline int Bind(LDAP* ld) {
  berval cred{2, const_cast<char*>("pw")};
  return ldap_sasl_bind_s(ld, "cn=admin", LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
}

inline int SearchCount(LDAP* ld, const char* base, int& entries) {
  LDAPMessage* res = nullptr;
  timeval tv{5, 0};
  int rc = ldap_search_ext_s(ld, base, LDAP_SCOPE_SUBTREE, "(objectClass=*)", nullptr, 0, nullptr,
                             nullptr, &tv, 0, &res);
  entries = res ? ldap_count_entries(ld, res) : -1;
  if (res) ldap_msgfree(res);
  return rc;
}

inline std::string Url(const char* scheme, uint16_t port) {
  return std::string(scheme) + "://127.0.0.1:" + std::to_string(port);
}

}  // namespace idsync::ldap::server_testing
