// RFC 4514 distinguished names.
#include "ldap/protocol/dn.h"

#include <algorithm>
#include <utility>

#include "base/strings.h"

namespace idsync::ldap {

namespace {

bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// RFC 4514 §3: characters that may follow '\' as themselves ("special" / "\").
bool IsEscapable(char c) {
  return c == ' ' || c == '"' || c == '#' || c == '+' || c == ',' || c == ';' || c == '<' ||
         c == '=' || c == '>' || c == '\\';
}

class DnParser {
 public:
  explicit DnParser(std::string_view text) : text_(text) {}

  Result<Dn> Parse() {
    Dn dn;
    SkipSpaces();
    if (pos_ == text_.size()) return dn;  // the root DSE
    while (true) {
      Rdn rdn;
      while (true) {
        Ava ava;
        Status status = ParseAva(&ava);
        if (!status) return status.error();
        rdn.push_back(std::move(ava));
        if (pos_ < text_.size() && text_[pos_] == '+') {
          ++pos_;
          continue;
        }
        break;
      }
      dn.rdns.push_back(std::move(rdn));
      if (pos_ == text_.size()) return dn;
      if (text_[pos_] != ',') return Fail("expected ',' or '+'");
      ++pos_;
    }
  }

 private:
  // attributeTypeAndValue = attributeType "=" attributeValue, with spaces allowed around the
  // type and the '=' (slapd's leniency). Leaves pos_ on the ',' or '+' after the value, or at
  // the end.
  Status ParseAva(Ava* ava) {
    SkipSpaces();
    size_t start = pos_;
    if (pos_ < text_.size() && IsAlpha(text_[pos_])) {
      // descr = ALPHA *( ALPHA / DIGIT / "-" )
      while (pos_ < text_.size() &&
             (IsAlpha(text_[pos_]) || IsDigit(text_[pos_]) || text_[pos_] == '-')) {
        ++pos_;
      }
    } else if (pos_ < text_.size() && IsDigit(text_[pos_])) {
      // numericoid = number 1*( DOT number )
      while (pos_ < text_.size() && (IsDigit(text_[pos_]) || text_[pos_] == '.')) ++pos_;
      std::string_view oid = text_.substr(start, pos_ - start);
      if (oid.back() == '.' || oid.find("..") != std::string_view::npos ||
          oid.find('.') == std::string_view::npos) {
        return Fail("invalid numeric OID attribute type");
      }
    }
    if (pos_ == start) return Fail("expected an attribute type");
    ava->type = std::string(text_.substr(start, pos_ - start));
    SkipSpaces();
    if (pos_ == text_.size() || text_[pos_] != '=') return Fail("expected '='");
    ++pos_;
    SkipSpaces();
    if (pos_ < text_.size() && text_[pos_] == '#') return ParseHexValue(&ava->value);
    return ParseStringValue(&ava->value);
  }

  // hexstring = SHARP 1*hexpair
  Status ParseHexValue(std::string* out) {
    ++pos_;
    size_t start = pos_;
    while (pos_ + 1 < text_.size() && HexDigitValue(text_[pos_]) >= 0 &&
           HexDigitValue(text_[pos_ + 1]) >= 0) {
      out->push_back(
          static_cast<char>(HexDigitValue(text_[pos_]) * 16 + HexDigitValue(text_[pos_ + 1])));
      pos_ += 2;
    }
    if (pos_ == start) return Fail("'#' must be followed by hex pairs");
    SkipSpaces();
    if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '+') {
      return Fail("invalid hex string value");
    }
    return Status::Ok();
  }

