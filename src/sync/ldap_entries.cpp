#include "sync/ldap_entries.h"

#include "base/crypto.h"
#include "base/strings.h"

namespace idsync::sync {

using ldap::LdapEntry;

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    if (c == 0) return false;
    if (c < 0x80) {
      n = 0;
    } else if ((c >> 5) == 6) {
      n = 1;
    } else if ((c >> 4) == 14) {
      n = 2;
    } else if ((c >> 3) == 30) {
      n = 3;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n + 1;
  }
  return true;
}

// DNs compare case-insensitively, without the spaces some tools put around ',' and '='
// (RFC 4514 allows them on input). Not a full RFC 4517 distinguishedNameMatch (no attribute
// type aliases, no escaping forms), which the servers we read do not need: they return the
// DNs they store, and member values are written by the same tools.
std::string DnKey(std::string_view dn) {
  std::string out;
  out.reserve(dn.size());
  for (size_t i = 0; i < dn.size(); ++i) {
    char c = dn[i];
    if (c == ' ' && (out.empty() || out.back() == ',' || out.back() == '=')) continue;
    if ((c == ',' || c == '=') && !out.empty() && out.back() == ' ' &&
        (out.size() < 2 || out[out.size() - 2] != '\\')) {
      out.pop_back();
    }
    out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// uniqueMember is a DN optionally followed by "#'0101'B" (RFC 4517 nameAndOptionalUID).
std::string UniqueMemberDn(std::string_view value) {
  auto hash = value.rfind("#'");
  if (hash != std::string_view::npos && value.size() > hash + 3 && value.back() == 'B') {
    return std::string(value.substr(0, hash));
  }
  return std::string(value);
}

// The mirror body of an LDAP user or group: {attribute: [values]} for every attribute read
// except the change attribute (it changes on every modification and would make every read look
// like a change), plus "dn". A value that is not UTF-8 (objectGUID, jpegPhoto) is kept as
// base64 under "<attribute>;binary".
Json EntryBody(const LdapEntry& entry, const LdapConfig& config) {
  Json body = Json::object();
  for (const auto& [name, values] : entry.attributes) {
    if (EqualsIgnoreAsciiCase(name, config.change_attribute)) continue;
    Json text = Json::array();
    Json binary = Json::array();
    for (const auto& v : values) {
      if (IsUtf8(v)) {
        text.push_back(v);
      } else {
        binary.push_back(Base64(v));
      }
    }
    if (!text.empty()) body[name] = std::move(text);
    if (!binary.empty()) body[name + ";binary"] = std::move(binary);
  }
  body["dn"] = entry.dn;
  return body;
}

// The raw entry for `ldap test`: every attribute, binary values as {"base64": ...}.
Json RawEntry(const LdapEntry& entry) {
  Json attrs = Json::object();
  for (const auto& [name, values] : entry.attributes) {
    Json list = Json::array();
    for (const auto& v : values) {
      if (IsUtf8(v)) {
        list.push_back(v);
      } else {
        list.push_back(Json{{"base64", Base64(v)}});
      }
    }
    attrs[name] = std::move(list);
  }
  return Json{{"dn", entry.dn}, {"attributes", std::move(attrs)}};
}

std::string FirstValue(const Json& body, const std::string& attribute) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (EqualsIgnoreAsciiCase(it.key(), attribute) && it->is_array() && !it->empty() &&
        (*it)[0].is_string()) {
      return (*it)[0].get<std::string>();
    }
  }
  return {};
}

const Json* Values(const Json& body, const std::string& attribute) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (EqualsIgnoreAsciiCase(it.key(), attribute) && it->is_array()) return &*it;
  }
  return nullptr;
}

}  // namespace idsync::sync
