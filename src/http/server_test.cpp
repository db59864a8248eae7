#include "http/server.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "base/strings.h"

namespace idsync::http {
namespace {

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;

struct ParsedResponse {
  int status = 0;
  std::string version;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  bool ok = false;  // a complete response was read

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A raw HTTP/1.x client over a blocking stream, so that tests control every byte sent.
template <class Stream>
class BasicClient {
 public:
  explicit BasicClient(Stream stream) : stream_(std::move(stream)) {}

  void Send(std::string_view bytes) {
    boost::system::error_code ec;
    net::write(stream_, net::buffer(bytes.data(), bytes.size()), ec);
  }

  // Reads one response; `head_request` means no body follows whatever Content-Length says.
  ParsedResponse Read(bool head_request = false) {
    ParsedResponse r;
    boost::system::error_code ec;
    size_t n = net::read_until(stream_, net::dynamic_buffer(buf_), "\r\n\r\n", ec);
    if (ec) return r;
    std::string head = buf_.substr(0, n);
    buf_.erase(0, n);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    r.version = status_line.substr(0, 8);
    r.status = std::atoi(status_line.substr(9, 3).c_str());
    size_t pos = line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == pos) break;
      std::string line = head.substr(pos, end - pos);
      size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[AsciiLower(line.substr(0, colon))] = value;
      pos = end + 2;
    }
    size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    if (head_request || r.status == 204 || r.status == 304) length = 0;
    if (buf_.size() < length) {
      net::read(stream_, net::dynamic_buffer(buf_), net::transfer_at_least(length - buf_.size()),
                ec);
      if (ec) return r;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    r.ok = true;
    return r;
  }

  // True if the server closes the connection (EOF or reset) within `within`.
  bool ClosedWithin(std::chrono::milliseconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    auto& socket = Lowest();
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    char tmp[1024];
    while (std::chrono::steady_clock::now() < deadline) {
      size_t n = socket.read_some(net::buffer(tmp), ec);
      if (ec == net::error::would_block) {
        std::this_thread::sleep_for(10ms);
        continue;
      }
      if (ec) {
        socket.non_blocking(false, ec);
        return true;
      }
      (void)n;
    }
    socket.non_blocking(false, ec);
    return false;
  }

  tcp::socket& Lowest() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      return stream_;
    } else {
      return stream_.next_layer();
    }
  }
  Stream& stream() { return stream_; }

 private:
  Stream stream_;
  std::string buf_;
};

using Client = BasicClient<tcp::socket>;

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options, Handler handler) {
    options.host = "127.0.0.1";
    options.port = 0;
    auto started = Server::Start(options, std::move(handler));
    ASSERT_TRUE(started) << started.error().detail;
    server_ = std::move(*started);
  }

  // The default handler echoes what the server parsed.
  void StartEcho(ServerOptions options = {}) {
    StartServer(options, [](const Request& request) {
      Response r;
      r.route = "echo";
      r.SetHeader("Content-Type", "text/plain");
      r.body = request.method + " " + request.path + " " + request.body;
      return r;
    });
  }

  std::unique_ptr<Client> Connect() {
    tcp::socket socket(ioc_);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
    return std::make_unique<Client>(std::move(socket));
  }

  // A fresh connection gets a normal answer: the server survived whatever the test did.
  void ExpectServerHealthy() {
    auto client = Connect();
    client->Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    ParsedResponse r = client->Read();
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.status, 200);
  }

  net::io_context ioc_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, ServesRequestWithServerHeaders) {
  StartEcho();
  auto client = Connect();
  client->Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "GET /hello ");
  EXPECT_EQ(r.Header("content-length"), "11");
  EXPECT_EQ(r.Header("content-type"), "text/plain");
  EXPECT_NE(r.Header("date").find("GMT"), std::string::npos);
  EXPECT_EQ(r.Header("connection"), "");
  ExpectServerHealthy();
}

