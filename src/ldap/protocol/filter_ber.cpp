#include "ldap/protocol/filter_ber.h"

#include <string>
#include <utility>

#include "ldap/protocol/attribute_description.h"

namespace idsync::ldap::internal {

namespace {

Error Invalid(std::string detail) {
  return MakeError(ErrorCode::kInvalidSyntax, std::move(detail));
}

// AttributeValueAssertion ::= SEQUENCE { attributeDesc AttributeDescription,
//                                        assertionValue AssertionValue }
Status DecodeAva(std::string_view contents, Filter* out) {
  BerReader reader(contents);
  if (!reader.String(kTagOctetString, &out->attribute) ||
      !reader.String(kTagOctetString, &out->value) || !reader.AtEnd()) {
    return Invalid("malformed attribute value assertion in filter");
  }
  if (!IsValidAttributeDescription(out->attribute)) {
    return Invalid("invalid attribute description in filter");
  }
  return Status::Ok();
}

// SubstringFilter ::= SEQUENCE { type AttributeDescription,
//     substrings SEQUENCE SIZE (1..MAX) OF substring CHOICE {
//         initial [0] AssertionValue,  -- can occur at most once, first
//         any     [1] AssertionValue,
//         final   [2] AssertionValue } -- can occur at most once, last }
Status DecodeSubstrings(std::string_view contents, Filter* out) {
  BerReader reader(contents);
  if (!reader.String(kTagOctetString, &out->attribute)) {
    return Invalid("malformed substrings filter");
  }
  if (!IsValidAttributeDescription(out->attribute)) {
    return Invalid("invalid attribute description in filter");
  }
  auto parts = reader.Element(kTagSequence);
  if (!parts || !reader.AtEnd()) return Invalid("malformed substrings filter");
  BerReader part_reader(*parts);
  size_t count = 0;
  while (!part_reader.AtEnd()) {
    ber_tag_t tag = part_reader.PeekTag();
    std::string value;
    if (!part_reader.String(tag, &value)) return Invalid("malformed substring");
    if (out->final_value) return Invalid("substring after the final one");
    if (tag == ContextPrimitive(0)) {
      if (count != 0) return Invalid("initial substring not first");
      out->initial = std::move(value);
    } else if (tag == ContextPrimitive(1)) {
      out->any.push_back(std::move(value));
    } else if (tag == ContextPrimitive(2)) {
      out->final_value = std::move(value);
    } else {
      return Invalid("unknown substring choice");
    }
    ++count;
  }
  if (count == 0) return Invalid("substrings filter without substrings");
  return Status::Ok();
}

// MatchingRuleAssertion ::= SEQUENCE { matchingRule [1] MatchingRuleId OPTIONAL,
//     type [2] AttributeDescription OPTIONAL, matchValue [3] AssertionValue,
//     dnAttributes [4] BOOLEAN DEFAULT FALSE }
Status DecodeExtensible(std::string_view contents, Filter* out) {
  BerReader reader(contents);
  if (reader.PeekTag() == ContextPrimitive(1)) {
    if (!reader.String(ContextPrimitive(1), &out->matching_rule) ||
        !IsValidMatchingRule(out->matching_rule)) {
      return Invalid("invalid matching rule in extensible filter");
    }
  }
  if (reader.PeekTag() == ContextPrimitive(2)) {
    if (!reader.String(ContextPrimitive(2), &out->attribute) ||
        !IsValidAttributeDescription(out->attribute)) {
      return Invalid("invalid attribute description in extensible filter");
    }
  }
  if (!reader.String(ContextPrimitive(3), &out->value)) {
    return Invalid("extensible filter without matchValue");
  }
  if (reader.PeekTag() == ContextPrimitive(4)) {
    if (!reader.Bool(ContextPrimitive(4), &out->dn_attributes)) {
      return Invalid("malformed dnAttributes in extensible filter");
    }
  }
  if (!reader.AtEnd()) return Invalid("trailing bytes in extensible filter");
  // RFC 4511 §4.5.1.7.7: if matchingRule is absent, type must be present.
  if (out->matching_rule.empty() && out->attribute.empty()) {
    return Invalid("extensible filter needs a matching rule or a type");
  }
  return Status::Ok();
}

}  // namespace

Status DecodeFilter(BerReader& reader, const DecodeLimits& limits, size_t depth, size_t* nodes,
                    Filter* out) {
  if (++*nodes > limits.max_filter_nodes) return Invalid("filter has too many nodes");
  ber_tag_t tag = reader.PeekTag();
  if (tag == LBER_DEFAULT) return Invalid("malformed filter");
  auto contents = reader.Element(tag);
  if (!contents) return Invalid("malformed filter");

  switch (tag) {
    case ContextConstructed(0):    // and [0] SET OF Filter
    case ContextConstructed(1):    // or  [1] SET OF Filter
    case ContextConstructed(2): {  // not [2] Filter
      if (depth + 1 > limits.max_filter_depth) return Invalid("filter nested too deeply");
      out->kind = tag == ContextConstructed(0)   ? Filter::Kind::kAnd
                  : tag == ContextConstructed(1) ? Filter::Kind::kOr
                                                 : Filter::Kind::kNot;
      BerReader children(*contents);
      while (!children.AtEnd()) {
        Filter child;
        Status status = DecodeFilter(children, limits, depth + 1, nodes, &child);
        if (!status) return status;
        out->children.push_back(std::move(child));
      }
      if (out->kind == Filter::Kind::kNot && out->children.size() != 1) {
        return Invalid("'not' filter must hold exactly one filter");
      }
      return Status::Ok();
    }
    case ContextConstructed(3):
      out->kind = Filter::Kind::kEquality;
      return DecodeAva(*contents, out);
    case ContextConstructed(4):
      out->kind = Filter::Kind::kSubstrings;
      return DecodeSubstrings(*contents, out);
    case ContextConstructed(5):
      out->kind = Filter::Kind::kGreaterOrEqual;
      return DecodeAva(*contents, out);
    case ContextConstructed(6):
      out->kind = Filter::Kind::kLessOrEqual;
      return DecodeAva(*contents, out);
    case ContextPrimitive(7):  // present [7] AttributeDescription
      out->kind = Filter::Kind::kPresent;
      out->attribute = std::string(*contents);
      if (!IsValidAttributeDescription(out->attribute)) {
        return Invalid("invalid attribute description in filter");
      }
      return Status::Ok();
    case ContextConstructed(8): out->kind = Filter::Kind::kApprox; return DecodeAva(*contents, out);
    case ContextConstructed(9):
      out->kind = Filter::Kind::kExtensible;
      return DecodeExtensible(*contents, out);
    default: return Invalid("unknown filter choice");
  }
}

}  // namespace idsync::ldap::internal
