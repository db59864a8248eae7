// libFuzzer target for the BER filter decoder and the filter evaluator: the input is the filter
// element of a searchRequest (the harness wraps it in a well-formed LDAPMessage, so the fuzzer
// spends its time inside the filter). Properties: decoding never crashes or over-reads; a
// decoded filter prints as RFC 4515 text that parses back to the same text; evaluating it on an
// entry with every kind of value never crashes, and NOT never turns Undefined into TRUE.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ldap/protocol/filter.h"
#include "ldap/protocol/message.h"
#include "ldap/server/evaluate.h"
#include "ldap/server/schema.h"

namespace {

// Tag + long-form length (4 octets) + content.
std::string Tlv(unsigned char tag, const std::string& content) {
  std::string out(1, static_cast<char>(tag));
  out.push_back(static_cast<char>(0x84));
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((content.size() >> shift) & 0xff));
  }
  return out + content;
}

const idsync::ldap::Schema& TheSchema() {
  static const idsync::ldap::Schema schema({"costCenter"});
  return schema;
}

const idsync::ldap::Entry& TheEntry() {
  static const idsync::ldap::Entry entry = [] {
    const auto& s = TheSchema();
    idsync::ldap::Entry e;
    e.dn = "uid=a\\,b,ou=people,ou=users,dc=idsync";
    e.Add(s.Find("objectClass"), {"top", "person", "inetOrgPerson", "user"});
    e.Add(s.Find("uid"), {"a,b"});
    e.Add(s.Find("cn"), {" Änne  Müller "});
    e.Add(s.Find("mail"), {"a@example.com"});
    e.Add(s.Find("entryUUID"), {"b1d3f80b-c8c6-453f-86e4-06d51e9129c7"});
    e.Add(s.Find("createTimestamp"), {"20260101120000Z"});
    e.Add(s.Find("userAccountControl"), {"514"});
    e.Add(s.Find("memberOf"), {"cn=Staff,ou=groups,ou=users,dc=idsync"});
    e.Add(s.Find("isDeleted"), {"TRUE"});
    e.Add(s.Find("objectGUID"), {std::string("\x01\x00\xff\x7f", 4)});
    e.Add(s.Find("costCenter"), {"42"});
    e.Add(s.Find("objectCategory"), {"CN=Person,CN=Schema,CN=Configuration,dc=idsync"});
    return e;
  }();
  return entry;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace idsync::ldap;
  std::string filter(reinterpret_cast<const char*>(data), size);
  std::string search = Tlv(0x04, "ou=users,dc=idsync") + Tlv(0x0a, std::string(1, '\2')) +
                       Tlv(0x0a, std::string(1, '\0')) + Tlv(0x02, std::string(1, '\0')) +
                       Tlv(0x02, std::string(1, '\0')) + Tlv(0x01, std::string(1, '\0')) + filter +
                       Tlv(0x30, "");
  std::string message = Tlv(0x30, Tlv(0x02, std::string(1, '\1')) + Tlv(0x63, search));
  Decoded decoded = DecodeRequest(message);
  if (!decoded.request) return 0;
  const auto* request = std::get_if<SearchRequest>(&decoded.request->body);
  if (request == nullptr) __builtin_trap();
  std::string printed = FilterToString(request->filter);
  auto again = ParseFilter(printed, 64);
  if (!again || FilterToString(*again) != printed) __builtin_trap();
  Truth t = Evaluate(request->filter, TheEntry(), TheSchema());
  Filter negated;
  negated.kind = Filter::Kind::kNot;
  negated.children.push_back(request->filter);
  Truth n = Evaluate(negated, TheEntry(), TheSchema());
  if (t == Truth::kUndefined && n != Truth::kUndefined) __builtin_trap();
  if (t == Truth::kTrue && n != Truth::kFalse) __builtin_trap();
  return 0;
}
