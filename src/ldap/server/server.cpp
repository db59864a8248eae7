#include "ldap/server/server.h"

namespace idsync::ldap {

// TODO(#10): the network layer is being written on branch helper-net.
Result<std::unique_ptr<Server>> Server::Start(const ServerOptions&, Handler&) {
  return Error{ErrorCode::kUnavailable, "the LDAP server is not built yet"};
}

}  // namespace idsync::ldap
