// Source paths and templates: where a policy reads a value from one source user.
//
// A SCIM source path is a PATCH-style path (RFC 7644 §3.5.2) resolved against the User schema:
//   userName, name.givenName, emails.value, emails[type eq "work"].value,
//   urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber
// An LDAP source path is one attribute description (RFC 4512 §2.5: `mail`, `sAMAccountName`,
// `cn;lang-de`, or a numeric OID), looked up case-insensitively.
// A template is text with `{path}` placeholders, `{{` and `}}` for literal braces.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"

namespace idsync::policy {

// What kind of connection a policy belongs to; decides how source paths are read.
enum class SourceKind { kScim, kLdap };

struct CompiledSourcePath;  // source_path.cpp

// A validated source path. Copyable and cheap to copy (the compiled form is shared and
// immutable), thread-safe to read.
class SourcePath {
 public:
  // kInvalidValue with a detail naming what is wrong with `text` (unknown attribute, a
  // complex attribute without sub-attribute, a bad filter); the caller prefixes the field path.
  static Result<SourcePath> Compile(std::string_view text, SourceKind kind);

  const std::string& text() const { return text_; }

  // Every value the path addresses in `source_user`, in source order; for a multi-valued
  // attribute each element's value. Nulls and empty strings are left out (RFC 7643 §2.5:
  // unassigned). An empty result means "no value here"; never fails.
  std::vector<Json> Values(const Json& source_user) const;

  friend bool operator==(const SourcePath& a, const SourcePath& b) { return a.text_ == b.text_; }

 private:
  std::string text_;
  std::shared_ptr<const CompiledSourcePath> compiled_;
};

// A template such as "{name.givenName} {name.familyName}". Copyable, thread-safe to read.
class Template {
 public:
  // `allow_value`: the placeholder {value} stands for the value being transformed (only in a
  // transform, not in a source). kInvalidValue naming the placeholder or position otherwise.
  static Result<Template> Compile(std::string_view text, SourceKind kind, bool allow_value);

  const std::string& text() const { return text_; }
  // Whether some placeholder is a source path (not only {value}).
  bool uses_paths() const;

  // The rendered text, or nullopt if some placeholder has no value (a half-filled template,
  // "Ada " for a user without family name, is worse than falling back to the next source).
  // A placeholder with several values uses the first.
  std::optional<std::string> Render(const Json& source_user, const std::string* value) const;

  friend bool operator==(const Template& a, const Template& b) { return a.text_ == b.text_; }

 private:
  struct Part {
    std::string literal;  // used when path is empty and !is_value
    std::optional<SourcePath> path;
    bool is_value = false;
  };
  std::string text_;
  std::vector<Part> parts_;
};

// Text of a JSON scalar as mapping uses it: strings as they are, numbers and booleans as JSON
// prints them; nullopt for null, objects and arrays.
std::optional<std::string> ScalarText(const Json& value);

}  // namespace idsync::policy
