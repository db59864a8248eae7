// Scanner and recursive-descent parser for RFC 7644 §3.4.2.2 filters and §3.5.2 PATCH paths.
//
// The scanner is context-sensitive (the parser asks for "an attribute path", "an operator word",
// "a compValue"), because a bare compValue such as `jyoung` or `a@b.example` (Entra ID,
// IDP-QUIRKS E-7) cannot be told from an attribute path without knowing where we are.
//
// Recursion happens only when entering a group: '(' , 'not (' and '[...]'. Each entry counts
// against ParseLimits::max_depth before recursing, so hostile nesting ("((((...") is rejected
// after max_depth levels. and/or chains are read iteratively and built as balanced trees, so
// a chain of n terms adds about log2(n) levels to the AST instead of n (every consumer of the
// AST recurses over it: Print, Matches, the SQL translator, the destructor).
#include "scim/filter/parser.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "base/strings.h"

namespace idsync::scim::filter {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsNameChar(char c) {
  return IsAlpha(c) || IsDigit(c) || c == '-' || c == '_';
}
// Characters of an attrPath token: ATTRNAME characters, '.', the URN prefix's ':' and the '$'
// of "$ref" (RFC 7643 §2.4 names the reference sub-attribute "$ref" although the §3.4.2.2 ABNF
// ATTRNAME does not allow it; clients filter on members[$ref ...]).
bool IsPathChar(char c) {
  return IsNameChar(c) || c == '.' || c == ':' || c == '$';
}

// ATTRNAME = ALPHA *(nameChar), plus "$ref"-style names.
bool IsAttrName(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  if (s[0] == '$') {
    if (s.size() == 1) return false;
    i = 1;
  }
  if (!IsAlpha(s[i])) return false;
  for (++i; i < s.size(); ++i) {
    if (!IsNameChar(s[i])) return false;
  }
  return true;
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), or 0 if it is malformed.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// RFC 8259 §6 number grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
bool IsJsonNumber(std::string_view s, bool* is_integer) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || !IsDigit(s[i])) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  *is_integer = true;
  if (i < s.size() && s[i] == '.') {
    *is_integer = false;
    ++i;
    if (i >= s.size() || !IsDigit(s[i])) return false;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    *is_integer = false;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !IsDigit(s[i])) return false;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  return i == s.size();
}

std::optional<CompareOp> OpFromWord(std::string_view w) {
  static constexpr std::pair<std::string_view, CompareOp> kOps[] = {
      {"eq", CompareOp::kEq}, {"ne", CompareOp::kNe}, {"co", CompareOp::kCo},
      {"sw", CompareOp::kSw}, {"ew", CompareOp::kEw}, {"gt", CompareOp::kGt},
      {"ge", CompareOp::kGe}, {"lt", CompareOp::kLt}, {"le", CompareOp::kLe},
  };
  for (const auto& [name, op] : kOps) {
    if (EqualsIgnoreAsciiCase(w, name)) return op;
  }
  return std::nullopt;
}

class Parser {
 public:
  Parser(std::string_view text, const ParseLimits& limits, ErrorCode code, std::string_view what)
      : text_(text), limits_(limits), code_(code), what_(what) {}

  // Checks the length limit; false (with error()) if exceeded.
  bool CheckLength() {
    if (text_.size() <= limits_.max_length) return true;
    error_ = Error{code_, "invalid " + std::string(what_) + ": " + std::to_string(text_.size()) +
                              " characters exceed the limit max_length of " +
                              std::to_string(limits_.max_length)};
    return false;
  }

  NodePtr ParseFilter() {
    NodePtr node = ParseOr(/*in_brackets=*/false);
    if (!node) return nullptr;
    SkipSpace();
    if (!AtEnd()) return Fail("expected 'and', 'or' or end of input");
    return node;
  }