TEST_F(ServerTest, FillsRequestFields) {
  std::promise<Request> seen;
  StartServer({}, [&](const Request& request) {
    seen.set_value(request);
    return Response{};
  });
  auto client = Connect();
  client->Send(
      "POST /scim/v2/Us%65rs?filter=userName%20eq%20%22a%2Bb%22&x=a+b&flag&empty= HTTP/1.1\r\n"
      "Host: x\r\nX-Custom-Header: Value\r\nContent-Length: 5\r\n\r\nhello");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  Request request = seen.get_future().get();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target,
            "/scim/v2/Us%65rs?filter=userName%20eq%20%22a%2Bb%22&x=a+b&flag&empty=");
  EXPECT_EQ(request.path, "/scim/v2/Users");
  EXPECT_EQ(request.Query("filter"), "userName eq \"a+b\"");
  EXPECT_EQ(request.Query("x"), "a b");  // '+' is a space in the query (form encoding)
  EXPECT_EQ(request.Query("flag"), "");
  EXPECT_EQ(request.Query("empty"), "");
  EXPECT_EQ(request.Query("FILTER"), std::nullopt);
  EXPECT_EQ(request.QueryIgnoreCase("FILTER"), "userName eq \"a+b\"");
  EXPECT_EQ(request.Header("X-CUSTOM-HEADER"), "Value");
  bool lower = false;
  for (const auto& [name, value] : request.headers) lower |= name == "x-custom-header";
  EXPECT_TRUE(lower);
  EXPECT_EQ(request.body, "hello");
  EXPECT_EQ(request.remote_address, "127.0.0.1");
  EXPECT_FALSE(request.tls);
}

TEST(ResponseTest, SetHeaderReplacesCaseInsensitively) {
  Response r;
  r.SetHeader("Content-Type", "a");
  r.headers.emplace_back("content-type", "dup");
  r.SetHeader("ETag", "1");
  r.SetHeader("CONTENT-TYPE", "b");
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0].first, "CONTENT-TYPE");
  EXPECT_EQ(r.headers[0].second, "b");
  EXPECT_EQ(r.headers[1].second, "1");
}

TEST_F(ServerTest, PipelinedRequestsAnswerInOrder) {
  StartServer({}, [](const Request& request) {
    // The first request is the slowest, so out-of-order completion would show.
    if (request.path == "/1") std::this_thread::sleep_for(50ms);
    Response r;
    r.body = request.path;
    return r;
  });
  auto client = Connect();
  client->Send(
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n");
  for (const char* expected : {"/1", "/2", "/3"}) {
    ParsedResponse r = client->Read();
    ASSERT_TRUE(r.ok) << expected;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, expected);
  }
  // Keep-alive: the same connection still serves.
  client->Send("GET /4 HTTP/1.1\r\nHost: x\r\n\r\n");
  ParsedResponse r = client->Read();
  EXPECT_EQ(r.body, "/4");
}

TEST_F(ServerTest, HonoursConnectionClose) {
  StartEcho();
  auto client = Connect();
  client->Send("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(AsciiLower(r.Header("connection")), "close");
  EXPECT_TRUE(client->ClosedWithin(2s));
  ExpectServerHealthy();
}

TEST_F(ServerTest, SpeaksHttp10) {
  StartEcho();
  auto client = Connect();
  client->Send("GET /old HTTP/1.0\r\n\r\n");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.version, "HTTP/1.0");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "GET /old ");
  EXPECT_TRUE(client->ClosedWithin(2s));

  auto keep = Connect();
  keep->Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  r = keep->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(AsciiLower(r.Header("connection")), "keep-alive");
  keep->Send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  r = keep->Read();
  EXPECT_EQ(r.body, "GET /b ");
  ExpectServerHealthy();
}

TEST_F(ServerTest, HeadGetsHeadersWithoutBody) {
  StartEcho();
  auto client = Connect();
  client->Send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n");
  ParsedResponse r = client->Read(/*head_request=*/true);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-length"), "8");  // length of "HEAD /h "
  r = client->Read();  // would be garbled if the HEAD response had carried a body
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.body, "GET /g ");
}

TEST_F(ServerTest, RejectsOversizedHead) {
  ServerOptions options;
  options.max_header_bytes = 1024;
  StartEcho(options);
  auto client = Connect();
  client->Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(client->ClosedWithin(2s));
  ExpectServerHealthy();
}

TEST_F(ServerTest, RejectsOversizedBodyBeforeReadingIt) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  StartEcho(options);
  auto client = Connect();
  // Only the head is sent: the answer must come from Content-Length alone.
  client->Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(client->ClosedWithin(2s));
  ExpectServerHealthy();
}

