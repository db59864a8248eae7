#include "policy/source_path.h"

#include <utility>

#include "base/strings.h"
#include "scim/filter/evaluate.h"
#include "scim/filter/parser.h"
#include "scim/schema/registry.h"
#include "scim/types.h"

namespace idsync::policy {

// The compiled form of one source path. For SCIM: where the value lives in the stored JSON
// (extension key, canonical attribute name, sub-attribute) and the element filter, validated
// once so that MatchesElement uses the pre-folded literals. For LDAP: the attribute name.
struct CompiledSourcePath {
  SourceKind kind = SourceKind::kScim;
  std::string ext_urn;
  std::string attr;
  std::string sub;
  const scim::schema::Attribute* attr_def = nullptr;
  scim::filter::NodePtr filter;  // inner filter of attr[...], or null
};

namespace {

using scim::filter::Node;

Error Invalid(std::string detail) {
  return Error{ErrorCode::kInvalidValue, std::move(detail)};
}

bool Unassigned(const Json& v) {
  return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty());
}

void Push(const Json& v, std::vector<Json>* out) {
  if (v.is_array()) {
    for (const Json& e : v) {
      if (!Unassigned(e)) out->push_back(e);
    }
  } else if (!Unassigned(v)) {
    out->push_back(v);
  }
}

// RFC 4512 §2.5: attribute descriptions are a keystring (ALPHA *(ALPHA / DIGIT / "-")) or a
// numeric OID, followed by options (";" keychars).
bool IsLdapAttributeDescription(std::string_view s) {
  auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  auto is_key = [&](char c) { return is_alpha(c) || is_digit(c) || c == '-'; };
  std::string_view base = s.substr(0, s.find(';'));
  if (base.empty()) return false;
  if (is_alpha(base[0])) {
    for (char c : base) {
      if (!is_key(c)) return false;
    }
  } else {
    bool last_dot = true;
    for (char c : base) {
      if (c == '.') {
        if (last_dot) return false;
        last_dot = true;
      } else if (is_digit(c)) {
        last_dot = false;
      } else {
        return false;
      }
    }
    if (last_dot) return false;
  }
  if (base.size() == s.size()) return true;
  std::string_view options = s.substr(base.size() + 1);
  if (options.empty()) return false;
  for (char c : options) {
    if (!is_key(c) && c != ';') return false;
  }
  return options.back() != ';' && options.find(";;") == std::string_view::npos;
}

Result<std::shared_ptr<CompiledSourcePath>> CompileScim(std::string_view text) {
  const auto& registry = scim::schema::Registry::Default();
  auto parsed = scim::filter::ParsePatchPath(text);
  if (!parsed)
    return Invalid("invalid source path " + DoubleQuoted(text) + ": " + parsed.error().detail);
  scim::filter::PatchPath& path = *parsed;
  auto out = std::make_shared<CompiledSourcePath>();
  out->kind = SourceKind::kScim;

  auto resolved =
      registry.Resolve(scim::ResourceType::kUser, path.attr.urn, path.attr.attr, path.attr.sub);
  if (!resolved) {
    return Invalid("unknown attribute " + DoubleQuoted(scim::filter::Print(path.attr)));
  }
  const scim::schema::Attribute& attr = *resolved->attr;
  if (attr.returned == scim::schema::Returned::kNever ||
      attr.mutability == scim::schema::Mutability::kWriteOnly) {
    return Invalid("attribute " + DoubleQuoted(attr.name) +
                   " is never stored and cannot be mapped");
  }
  if (resolved->in_extension) out->ext_urn = resolved->schema->id;
  out->attr = attr.name;
  out->attr_def = &attr;

  std::string sub;
  if (path.filter) {
    if (attr.type != scim::schema::Type::kComplex || !attr.multi_valued) {
      return Invalid("a value filter [...] needs a multi-valued complex attribute; " +
                     DoubleQuoted(attr.name) + " is not one");
    }
    // Validate the inner filter the way a filter `attr[...]` is validated, so that it is
    // resolved and its literals folded once, here, rather than on every source user.
    Node wrapper;
    wrapper.kind = Node::Kind::kValuePath;
    wrapper.path = path.attr;
    wrapper.left = std::move(path.filter);
    Status valid = scim::filter::Validate(wrapper, scim::ResourceType::kUser, registry);
    if (!valid)
      return Invalid("invalid filter in " + DoubleQuoted(text) + ": " + valid.error().detail);
    out->filter = std::move(wrapper.left);
    sub = path.sub_after_filter;
  } else {
    sub = resolved->sub ? resolved->sub->name : std::string();
  }
  if (attr.type == scim::schema::Type::kComplex) {
    if (sub.empty()) {
      // RFC 7644 §3.4.2.2 reads a complex multi-valued attribute through its "value".
      if (!attr.multi_valued || !attr.FindSub("value")) {
        return Invalid(
            DoubleQuoted(attr.name) + " is complex: name a sub-attribute, e.g. " +
            DoubleQuoted(attr.name + "." +
                         (attr.sub_attributes.empty() ? std::string("value")
                                                      : attr.sub_attributes.front().name)));
      }
      sub = "value";
    }
    const scim::schema::Attribute* sub_def = attr.FindSub(sub);
    if (!sub_def)
      return Invalid("unknown sub-attribute " + DoubleQuoted(sub) + " of " +
                     DoubleQuoted(attr.name));
    out->sub = sub_def->name;
  }
  return out;
}

}  // namespace

