// Response encoders (RFC 4511 §4.2.2, §4.5.2, §4.6-4.12, §4.4.1), written with ber_printf.
#include <string>

#include "ldap/protocol/ber.h"
#include "ldap/protocol/message.h"

namespace idsync::ldap {

namespace {

using internal::ApplicationConstructed;
using internal::BerWriter;
using internal::ContextConstructed;
using internal::ContextPrimitive;
using internal::DataOf;

constexpr std::string_view kNoticeOfDisconnectionOid = "1.3.6.1.4.1.1466.20036";

ber_len_t Len(std::string_view s) {
  return static_cast<ber_len_t>(s.size());
}

// Opens LDAPMessage and the protocolOp, and writes the LDAPResult components:
//   LDAPResult ::= SEQUENCE { resultCode ENUMERATED, matchedDN LDAPDN,
//                             diagnosticMessage LDAPString, referral [3] Referral OPTIONAL }
void StartResult(BerWriter& w, int32_t id, ber_tag_t tag, const LdapResult& result) {
  w.Check(ber_printf(w.get(), "{it{eoo", static_cast<ber_int_t>(id), tag,
                     static_cast<ber_int_t>(result.code), DataOf(result.matched_dn),
                     Len(result.matched_dn), DataOf(result.message), Len(result.message)));
}

// Closes the protocolOp, writes controls [0] if any, and closes the LDAPMessage.
std::string Finish(BerWriter& w, const std::vector<Control>& controls) {
  w.Check(ber_printf(w.get(), "}"));
  if (!controls.empty()) {
    w.Check(ber_printf(w.get(), "t{", static_cast<ber_tag_t>(ContextConstructed(0))));
    for (const Control& control : controls) {
      w.Check(ber_printf(w.get(), "{o", DataOf(control.oid), Len(control.oid)));
      // criticality BOOLEAN DEFAULT FALSE: DER leaves a default out.
      if (control.critical) w.Check(ber_printf(w.get(), "b", static_cast<ber_int_t>(1)));
      if (control.value) {
        w.Check(ber_printf(w.get(), "o", DataOf(*control.value), Len(*control.value)));
      }
      w.Check(ber_printf(w.get(), "}"));
    }
    w.Check(ber_printf(w.get(), "}"));
  }
  w.Check(ber_printf(w.get(), "}"));
  return w.Finish();
}

ber_tag_t ResponseTag(Operation op) {
  switch (op) {
    case Operation::kModify: return ApplicationConstructed(7);
    case Operation::kAdd: return ApplicationConstructed(9);
    case Operation::kDelete: return ApplicationConstructed(11);
    case Operation::kModifyDn: return ApplicationConstructed(13);
    case Operation::kCompare: return ApplicationConstructed(15);
    case Operation::kBind: return ApplicationConstructed(1);
    case Operation::kSearch: return ApplicationConstructed(5);
    case Operation::kUnbind:
    case Operation::kAbandon:
    case Operation::kExtended: return ApplicationConstructed(24);
  }
  return ApplicationConstructed(24);
}

}  // namespace

std::string EncodeBindResponse(int32_t id, const LdapResult& result,
                               const std::vector<Control>& controls) {
  BerWriter w;
  StartResult(w, id, ApplicationConstructed(1), result);
  return Finish(w, controls);
}

std::string EncodeSearchEntry(int32_t id, std::string_view dn,
                              const std::vector<Attribute>& attributes, bool types_only) {
  // SearchResultEntry ::= [APPLICATION 4] SEQUENCE { objectName LDAPDN,
  //     attributes PartialAttributeList }
  // PartialAttribute ::= SEQUENCE { type AttributeDescription, vals SET OF value }
  BerWriter w;
  w.Check(ber_printf(w.get(), "{it{o{", static_cast<ber_int_t>(id),
                     static_cast<ber_tag_t>(ApplicationConstructed(4)), DataOf(dn), Len(dn)));
  for (const Attribute& attribute : attributes) {
    w.Check(ber_printf(w.get(), "{o[", DataOf(attribute.type), Len(attribute.type)));
    if (!types_only) {
      for (const std::string& value : attribute.values) {
        w.Check(ber_printf(w.get(), "o", DataOf(value), Len(value)));
      }
    }
    w.Check(ber_printf(w.get(), "]}"));
  }
  w.Check(ber_printf(w.get(), "}"));
  return Finish(w, {});
}

std::string EncodeSearchDone(int32_t id, const LdapResult& result,
                             const std::vector<Control>& controls) {
  BerWriter w;
  StartResult(w, id, ApplicationConstructed(5), result);
  return Finish(w, controls);
}

std::string EncodeResponse(int32_t id, Operation op, const LdapResult& result) {
  BerWriter w;
  StartResult(w, id, ResponseTag(op), result);
  return Finish(w, {});
}

std::string EncodeExtendedResponse(int32_t id, const LdapResult& result,
                                   const std::optional<std::string>& oid,
                                   const std::optional<std::string>& value) {
  // ExtendedResponse ::= [APPLICATION 24] SEQUENCE { COMPONENTS OF LDAPResult,
  //     responseName [10] LDAPOID OPTIONAL, responseValue [11] OCTET STRING OPTIONAL }
  BerWriter w;
  StartResult(w, id, ApplicationConstructed(24), result);
  if (oid) {
    w.Check(ber_printf(w.get(), "to", static_cast<ber_tag_t>(ContextPrimitive(10)), DataOf(*oid),
                       Len(*oid)));
  }
  if (value) {
    w.Check(ber_printf(w.get(), "to", static_cast<ber_tag_t>(ContextPrimitive(11)), DataOf(*value),
                       Len(*value)));
  }
  return Finish(w, {});
}

std::string EncodeNoticeOfDisconnection(int code, std::string_view message) {
  LdapResult result;
  result.code = code;
  result.message = std::string(message);
  return EncodeExtendedResponse(0, result, std::string(kNoticeOfDisconnectionOid), std::nullopt);
}

}  // namespace idsync::ldap
