// The LDAP server's network layer: listeners (LDAP with StartTLS, LDAPS), TLS, framing and
// decoding of LDAPMessages, limits, timeouts, abandon, unbind, backpressure, graceful shutdown.
// It knows no directory: every operation other than StartTLS, Abandon and Unbind goes to a
// Handler (handler.h) on a worker thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/result.h"
#include "ldap/protocol/message.h"
#include "ldap/server/handler.h"

namespace idsync::tls {
class ServerContext;
}

namespace idsync::ldap {

struct ServerOptions {
  std::string ldap_listen;   // "HOST:PORT" ("[::1]:389"; port 0 = any free port) for plain
                             // LDAP and StartTLS; "" = off
  std::string ldaps_listen;  // "HOST:PORT" for LDAPS; "" = off
  std::optional<std::string> tls_cert_file;  // PEM chain; both or neither; needed for LDAPS,
  std::optional<std::string> tls_key_file;   // and for StartTLS (else StartTLS is refused)
  // A TLS context to serve with instead of the files above (shared with the HTTP listener and
  // reloaded on SIGHUP: tls/server_context.h).
  std::shared_ptr<tls::ServerContext> tls;
  // Bind and Search over plain LDAP from a non-loopback peer are refused with
  // confidentialityRequired (13) unless this is set.
  bool allow_plaintext = false;
  // For tests only: treat loopback peers as remote, so the plaintext rule can be tested.
  bool treat_loopback_as_remote = false;
  size_t max_message_bytes = 1 << 20;  // decided from the BER length before reading the body
  size_t max_connections = 1024;       // beyond: Notice of Disconnection (unavailable), close
  // No request in progress or queued, no response unsent and nothing received for this long:
  // the session is closed.
  std::chrono::milliseconds idle_timeout{15 * 60 * 1000};
  // Once a message's first byte has arrived, all of it must arrive within this (slowloris);
  // also the deadline of the TLS handshake (LDAPS accept, after StartTLS).
  std::chrono::milliseconds message_timeout{30000};
  // A client that has unsent responses waiting and reads none of them for this long is cut off.
  std::chrono::milliseconds write_timeout{60000};
  size_t max_output_bytes = 1 << 20;  // per session, unsent responses; Send blocks beyond this
  size_t max_queued_requests = 64;    // per session, behind the one in progress; beyond: busy
  int io_threads = 2;
  int worker_threads = 8;  // run Handler::Handle (which blocks on the store)
  DecodeLimits decode_limits;
};

class Server {
 public:
  virtual ~Server() = default;

  // Binds the configured listeners and starts serving; `handler` must outlive the Server.
  // Errors (kUnavailable) in words an administrator can act on: "address 127.0.0.1:389 is
  // already in use", "LDAPS needs --tls-cert and --tls-key", "cannot read TLS certificate
  // /x.pem: No such file or directory", "no LDAP listener configured".
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Handler& handler);

  // The bound ports (useful with port 0); 0 when that listener is off. Thread-safe.
  virtual uint16_t ldap_port() const = 0;
  virtual uint16_t ldaps_port() const = 0;

  // Prometheus text lines, every name prefixed idsync_ldap_: open connections, connections
  // refused, operations by type and result code. Thread-safe.
  virtual std::string Render() const = 0;

  // Stops accepting, sets `abandoned` on running requests and drops queued ones, waits up to
  // `grace` for handlers to return and responses to be written, then closes every socket and
  // joins every thread. A handler still running after `grace` is waited for (it cannot be
  // interrupted; its Send calls return false). Idempotent; the destructor calls it. Must not be
  // called from a Handler.
  virtual void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) = 0;
};

}  // namespace idsync::ldap
