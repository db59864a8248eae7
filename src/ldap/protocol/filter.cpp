// RFC 4515 text form of filters: FilterToString and ParseFilter.
#include "ldap/protocol/filter.h"

#include <utility>

#include "base/strings.h"
#include "ldap/protocol/attribute_description.h"

namespace idsync::ldap {

namespace {

void AppendValue(std::string_view value, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    // RFC 4515 §3: '*' '(' ')' '\' NUL must be escaped; every other byte outside printable
    // ASCII is escaped too, so that the text is ASCII and survives logs and terminals.
    if (c == '*' || c == '(' || c == ')' || c == '\\' || byte < 0x20 || byte >= 0x7f) {
      out->push_back('\\');
      out->push_back(kHex[byte >> 4]);
      out->push_back(kHex[byte & 0x0f]);
    } else {
      out->push_back(c);
    }
  }
}

void Append(const Filter& filter, std::string* out) {
  out->push_back('(');
  switch (filter.kind) {
    case Filter::Kind::kAnd:
    case Filter::Kind::kOr:
    case Filter::Kind::kNot:
      out->push_back(filter.kind == Filter::Kind::kAnd  ? '&'
                     : filter.kind == Filter::Kind::kOr ? '|'
                                                        : '!');
      for (const Filter& child : filter.children) Append(child, out);
      break;
    case Filter::Kind::kEquality:
      *out += filter.attribute;
      out->push_back('=');
      AppendValue(filter.value, out);
      break;
    case Filter::Kind::kGreaterOrEqual:
      *out += filter.attribute;
      *out += ">=";
      AppendValue(filter.value, out);
      break;
    case Filter::Kind::kLessOrEqual:
      *out += filter.attribute;
      *out += "<=";
      AppendValue(filter.value, out);
      break;
    case Filter::Kind::kApprox:
      *out += filter.attribute;
      *out += "~=";
      AppendValue(filter.value, out);
      break;
    case Filter::Kind::kPresent:
      *out += filter.attribute;
      *out += "=*";
      break;
    case Filter::Kind::kSubstrings:
      // Empty parts have no text form ("a**b" reads as one empty "any" at most), and match
      // everything anyway, so they are left out.
      *out += filter.attribute;
      out->push_back('=');
      if (filter.initial) AppendValue(*filter.initial, out);
      out->push_back('*');
      for (const std::string& any : filter.any) {
        if (any.empty()) continue;
        AppendValue(any, out);
        out->push_back('*');
      }
      if (filter.final_value) AppendValue(*filter.final_value, out);
      break;
    case Filter::Kind::kExtensible:
      *out += filter.attribute;
      if (filter.dn_attributes) *out += ":dn";
      if (!filter.matching_rule.empty()) {
        out->push_back(':');
        *out += filter.matching_rule;
      }
      *out += ":=";
      AppendValue(filter.value, out);
      break;
  }
  out->push_back(')');
}

bool IsDescriptionChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == ';' || c == '_';
}

// Recursive descent over RFC 4515 §3:
//   filter = "(" filtercomp ")";  filtercomp = and / or / not / item
class Parser {
 public:
  Parser(std::string_view text, size_t max_depth) : text_(text), max_depth_(max_depth) {}

  Result<Filter> ParseAll() {
    Filter filter;
    Status status = text_.empty() || text_[0] != '(' ? ParseItem(&filter, /*closing=*/false)
                                                     : ParseFilterAt(&filter, 0);
    if (!status) return status.error();
    if (pos_ != text_.size()) return Fail("unexpected text after the filter");
    return filter;
  }

 private:
  // "(" filtercomp ")"; `depth` and/or/not nodes enclose this one.
  Status ParseFilterAt(Filter* out, size_t depth) {
    if (!Eat('(')) return Fail("expected '('");
    if (pos_ < text_.size() && (text_[pos_] == '&' || text_[pos_] == '|' || text_[pos_] == '!')) {
      char op = text_[pos_++];
      if (depth + 1 > max_depth_) return Fail("filter nested too deeply");
      out->kind = op == '&'   ? Filter::Kind::kAnd
                  : op == '|' ? Filter::Kind::kOr
                              : Filter::Kind::kNot;
      while (pos_ < text_.size() && text_[pos_] == '(') {
        Filter child;
        Status status = ParseFilterAt(&child, depth + 1);
        if (!status) return status;
        out->children.push_back(std::move(child));
      }
      if (!Eat(')')) return Fail("expected '(' or ')'");
      if (out->kind == Filter::Kind::kNot && out->children.size() != 1) {
        return Fail("'!' takes exactly one filter");
      }
      return Status::Ok();
    }
    return ParseItem(out, /*closing=*/true);
  }

