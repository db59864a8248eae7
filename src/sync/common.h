// Small helpers the sync module's files share (the configuration parser and LdapSync's
// implementation); not part of the module's interface.
#pragma once

#include <string>
#include <utility>

#include "base/json.h"
#include "base/result.h"

namespace idsync::sync {

// kInvalidValue with `detail`: a setting or request an administrator must correct.
inline Error Invalid(std::string detail) {
  return MakeError(ErrorCode::kInvalidValue, std::move(detail));
}

// A JSON array of the strings in `values` (any container of strings), in its order.
template <typename T>
Json StringList(const T& values) {
  Json out = Json::array();
  for (const auto& v : values) out.push_back(v);
  return out;
}

}  // namespace idsync::sync
