#include "tls/server_context.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace idsync::tls {

namespace {

namespace ssl = boost::asio::ssl;

}  // namespace

Result<std::shared_ptr<ssl::context>> ServerContext::Build(const std::string& cert,
                                                           const std::string& key) {
  for (const auto& [path, what] : {std::pair{cert, "certificate"}, std::pair{key, "key"}}) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
      return Error{ErrorCode::kUnavailable, std::string("cannot read TLS ") + what + " " + path +
                                                ": " + std::strerror(errno)};
    }
    std::fclose(file);
  }
  try {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use | ssl::context::no_compression);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    // Mozilla "intermediate" TLS 1.2 suites (forward secrecy, AEAD only); TLS 1.3 suites are
    // OpenSSL's defaults, which are all modern.
    SSL_CTX_set_cipher_list(native,
                            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(cert, ec);
    if (ec) {
      return Error{ErrorCode::kUnavailable, "invalid TLS certificate " + cert + ": " + ec.message()};
    }
    ctx->use_private_key_file(key, ssl::context::pem, ec);
    if (ec) return Error{ErrorCode::kUnavailable, "invalid TLS key " + key + ": " + ec.message()};
    if (SSL_CTX_check_private_key(native) != 1) {
      return Error{ErrorCode::kUnavailable,
                   "TLS key " + key + " does not match certificate " + cert};
    }
    return ctx;
  } catch (const std::exception& e) {
    return Error{ErrorCode::kUnavailable, std::string("cannot set up TLS: ") + e.what()};
  }
}

Result<std::shared_ptr<ServerContext>> ServerContext::Load(const std::string& cert_file,
                                                           const std::string& key_file) {
  auto built = Build(cert_file, key_file);
  if (!built) return built.error();
  std::shared_ptr<ServerContext> holder(new ServerContext());
  holder->Install(std::move(*built), cert_file, key_file);
  return holder;
}

void ServerContext::Install(std::shared_ptr<boost::asio::ssl::context> context,
                            std::string cert_file, std::string key_file) {
  std::lock_guard lock(mu_);
  current_ = std::move(context);
  cert_file_ = std::move(cert_file);
  key_file_ = std::move(key_file);
}

std::string ServerContext::cert_file() const {
  std::lock_guard lock(mu_);
  return cert_file_;
}

std::shared_ptr<boost::asio::ssl::context> ServerContext::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::string ServerContext::Fingerprint() const {
  auto ctx = Current();
  X509* leaf = ctx ? SSL_CTX_get0_certificate(ctx->native_handle()) : nullptr;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (leaf == nullptr || X509_digest(leaf, EVP_sha256(), digest, &n) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    if (i > 0) out += ':';
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

std::string ServerContext::Subject() const {
  auto ctx = Current();
  X509* leaf = ctx ? SSL_CTX_get0_certificate(ctx->native_handle()) : nullptr;
  if (leaf == nullptr) return "";
  char* text = X509_NAME_oneline(X509_get_subject_name(leaf), nullptr, 0);
  if (text == nullptr) return "";
  std::string out(text);
  OPENSSL_free(text);
  return out;
}

}  // namespace idsync::tls
