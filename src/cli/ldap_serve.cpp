#include "cli/ldap_serve.h"

#include <chrono>
#include <utility>

#include "base/time.h"
#include "ldap/protocol/dn.h"
#include "ldap/server/directory_handler.h"
#include "ldap/server/server.h"
#include "service/ldap_accounts.h"

#ifndef IDSYNC_VERSION
#define IDSYNC_VERSION "0.1.0"
#endif

namespace idsync::cli {

namespace {

class Face final : public LdapFace {
 public:
  Face(store::Store& store, http::RequestLimits& limits, ldap::DirectoryHandlerOptions options)
      : accounts_(store, SystemClock::Instance()),
        handler_(store, accounts_, limits, std::move(options)) {}

  Status Start(const ldap::ServerOptions& options) {
    auto server = ldap::Server::Start(options, handler_);
    if (!server) return server.error();
    server_ = std::move(*server);
    host_ = options.ldap_listen.empty() ? options.ldaps_listen : options.ldap_listen;
    host_ = host_.substr(0, host_.rfind(':'));
    if (host_ == "0.0.0.0" || host_ == "[::]" || host_ == "::") host_ = "127.0.0.1";
    return Status::Ok();
  }

  std::vector<std::string> UrlList() const override {
    std::vector<std::string> out;
    if (server_->ldap_port()) out.push_back("ldap://" + host_ + ":" + std::to_string(server_->ldap_port()));
    if (server_->ldaps_port()) {
      out.push_back("ldaps://" + host_ + ":" + std::to_string(server_->ldaps_port()));
    }
    return out;
  }
  std::string Metrics() const override { return server_ ? server_->Render() : ""; }
  void Stop() override {
    if (server_) server_->Stop();
  }
  ~Face() override { Stop(); }

 private:
  service::LdapAccounts accounts_;
  ldap::DirectoryHandler handler_;
  std::unique_ptr<ldap::Server> server_;
  std::string host_;
};

}  // namespace

Result<std::unique_ptr<LdapFace>> StartLdapFace(const LdapServeOptions& o,
                                                std::shared_ptr<tls::ServerContext> tls,
                                                store::Store& store, http::RequestLimits& limits) {
  if (o.ldap_listen.empty() && o.ldaps_listen.empty()) return std::unique_ptr<LdapFace>();
  auto suffix = ldap::ParseDn(o.suffix);
  if (!suffix || suffix->rdns.empty()) {
    return MakeError(ErrorCode::kInvalidValue,
                     "--ldap-suffix \"" + o.suffix + "\" is not a DN such as dc=example,dc=com");
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return MakeError(ErrorCode::kInvalidValue,
                     "--ldap-tls-cert and --ldap-tls-key must be given together");
  }
  if (o.size_limit < 1)
    return MakeError(ErrorCode::kInvalidValue, "--ldap-size-limit must be >= 1");
  if (o.time_limit_seconds <= 0) {
    return MakeError(ErrorCode::kInvalidValue, "--ldap-time-limit must be > 0");
  }
  ldap::DirectoryHandlerOptions handler_options;
  handler_options.suffix = ldap::FormatDn(*suffix);
  handler_options.limits.size_limit = o.size_limit;
  handler_options.limits.time_limit =
      std::chrono::milliseconds(static_cast<int64_t>(o.time_limit_seconds * 1000));
  handler_options.vendor_version = IDSYNC_VERSION;

  ldap::ServerOptions so;
  so.ldap_listen = o.ldap_listen;
  so.ldaps_listen = o.ldaps_listen;
  so.tls = std::move(tls);
  so.allow_plaintext = o.allow_plaintext;
  so.max_connections = o.max_connections;
  so.idle_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.idle_timeout_seconds * 1000));
  auto face = std::make_unique<Face>(store, limits, std::move(handler_options));
  if (Status s = face->Start(so); !s) return s.error();
  return std::unique_ptr<LdapFace>(std::move(face));
}

}  // namespace idsync::cli
