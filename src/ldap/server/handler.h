// The seam between the LDAP network layer (server.h: listeners, TLS, StartTLS, framing, limits,
// timeouts, abandon) and what answers the operations over the effective directory
// (directory_handler.h: bind, search, compare, WhoAmI). The network layer knows no directory;
// the handler knows no socket.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "ldap/protocol/message.h"

namespace idsync::ldap {

// Who a session is bound as.
struct Identity {
  enum class Kind { kAnonymous, kServiceAccount, kUser };
  Kind kind = Kind::kAnonymous;
  std::string dn;         // the bind DN as the client sent it ("" when anonymous); WhoAmI
  std::string directory;  // the one directory it may read ("" when anonymous)
  std::string name;       // account name or username, for the audit log
  std::string user_id;    // kUser: the effective user's id
  // kServiceAccount: the configuration generation the bind was checked at, and when the
  // account's password was last set, so that a removed or rotated account loses its sessions.
  int64_t generation = 0;
  int64_t rotated_ms = 0;
};

// One client connection as the handler sees it. Owned by the network layer; the handler reads
// it and sets `identity` on a bind. Requests of one session reach the handler one at a time.
struct Session {
  uint64_t id = 0;              // unique in the process, for logs
  std::string remote_address;   // peer IP as text
  bool loopback = false;        // the peer is 127.0.0.0/8 or ::1
  bool tls = false;             // LDAPS, or after a successful StartTLS
  Identity identity;
};

// Sends one encoded LDAPMessage to the client. Blocks while the client is too far behind in
// reading (backpressure: output per session is bounded). Returns false when the operation
// must stop: it was abandoned, the connection is closing or the client stopped reading.
using Send = std::function<bool(std::string message)>;

class Handler {
 public:
  virtual ~Handler() = default;

  // Answers bind, search, compare, the extended operations other than StartTLS, and the write
  // operations (refused). Called on a worker thread, never on an I/O thread; must not throw
  // and must answer every request that has a response (everything but unbind and abandon,
  // which the network layer handles). `abandoned` becomes true when the client abandons this
  // request or the connection closes; a search checks it between entries.
  virtual void Handle(Session& session, const Request& request,
                      const std::atomic<bool>& abandoned, const Send& send) = 0;
};

}  // namespace idsync::ldap
