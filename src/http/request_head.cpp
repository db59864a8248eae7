#include "http/request_head.h"

#include "base/strings.h"

namespace idsync::http {

std::string HeadLineProblem(std::string_view head) {
  size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos) return {};  // the request line alone: Beast judges it
  std::string_view rest = head.substr(eol + 2);
  while (!rest.empty()) {
    eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    if (line.empty()) continue;
    if (line.front() == ' ' || line.front() == '\t') {
      return "header line starts with whitespace (obsolete line folding is not accepted)";
    }
    if (line.find(':') == std::string_view::npos) return "header line without a colon";
  }
  return {};
}

namespace {

// RFC 3986 uri-host [ ":" port ]: reg-name (unreserved, pct-encoded, sub-delims), an IPv4
// address (a reg-name lexically) or an IP-literal in brackets. Checked by character class only;
// the server answers every Host it is reached by.
bool ValidHostValue(std::string_view value) {
  if (value.empty()) return true;
  std::string_view host = value;
  if (host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    for (char c : host.substr(1, close - 1)) {
      bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                c == ':' || c == '.' || c == 'v' || c == 'V';
      if (!ok) return false;
    }
    host = host.substr(close + 1);
    if (host.empty()) return true;
    if (host.front() != ':') return false;
  } else {
    size_t colon = host.find(':');
    for (char c : host.substr(0, colon)) {
      bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
      if (!ok) return false;
    }
    if (colon == std::string_view::npos) return true;
    host = host.substr(colon);
  }
  for (char c : host.substr(1)) {  // the port
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string HostProblem(int version, const std::vector<std::string_view>& host_values) {
  if (host_values.size() > 1) return "more than one Host header field";
  if (host_values.empty()) {
    return version >= 11 ? "HTTP/1.1 request without a Host header field" : std::string();
  }
  if (!ValidHostValue(host_values.front())) return "invalid Host header field";
  return {};
}

namespace {

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string ContentCodingProblem(const std::vector<std::string_view>& content_encodings) {
  for (std::string_view field : content_encodings) {
    while (!field.empty()) {
      size_t comma = field.find(',');
      std::string_view coding = TrimOws(field.substr(0, comma));
      field = comma == std::string_view::npos ? std::string_view() : field.substr(comma + 1);
      if (coding.empty() || EqualsIgnoreAsciiCase(coding, "identity")) continue;
      // The client's value is not echoed: the detail is written into JSON unescaped.
      return "unsupported Content-Encoding (request bodies are accepted without content coding)";
    }
  }
  return {};
}

}  // namespace idsync::http
