// `idsync serve`'s LDAP face (issue #10): the options (their flags and keys: cli/serve_config) and
// the server over the effective directory, started beside the HTTP server when a listener is
// asked for. Off by default.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "http/request_limits.h"
#include "store/store.h"

namespace idsync::tls {
class ServerContext;
}

namespace idsync::cli {

struct LdapServeOptions {
  std::string ldap_listen;        // HOST:PORT, plain LDAP with StartTLS
  std::string ldaps_listen;       // HOST:PORT, LDAPS
  std::string tls_cert, tls_key;  // default: the HTTP server's
  bool allow_plaintext = false;
  std::string suffix = "dc=idsync";
  int64_t size_limit = 1000;
  double time_limit_seconds = 60;
  size_t max_connections = 1024;
  double idle_timeout_seconds = 900;
};

class LdapFace {
 public:
  virtual ~LdapFace() = default;
  // "ldap://127.0.0.1:3389", "ldaps://..." for the start-up log line: one per listener.
  virtual std::vector<std::string> UrlList() const = 0;
  virtual std::string Metrics() const = 0;
  virtual void Stop() = 0;
};

// nullptr (no error) when no LDAP listener was asked for. `tls` is the TLS context for LDAPS and
// StartTLS (the HTTP server's unless ldap.tls_cert/key are given: the caller chooses), null for
// none. Errors in words (bad suffix, port in use, missing certificate).
Result<std::unique_ptr<LdapFace>> StartLdapFace(const LdapServeOptions& options,
                                                std::shared_ptr<tls::ServerContext> tls,
                                                store::Store& store, http::RequestLimits& limits);

}  // namespace idsync::cli