  // simple / present / substring / extensible, then ")" if `closing`, else the end of the text.
  Status ParseItem(Filter* out, bool closing) {
    size_t start = pos_;
    while (pos_ < text_.size() && IsDescriptionChar(text_[pos_])) ++pos_;
    out->attribute = std::string(text_.substr(start, pos_ - start));
    if (pos_ < text_.size() && text_[pos_] == ':') return ParseExtensible(out, closing);
    if (out->attribute.empty()) return Fail("expected an attribute description");

    std::string_view op;
    for (std::string_view candidate : {"~=", ">=", "<=", "="}) {
      if (text_.substr(pos_, candidate.size()) == candidate) {
        op = candidate;
        break;
      }
    }
    if (op.empty()) return Fail("expected '=', '~=', '>=' or '<='");
    pos_ += op.size();

    if (op != "=") {
      out->kind = op == "~="   ? Filter::Kind::kApprox
                  : op == ">=" ? Filter::Kind::kGreaterOrEqual
                               : Filter::Kind::kLessOrEqual;
      bool star = false;
      Status status = ParseValue(&out->value, &star);
      if (!status) return status;
      if (star) return Fail("'*' is only allowed after '='");
      return Close(closing);
    }

    // "=": equality, present ("=*") or substrings (values separated by unescaped '*').
    std::vector<std::string> parts;
    bool star = true;
    while (star) {
      std::string part;
      Status status = ParseValue(&part, &star);
      if (!status) return status;
      parts.push_back(std::move(part));
    }
    if (parts.size() == 1) {
      out->kind = Filter::Kind::kEquality;
      out->value = std::move(parts[0]);
    } else if (parts.size() == 2 && parts[0].empty() && parts[1].empty()) {
      out->kind = Filter::Kind::kPresent;
    } else {
      out->kind = Filter::Kind::kSubstrings;
      if (!parts.front().empty()) out->initial = std::move(parts.front());
      if (!parts.back().empty()) out->final_value = std::move(parts.back());
      for (size_t i = 1; i + 1 < parts.size(); ++i) {
        if (!parts[i].empty()) out->any.push_back(std::move(parts[i]));
      }
      if (!out->initial && !out->final_value && out->any.empty()) {
        return Fail("substring filter without a value");
      }
    }
    return Close(closing);
  }

  // extensible = [attr] [":dn"] [":" oid] ":=" assertionvalue; attr or oid present.
  Status ParseExtensible(Filter* out, bool closing) {
    out->kind = Filter::Kind::kExtensible;
    while (true) {
      if (!Eat(':')) return Fail("expected ':'");
      if (Eat('=')) break;
      size_t start = pos_;
      while (pos_ < text_.size() && IsDescriptionChar(text_[pos_])) ++pos_;
      std::string_view token = text_.substr(start, pos_ - start);
      if (token.empty()) return Fail("expected \"dn\" or a matching rule");
      if (EqualsIgnoreAsciiCase(token, "dn") && !out->dn_attributes && out->matching_rule.empty()) {
        out->dn_attributes = true;
      } else if (out->matching_rule.empty() && IsValidMatchingRule(token)) {
        out->matching_rule = std::string(token);
      } else {
        pos_ = start;
        return Fail("unexpected extensible match component");
      }
    }
    if (out->attribute.empty() && out->matching_rule.empty()) {
      return Fail("extensible match needs an attribute or a matching rule");
    }
    bool star = false;
    Status status = ParseValue(&out->value, &star);
    if (!status) return status;
    if (star) return Fail("'*' is only allowed after '='");
    return Close(closing);
  }

  // Reads an assertion value up to an unescaped '*' (consumed, *star = true), ')' or the end of
  // the text (not consumed, *star = false).
  Status ParseValue(std::string* out, bool* star) {
    *star = false;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ')') return Status::Ok();
      if (c == '*') {
        ++pos_;
        *star = true;
        return Status::Ok();
      }
      if (c == '(' || c == '\0') return Fail("unescaped '(' or NUL in a value");
      if (c == '\\') {
        int high = pos_ + 1 < text_.size() ? HexDigitValue(text_[pos_ + 1]) : -1;
        int low = pos_ + 2 < text_.size() ? HexDigitValue(text_[pos_ + 2]) : -1;
        if (high < 0 || low < 0) return Fail("'\\' must be followed by two hex digits");
        out->push_back(static_cast<char>(high * 16 + low));
        pos_ += 3;
        continue;
      }
      out->push_back(c);
      ++pos_;
    }
    return Status::Ok();
  }

  Status Close(bool closing) {
    if (!closing) return Status::Ok();
    if (!Eat(')')) return Fail("expected ')'");
    return Status::Ok();
  }

  bool Eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  Error Fail(std::string_view what) const {
    return MakeError(ErrorCode::kInvalidFilter,
                     std::string(what) + " at offset " + std::to_string(pos_));
  }

  std::string_view text_;
  size_t max_depth_;
  size_t pos_ = 0;
};

}  // namespace

std::string FilterToString(const Filter& filter) {
  std::string out;
  Append(filter, &out);
  return out;
}

Result<Filter> ParseFilter(std::string_view text, size_t max_depth) {
  return Parser(text, max_depth).ParseAll();
}

}  // namespace idsync::ldap
