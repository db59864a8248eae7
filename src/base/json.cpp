#include "base/json.h"

#include <cmath>
#include <limits>
#include <set>
#include <vector>

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
    auto& keys = keys_.back();
    if (!keys.insert(k).second) return Fail("duplicate key \"" + k + "\" in a JSON object");
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
    bool is_object = container.is_object();
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
    if (is_object) keys_.emplace_back();
    return true;
  }
  bool Close() {
    if (stack_.back()->is_object()) keys_.pop_back();
    stack_.pop_back();
    return true;
  }

  const JsonLimits& limits_;
  Json root_;
  std::vector<Json*> stack_;
  std::vector<std::set<std::string>> keys_;
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

const Json& MemberOrNull(const Json& object, std::string_view key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string DumpJson(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace idsync
