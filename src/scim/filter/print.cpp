// Canonical text of filters and PATCH paths. Canonical means: keywords and operators lower
// case, single spaces, strings as JSON with minimal escapes, and parentheses only where the
// tree needs them (an `or` under an `and`). and/or chains are printed flat because both are
// associative; the parser rebuilds them as balanced trees, so Parse(Print(n)) prints the same.
#include <string>

#include "scim/filter/parser.h"

namespace idsync::scim::filter {
namespace {

std::string_view OpName(CompareOp op) {
  switch (op) {
    case CompareOp::kEq: return "eq";
    case CompareOp::kNe: return "ne";
    case CompareOp::kCo: return "co";
    case CompareOp::kSw: return "sw";
    case CompareOp::kEw: return "ew";
    case CompareOp::kGt: return "gt";
    case CompareOp::kGe: return "ge";
    case CompareOp::kLt: return "lt";
    case CompareOp::kLe: return "le";
  }
  return "eq";  // not reached
}

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void AppendValue(std::string& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::string: AppendJsonString(out, v.get_ref<const std::string&>()); break;
    case Json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; break;
    case Json::value_t::null: out += "null"; break;
    case Json::value_t::number_integer: out += std::to_string(v.get<int64_t>()); break;
    case Json::value_t::number_unsigned: out += std::to_string(v.get<uint64_t>()); break;
    default:
      // number_float prints as the shortest text that reads back to the same double. Objects
      // and arrays are not compValues; a hand-built node holding one prints as JSON (which the
      // parser rejects) rather than crashing.
      out += v.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
}

void AppendPath(std::string& out, const AttrPath& path) {
  if (!path.urn.empty()) {
    out += path.urn;
    out += ':';
  }
  out += path.attr;
  if (!path.sub.empty()) {
    out += '.';
    out += path.sub;
  }
}

void AppendNode(std::string& out, const Node* node);

void AppendChild(std::string& out, const Node* child, bool parenthesize) {
  if (parenthesize) out += '(';
  AppendNode(out, child);
  if (parenthesize) out += ')';
}

void AppendNode(std::string& out, const Node* node) {
  if (node == nullptr) return;  // only hand-built trees can miss a child
  switch (node->kind) {
    case Node::Kind::kAnd: {
      auto needs_parens = [](const Node* n) { return n && n->kind == Node::Kind::kOr; };
      AppendChild(out, node->left.get(), needs_parens(node->left.get()));
      out += " and ";
      AppendChild(out, node->right.get(), needs_parens(node->right.get()));
      break;
    }
    case Node::Kind::kOr:
      AppendNode(out, node->left.get());
      out += " or ";
      AppendNode(out, node->right.get());
      break;
    case Node::Kind::kNot:
      out += "not (";
      AppendNode(out, node->left.get());
      out += ')';
      break;
    case Node::Kind::kPresent:
      AppendPath(out, node->path);
      out += " pr";
      break;
    case Node::Kind::kCompare:
      AppendPath(out, node->path);
      out += ' ';
      out += OpName(node->op);
      out += ' ';
      AppendValue(out, node->value);
      break;
    case Node::Kind::kValuePath:
      AppendPath(out, node->path);
      out += '[';
      AppendNode(out, node->left.get());
      out += ']';
      break;
  }
}

}  // namespace

std::string Print(const Node& node) {
  std::string out;
  AppendNode(out, &node);
  return out;
}

std::string Print(const AttrPath& path) {
  std::string out;
  AppendPath(out, path);
  return out;
}

std::string Print(const PatchPath& path) {
  std::string out;
  AppendPath(out, path.attr);
  if (path.filter) {
    out += '[';
    AppendNode(out, path.filter.get());
    out += ']';
  }
  if (!path.sub_after_filter.empty()) {
    out += '.';
    out += path.sub_after_filter;
  }
  return out;
}

}  // namespace idsync::scim::filter