TEST_F(ServerTest, AcceptsChunkedBodyWithinLimitAndRejectsBeyond) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  StartEcho(options);
  auto client = Connect();
  client->Send(
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST /c hello world");

  client->Send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 3; ++i) client->Send("200\r\n" + std::string(512, 'x') + "\r\n");
  r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 413);
  ExpectServerHealthy();
}

TEST_F(ServerTest, AnswersExpectContinue) {
  StartEcho();
  auto client = Connect();
  client->Send("PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 100);
  client->Send("data");
  r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "PUT /e data");
  ExpectServerHealthy();
}

TEST_F(ServerTest, RejectsContentLengthWithTransferEncoding) {
  StartEcho();
  auto client = Connect();
  client->Send(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(client->ClosedWithin(2s));

  auto other_order = Connect();
  other_order->Send(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
      "0\r\n\r\n");
  r = other_order->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(other_order->ClosedWithin(2s));
  ExpectServerHealthy();
}

// RFC 9112 §3.2 and §5.2, RFC 9110 §8.4: refusals Beast's parser does not make by itself.
TEST_F(ServerTest, RefusesHeadsTheRfcsRequireRefusing) {
  StartEcho();
  const std::pair<const char*, int> cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", 400},                                    // no Host
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},              // two
      {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},                        // invalid
      {"GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n", 400},     // obs-fold
      {"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400},                         // leading space
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
       415},
  };
  for (const auto& [bad, status] : cases) {
    auto client = Connect();
    client->Send(bad);
    ParsedResponse r = client->Read();
    ASSERT_TRUE(r.ok) << bad;
    EXPECT_EQ(r.status, status) << bad;
    if (status == 415) {
      EXPECT_EQ(r.Header("accept-encoding"), "identity");
    }
    EXPECT_TRUE(client->ClosedWithin(2s)) << bad;
  }
  ExpectServerHealthy();
}

TEST_F(ServerTest, AcceptsWhatTheRefusalsLeaveAlone) {
  StartEcho();
  for (const char* good : {"GET /old HTTP/1.0\r\n\r\n",
                           "GET / HTTP/1.1\r\nHost: \r\n\r\n",
                           "GET / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n\r\n",
                           "POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: identity\r\n"
                           "Content-Length: 3\r\n\r\nabc"}) {
    auto client = Connect();
    client->Send(good);
    ParsedResponse r = client->Read();
    ASSERT_TRUE(r.ok) << good;
    EXPECT_EQ(r.status, 200) << good;
  }
}

// The head is checked whole, so a fold split across reads is refused too.
TEST_F(ServerTest, RefusesObsFoldArrivingInPieces) {
  StartEcho();
  auto client = Connect();
  client->Send("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n");
  std::this_thread::sleep_for(50ms);
  client->Send(" two\r\n\r\n");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 400);
  ExpectServerHealthy();
}

TEST_F(ServerTest, RejectsMalformedRequest) {
  StartEcho();
  for (const char* bad : {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
                          "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    auto client = Connect();
    client->Send(bad);
    ParsedResponse r = client->Read();
    ASSERT_TRUE(r.ok) << bad;
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_TRUE(client->ClosedWithin(2s)) << bad;
  }
  ExpectServerHealthy();
}

TEST_F(ServerTest, HandlerExceptionBecomes500AndConnectionSurvives) {
  StartServer({}, [](const Request& request) -> Response {
    if (request.path == "/throw") throw std::runtime_error("boom");
    Response r;
    r.body = "fine";
    return r;
  });
  auto client = Connect();
  client->Send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"status":"500","detail":"internal error"})");
  client->Send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "fine");
}

