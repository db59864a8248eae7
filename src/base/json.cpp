#include "base/json.h"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

#include <simdjson.h>

namespace idsync {
namespace {

// Builds the DOM like nlohmann's own SAX DOM parser, and additionally rejects what the
// library accepts but we must not: duplicate keys, excessive depth, out-of-range numbers.
class StrictSax {
 public:
  explicit StrictSax(const JsonLimits& limits) : limits_(limits) {}

  bool null() { return Add(Json(nullptr)); }
  bool boolean(bool v) { return Add(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return Add(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) {
    if (v > static_cast<Json::number_unsigned_t>(std::numeric_limits<int64_t>::max())) {
      return Fail("number too large: integers must fit in 64 bits");
    }
    return Add(Json(static_cast<int64_t>(v)));
  }
  bool number_float(Json::number_float_t v, const std::string& text) {
    if (!std::isfinite(v)) return Fail("number out of range");
    // The lexer falls back to double for integers beyond 64 bits; those lose precision silently.
    if (text.find_first_of(".eE") == std::string::npos) {
      return Fail("number too large: integers must fit in 64 bits");
    }
    return Add(Json(v));
  }
  bool string(std::string& v) {
    if (v.size() > limits_.max_string) return Fail("string longer than the allowed maximum");
    return Add(Json(std::move(v)));
  }
  bool binary(Json::binary_t&) { return Fail("binary values are not JSON"); }
  bool start_object(std::size_t) { return Open(Json::object()); }
  bool key(std::string& k) {
    // The object holds every key met so far in it (a value is added as soon as it starts), so
    // it is its own record of them.
    if (stack_.back()->contains(k)) return Fail("duplicate key \"" + k + "\" in a JSON object");
    key_ = std::move(k);
    return true;
  }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(Json::array()); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) {
    if (error_.empty()) {
      std::string what = ex.what();
      // nlohmann's messages read "[json.exception.parse_error.101] parse error at line 1, ...".
      auto pos = what.find("] ");
      error_ = "invalid JSON at byte " + std::to_string(position) + ": " +
               (pos == std::string::npos ? what : what.substr(pos + 2));
    }
    return false;
  }

  Json& root() { return root_; }
  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  bool Add(Json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    Json* top = stack_.back();
    if (top->is_array()) {
      top->push_back(std::move(v));
    } else {
      (*top)[key_] = std::move(v);
    }
    return true;
  }
  bool Open(Json container) {
    if (stack_.size() >= limits_.max_depth) return Fail("JSON nested too deeply");
    Json* slot;
    if (stack_.empty()) {
      root_ = std::move(container);
      slot = &root_;
    } else {
      Json* top = stack_.back();
      if (top->is_array()) {
        top->push_back(std::move(container));
        slot = &top->back();
      } else {
        slot = &((*top)[key_] = std::move(container));
      }
    }
    stack_.push_back(slot);
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return true;
  }

  const JsonLimits& limits_;
  Json root_;
  std::vector<Json*> stack_;
  std::string key_;
  std::string error_;
};

}  // namespace

Result<Json> ParseJsonStrict(std::string_view text, const JsonLimits& limits) {
  StrictSax sax(limits);
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json,
                         /*strict=*/true);
  } catch (const std::exception& ex) {
    return MakeError(ErrorCode::kInvalidSyntax, std::string("invalid JSON: ") + ex.what());
  }
  if (!ok) {
    return MakeError(ErrorCode::kInvalidSyntax,
                     sax.error().empty() ? std::string("invalid JSON") : sax.error());
  }
  return std::move(sax.root());
}

const Json* FindMember(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

const Json& MemberOrNull(const Json& object, std::string_view key) {
  static const Json kNull;
  const Json* member = FindMember(object, key);
  return member != nullptr ? *member : kNull;
}

namespace {

template <class Integer>
void AppendInteger(std::string& out, Integer value) {
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
}

void AppendJson(std::string& out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, member] : *value.get_ptr<const Json::object_t*>()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(out, key);
        out.push_back(':');
        AppendJson(out, member);
      }
      out.push_back('}');
      return;
    }
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const Json& element : *value.get_ptr<const Json::array_t*>()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(out, element);
      }
      out.push_back(']');
      return;
    }
    case Json::value_t::string: AppendJsonString(out, *value.get_ptr<const std::string*>()); return;
    case Json::value_t::boolean: out.append(value.get<bool>() ? "true" : "false"); return;
    case Json::value_t::null: out.append("null"); return;
    case Json::value_t::number_integer: AppendInteger(out, value.get<int64_t>()); return;
    case Json::value_t::number_unsigned: AppendInteger(out, value.get<uint64_t>()); return;
    default:
      // Doubles (nlohmann's shortest round-trip form, with its own exponent and ".0" rules),
      // binary values and discarded ones: nlohmann writes them, so the text is its own.
      out.append(value.dump(-1, ' ', false, Json::error_handler_t::replace));
      return;
  }
}

}  // namespace

