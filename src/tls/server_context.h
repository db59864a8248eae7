// The TLS server context the HTTP and LDAP listeners share (issue #14): built once from a PEM
// certificate chain and key with one policy (TLS 1.2+, no compression, forward-secret AEAD
// suites), and replaceable while serving. A reload builds a whole new context and swaps it in:
// handshakes that start afterwards use it, connections already open keep the one they began
// with (each holds a reference), and a reload that fails leaves the current context in place.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "base/result.h"

namespace idsync::tls {

class ServerContext {
 public:
  // Errors (kUnavailable) in words an administrator can act on: "cannot read TLS certificate
  // /x.pem: No such file or directory", "invalid TLS key /k.pem: ...", "TLS key /k.pem does
  // not match certificate /c.pem".
  static Result<std::shared_ptr<ServerContext>> Load(const std::string& cert_file,
                                                     const std::string& key_file);

  // A context built from these files with the policy above, not installed anywhere: a reload
  // builds every context it needs first, so that it can refuse as a whole.
  static Result<std::shared_ptr<boost::asio::ssl::context>> Build(const std::string& cert_file,
                                                                  const std::string& key_file);
  // Makes `context` (from Build) the one new handshakes use. Thread-safe.
  void Install(std::shared_ptr<boost::asio::ssl::context> context, std::string cert_file,
               std::string key_file);

  // The context for a new handshake; the caller keeps the reference for the connection's life.
  // Thread-safe.
  std::shared_ptr<boost::asio::ssl::context> Current() const;

  // SHA-256 of the current leaf certificate (DER), as lowercase hex pairs joined by ':', and its
  // subject, for the log line that says which certificate is in use. Thread-safe.
  std::string Fingerprint() const;
  std::string Subject() const;

  std::string cert_file() const;

 private:
  ServerContext() = default;

  mutable std::mutex mu_;
  std::string cert_file_;                               // guarded by mu_
  std::string key_file_;                                // guarded by mu_
  std::shared_ptr<boost::asio::ssl::context> current_;  // guarded by mu_
};

}  // namespace idsync::tls
