// libFuzzer target for the LDAP server's request path: PeekFrame, then DecodeRequest on the
// framed bytes, as the server does. Properties: rejecting input is fine; crashing, leaking (ASan)
// or allocating beyond the input is not, and neither is
//  - a frame said to be complete that is longer than the buffer;
//  - a decoded request without a valid message id, or an error without a message;
//  - a decoded search filter whose RFC 4515 text does not parse back to the same text (the text
//    is what the server logs and what admin tools replay);
//  - a DN field that parses but whose FormatDn does not parse back to the same DN and key;
//  - a paged results control that decodes but does not survive EncodePagedResults;
//  - a response built from the request's strings that does not frame to exactly its own size.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "ldap/protocol/dn.h"
#include "ldap/protocol/message.h"

namespace {

namespace ldap = idsync::ldap;

void CheckDn(std::string_view text) {
  auto dn = ldap::ParseDn(text);
  if (!dn) return;
  std::string formatted = ldap::FormatDn(*dn);
  auto again = ldap::ParseDn(formatted);
  if (!again || ldap::FormatDn(*again) != formatted ||
      ldap::NormalizeDn(*again) != ldap::NormalizeDn(*dn)) {
    __builtin_trap();
  }
}

void CheckFramed(const std::string& response) {
  ldap::Frame frame = ldap::PeekFrame(response, response.size());
  if (frame.status != ldap::Frame::kComplete || frame.total_bytes != response.size()) {
    __builtin_trap();
  }
  // A response is not a request: decoding it must fail cleanly, keeping its id.
  if (ldap::DecodeRequest(response).request) __builtin_trap();
}

void CheckRequest(const ldap::Request& request) {
  if (request.message_id <= 0) __builtin_trap();
  if (const auto* search = std::get_if<ldap::SearchRequest>(&request.body)) {
    std::string text = ldap::FilterToString(search->filter);
    auto parsed = ldap::ParseFilter(text);
    if (!parsed || ldap::FilterToString(*parsed) != text) __builtin_trap();
    CheckDn(search->base);
    std::vector<ldap::Attribute> attributes;
    for (const std::string& name : search->attributes) attributes.push_back({name, {name, text}});
    CheckFramed(
        ldap::EncodeSearchEntry(request.message_id, search->base, attributes, search->types_only));
  } else if (const auto* bind = std::get_if<ldap::BindRequest>(&request.body)) {
    CheckDn(bind->name);
    CheckFramed(ldap::EncodeBindResponse(request.message_id, {ldap::kSuccess, bind->name, ""},
                                         request.controls));
  } else if (const auto* write = std::get_if<ldap::WriteRequest>(&request.body)) {
    CheckDn(write->dn);
    CheckFramed(ldap::EncodeResponse(request.message_id, request.op,
                                     {ldap::kUnwillingToPerform, write->dn, "read-only"}));
  } else if (const auto* compare = std::get_if<ldap::CompareRequest>(&request.body)) {
    CheckDn(compare->dn);
  } else if (const auto* extended = std::get_if<ldap::ExtendedRequest>(&request.body)) {
    CheckFramed(
        ldap::EncodeExtendedResponse(request.message_id, {}, extended->oid, extended->value));
  }
  for (const ldap::Control& control : request.controls) {
    if (control.oid != ldap::kPagedResultsOid || !control.value) continue;
    auto paged = ldap::DecodePagedResults(*control.value);
    if (!paged) continue;
    auto again = ldap::DecodePagedResults(ldap::EncodePagedResults(paged->size, paged->cookie));
    if (!again || again->size != paged->size || again->cookie != paged->cookie) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ldap::Frame frame = ldap::PeekFrame(bytes, 1 << 20);
  if (frame.status == ldap::Frame::kComplete && frame.total_bytes > bytes.size()) {
    __builtin_trap();
  }
  // The server decodes only what PeekFrame delimits; decoding the raw input as well covers
  // trailing bytes after a message.
  ldap::Decoded whole = ldap::DecodeRequest(bytes);
  if (whole.request.has_value() == !whole.error.empty()) __builtin_trap();
  if (whole.request) CheckRequest(*whole.request);
  if (frame.status == ldap::Frame::kComplete && frame.total_bytes < bytes.size()) {
    ldap::Decoded framed = ldap::DecodeRequest(bytes.substr(0, frame.total_bytes));
    if (framed.request.has_value() == !framed.error.empty()) __builtin_trap();
    if (framed.request) CheckRequest(*framed.request);
  }
  return 0;
}