std::string DumpJson(const Json& value) {
  // Written straight into one string: nlohmann's serializer writes through an output adapter
  // character by character, and was a fifth of the instructions of a SCIM PATCH.
  std::string out;
  out.reserve(256);
  AppendJson(out, value);
  return out;
}

namespace {

// Texts up to this size go through simdjson. Its parser keeps buffers of about 14 times the
// largest text it has parsed, one parser per thread, so the bound keeps that near 200 KiB per
// thread; typical stored bodies are 1-4 KB, and larger ones take nlohmann's path.
constexpr size_t kSimdjsonMaxBytes = 16 * 1024;

// The value nlohmann's parser makes of the same text: non-negative integers are unsigned,
// negative ones signed (simdjson reads "-0" as the integer 0, which nlohmann keeps signed; a
// text this server wrote never has it), and a key given twice keeps the last value.
Json FromSimdjson(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      Json object = Json::object();
      auto& members = *object.get_ptr<Json::object_t*>();
      for (auto [key, value] : simdjson::dom::object(e)) {
        // Stored objects come sorted (DumpJson writes std::map's order): each goes at the end.
        members.insert_or_assign(members.end(), std::string(key), FromSimdjson(value));
      }
      return object;
    }
    case element_type::ARRAY: {
      Json array = Json::array();
      auto& elements = *array.get_ptr<Json::array_t*>();
      for (simdjson::dom::element x : simdjson::dom::array(e)) elements.push_back(FromSimdjson(x));
      return array;
    }
    case element_type::STRING: return Json(std::string(std::string_view(e)));
    case element_type::INT64: {
      const int64_t v = int64_t(e);
      return v >= 0 ? Json(static_cast<uint64_t>(v)) : Json(v);
    }
    case element_type::UINT64: return Json(uint64_t(e));
    case element_type::DOUBLE: return Json(double(e));
    case element_type::BOOL: return Json(bool(e));
    case element_type::NULL_VALUE: return Json();
  }
  return Json();
}

// The length of the well-formed UTF-8 sequence that starts at text[i] (RFC 3629 §4: no
// overlong forms, no surrogates, nothing past U+10FFFF), or 0 with `*bad` set to the bytes
// that belong to the rejected sequence: the lead byte alone when it can start none, else the
// bytes before the first one that does not continue it (which starts afresh, as in nlohmann's
// decoder).
size_t Utf8Sequence(std::string_view text, size_t i, size_t* bad) {
  const auto c = static_cast<unsigned char>(text[i]);
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c == 0xE0) {
    len = 3, lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    len = 3;
  } else if (c == 0xED) {
    len = 3, hi = 0x9F;
  } else if (c == 0xF0) {
    len = 4, lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    len = 4;
  } else if (c == 0xF4) {
    len = 4, hi = 0x8F;
  } else {
    *bad = 1;
    return 0;
  }
  for (size_t j = 1; j < len; ++j) {
    if (i + j >= text.size()) {
      *bad = j;
      return 0;
    }
    const auto d = static_cast<unsigned char>(text[i + j]);
    if (d < (j == 1 ? lo : 0x80) || d > (j == 1 ? hi : 0xBF)) {
      *bad = j;
      return 0;
    }
  }
  return len;
}

}  // namespace

Json ParseStoredJson(std::string_view text) {
  if (text.size() <= kSimdjsonMaxBytes) {
    thread_local simdjson::dom::parser parser(kSimdjsonMaxBytes);
    // The text is copied into a padded buffer: simdjson reads in 64-byte blocks.
    simdjson::dom::element root;
    if (parser.parse(text.data(), text.size()).get(root) == simdjson::SUCCESS) {
      return FromSimdjson(root);
    }
    // Refused (a number out of simdjson's range, nesting past its limit, not JSON): nlohmann
    // decides, so the answer is always Json::parse's.
  }
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

namespace {

// The bytes a JSON string holds as they are: printable ASCII but the quote and the backslash.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    // A run of bytes that need nothing is appended at once; one table lookup per byte.
    size_t plain = i;
    while (plain < text.size() && kPlain[static_cast<unsigned char>(text[plain])]) ++plain;
    if (plain > i) {
      out.append(text.data() + i, plain - i);
      i = plain;
      if (i == text.size()) break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t bad = 0;
      const size_t len = Utf8Sequence(text, i, &bad);
      if (len > 0) {
        out.append(text.substr(i, len));
        i += len;
      } else {
        out.append("\xEF\xBF\xBD");  // U+FFFD
        i += bad;
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

}  // namespace idsync