  std::optional<PatchPath> ParsePath() {
    SkipSpace();
    PatchPath out;
    if (!ReadAttrPath(&out.attr)) return std::nullopt;
    if (Peek() == '[') {
      if (!out.attr.sub.empty()) {
        Fail("a value filter '[' must follow an attribute without sub-attribute");
        return std::nullopt;
      }
      out.filter = ParseBracket();
      if (!out.filter) return std::nullopt;
      if (Peek() == '.') {
        ++pos_;
        if (!ReadAttrName(&out.sub_after_filter)) return std::nullopt;
      }
    }
    SkipSpace();
    if (!AtEnd()) {
      Fail(out.filter ? "expected '.subAttribute' or end of input"
                      : "expected '[' or end of input");
      return std::nullopt;
    }
    return out;
  }

  const Error& error() const { return *error_; }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(text_[pos_])) ++pos_;
  }

  std::string Found() const {
    if (AtEnd()) return "end of input";
    unsigned char c = static_cast<unsigned char>(text_[pos_]);
    if (c < 0x20 || c == 0x7F) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      return std::string("control character 0x") + kHex[c >> 4] + kHex[c & 0xF];
    }
    size_t end = pos_;
    while (end < text_.size() && end - pos_ < 20 && !IsSpace(text_[end])) ++end;
    if (end == pos_) end = pos_ + 1;
    // Cut at a character boundary so the detail stays valid UTF-8.
    while (end < text_.size() && (static_cast<unsigned char>(text_[end]) & 0xC0) == 0x80) ++end;
    std::string token(text_.substr(pos_, end - pos_));
    for (size_t i = 0; i < token.size(); ++i) {
      if (Utf8SequenceLength(token, i) == 0) return "an invalid byte";
    }
    return "'" + token + "'";
  }

  // Records the first error only: later failures are consequences of it.
  NodePtr Fail(std::string_view expected) { return FailAt(pos_, expected, true); }
  NodePtr FailAt(size_t at, std::string_view message, bool with_found) {
    if (!error_) {
      std::string detail = "invalid " + std::string(what_) + " at position " +
                           std::to_string(at + 1) + ": " + std::string(message);
      if (with_found) {
        size_t saved = pos_;
        pos_ = at;
        detail += ", found " + Found();
        pos_ = saved;
      }
      error_ = Error{code_, std::move(detail)};
    }
    return nullptr;
  }

  bool Enter() {
    if (++depth_ > limits_.max_depth) {
      FailAt(pos_, "nesting exceeds the limit max_depth of " + std::to_string(limits_.max_depth),
             false);
      return false;
    }
    return true;
  }
  void Leave() { --depth_; }

  // True if the next word is `keyword` (case-insensitive) and ends there.
  bool PeekKeyword(std::string_view keyword) const {
    if (text_.size() - pos_ < keyword.size()) return false;
    if (!EqualsIgnoreAsciiCase(text_.substr(pos_, keyword.size()), keyword)) return false;
    size_t end = pos_ + keyword.size();
    return end == text_.size() || !IsPathChar(text_[end]);
  }

  static NodePtr Balance(Node::Kind kind, std::vector<NodePtr>& terms, size_t lo, size_t hi) {
    if (hi - lo == 1) return std::move(terms[lo]);
    size_t mid = lo + (hi - lo) / 2;
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->left = Balance(kind, terms, lo, mid);
    node->right = Balance(kind, terms, mid, hi);
    return node;
  }

  // logExp with `or`: and-chains separated by `or`.
  NodePtr ParseOr(bool in_brackets) {
    std::vector<NodePtr> terms;
    for (;;) {
      NodePtr term = ParseAnd(in_brackets);
      if (!term) return nullptr;
      terms.push_back(std::move(term));
      SkipSpace();
      if (!PeekKeyword("or")) break;
      pos_ += 2;
    }
    return Balance(Node::Kind::kOr, terms, 0, terms.size());
  }

  // `and` binds tighter than `or` (RFC 7644 §3.4.2.2, "Operator precedence").
  NodePtr ParseAnd(bool in_brackets) {
    std::vector<NodePtr> terms;
    for (;;) {
      NodePtr term = ParseUnary(in_brackets);
      if (!term) return nullptr;
      terms.push_back(std::move(term));
      SkipSpace();
      if (!PeekKeyword("and")) break;
      pos_ += 3;
    }
    return Balance(Node::Kind::kAnd, terms, 0, terms.size());
  }

  NodePtr ParseUnary(bool in_brackets) {
    SkipSpace();
    if (Peek() == '(') {
      if (!Enter()) return nullptr;
      ++pos_;
      NodePtr inner = ParseOr(in_brackets);
      if (!inner) return nullptr;
      SkipSpace();
      if (Peek() != ')') return Fail("expected ')' or 'and'/'or'");
      ++pos_;
      Leave();
      return inner;
    }
    if (PeekKeyword("not")) {
      if (!Enter()) return nullptr;
      pos_ += 3;
      SkipSpace();
      // RFC 7644 §3.4.2.2: "not" applies to a parenthesised filter only.
      if (Peek() != '(') return Fail("expected '(' after 'not'");
      ++pos_;
      NodePtr inner = ParseOr(in_brackets);
      if (!inner) return nullptr;
      SkipSpace();
      if (Peek() != ')') return Fail("expected ')' or 'and'/'or'");
      ++pos_;
      Leave();
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kNot;
      node->left = std::move(inner);
      return node;
    }
    return ParseAttrExp(in_brackets);
  }

  // attrExp, or valuePath (outside brackets), or the filter form attr[f].sub op v.
  NodePtr ParseAttrExp(bool in_brackets) {
    size_t start = pos_;
    AttrPath path;
    if (!ReadAttrPath(&path)) return nullptr;
    if (Peek() == '[') {
      if (in_brackets) return Fail("expected operator; '[' cannot nest inside a value filter");
      if (!path.sub.empty()) {
        return FailAt(start, "a value filter '[' must follow an attribute without sub-attribute",
                      false);
      }
      NodePtr inner = ParseBracket();
      if (!inner) return nullptr;
      if (Peek() == '.') {
        // Entra ID (IDP-QUIRKS E-7) filters on emails[type eq "work"].value eq "x"; it means
        // the element with type work has that value: emails[type eq "work" and value eq "x"].
        ++pos_;
        AttrPath sub_path;
        if (!ReadAttrName(&sub_path.attr)) return nullptr;
        NodePtr cond = ParseOperation(std::move(sub_path));
        if (!cond) return nullptr;
        auto both = std::make_unique<Node>();
        both->kind = Node::Kind::kAnd;
        both->left = std::move(inner);
        both->right = std::move(cond);
        inner = std::move(both);
      }
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kValuePath;
      node->path = std::move(path);
      node->left = std::move(inner);
      return node;
    }
    return ParseOperation(std::move(path));
  }

  // "[" valFilter "]"; pos_ is at '['. Leaves pos_ after ']'.
  NodePtr ParseBracket() {
    if (!Enter()) return nullptr;
    ++pos_;
    NodePtr inner = ParseOr(/*in_brackets=*/true);
    if (!inner) return nullptr;
    SkipSpace();
    if (Peek() != ']') return Fail("expected ']' or 'and'/'or'");
    ++pos_;
    Leave();
    return inner;
  }

  // After an attrPath: "pr", or compareOp compValue.
  NodePtr ParseOperation(AttrPath path) {
    SkipSpace();
    size_t start = pos_;
    while (!AtEnd() && IsAlpha(text_[pos_])) ++pos_;
    std::string_view word = text_.substr(start, pos_ - start);
    if (word.empty() || (!AtEnd() && IsPathChar(text_[pos_]))) {
      pos_ = start;
      return Fail("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)");
    }
    auto node = std::make_unique<Node>();
    node->path = std::move(path);
    if (EqualsIgnoreAsciiCase(word, "pr")) {
      node->kind = Node::Kind::kPresent;
      return node;
    }
    std::optional<CompareOp> op = OpFromWord(word);
    if (!op) {
      return FailAt(start,
                    "unknown operator '" + std::string(word) +
                        "'; expected eq, ne, co, sw, ew, gt, ge, lt, le or pr",
                    false);
    }
    node->kind = Node::Kind::kCompare;
    node->op = *op;
    if (!ReadCompValue(&node->value)) return nullptr;
    return node;
  }

  // attrPath = [URI ":"] ATTRNAME *1subAttr. The URN is everything before the last ':'
  // ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").
  bool ReadAttrPath(AttrPath* out) {
    SkipSpace();
    size_t start = pos_;
    while (!AtEnd() && IsPathChar(text_[pos_])) ++pos_;
    std::string_view token = text_.substr(start, pos_ - start);
    if (token.empty()) {
      Fail("expected an attribute path, '(' or 'not'");
      return false;
    }
    std::string_view rest = token;
    size_t colon = token.rfind(':');
    if (colon != std::string_view::npos) {
      out->urn = std::string(token.substr(0, colon));
      rest = token.substr(colon + 1);
      if (out->urn.empty() || out->urn.back() == ':' || out->urn.front() == ':') {
        FailAt(start, "malformed schema URN in attribute path", false);
        return false;
      }
    }
    size_t dot = rest.find('.');
    std::string_view attr = rest.substr(0, dot);
    std::string_view sub =
        dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
    if (!IsAttrName(attr) || (dot != std::string_view::npos && !IsAttrName(sub))) {
      FailAt(start,
             "expected an attribute path (name, name.subAttribute or urn:...:name), found '" +
                 std::string(token) + "'",
             false);
      return false;
    }
    out->attr = std::string(attr);
    out->sub = std::string(sub);
    return true;
  }

  bool ReadAttrName(std::string* out) {
    size_t start = pos_;
    while (!AtEnd() && (IsNameChar(text_[pos_]) || text_[pos_] == '$')) ++pos_;
    std::string_view name = text_.substr(start, pos_ - start);
    if (!IsAttrName(name) || (!AtEnd() && IsPathChar(text_[pos_]))) {
      pos_ = start;
      Fail("expected a sub-attribute name after '.'");
      return false;
    }
    *out = std::string(name);
    return true;
  }

  // compValue = false / null / true / number / string (RFC 7644 §3.4.2.2), keywords
  // case-insensitive, plus the bare-word leniency documented in parser.h.
  bool ReadCompValue(Json* out) {
    SkipSpace();
    if (AtEnd()) {
      Fail("expected a comparison value");
      return false;
    }
    if (Peek() == '"') return ReadString(out);
    size_t start = pos_;
    while (!AtEnd()) {
      char c = text_[pos_];
      unsigned char uc = static_cast<unsigned char>(c);
      if (IsSpace(c) || c == ')' || c == ']' || c == '(' || c == '[' || c == '"') break;
      if (uc < 0x20 || uc == 0x7F) {
        Fail("expected a comparison value");
        return false;
      }
      if (uc >= 0x80) {
        size_t n = Utf8SequenceLength(text_, pos_);
        if (n == 0) {
          FailAt(pos_, "invalid UTF-8 in comparison value", false);
          return false;
        }
        pos_ += n;
      } else {
        ++pos_;
      }
    }
    std::string_view word = text_.substr(start, pos_ - start);
    if (word.empty()) {
      Fail("expected a comparison value");
      return false;
    }
    if (EqualsIgnoreAsciiCase(word, "true")) {
      *out = true;
    } else if (EqualsIgnoreAsciiCase(word, "false")) {
      *out = false;
    } else if (EqualsIgnoreAsciiCase(word, "null")) {
      *out = nullptr;
    } else if (EqualsIgnoreAsciiCase(word, "and") || EqualsIgnoreAsciiCase(word, "or") ||
               EqualsIgnoreAsciiCase(word, "not")) {
      pos_ = start;
      Fail("expected a comparison value");
      return false;
    } else if (!ReadNumber(word, out)) {
      // Entra ID (IDP-QUIRKS E-7): `externalId eq jyoung`. Also numbers that do not fit
      // (a 30-digit external id) stay text rather than losing digits.
      *out = std::string(word);
    }
    return true;
  }

  static bool ReadNumber(std::string_view word, Json* out) {
    bool is_integer = false;
    if (!IsJsonNumber(word, &is_integer)) return false;
    const char* first = word.data();
    const char* last = word.data() + word.size();
    if (is_integer) {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(first, last, v);
      if (ec != std::errc() || ptr != last) return false;
      *out = v;
      return true;
    }
    double d = 0;
    auto [ptr, ec] = std::from_chars(first, last, d);
    if (ec != std::errc() || ptr != last || !std::isfinite(d)) return false;
    *out = d;
    return true;
  }

  // A JSON string (RFC 8259 §7): escapes \" \\ \/ \b \f \n \r \t \uXXXX with surrogate pairs;
  // raw control characters, other escapes, lone surrogates and invalid UTF-8 are rejected.
  bool ReadString(Json* out) {
    size_t open = pos_;
    ++pos_;
    std::string s;
    for (;;) {
      if (AtEnd()) {
        FailAt(open, "unterminated string", false);
        return false;
      }
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c < 0x20) {
        FailAt(pos_, "control characters must be escaped in a string", false);
        return false;
      }
      if (c == '\\') {
        size_t esc = pos_;
        ++pos_;
        if (AtEnd()) {
          FailAt(open, "unterminated string", false);
          return false;
        }
        char e = text_[pos_++];
        switch (e) {
          case '"': s += '"'; break;
          case '\\': s += '\\'; break;
          case '/': s += '/'; break;
          case 'b': s += '\b'; break;
          case 'f': s += '\f'; break;
          case 'n': s += '\n'; break;
          case 'r': s += '\r'; break;
          case 't': s += '\t'; break;
          case 'u': {
            uint32_t cp = 0;
            if (!ReadHex4(&cp)) {
              FailAt(esc, "invalid \\u escape: expected 4 hex digits", false);
              return false;
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
              FailAt(esc, "invalid \\u escape: lone low surrogate", false);
              return false;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              uint32_t low = 0;
              if (text_.substr(pos_, 2) != "\\u" || (pos_ += 2, !ReadHex4(&low)) || low < 0xDC00 ||
                  low > 0xDFFF) {
                FailAt(esc, "invalid \\u escape: high surrogate without low surrogate", false);
                return false;
              }
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            AppendUtf8(s, cp);
            break;
          }
          default:
            FailAt(
                esc,
                "invalid escape in string; expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u",
                false);
            return false;
        }
        continue;
      }
      size_t n = Utf8SequenceLength(text_, pos_);
      if (n == 0) {
        FailAt(pos_, "invalid UTF-8 in string", false);
        return false;
      }
      s.append(text_.substr(pos_, n));
      pos_ += n;
    }
    *out = std::move(s);
    return true;
  }

  bool ReadHex4(uint32_t* out) {
    if (text_.size() - pos_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_ + i];
      v <<= 4;
      if (IsDigit(c)) {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  std::string_view text_;
  const ParseLimits& limits_;
  ErrorCode code_;
  std::string_view what_;
  size_t pos_ = 0;
  size_t depth_ = 0;
  std::optional<Error> error_;
};

}  // namespace

Result<NodePtr> Parse(std::string_view text, const ParseLimits& limits) {
  Parser parser(text, limits, ErrorCode::kInvalidFilter, "filter");
  if (!parser.CheckLength()) return parser.error();
  NodePtr node = parser.ParseFilter();
  if (!node) return parser.error();
  return node;
}

Result<PatchPath> ParsePatchPath(std::string_view text, const ParseLimits& limits) {
  Parser parser(text, limits, ErrorCode::kInvalidPath, "path");
  if (!parser.CheckLength()) return parser.error();
  std::optional<PatchPath> path = parser.ParsePath();
  if (!path) return parser.error();
  return std::move(*path);
}

}  // namespace idsync::scim::filter