TEST_F(ServerTest, CutsOffSlowHeaders) {
  ServerOptions options;
  options.header_timeout = 300ms;
  StartEcho(options);
  auto client = Connect();
  client->Send("GET / HTTP/1.1\r\n");
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  // Slowloris: one header byte every 50 ms never completes the head.
  while (std::chrono::steady_clock::now() - start < 3s) {
    client->Send("X");
    if (client->ClosedWithin(50ms)) {
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  ExpectServerHealthy();
}

TEST_F(ServerTest, CutsOffSlowBody) {
  ServerOptions options;
  options.body_timeout = 300ms;
  StartEcho(options);
  auto client = Connect();
  client->Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_TRUE(client->ClosedWithin(1500ms));
  ExpectServerHealthy();
}

TEST_F(ServerTest, ClosesIdleKeepAliveConnections) {
  ServerOptions options;
  options.idle_timeout = 300ms;
  StartEcho(options);
  auto client = Connect();
  client->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(client->Read().status, 200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client->ClosedWithin(2s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  ExpectServerHealthy();
}

TEST_F(ServerTest, RefusesConnectionsBeyondCapAndRecovers) {
  ServerOptions options;
  options.max_connections = 2;
  StartEcho(options);
  auto a = Connect();
  auto b = Connect();
  for (auto* c : {a.get(), b.get()}) {
    c->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(c->Read().status, 200);
  }
  auto refused = Connect();
  ParsedResponse r = refused->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Header("retry-after"), "1");
  EXPECT_TRUE(refused->ClosedWithin(2s));

  a.reset();  // frees a slot
  auto deadline = std::chrono::steady_clock::now() + 2s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto c = Connect();
    c->Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    status = c->Read().status;
    if (status == 200) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status, 200);
}

TEST_F(ServerTest, AnswersBusyWhenWorkerQueueIsFull) {
  ServerOptions options;
  options.worker_threads = 1;
  options.max_queued_requests = 1;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> first_started;
  std::atomic<int> calls{0};
  StartServer(options, [&](const Request& request) {
    if (request.path == "/block") {
      if (calls.fetch_add(1) == 0) first_started.set_value();
      released.wait();
    }
    Response r;
    r.body = request.path;
    return r;
  });
  auto running = Connect();
  running->Send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
  first_started.get_future().wait();
  auto queued = Connect();
  queued->Send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(100ms);  // let the server queue it

  auto rejected = Connect();
  rejected->Send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  ParsedResponse r = rejected->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Header("retry-after"), "1");
  EXPECT_EQ(calls.load(), 1);  // the handler was not called for the rejected request

  release.set_value();
  EXPECT_EQ(running->Read().status, 200);
  EXPECT_EQ(queued->Read().status, 200);
  // The rejected connection is still usable once the queue drains.
  rejected->Send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
  r = rejected->Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "/again");
  ExpectServerHealthy();
}

TEST_F(ServerTest, StopLetsInFlightRequestFinish) {
  std::promise<void> started;
  StartServer({}, [&](const Request&) {
    started.set_value();
    std::this_thread::sleep_for(300ms);
    Response r;
    r.body = "done";
    return r;
  });
  uint16_t port = server_->port();
  auto idle = Connect();
  auto client = Connect();
  client->Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  started.get_future().wait();
  std::thread stopper([&] { server_->Stop(5s); });
  ParsedResponse r = client->Read();
  stopper.join();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "done");
  EXPECT_EQ(AsciiLower(r.Header("connection")), "close");
  EXPECT_TRUE(idle->ClosedWithin(1s));
  server_->Stop();  // idempotent

  tcp::socket socket(ioc_);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  EXPECT_TRUE(ec) << "still accepting after Stop";
}

