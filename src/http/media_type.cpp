#include "http/media_type.h"

#include <cstdlib>
#include <string>

#include "base/strings.h"

namespace idsync::http {
namespace {

constexpr std::string_view kScimJson = "application/scim+json";
constexpr std::string_view kPlainJson = "application/json";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The quality `accept` gives `type` ("application/json"): from the most specific range that
// matches; 0 when none does. A malformed q counts as 1: a client that lists a type wants it.
double QualityOf(std::string_view accept, std::string_view type) {
  const std::string_view family = type.substr(0, type.find('/'));
  int best_specificity = -1;
  double best_q = 0;
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    std::string_view element = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    size_t semi = element.find(';');
    std::string range = AsciiLower(Trim(element.substr(0, semi)));
    double q = 1;
    std::string_view params =
        semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1);
    while (!params.empty()) {
      size_t next = params.find(';');
      std::string_view param = Trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        std::string value(param.substr(2));
        char* end = nullptr;
        double v = std::strtod(value.c_str(), &end);
        if (end != value.c_str() && *end == '\0' && v >= 0 && v <= 1) q = v;
      }
    }
    int specificity = -1;
    if (range == type) {
      specificity = 2;
    } else if (range.size() == family.size() + 2 && range.compare(0, family.size(), family) == 0 &&
               range.compare(family.size(), 2, "/*") == 0) {
      specificity = 1;
    } else if (range == "*/*") {
      specificity = 0;
    }
    if (specificity > best_specificity) {
      best_specificity = specificity;
      best_q = q;
    }
  }
  return best_specificity < 0 ? 0 : best_q;
}

}  // namespace

bool PrefersPlainJson(std::string_view accept) {
  if (Trim(accept).empty()) return false;
  return QualityOf(accept, kPlainJson) > QualityOf(accept, kScimJson);
}

void NegotiateScimMediaType(const Request& request, Response& response) {
  std::string* content_type = nullptr;
  for (auto& [name, value] : response.headers) {
    if (EqualsIgnoreAsciiCase(name, "content-type")) content_type = &value;
  }
  if (!content_type ||
      !EqualsIgnoreAsciiCase(
          Trim(std::string_view(*content_type).substr(0, content_type->find(';'))), kScimJson)) {
    return;
  }
  auto accept = request.Header("accept");
  if (accept && PrefersPlainJson(*accept)) {
    size_t semi = content_type->find(';');
    *content_type =
        std::string(kPlainJson) + (semi == std::string::npos ? "" : content_type->substr(semi));
  }
  // RFC 9110 §12.5.5: the representation depends on Accept, so shared caches must key on it.
  response.SetHeader("Vary", "Accept");
}

}  // namespace idsync::http
