#include "sync/ldap/settings.h"

#include <string_view>

#include "base/strings.h"

namespace idsync::sync::ldap {

namespace {

bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

bool IsKeystring(std::string_view s) {  // RFC 4512 §1.4: ALPHA *(ALPHA / DIGIT / HYPHEN)
  if (s.empty() || !IsAlpha(s.front())) return false;
  for (char c : s) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '-') return false;
  }
  return true;
}

bool IsNumericOid(std::string_view s) {  // number *( DOT number )
  if (s.empty()) return false;
  bool need_digit = true;
  for (char c : s) {
    if (IsDigit(c)) {
      need_digit = false;
    } else if (c == '.' && !need_digit) {
      need_digit = true;
    } else {
      return false;
    }
  }
  return !need_digit;
}

Error Invalid(std::string detail) {
  return MakeError(ErrorCode::kInvalidValue, std::move(detail));
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += "; ";
    out += item;
  }
  return out;
}

}  // namespace

bool IsAttributeDescription(std::string_view name) {
  const auto semicolon = name.find(';');
  const std::string_view oid = name.substr(0, semicolon);
  if (!IsKeystring(oid) && !IsNumericOid(oid)) return false;
  if (semicolon == std::string_view::npos) return true;
  std::string_view options = name.substr(semicolon + 1);
  while (true) {
    const auto next = options.find(';');
    const std::string_view option = options.substr(0, next);
    if (option.empty()) return false;
    for (char c : option) {
      if (!IsAlpha(c) && !IsDigit(c) && c != '-') return false;
    }
    if (next == std::string_view::npos) return true;
    options = options.substr(next + 1);
  }
}

Status Validate(const LdapSettings& s) {
  const bool ldaps = StartsWithIgnoreAsciiCase(s.url, "ldaps://");
  if (!ldaps && !StartsWithIgnoreAsciiCase(s.url, "ldap://")) {
    return Invalid("url must start with ldap:// or ldaps://, got '" + s.url + "'");
  }
  if (s.url.find_first_of(" \t\r\n") != std::string::npos) {
    return Invalid("url must name exactly one server, without spaces");
  }
  if (ldaps && s.start_tls) {
    return Invalid("start_tls applies to ldap:// only; ldaps:// is already TLS");
  }
  if (!s.bind_dn.empty() && s.bind_password.empty()) {
    return Invalid(
        "bind_dn is set but the bind password is empty; servers treat that as an "
        "unauthenticated bind, so it is refused");
  }
  if (s.bind_dn.empty() && !s.bind_password.empty()) {
    return Invalid("a bind password is set but bind_dn is empty");
  }
  if (s.base_dns.empty()) return Invalid("at least one base DN is required");
  for (const auto& base : s.base_dns) {
    if (base.empty()) return Invalid("a base DN is empty");
  }
  if (s.user_filter.empty()) return Invalid("user_filter is empty");
  if (s.group_filter.empty()) return Invalid("group_filter is empty");
  for (const auto& attribute : s.attributes) {
    if (!IsAttributeDescription(attribute)) {
      return Invalid("attribute '" + attribute + "' is not an LDAP attribute name");
    }
  }
  if (!IsAttributeDescription(s.id_attribute)) {
    return Invalid("id_attribute '" + s.id_attribute + "' is not an LDAP attribute name");
  }
  if (!IsAttributeDescription(s.username_attribute)) {
    return Invalid("username_attribute '" + s.username_attribute +
                   "' is not an LDAP attribute name");
  }
  if (s.page_size <= 0) return Invalid("page_size must be positive");
  if (s.network_timeout.count() <= 0) return Invalid("network_timeout must be positive");
  if (s.operation_timeout.count() <= 0) return Invalid("operation_timeout must be positive");
  return Status::Ok();
}

std::string DescribeForLog(const LdapSettings& s) {
  std::string out = "url=" + s.url;
  out += " start_tls=" + std::string(s.start_tls ? "true" : "false");
  out += " ca_file=" + (s.ca_file.empty() ? std::string("(system)") : s.ca_file);
  out += " bind_dn=" + (s.bind_dn.empty() ? std::string("(anonymous)") : s.bind_dn);
  out += " bind_password=" + std::string(s.bind_password.empty() ? "(empty)" : "(set)");
  out += " base_dns=[" + Join(s.base_dns) + "]";
  out += " user_filter=" + s.user_filter;
  out += " group_filter=" + s.group_filter;
  out += " attributes=[" + Join(s.attributes) + "]";
  out += " id_attribute=" + s.id_attribute;
  out += " username_attribute=" + s.username_attribute;
  out += " page_size=" + std::to_string(s.page_size);
  out += " network_timeout_ms=" + std::to_string(s.network_timeout.count());
  out += " operation_timeout_ms=" + std::to_string(s.operation_timeout.count());
  return out;
}

}  // namespace idsync::sync::ldap