TEST_F(ServerTest, RendersPrometheusMetrics) {
  StartServer({}, [](const Request& request) {
    Response r;
    if (request.path == "/users") r.route = "scim.users.get";
    if (request.path == "/missing") r.status = 404;
    return r;
  });
  auto client = Connect();
  for (const char* path : {"/users", "/users", "/missing"}) {
    client->Send(std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(client->Read().ok);
  }
  // A request is counted once its response is written, which may be just after the client
  // has read it.
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + 2s;
  do {
    text = server_->metrics().Render();
    if (text.find("status=\"404\"} 1\n") != std::string::npos) break;
    std::this_thread::sleep_for(5ms);
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_NE(text.find("# TYPE idsync_http_requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("idsync_http_requests_total{route=\"scim.users.get\",status=\"200\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("idsync_http_requests_total{route=\"other\",status=\"404\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE idsync_http_request_duration_seconds histogram\n"),
            std::string::npos);
  EXPECT_NE(
      text.find(
          "idsync_http_request_duration_seconds_bucket{route=\"scim.users.get\",le=\"10\"} 2\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("idsync_http_request_duration_seconds_bucket{route=\"scim.users.get\","
                      "le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("idsync_http_request_duration_seconds_count{route=\"scim.users.get\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("le=\"0.0005\""), std::string::npos);
  EXPECT_NE(text.find("idsync_http_open_connections 1\n"), std::string::npos) << text;
}

TEST(ServerStart, ReportsAddressInUse) {
  ServerOptions options;
  options.port = 0;
  auto first = Server::Start(options, [](const Request&) { return Response{}; });
  ASSERT_TRUE(first) << first.error().detail;
  options.port = (*first)->port();
  auto second = Server::Start(options, [](const Request&) { return Response{}; });
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().detail,
            "address 127.0.0.1:" + std::to_string(options.port) + " is already in use");
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
}

TEST(ServerStart, ReportsBadHost) {
  ServerOptions options;
  options.host = "no-such-host.invalid";
  options.port = 0;
  auto started = Server::Start(options, [](const Request&) { return Response{}; });
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().detail.find("no-such-host.invalid"), std::string::npos)
      << started.error().detail;
}

// --- TLS -------------------------------------------------------------------------------------

class TlsTest : public ServerTest {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("idsync_http_tls_" + std::to_string(::getpid()) + "_" +
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
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  ServerOptions TlsOptions() {
    ServerOptions options;
    options.tls_cert_file = cert_;
    options.tls_key_file = key_;
    return options;
  }

  using TlsStream = net::ssl::stream<tcp::socket>;

  // Connects and handshakes; `max_version` 0 lets OpenSSL choose.
  std::unique_ptr<BasicClient<TlsStream>> ConnectTls(net::ssl::context& ctx,
                                                     boost::system::error_code& ec) {
    TlsStream stream(ioc_, ctx);
    stream.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
    stream.handshake(net::ssl::stream_base::client, ec);
    return std::make_unique<BasicClient<TlsStream>>(std::move(stream));
  }

  std::filesystem::path dir_;
  std::string cert_;
  std::string key_;
};

TEST_F(TlsTest, ServesHttpsOnly) {
  std::atomic<bool> saw_tls{false};
  StartServer(TlsOptions(), [&](const Request& request) {
    saw_tls = request.tls;
    Response r;
    r.body = "secure";
    return r;
  });
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_verify_mode(net::ssl::verify_none);
  boost::system::error_code ec;
  auto client = ConnectTls(ctx, ec);
  ASSERT_FALSE(ec) << ec.message();
  client->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ParsedResponse r = client->Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "secure");
  EXPECT_TRUE(saw_tls);
  EXPECT_GE(SSL_version(client->stream().native_handle()), TLS1_2_VERSION);

  // Plain HTTP on the TLS port gets no HTTP answer.
  auto plain = Connect();
  plain->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_FALSE(plain->Read().ok);

  // The TLS connection still works afterwards.
  client->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(client->Read().status, 200);
}

TEST_F(TlsTest, RefusesTls11) {
  StartServer(TlsOptions(), [](const Request&) { return Response{}; });
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_verify_mode(net::ssl::verify_none);
  SSL_CTX_set_security_level(ctx.native_handle(), 0);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_1_VERSION);
  boost::system::error_code ec;
  auto old = ConnectTls(ctx, ec);
  EXPECT_TRUE(ec);

  net::ssl::context modern(net::ssl::context::tls_client);
  modern.set_verify_mode(net::ssl::verify_none);
  auto client = ConnectTls(modern, ec);
  ASSERT_FALSE(ec) << ec.message();
  client->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(client->Read().status, 200);
}

TEST_F(TlsTest, StartFailsWithFileAndReason) {
  ServerOptions options = TlsOptions();
  options.port = 0;
  options.tls_cert_file = (dir_ / "missing.pem").string();
  auto started = Server::Start(options, [](const Request&) { return Response{}; });
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().detail.find("missing.pem"), std::string::npos);
  EXPECT_NE(started.error().detail.find("No such file"), std::string::npos)
      << started.error().detail;

  std::string garbage = (dir_ / "garbage.pem").string();
  std::ofstream(garbage) << "not a certificate\n";
  options.tls_cert_file = garbage;
  started = Server::Start(options, [](const Request&) { return Response{}; });
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().detail.find("invalid TLS certificate " + garbage + ": "),
            std::string::npos)
      << started.error().detail;

  options = TlsOptions();
  options.port = 0;
  options.tls_key_file = garbage;
  started = Server::Start(options, [](const Request&) { return Response{}; });
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().detail.find("invalid TLS key " + garbage + ": "), std::string::npos)
      << started.error().detail;
}

}  // namespace
}  // namespace idsync::http
