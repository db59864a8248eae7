#include "sync/ldap/entry.h"

#include <algorithm>
#include <cstdint>

#include "base/strings.h"
#include "base/uuid.h"

namespace idsync::sync::ldap {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHex(std::string& out, unsigned char byte) {
  out += kHex[byte >> 4];
  out += kHex[byte & 0x0f];
}

bool IsPrintableAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte < 0x7f;
  });
}

}  // namespace

bool AttributeNameLess::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lx = (x >= 'A' && x <= 'Z') ? static_cast<char>(x - 'A' + 'a') : x;
    const auto ly = (y >= 'A' && y <= 'Z') ? static_cast<char>(y - 'A' + 'a') : y;
    return static_cast<unsigned char>(lx) < static_cast<unsigned char>(ly);
  });
}

const std::vector<std::string>* LdapEntry::Find(std::string_view attribute) const {
  auto it = attributes.find(attribute);
  return it == attributes.end() ? nullptr : &it->second;
}

std::optional<std::string> LdapEntry::First(std::string_view attribute) const {
  const auto* values = Find(attribute);
  if (values == nullptr || values->empty()) return std::nullopt;
  return values->front();
}

Result<std::string> GuidBytesToText(std::string_view bytes) {
  if (bytes.size() != 16) {
    return MakeError(ErrorCode::kInvalidValue,
                     "a GUID is 16 bytes, got " + std::to_string(bytes.size()));
  }
  // Microsoft GUID layout: Data1 (4 bytes), Data2 (2), Data3 (2) little-endian, then Data4
  // (8 bytes) in order. The canonical text prints each field most significant byte first.
  static constexpr int kOrder[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    AppendHex(out, static_cast<unsigned char>(bytes[kOrder[i]]));
  }
  return out;
}

Result<std::string> StableId(const LdapEntry& entry, std::string_view id_attribute) {
  const auto* values = entry.Find(id_attribute);
  if (values == nullptr || values->empty()) {
    return MakeError(ErrorCode::kInvalidValue,
                     "entry '" + entry.dn + "' has no " + std::string(id_attribute) +
                         " (is the attribute readable by the bind account?)");
  }
  if (values->size() > 1) {
    return MakeError(ErrorCode::kInvalidValue, "entry '" + entry.dn + "' has " +
                                                   std::to_string(values->size()) + " values of " +
                                                   std::string(id_attribute) +
                                                   "; a stable id must be single-valued");
  }
  std::string_view value = values->front();
  if (EqualsIgnoreAsciiCase(id_attribute, "objectGUID")) {
    auto text = GuidBytesToText(value);
    if (!text) {
      return MakeError(ErrorCode::kInvalidValue,
                       "entry '" + entry.dn + "': objectGUID: " + text.error().detail);
    }
    return text;
  }
  if (value.size() == 38 && value.front() == '{' && value.back() == '}') {
    value = value.substr(1, 36);
  }
  std::string lower = AsciiLower(value);
  if (IsUuid(lower)) return lower;
  if (value.empty() || !IsPrintableAscii(value)) {
    return MakeError(ErrorCode::kInvalidValue, "entry '" + entry.dn +
                                                   "': " + std::string(id_attribute) +
                                                   " is empty or binary; cannot use it as an id");
  }
  return std::string(values->front());
}

}  // namespace idsync::sync::ldap