  // string: unescaped characters except " + , ; < > NUL and '\', escapes \<special> or \XX.
  // Unescaped trailing spaces are not part of the value.
  Status ParseStringValue(std::string* out) {
    size_t kept = 0;  // out->size() up to the last byte that is not an unescaped space
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ',' || c == '+') break;
      if (c == '\\') {
        if (pos_ + 1 >= text_.size()) return Fail("dangling '\\'");
        char next = text_[pos_ + 1];
        int high = HexDigitValue(next);
        int low = pos_ + 2 < text_.size() ? HexDigitValue(text_[pos_ + 2]) : -1;
        if (high >= 0 && low >= 0) {
          out->push_back(static_cast<char>(high * 16 + low));
          pos_ += 3;
        } else if (IsEscapable(next)) {
          out->push_back(next);
          pos_ += 2;
        } else {
          return Fail("invalid escape");
        }
        kept = out->size();
        continue;
      }
      if (c == '"' || c == ';' || c == '<' || c == '>' || c == '\0') {
        return Fail("character must be escaped");
      }
      out->push_back(c);
      ++pos_;
      if (c != ' ') kept = out->size();
    }
    out->resize(kept);
    return Status::Ok();
  }

  void SkipSpaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }

  Error Fail(std::string_view what) const {
    return MakeError(ErrorCode::kInvalidValue,
                     "invalid DN: " + std::string(what) + " at offset " + std::to_string(pos_));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// Leading and trailing spaces dropped, inner runs collapsed to one: the naming attributes
// (uid, cn, ou, dc) match with caseIgnoreMatch, which ignores them (RFC 4518 §2.6.1), so
// "uid=  a  b" and "uid=a b" name one entry, as on slapd.
std::string SqueezeSpaces(std::string_view text) {
  std::string out;
  bool pending = false;
  for (char c : text) {
    if (c == ' ') {
      pending = !out.empty();
      continue;
    }
    if (pending) out.push_back(' ');
    pending = false;
    out.push_back(c);
  }
  return out;
}

std::string NormalizeRdn(const Rdn& rdn) {
  std::vector<std::string> avas;
  avas.reserve(rdn.size());
  for (const Ava& ava : rdn) {
    avas.push_back(AsciiLower(ava.type) + "=" + EscapeDnValue(FoldCase(SqueezeSpaces(ava.value))));
  }
  // RFC 4512 §2.3.1: the AVAs of a multi-valued RDN are a set; "a+b" and "b+a" are one RDN.
  std::sort(avas.begin(), avas.end());
  std::string out;
  for (size_t i = 0; i < avas.size(); ++i) {
    if (i > 0) out.push_back('+');
    out += avas[i];
  }
  return out;
}

}  // namespace

Result<Dn> ParseDn(std::string_view text) {
  return DnParser(text).Parse();
}

std::string EscapeDnValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\0') {
      out += "\\00";
    } else if (c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' ||
               c == '=' || (i == 0 && (c == '#' || c == ' ')) ||
               (i + 1 == value.size() && c == ' ')) {
      out.push_back('\\');
      out.push_back(c);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatDn(const Dn& dn) {
  std::string out;
  for (size_t i = 0; i < dn.rdns.size(); ++i) {
    if (i > 0) out.push_back(',');
    for (size_t j = 0; j < dn.rdns[i].size(); ++j) {
      if (j > 0) out.push_back('+');
      out += dn.rdns[i][j].type;
      out.push_back('=');
      out += EscapeDnValue(dn.rdns[i][j].value);
    }
  }
  return out;
}

std::string NormalizeDn(const Dn& dn) {
  std::string out;
  for (size_t i = 0; i < dn.rdns.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += NormalizeRdn(dn.rdns[i]);
  }
  return out;
}

bool IsSuffixOf(const Dn& suffix, const Dn& dn) {
  if (suffix.rdns.size() > dn.rdns.size()) return false;
  size_t offset = dn.rdns.size() - suffix.rdns.size();
  for (size_t i = 0; i < suffix.rdns.size(); ++i) {
    if (NormalizeRdn(suffix.rdns[i]) != NormalizeRdn(dn.rdns[offset + i])) return false;
  }
  return true;
}

}  // namespace idsync::ldap