Result<SourcePath> SourcePath::Compile(std::string_view text, SourceKind kind) {
  SourcePath out;
  out.text_ = std::string(text);
  if (kind == SourceKind::kLdap) {
    if (!IsLdapAttributeDescription(text)) {
      return Invalid("invalid LDAP attribute name " + DoubleQuoted(text));
    }
    auto compiled = std::make_shared<CompiledSourcePath>();
    compiled->kind = kind;
    compiled->attr = std::string(text);
    out.compiled_ = std::move(compiled);
    return out;
  }
  auto compiled = CompileScim(text);
  if (!compiled) return compiled.error();
  out.compiled_ = std::move(*compiled);
  return out;
}

std::vector<Json> SourcePath::Values(const Json& source_user) const {
  std::vector<Json> out;
  if (!compiled_ || !source_user.is_object()) return out;
  const CompiledSourcePath& c = *compiled_;
  if (c.kind == SourceKind::kLdap) {
    // RFC 4512 §2.5: attribute descriptions are case-insensitive.
    for (const auto& [key, value] : source_user.items()) {
      if (EqualsIgnoreAsciiCase(key, c.attr)) Push(value, &out);
    }
    return out;
  }
  const Json* base = &source_user;
  if (!c.ext_urn.empty()) {
    base = FindMember(source_user, c.ext_urn);
    if (!base) return out;
  }
  const Json* v = FindMember(*base, c.attr);
  if (!v) return out;
  auto take = [&](const Json& element) {
    if (c.filter && !scim::filter::MatchesElement(*c.filter, element, *c.attr_def)) return;
    if (c.sub.empty()) {
      Push(element, &out);
    } else if (const Json* s = FindMember(element, c.sub)) {
      Push(*s, &out);
    }
  };
  if (v->is_array()) {
    for (const Json& element : *v) take(element);
  } else {
    take(*v);
  }
  return out;
}

Result<Template> Template::Compile(std::string_view text, SourceKind kind, bool allow_value) {
  Template out;
  out.text_ = std::string(text);
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) out.parts_.push_back(Part{std::move(literal), std::nullopt, false});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      return Invalid("unmatched \"}\" at position " + std::to_string(i + 1) +
                     " (write \"}}\" for a literal brace)");
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      return Invalid("unterminated placeholder at position " + std::to_string(i + 1));
    }
    std::string_view name = text.substr(i + 1, close - i - 1);
    if (name.empty()) return Invalid("empty placeholder {} at position " + std::to_string(i + 1));
    if (name.find('{') != std::string_view::npos) {
      return Invalid("\"{\" inside placeholder at position " + std::to_string(i + 1));
    }
    flush();
    if (name == "value") {
      if (!allow_value) {
        return Invalid("placeholder {value} is only available in a transform");
      }
      out.parts_.push_back(Part{{}, std::nullopt, true});
    } else {
      auto path = SourcePath::Compile(name, kind);
      if (!path) return Invalid("placeholder {" + std::string(name) + "}: " + path.error().detail);
      out.parts_.push_back(Part{{}, std::move(*path), false});
    }
    i = close;
  }
  flush();
  return out;
}

bool Template::uses_paths() const {
  for (const Part& part : parts_) {
    if (part.path) return true;
  }
  return false;
}

std::optional<std::string> Template::Render(const Json& source_user,
                                            const std::string* value) const {
  std::string out;
  for (const Part& part : parts_) {
    if (part.is_value) {
      if (!value) return std::nullopt;
      out += *value;
    } else if (part.path) {
      std::vector<Json> values = part.path->Values(source_user);
      std::optional<std::string> text;
      for (const Json& v : values) {
        if ((text = ScalarText(v))) break;
      }
      if (!text || text->empty()) return std::nullopt;
      out += *text;
    } else {
      out += part.literal;
    }
  }
  return out;
}

std::optional<std::string> ScalarText(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean() || value.is_number()) return value.dump();
  return std::nullopt;
}

}  // namespace idsync::policy
