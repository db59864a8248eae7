#include "ldap/protocol/ber.h"

#include "base/result.h"

namespace idsync::ldap::internal {

BerReader::BerReader(std::string_view bytes)
    : ber_(ber_alloc_t(0)), begin_(bytes.data()), end_(bytes.data() + bytes.size()) {
  IDSYNC_CHECK(ber_ != nullptr);
  // ber_init2 reads in place: no copy of the message per nested element. Reading with
  // LBER_BV_NOTERM never writes into the buffer, so the const_cast is only for the C signature.
  static char empty[1] = {0};
  berval bv{static_cast<ber_len_t>(bytes.size()),
            bytes.empty() ? empty : const_cast<char*>(bytes.data())};
  if (bytes.empty()) begin_ = end_ = empty;
  ber_init2(ber_, &bv, 0);
}

BerReader::~BerReader() {
  ber_free(ber_, 0);
}

bool BerReader::AtEnd() {
  ber_len_t remaining = 1;
  if (ber_get_option(ber_, LBER_OPT_BER_REMAINING_BYTES, &remaining) != LBER_OPT_SUCCESS) {
    return false;
  }
  return remaining == 0;
}

ber_tag_t BerReader::PeekTag() {
  berval contents{};
  ber_tag_t tag = ber_peek_element(ber_, &contents);
  if (tag == LBER_DEFAULT) return LBER_DEFAULT;
  if (contents.bv_val < begin_ || contents.bv_val > end_ ||
      contents.bv_len > static_cast<ber_len_t>(end_ - contents.bv_val)) {
    return LBER_DEFAULT;
  }
  return tag;
}

bool BerReader::Peek(ber_tag_t tag, ber_len_t* length) {
  berval contents{};
  ber_tag_t got = ber_peek_element(ber_, &contents);
  if (got == LBER_DEFAULT || got != tag) return false;
  if (contents.bv_val < begin_ || contents.bv_val > end_ ||
      contents.bv_len > static_cast<ber_len_t>(end_ - contents.bv_val)) {
    return false;
  }
  *length = contents.bv_len;
  return true;
}

std::optional<std::string_view> BerReader::Element(ber_tag_t tag) {
  ber_len_t length = 0;
  if (!Peek(tag, &length)) return std::nullopt;
  berval contents{};
  if (ber_skip_element(ber_, &contents) != tag) return std::nullopt;
  return std::string_view(contents.bv_val, contents.bv_len);
}

bool BerReader::String(ber_tag_t tag, std::string* out) {
  ber_len_t length = 0;
  if (!Peek(tag, &length)) return false;
  berval value{};
  if (ber_get_stringbv(ber_, &value, LBER_BV_NOTERM) != tag) return false;
  out->assign(value.bv_len == 0 ? "" : value.bv_val, value.bv_len);
  return true;
}

bool BerReader::Int(ber_tag_t tag, int32_t* out) {
  ber_len_t length = 0;
  // X.690 §8.3.1: at least one content octet; more than 4 do not fit the 32-bit values LDAP
  // uses (MessageID, limits, enumerations are all 0..2^31-1).
  if (!Peek(tag, &length) || length < 1 || length > 4) return false;
  ber_int_t value = 0;
  if (ber_get_int(ber_, &value) != tag) return false;
  *out = value;
  return true;
}

bool BerReader::Bool(ber_tag_t tag, bool* out) {
  ber_len_t length = 0;
  if (!Peek(tag, &length) || length != 1) return false;
  ber_int_t value = 0;
  if (ber_get_boolean(ber_, &value) != tag) return false;
  *out = value != 0;
  return true;
}

bool BerReader::Null(ber_tag_t tag) {
  ber_len_t length = 0;
  if (!Peek(tag, &length) || length != 0) return false;
  return ber_get_null(ber_) == tag;
}

BerWriter::BerWriter() : ber_(ber_alloc_t(LBER_USE_DER)) {
  IDSYNC_CHECK(ber_ != nullptr);
}

BerWriter::~BerWriter() {
  ber_free(ber_, 1);
}

void BerWriter::Check(int rc) {
  IDSYNC_CHECK(rc != -1);
}

std::string BerWriter::Finish() {
  berval bv{};
  Check(ber_flatten2(ber_, &bv, 0));
  return std::string(bv.bv_len == 0 ? "" : bv.bv_val, bv.bv_len);
}

}  // namespace idsync::ldap::internal
