// DecodeRequest: one LDAPMessage (RFC 4511 §4.1.1) into a Request.
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "ldap/protocol/ber.h"
#include "ldap/protocol/filter_ber.h"
#include "ldap/protocol/message.h"

namespace idsync::ldap {

namespace {

using internal::ApplicationConstructed;
using internal::ApplicationPrimitive;
using internal::BerReader;
using internal::ContextConstructed;
using internal::ContextPrimitive;
using internal::kTagBoolean;
using internal::kTagEnumerated;
using internal::kTagInteger;
using internal::kTagOctetString;
using internal::kTagSequence;

Error Invalid(std::string detail) {
  return MakeError(ErrorCode::kInvalidSyntax, std::move(detail));
}

// BindRequest ::= [APPLICATION 0] SEQUENCE { version INTEGER (1..127), name LDAPDN,
//     authentication AuthenticationChoice }
// AuthenticationChoice ::= CHOICE { simple [0] OCTET STRING, sasl [3] SaslCredentials }
// SaslCredentials ::= SEQUENCE { mechanism LDAPString, credentials OCTET STRING OPTIONAL }
Result<BindRequest> DecodeBind(std::string_view contents) {
  BerReader reader(contents);
  BindRequest bind;
  int32_t version = 0;
  if (!reader.Int(kTagInteger, &version) || version < 1 || version > 127) {
    return Invalid("bind: invalid version");
  }
  bind.version = version;
  if (!reader.String(kTagOctetString, &bind.name)) return Invalid("bind: invalid name");
  ber_tag_t tag = reader.PeekTag();
  if (tag == ContextPrimitive(0)) {
    bind.simple = true;
    if (!reader.String(tag, &bind.password)) return Invalid("bind: invalid simple password");
  } else if (tag == ContextConstructed(3)) {
    bind.simple = false;
    auto sasl = reader.Element(tag);
    if (!sasl) return Invalid("bind: invalid SASL credentials");
    BerReader sasl_reader(*sasl);
    if (!sasl_reader.String(kTagOctetString, &bind.sasl_mechanism)) {
      return Invalid("bind: invalid SASL mechanism");
    }
    if (!sasl_reader.AtEnd()) {
      std::string credentials;
      if (!sasl_reader.String(kTagOctetString, &credentials) || !sasl_reader.AtEnd()) {
        return Invalid("bind: invalid SASL credentials");
      }
      bind.sasl_credentials = std::move(credentials);
    }
  } else {
    return Invalid("bind: unknown authentication choice");
  }
  if (!reader.AtEnd()) return Invalid("bind: trailing bytes");
  return bind;
}

// SearchRequest ::= [APPLICATION 3] SEQUENCE { baseObject LDAPDN, scope ENUMERATED,
//     derefAliases ENUMERATED, sizeLimit INTEGER (0..maxInt), timeLimit INTEGER (0..maxInt),
//     typesOnly BOOLEAN, filter Filter, attributes AttributeSelection }
// AttributeSelection ::= SEQUENCE OF selector LDAPString
Result<SearchRequest> DecodeSearch(std::string_view contents, const DecodeLimits& limits) {
  BerReader reader(contents);
  SearchRequest search;
  int32_t scope = 0;
  int32_t deref = 0;
  int32_t size_limit = 0;
  int32_t time_limit = 0;
  if (!reader.String(kTagOctetString, &search.base)) return Invalid("search: invalid base");
  // Scope 3 is subordinateSubtree (draft-sermersheim-ldap-subordinate-scope), which slapd and
  // most clients know.
  if (!reader.Int(kTagEnumerated, &scope) || scope < 0 || scope > 3) {
    return Invalid("search: invalid scope");
  }
  search.scope = static_cast<Scope>(scope);
  if (!reader.Int(kTagEnumerated, &deref) || deref < 0 || deref > 3) {
    return Invalid("search: invalid derefAliases");
  }
  search.deref = deref;
  if (!reader.Int(kTagInteger, &size_limit) || size_limit < 0) {
    return Invalid("search: invalid sizeLimit");
  }
  search.size_limit = size_limit;
  if (!reader.Int(kTagInteger, &time_limit) || time_limit < 0) {
    return Invalid("search: invalid timeLimit");
  }
  search.time_limit = time_limit;
  if (!reader.Bool(kTagBoolean, &search.types_only)) return Invalid("search: invalid typesOnly");
  size_t nodes = 0;
  Status filter = internal::DecodeFilter(reader, limits, 0, &nodes, &search.filter);
  if (!filter) return Invalid("search: " + filter.error().detail);
  auto attributes = reader.Element(kTagSequence);
  if (!attributes) return Invalid("search: invalid attribute selection");
  BerReader attribute_reader(*attributes);
  while (!attribute_reader.AtEnd()) {
    if (search.attributes.size() >= limits.max_attributes) {
      return Invalid("search: too many attributes");
    }
    std::string attribute;
    if (!attribute_reader.String(kTagOctetString, &attribute)) {
      return Invalid("search: invalid attribute selection");
    }
    search.attributes.push_back(std::move(attribute));
  }
  if (!reader.AtEnd()) return Invalid("search: trailing bytes");
  return search;
}

// CompareRequest ::= [APPLICATION 14] SEQUENCE { entry LDAPDN, ava AttributeValueAssertion }
Result<CompareRequest> DecodeCompare(std::string_view contents) {
  BerReader reader(contents);
  CompareRequest compare;
  if (!reader.String(kTagOctetString, &compare.dn)) return Invalid("compare: invalid entry");
  auto ava = reader.Element(kTagSequence);
  if (!ava || !reader.AtEnd()) return Invalid("compare: malformed request");
  BerReader ava_reader(*ava);
  if (!ava_reader.String(kTagOctetString, &compare.attribute) ||
      !ava_reader.String(kTagOctetString, &compare.value) || !ava_reader.AtEnd()) {
    return Invalid("compare: malformed attribute value assertion");
  }
  return compare;
}

// ExtendedRequest ::= [APPLICATION 23] SEQUENCE { requestName [0] LDAPOID,
//     requestValue [1] OCTET STRING OPTIONAL }
Result<ExtendedRequest> DecodeExtended(std::string_view contents) {
  BerReader reader(contents);
  ExtendedRequest extended;
  if (!reader.String(ContextPrimitive(0), &extended.oid)) {
    return Invalid("extended: invalid requestName");
  }
  if (!reader.AtEnd()) {
    std::string value;
    if (!reader.String(ContextPrimitive(1), &value)) {
      return Invalid("extended: invalid requestValue");
    }
    extended.value = std::move(value);
  }
  if (!reader.AtEnd()) return Invalid("extended: trailing bytes");
  return extended;
}

// Modify, add and modify DN all start with the entry's LDAPDN; the server refuses them, so the
// rest is left unread (it is inside the operation's own element, which is well formed).
Result<WriteRequest> DecodeWriteDn(std::string_view contents, const char* what) {
  BerReader reader(contents);
  WriteRequest write;
  if (!reader.String(kTagOctetString, &write.dn)) {
    return Invalid(std::string(what) + ": invalid entry");
  }
  return write;
}

// Control ::= SEQUENCE { controlType LDAPOID, criticality BOOLEAN DEFAULT FALSE,
//     controlValue OCTET STRING OPTIONAL }
Status DecodeControls(std::string_view contents, const DecodeLimits& limits,
                      std::vector<Control>* out) {
  BerReader reader(contents);
  while (!reader.AtEnd()) {
    if (out->size() >= limits.max_controls) return Invalid("too many controls");
    auto element = reader.Element(kTagSequence);
    if (!element) return Invalid("malformed control");
    BerReader control_reader(*element);
    Control control;
    if (!control_reader.String(kTagOctetString, &control.oid) || control.oid.empty()) {
      return Invalid("control: invalid controlType");
    }
    if (control_reader.PeekTag() == kTagBoolean &&
        !control_reader.Bool(kTagBoolean, &control.critical)) {
      return Invalid("control: invalid criticality");
    }
    if (!control_reader.AtEnd()) {
      std::string value;
      if (!control_reader.String(kTagOctetString, &value)) {
        return Invalid("control: invalid controlValue");
      }
      control.value = std::move(value);
    }
    if (!control_reader.AtEnd()) return Invalid("control: trailing bytes");
    out->push_back(std::move(control));
  }
  return Status::Ok();
}

template <typename T>
bool Take(Result<T> result, Request* request, Decoded* decoded) {
  if (!result) {
    decoded->error = result.error().detail;
    return false;
  }
  request->body = std::move(*result);
  return true;
}

Decoded DecodeUnchecked(std::string_view message, const DecodeLimits& limits) {
  Decoded decoded;
  BerReader outer(message);
  auto contents = outer.Element(kTagSequence);
  if (!contents) {
    decoded.error = "not an LDAPMessage";
    return decoded;
  }
  if (!outer.AtEnd()) {
    decoded.error = "bytes after the LDAPMessage";
    return decoded;
  }
  BerReader reader(*contents);
  int32_t id = 0;
  if (!reader.Int(kTagInteger, &id) || id <= 0) {
    decoded.error = "invalid messageID";
    return decoded;
  }
  decoded.message_id = id;

  Request request;
  request.message_id = id;
  ber_tag_t tag = reader.PeekTag();
  if (tag == LBER_DEFAULT) {
    decoded.error = "missing or malformed protocolOp";
    return decoded;
  }
  // Primitive operations are read with their own tag; constructed ones as an element whose
  // contents the operation's decoder reads.
  bool ok = true;
  std::optional<std::string_view> op;
  switch (tag) {
    case ApplicationPrimitive(2):  // UnbindRequest ::= [APPLICATION 2] NULL
      request.op = Operation::kUnbind;
      request.body = UnbindRequest{};
      if (!reader.Null(tag)) {
        decoded.error = "unbind: not NULL";
        ok = false;
      }
      break;
    case ApplicationPrimitive(10): {  // DelRequest ::= [APPLICATION 10] LDAPDN
      request.op = Operation::kDelete;
      WriteRequest write;
      if (!reader.String(tag, &write.dn)) {
        decoded.error = "delete: invalid entry";
        ok = false;
      }
      request.body = std::move(write);
      break;
    }
    case ApplicationPrimitive(16): {  // AbandonRequest ::= [APPLICATION 16] MessageID
      request.op = Operation::kAbandon;
      int32_t abandoned = -1;
      if (!reader.Int(tag, &abandoned) || abandoned < 0) {
        decoded.error = "abandon: invalid messageID";
        ok = false;
      }
      request.body = AbandonRequest{abandoned};
      break;
    }
    case ApplicationConstructed(0):
    case ApplicationConstructed(3):
    case ApplicationConstructed(6):
    case ApplicationConstructed(8):
    case ApplicationConstructed(12):
    case ApplicationConstructed(14):
    case ApplicationConstructed(23):
      op = reader.Element(tag);
      if (!op) {
        decoded.error = "malformed protocolOp";
        return decoded;
      }
      break;
    default: decoded.error = "unknown protocolOp"; return decoded;
  }
  switch (tag) {
    case ApplicationConstructed(0):
      request.op = Operation::kBind;
      ok = Take(DecodeBind(*op), &request, &decoded);
      break;
    case ApplicationConstructed(3):
      request.op = Operation::kSearch;
      ok = Take(DecodeSearch(*op, limits), &request, &decoded);
      break;
    case ApplicationConstructed(6):
      request.op = Operation::kModify;
      ok = Take(DecodeWriteDn(*op, "modify"), &request, &decoded);
      break;
    case ApplicationConstructed(8):
      request.op = Operation::kAdd;
      ok = Take(DecodeWriteDn(*op, "add"), &request, &decoded);
      break;
    case ApplicationConstructed(12):
      request.op = Operation::kModifyDn;
      ok = Take(DecodeWriteDn(*op, "modify DN"), &request, &decoded);
      break;
    case ApplicationConstructed(14):
      request.op = Operation::kCompare;
      ok = Take(DecodeCompare(*op), &request, &decoded);
      break;
    case ApplicationConstructed(23):
      request.op = Operation::kExtended;
      ok = Take(DecodeExtended(*op), &request, &decoded);
      break;
    default: break;
  }
  if (!ok) return decoded;

  if (!reader.AtEnd()) {
    auto controls = reader.Element(ContextConstructed(0));
    if (!controls) {
      decoded.error = "malformed controls";
      return decoded;
    }
    Status status = DecodeControls(*controls, limits, &request.controls);
    if (!status) {
      decoded.error = status.error().detail;
      return decoded;
    }
  }
  if (!reader.AtEnd()) {
    decoded.error = "trailing bytes in LDAPMessage";
    return decoded;
  }
  decoded.request = std::move(request);
  return decoded;
}

}  // namespace

Decoded DecodeRequest(std::string_view message, const DecodeLimits& limits) {
  try {
    // A copy whose terminating NUL liblber may read past the message's last element (ber.h).
    const std::string bytes(message);
    return DecodeUnchecked(bytes, limits);
  } catch (const std::exception&) {
    // Only std::bad_alloc can get here; the message is refused rather than the process.
    Decoded decoded;
    decoded.error = "out of memory decoding the request";
    return decoded;
  }
}

}  // namespace idsync::ldap
