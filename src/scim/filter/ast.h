// Abstract syntax of SCIM filters (RFC 7644 §3.4.2.2) and of PATCH paths (§3.5.2).
#pragma once

#include <memory>
#include <string>

#include "base/json.h"

namespace idsync::scim::filter {

// An attribute reference as written: optional schema URN, attribute, optional sub-attribute.
// Names keep the client's spelling; resolution against a schema is case-insensitive.
struct AttrPath {
  std::string urn;   // "" or e.g. "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
  std::string attr;  // e.g. "emails"
  std::string sub;   // "" or e.g. "value"
};

enum class CompareOp { kEq, kNe, kCo, kSw, kEw, kGt, kGe, kLt, kLe };

// Evaluation data that Validate (evaluate.h) attaches to a node: the resolved attribute and the
// comparison value pre-converted (case-folded, parsed dateTime). Defined in evaluate.cpp.
struct CompiledLeaf;

struct Node {
  enum class Kind {
    kAnd,        // left and right
    kOr,         // left or right
    kNot,        // not (left)
    kPresent,    // path pr
    kCompare,    // path op value
    kValuePath,  // path[left]  (path.sub is empty; the inner filter is relative to path.attr)
  };
  Kind kind = Kind::kCompare;
  AttrPath path;
  CompareOp op = CompareOp::kEq;
  Json value;  // compValue: string, number, boolean or null
  std::unique_ptr<Node> left;
  std::unique_ptr<Node> right;
  // Filled by Validate, read by Matches/MatchesElement; nobody else needs to look at it. A node
  // without it (never validated, or validated for another type) is resolved on every call.
  mutable std::shared_ptr<const CompiledLeaf> compiled;
};

using NodePtr = std::unique_ptr<Node>;

// A PATCH path: attrPath, or valuePath with an optional trailing ".subAttr".
//   "members"                            -> attr{members}
//   "name.familyName"                    -> attr{name, sub familyName}
//   "emails[type eq \"work\"].value"     -> attr{emails}, filter, sub_after_filter "value"
struct PatchPath {
  AttrPath attr;
  NodePtr filter;                // nullptr if no [...]
  std::string sub_after_filter;  // "" unless "[...].sub"
};

}  // namespace idsync::scim::filter
