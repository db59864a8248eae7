// LDAPv3 messages (RFC 4511): the requests the server decodes and the responses it encodes, as
// plain values. BER goes through OpenLDAP's liblber; nothing here touches a socket or a store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ldap/protocol/filter.h"
#include "ldap/protocol/frame.h"
#include "ldap/protocol/paged_results.h"

namespace idsync::ldap {

// RFC 4511 §4.1.9 / appendix A, the codes this server sends.
enum ResultCode : int {
  kSuccess = 0,
  kOperationsError = 1,
  kProtocolError = 2,
  kTimeLimitExceeded = 3,
  kSizeLimitExceeded = 4,
  kCompareFalse = 5,
  kCompareTrue = 6,
  kAuthMethodNotSupported = 7,
  kAdminLimitExceeded = 11,
  kUnavailableCriticalExtension = 12,
  kConfidentialityRequired = 13,
  kNoSuchAttribute = 16,
  kUndefinedAttributeType = 17,
  kInappropriateMatching = 18,
  kNoSuchObject = 32,
  kInvalidDnSyntax = 34,
  kInappropriateAuthentication = 48,
  kInvalidCredentials = 49,
  kInsufficientAccessRights = 50,
  kBusy = 51,
  kUnavailable = 52,
  kUnwillingToPerform = 53,
  kOther = 80
};

// searchRequest scope; kSubordinates is the draft-sermersheim-ldap-subordinate-scope value 3.
enum class Scope { kBase = 0, kOneLevel = 1, kSubtree = 2, kSubordinates = 3 };

enum class Operation {
  kBind,
  kUnbind,
  kSearch,
  kModify,
  kAdd,
  kDelete,
  kModifyDn,
  kCompare,
  kAbandon,
  kExtended
};

struct Control {
  std::string oid;
  bool critical = false;
  std::optional<std::string> value;  // the controlValue bytes, absent if not sent
};

struct BindRequest {
  int version = 3;  // as sent (1..127); the server refuses anything but 3
  std::string name;
  bool simple = true;
  std::string password;                         // simple only
  std::string sasl_mechanism;                   // SASL only
  std::optional<std::string> sasl_credentials;  // SASL only
};

struct SearchRequest {
  std::string base;
  Scope scope = Scope::kBase;
  int deref = 0;           // 0..3 (neverDerefAliases..derefAlways)
  int64_t size_limit = 0;  // 0..2^31-1, 0 = no client limit
  int64_t time_limit = 0;  // seconds, 0..2^31-1
  bool types_only = false;
  Filter filter;
  std::vector<std::string> attributes;  // as sent, including "*", "+", "1.1"
};

struct CompareRequest {
  std::string dn;
  std::string attribute;
  std::string value;
};

struct ExtendedRequest {
  std::string oid;
  std::optional<std::string> value;
};

struct AbandonRequest {
  int32_t message_id = 0;  // 0..2^31-1
};

struct UnbindRequest {};

// add, modify, delete, modify DN: only the DN is decoded, because the server refuses them. The
// rest of the operation is skipped (its element's length is still checked).
struct WriteRequest {
  std::string dn;
};

struct Request {
  int32_t message_id = 0;  // 1..2^31-1
  Operation op = Operation::kUnbind;
  // Which alternative goes with which op: kBind BindRequest, kUnbind UnbindRequest, kSearch
  // SearchRequest, kModify/kAdd/kDelete/kModifyDn WriteRequest, kCompare CompareRequest,
  // kAbandon AbandonRequest, kExtended ExtendedRequest.
  std::variant<BindRequest, UnbindRequest, SearchRequest, WriteRequest, CompareRequest,
               AbandonRequest, ExtendedRequest>
      body;
  std::vector<Control> controls;
};

// Bounds on what one message may make the decoder build (the message size is capped before, by
// PeekFrame). Exceeding one is a decoding error.
struct DecodeLimits {
  size_t max_filter_depth = 32;  // and/or/not nesting; a filter of one comparison has depth 0
  size_t max_filter_nodes = 4096;
  size_t max_attributes = 1024;  // searchRequest attribute list
  size_t max_controls = 32;
};

// Either a request, or an error with the message id if it could be read (0 otherwise), so that
// the server can answer protocolError to that id (or disconnect when 0).
struct Decoded {
  std::optional<Request> request;
  int32_t message_id = 0;  // also set when request is
  std::string error;       // empty iff request is set; for logs, safe to send as diagnosticMessage
};

// Decodes exactly one complete LDAPMessage (as PeekFrame delimited it: no byte before or after).
// Every malformed input, truncation, trailing byte inside an element, wrong tag, unknown
// protocolOp or limit exceeded gives `error`; never throws, never allocates more than a small
// multiple of message.size(). Thread-safe.
Decoded DecodeRequest(std::string_view message, const DecodeLimits& limits = {});

struct LdapResult {
  int code = kSuccess;
  std::string matched_dn;
  std::string message;  // diagnosticMessage
};

struct Attribute {
  std::string type;
  std::vector<std::string> values;
};

// Encoders return one complete LDAPMessage. Message ids are written as given. Never fail;
// thread-safe.
std::string EncodeBindResponse(int32_t id, const LdapResult& result,
                               const std::vector<Control>& controls = {});
// searchResEntry; with types_only the values are left out (empty SET per attribute).
std::string EncodeSearchEntry(int32_t id, std::string_view dn,
                              const std::vector<Attribute>& attributes, bool types_only);
std::string EncodeSearchDone(int32_t id, const LdapResult& result,
                             const std::vector<Control>& controls = {});
// A bare LDAPResult response; op selects the tag: kModify, kAdd, kDelete, kModifyDn, kCompare
// (any other op is encoded as an extendedResponse without name or value).
std::string EncodeResponse(int32_t id, Operation op, const LdapResult& result);
std::string EncodeExtendedResponse(int32_t id, const LdapResult& result,
                                   const std::optional<std::string>& oid,
                                   const std::optional<std::string>& value);
// RFC 4511 §4.4.1 unsolicited notification: message id 0, responseName 1.3.6.1.4.1.1466.20036.
std::string EncodeNoticeOfDisconnection(int code, std::string_view message);

}  // namespace idsync::ldap
