// libFuzzer target for the HTTP request head and framing, as the server reads it: Boost.Beast's
// request_parser<string_body> with the server's limits (head 16 KiB, body 2 MiB), requests read
// one after another from the same bytes (keep-alive, pipelining). The server's target/query
// decoding is internal to server.cpp, so this target checks the parser it builds on.
// Properties: rejecting input is fine; crashing is not, and neither is
//  - a different result when the same bytes arrive in small pieces instead of all at once
//    (the server reads from the socket in whatever pieces the network delivers);
//  - a parsed request whose serialization does not parse again to the same method, target,
//    version, header fields and body (nothing is lost or reinterpreted by a re-send/proxy);
//  - a parsed body beyond the body limit.
#include <algorithm>
#include <cstdio>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>

namespace {

namespace bhttp = boost::beast::http;

constexpr size_t kMaxHeaderBytes = 16 * 1024;     // ServerOptions::max_header_bytes
constexpr size_t kMaxBodyBytes = 2 * 1024 * 1024;  // ServerOptions::max_body_bytes
constexpr int kMaxRequests = 8;

struct Parsed {
  std::string method;
  std::string target;
  unsigned version = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  bool chunked = false;
  bool keep_alive = false;

  bool operator==(const Parsed& o) const {
    return method == o.method && target == o.target && version == o.version &&
           fields == o.fields && body == o.body && chunked == o.chunked &&
           keep_alive == o.keep_alive;
  }
};

struct Outcome {
  std::vector<Parsed> requests;
  bool error = false;  // the stream ended in a parse error (the server answers 4xx and closes)
  bool operator==(const Outcome& o) const { return requests == o.requests && error == o.error; }
};

Parsed Capture(const bhttp::request<bhttp::string_body>& m, bool chunked) {
  Parsed p;
  p.method = std::string(m.method_string());
  p.target = std::string(m.target());
  p.version = m.version();
  for (const auto& f : m) p.fields.emplace_back(std::string(f.name_string()), std::string(f.value()));
  p.body = m.body();
  p.chunked = chunked;  // the framing the parser used, over all Transfer-Encoding fields
  p.keep_alive = m.keep_alive();
  return p;
}

// Reads requests from `input`, delivered in pieces of `piece` bytes (0: all at once), as the
// server does: a fresh parser per request, unconsumed bytes kept for the next one.
Outcome ReadAll(std::string_view input, size_t piece) {
  Outcome out;
  std::string pending;
  size_t offered = 0;
  auto offer_more = [&]() -> bool {
    if (offered >= input.size()) return false;
    size_t n = piece == 0 ? input.size() - offered : std::min(piece, input.size() - offered);
    pending.append(input.substr(offered, n));
    offered += n;
    return true;
  };
  offer_more();
  while (static_cast<int>(out.requests.size()) < kMaxRequests) {
    if (pending.empty() && !offer_more()) return out;  // clean end between requests
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
    parser.body_limit(kMaxBodyBytes);
    parser.eager(true);
    while (!parser.is_done()) {
      boost::beast::error_code ec;
      size_t used = parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
      pending.erase(0, used);
      if (ec == bhttp::error::need_more) {
        if (!offer_more()) {
          parser.put_eof(ec);
          if (ec || !parser.is_done()) {
            out.error = true;
            return out;
          }
          break;
        }
        continue;
      }
      if (ec) {
        out.error = true;
        return out;
      }
      if (used == 0 && !parser.is_done() && !offer_more()) {
        parser.put_eof(ec);
        if (ec || !parser.is_done()) out.error = true;
        if (out.error) return out;
        break;
      }
    }
    out.requests.push_back(Capture(parser.get(), parser.chunked()));
    if (!parser.get().keep_alive()) return out;
  }
  return out;
}

// Our own serializer rather than Beast's: Beast 1.74's serializer writes an empty chunked body
// as two last-chunks ("0\r\n\r\n0\r\n\r\n"), which would read back as a second request.
std::string Serialize(const Parsed& p) {
  std::string w = p.method + " " + p.target + " HTTP/" + std::to_string(p.version / 10) + "." +
                  std::to_string(p.version % 10) + "\r\n";
  for (const auto& [name, value] : p.fields) w += name + ": " + value + "\r\n";
  w += "\r\n";
  if (p.chunked) {
    if (!p.body.empty()) {
      char size[32];
      std::snprintf(size, sizeof(size), "%zx\r\n", p.body.size());
      w += size + p.body + "\r\n";
    }
    w += "0\r\n\r\n";
  } else {
    w += p.body;
  }
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Outcome whole = ReadAll(input, 0);
  size_t piece = size == 0 ? 1 : 1 + data[0] % 13;
  Outcome pieces = ReadAll(input, piece);
  if (!(whole == pieces)) __builtin_trap();

  for (const Parsed& p : whole.requests) {
    if (p.body.size() > kMaxBodyBytes) __builtin_trap();
  }
  // Re-serialize each request (as a proxy or a retrying client would) and read it back.
  for (const Parsed& p : whole.requests) {
    Outcome back = ReadAll(Serialize(p), 0);
    if (back.error || back.requests.size() != 1) __builtin_trap();
    const Parsed& q = back.requests.front();
    if (q.method != p.method || q.target != p.target || q.version != p.version ||
        q.fields != p.fields || q.body != p.body || q.chunked != p.chunked) {
      __builtin_trap();
    }
  }
  return 0;
}
