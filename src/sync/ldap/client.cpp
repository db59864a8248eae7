#include "sync/ldap/client.h"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <lber.h>
#include <ldap.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/strings.h"
#include "sync/ldap/filter_escape.h"

namespace idsync::sync::ldap {

namespace {

struct HandleDeleter {
  void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
using Handle = std::unique_ptr<LDAP, HandleDeleter>;

struct MessageDeleter {
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};
struct ControlDeleter {
  void operator()(LDAPControl* c) const { ldap_control_free(c); }
};
struct ControlsDeleter {
  void operator()(LDAPControl** c) const { ldap_controls_free(c); }
};
struct MemDeleter {
  void operator()(char* p) const { ldap_memfree(p); }
};
struct BerDeleter {
  void operator()(BerElement* b) const { ber_free(b, 0); }
};
struct ValuesDeleter {
  void operator()(berval** v) const { ldap_value_free_len(v); }
};
struct StringsDeleter {
  void operator()(char** v) const { ldap_memvfree(reinterpret_cast<void**>(v)); }
};
using MemString = std::unique_ptr<char, MemDeleter>;

// The paged results cookie: owned by lber once the server has sent one.
class Cookie {
 public:
  Cookie() = default;
  Cookie(const Cookie&) = delete;
  Cookie& operator=(const Cookie&) = delete;
  ~Cookie() { Reset(); }
  void Reset() {
    if (value_.bv_val != empty_) ber_memfree(value_.bv_val);
    value_ = {0, empty_};
  }
  berval* get() { return &value_; }
  bool empty() const { return value_.bv_len == 0; }

 private:
  char empty_[1] = {'\0'};
  berval value_{0, empty_};
};

// libldap writes to its socket without MSG_NOSIGNAL, so writing to a connection the server has
// closed raises SIGPIPE, whose default action kills the process. A library must not change the
// process's signal dispositions, so SIGPIPE is blocked in the calling thread for the duration
// of each public call, and one raised meanwhile is discarded (the write fails with EPIPE,
// which libldap reports as LDAP_SERVER_DOWN).
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{};
        sigtimedwait(&pipe_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

ErrorCode CodeOf(LdapFailure failure) {
  switch (failure) {  // no default: a new kind must be mapped here
    case LdapFailure::kUnreachable: return ErrorCode::kUnavailable;
    case LdapFailure::kTls: return ErrorCode::kUnavailable;
    case LdapFailure::kBadCredentials: return ErrorCode::kUnauthorized;
    case LdapFailure::kBaseDnNotFound: return ErrorCode::kNotFound;
    case LdapFailure::kTimeout: return ErrorCode::kUnavailable;
    case LdapFailure::kSizeLimit: return ErrorCode::kTooMany;
    case LdapFailure::kReferral: return ErrorCode::kUnavailable;
    case LdapFailure::kInvalidSettings: return ErrorCode::kInvalidValue;
    case LdapFailure::kAmbiguous: return ErrorCode::kConflict;
    case LdapFailure::kOther: return ErrorCode::kInternal;
  }
  return ErrorCode::kInternal;  // not reached
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string MillisText(std::chrono::milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

std::string Diagnostic(LDAP* ld) {
  char* raw = nullptr;
  if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &raw) != LDAP_OPT_SUCCESS) return {};
  MemString message(raw);
  return message ? std::string(message.get()) : std::string();
}

// "Can't contact LDAP server (-1): TLS: hostname does not match CN in peer certificate".
std::string Words(int rc, std::string_view diagnostic) {
  std::string out = ldap_err2string(rc);
  out += " (" + std::to_string(rc) + ")";
  if (!diagnostic.empty()) out += ": " + std::string(diagnostic);
  return out;
}

// Result codes libldap produces itself when the conversation with the server broke, as
// opposed to codes the server sent.
bool IsTransportFailure(int rc) {
  return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT ||
         rc == LDAP_LOCAL_ERROR || rc == LDAP_ENCODING_ERROR || rc == LDAP_DECODING_ERROR;
}

struct Endpoint {
  std::string host;
  int port = 0;
  bool ldaps = false;
  std::string Text() const { return host + ":" + std::to_string(port); }
};

Result<Endpoint> ParseEndpoint(const std::string& url) {
  LDAPURLDesc* raw = nullptr;
  const int rc = ldap_url_parse(url.c_str(), &raw);
  if (rc != LDAP_URL_SUCCESS || raw == nullptr) {
    return MakeError(ErrorCode::kInvalidValue, "url '" + url + "' is not a valid LDAP URL");
  }
  std::unique_ptr<LDAPURLDesc, void (*)(LDAPURLDesc*)> desc(raw, ldap_free_urldesc);
  Endpoint endpoint;
  endpoint.ldaps = desc->lud_scheme != nullptr && EqualsIgnoreAsciiCase(desc->lud_scheme, "ldaps");
  endpoint.host =
      (desc->lud_host != nullptr && desc->lud_host[0] != '\0') ? desc->lud_host : "localhost";
  endpoint.port = desc->lud_port != 0 ? desc->lud_port : (endpoint.ldaps ? 636 : 389);
  return endpoint;
}

// Opens and closes one TCP connection to `endpoint`, so that a failed LDAP connect can be
// told apart: nothing there (DNS, refused, no answer) versus a server that answers TCP but
// failed TLS or LDAP. nullopt if the connection succeeds, else the reason in words.
std::optional<std::string> ProbeTcp(const Endpoint& endpoint, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  const int gai = getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) {
    return "cannot resolve host name '" + endpoint.host + "': " + gai_strerror(gai);
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, freeaddrinfo);
  std::string reason = "no address for '" + endpoint.host + "'";
  for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    const int fd =
        socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      reason = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    int error = 0;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      error = errno;
      if (error == EINPROGRESS) {
        pollfd pfd{fd, POLLOUT, 0};
        const int ready = poll(&pfd, 1, static_cast<int>(timeout.count()));
        if (ready == 0) {
          error = ETIMEDOUT;
        } else if (ready < 0) {
          error = errno;
        } else {
          socklen_t len = sizeof(error);
          if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
        }
      }
    }
    close(fd);
    if (error == 0) return std::nullopt;
    if (error == ETIMEDOUT) {
      reason = "no answer from " + endpoint.Text() + " within " + MillisText(timeout);
    } else if (error == ECONNREFUSED) {
      reason = "connection refused by " + endpoint.Text() + " (nothing listens on that port)";
    } else {
      reason = "cannot connect to " + endpoint.Text() + ": " + std::strerror(error);
    }
  }
  return reason;
}

LdapEntry ToEntry(LDAP* ld, LDAPMessage* message) {
  LdapEntry entry;
  MemString dn(ldap_get_dn(ld, message));
  if (dn) entry.dn = dn.get();
  BerElement* raw_ber = nullptr;
  MemString name(ldap_first_attribute(ld, message, &raw_ber));
  std::unique_ptr<BerElement, BerDeleter> ber(raw_ber);
  while (name) {
    auto& values = entry.attributes[name.get()];
    std::unique_ptr<berval*, ValuesDeleter> raw_values(
        ldap_get_values_len(ld, message, name.get()));
    if (raw_values) {
      for (berval** v = raw_values.get(); *v != nullptr; ++v) {
        values.emplace_back((*v)->bv_val, (*v)->bv_len);
      }
    }
    name.reset(ldap_next_attribute(ld, message, ber.get()));
  }
  return entry;
}

int ScopeOf(SearchScope scope) {
  switch (scope) {
    case SearchScope::kBase: return LDAP_SCOPE_BASE;
    case SearchScope::kOneLevel: return LDAP_SCOPE_ONELEVEL;
    case SearchScope::kSubtree: return LDAP_SCOPE_SUBTREE;
  }
  return LDAP_SCOPE_SUBTREE;  // not reached
}

std::string Parenthesized(std::string_view filter) {
  std::string f(filter);
  const auto first = f.find_first_not_of(" \t");
  const auto last = f.find_last_not_of(" \t");
  f = first == std::string::npos ? std::string() : f.substr(first, last - first + 1);
  if (!f.empty() && f.front() == '(') return f;
  return "(" + f + ")";
}

}  // namespace

std::string_view FailureName(LdapFailure failure) {
  switch (failure) {
    case LdapFailure::kUnreachable: return "unreachable";
    case LdapFailure::kTls: return "tls";
    case LdapFailure::kBadCredentials: return "bad_credentials";
    case LdapFailure::kBaseDnNotFound: return "base_dn_not_found";
    case LdapFailure::kTimeout: return "timeout";
    case LdapFailure::kSizeLimit: return "size_limit";
    case LdapFailure::kReferral: return "referral";
    case LdapFailure::kInvalidSettings: return "invalid_settings";
    case LdapFailure::kAmbiguous: return "ambiguous";
    case LdapFailure::kOther: return "other";
  }
  return "other";  // not reached
}

struct LdapClient::Connection {
  Handle ld;
};

LdapClient::LdapClient(LdapSettings settings) : settings_(std::move(settings)) {}
LdapClient::LdapClient(LdapClient&&) noexcept = default;
LdapClient& LdapClient::operator=(LdapClient&&) noexcept = default;
LdapClient::~LdapClient() {
  SigpipeGuard guard;  // unbind writes to the socket
  connection_.reset();
}

Result<LdapClient> LdapClient::Connect(LdapSettings settings) {
  try {
    if (auto valid = Validate(settings); !valid) return valid.error();
    if (auto endpoint = ParseEndpoint(settings.url); !endpoint) return endpoint.error();
    return LdapClient(std::move(settings));
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("LDAP client setup failed: ") + e.what());
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "LDAP client setup failed");
  }
}

Status LdapClient::Fail(LdapFailure kind, std::string detail) {
  last_failure_ = kind;
  return MakeError(CodeOf(kind), std::move(detail));
}

// Every public operation runs through here: SIGPIPE guarded, last_failure_ maintained, and no
// exception (bad_alloc, or one thrown by a caller's callback) leaves the module.
Status LdapClient::Bind() {
  return Run([&] { return Open(); });
}

Status LdapClient::Run(const std::function<Status()>& body) {
  SigpipeGuard guard;
  last_failure_.reset();
  try {
    Status status = body();
    if (!status && !last_failure_) last_failure_ = LdapFailure::kOther;
    return status;
  } catch (const std::exception& e) {
    connection_.reset();
    return Fail(LdapFailure::kOther, std::string("unexpected error: ") + e.what());
  } catch (...) {
    connection_.reset();
    return Fail(LdapFailure::kOther, "unexpected error");
  }
}

namespace {

// Bounds a libldap call that has no timeout of its own: StartTLS's TLS handshake on a server
// that accepted the connection and went silent (hung, or stopped with SIGSTOP) read for ever,
// spinning a core (seen in LdapSyncTest.HungServerTimesOutAndDeprovisionsNobody). At the
// deadline the socket is shut down, so the blocked read returns and the call fails.
class SocketDeadline {
 public:
  SocketDeadline(int fd, std::chrono::milliseconds limit)
      : thread_([this, fd, limit] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
            fired_ = true;
            ::shutdown(fd, SHUT_RDWR);
          }
        }) {}
  ~SocketDeadline() { Cancel(); }
  SocketDeadline(const SocketDeadline&) = delete;
  SocketDeadline& operator=(const SocketDeadline&) = delete;

  // Stops the watch; true if the deadline had passed (the socket is shut down).
  bool Cancel() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    return fired_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace

Status LdapClient::Open() {
  connection_.reset();
  auto endpoint = ParseEndpoint(settings_.url);
  if (!endpoint) return Fail(LdapFailure::kInvalidSettings, endpoint.error().detail);
  const bool tls = endpoint->ldaps || settings_.start_tls;

  LDAP* raw = nullptr;
  int rc = ldap_initialize(&raw, settings_.url.c_str());
  Handle ld(raw);
  if (rc != LDAP_SUCCESS || !ld) {
    return Fail(LdapFailure::kInvalidSettings,
                "url '" + settings_.url + "' is not usable: " + Words(rc, {}));
  }
  const int version = LDAP_VERSION3;
  const timeval network = ToTimeval(settings_.network_timeout);
  const timeval operation = ToTimeval(settings_.operation_timeout);
  // Referrals are never chased: chasing would rebind to another server with our credentials.
  // A referral fails the search instead (kReferral).
  bool options_ok = ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version) == 0 &&
                    ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF) == 0 &&
                    ldap_set_option(ld.get(), LDAP_OPT_RESTART, LDAP_OPT_ON) == 0 &&
                    ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &network) == 0 &&
                    ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &operation) == 0;
  if (!options_ok) return Fail(LdapFailure::kOther, "cannot set LDAP client options");
  if (tls) {
    // Per-handle TLS context, so that settings of one connection never leak into another and
    // /etc/ldap/ldap.conf cannot weaken verification.
    const int demand = LDAP_OPT_X_TLS_DEMAND;
    if (ldap_set_option(ld.get(), LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != 0) {
      return Fail(LdapFailure::kTls, "cannot require certificate verification");
    }
    if (!settings_.ca_file.empty()) {
      if (access(settings_.ca_file.c_str(), R_OK) != 0) {
        return Fail(LdapFailure::kTls,
                    "CA file '" + settings_.ca_file + "' is not readable: " + std::strerror(errno));
      }
      if (ldap_set_option(ld.get(), LDAP_OPT_X_TLS_CACERTFILE, settings_.ca_file.c_str()) != 0) {
        return Fail(LdapFailure::kTls, "cannot use CA file '" + settings_.ca_file + "'");
      }
    }
    const int is_server = 0;
    if (ldap_set_option(ld.get(), LDAP_OPT_X_TLS_NEWCTX, &is_server) != 0) {
      return Fail(LdapFailure::kTls, "cannot create a TLS context (CA file '" + settings_.ca_file +
                                         "'): " + Diagnostic(ld.get()));
    }
  }

  // Explains a failure of the first exchange with the server, which is where connecting (and,
  // for ldaps://, the TLS handshake) happens.
  auto connect_failure = [&](int code, bool tls_step, std::string_view step) -> Status {
    const std::string diagnostic = Diagnostic(ld.get());
    if (auto unreachable = ProbeTcp(*endpoint, settings_.network_timeout)) {
      return Fail(LdapFailure::kUnreachable,
                  "cannot reach the LDAP server at " + endpoint->Text() + ": " + *unreachable);
    }
    // A server that accepts the connection but never answers (hung, or stopped with SIGSTOP)
    // times out in the StartTLS or TLS step too; that is not a certificate problem.
    if (code == LDAP_TIMEOUT) {
      return Fail(LdapFailure::kTimeout, "the LDAP server at " + endpoint->Text() +
                                             " accepted the connection but did not answer the " +
                                             std::string(step) + " within " +
                                             MillisText(settings_.operation_timeout));
    }
    if (tls_step) {
      // libldap (GnuTLS) reports a rejected certificate without a message of its own.
      std::string why = diagnostic == "(unknown error code)" ? std::string() : diagnostic;
      if (why.empty()) {
        why = "the server certificate was not accepted: it is not issued by " +
              (settings_.ca_file.empty() ? std::string("a CA of the system trust store")
                                         : "the CA in '" + settings_.ca_file + "'") +
              ", or it does not name '" + endpoint->host + "'";
      }
      return Fail(LdapFailure::kTls, "TLS with " + endpoint->Text() + " failed during " +
                                         std::string(step) + ": " + why);
    }
    return Fail(LdapFailure::kUnreachable, "the LDAP server at " + endpoint->Text() +
                                               " closed the connection during " +
                                               std::string(step) + ": " + Words(code, diagnostic));
  };

  if (settings_.start_tls) {
    // Connect first (bounded by the network timeout) so that the socket exists and the
    // exchange plus handshake can be given a deadline.
    rc = ldap_connect(ld.get());
    if (rc != LDAP_SUCCESS) return connect_failure(rc, false, "connect");
    int fd = -1;
    if (ldap_get_option(ld.get(), LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS || fd < 0) {
      return Fail(LdapFailure::kOther, "cannot read the LDAP connection's socket");
    }
    SocketDeadline deadline(fd, settings_.operation_timeout + settings_.network_timeout);
    rc = ldap_start_tls_s(ld.get(), nullptr, nullptr);
    if (deadline.Cancel() && rc != LDAP_SUCCESS) {
      return Fail(LdapFailure::kTimeout,
                  "the LDAP server at " + endpoint->Text() +
                      " accepted the connection but did not complete StartTLS within " +
                      MillisText(settings_.operation_timeout + settings_.network_timeout));
    }
    if (rc != LDAP_SUCCESS) {
      if (IsTransportFailure(rc)) return connect_failure(rc, true, "StartTLS");
      return Fail(LdapFailure::kTls, "the LDAP server at " + endpoint->Text() +
                                         " refused StartTLS: " + Words(rc, Diagnostic(ld.get())));
    }
  }

  std::string password = settings_.bind_password;
  berval credentials{static_cast<ber_len_t>(password.size()), password.data()};
  const char* dn = settings_.bind_dn.empty() ? nullptr : settings_.bind_dn.c_str();
  rc = ldap_sasl_bind_s(ld.get(), dn, LDAP_SASL_SIMPLE, &credentials, nullptr, nullptr, nullptr);
  std::fill(password.begin(), password.end(), '\0');
  if (rc != LDAP_SUCCESS) {
    const std::string who =
        settings_.bind_dn.empty() ? std::string("anonymous") : "'" + settings_.bind_dn + "'";
    if (rc == LDAP_INVALID_CREDENTIALS) {
      // Active Directory explains in the diagnostic ("... data 52e" wrong password, 775
      // locked, 532 expired), so it is kept.
      return Fail(LdapFailure::kBadCredentials, "the server rejected the bind DN or password for " +
                                                    who + ": " + Words(rc, Diagnostic(ld.get())));
    }
    if (IsTransportFailure(rc)) return connect_failure(rc, endpoint->ldaps, "bind");
    return Fail(rc == LDAP_REFERRAL ? LdapFailure::kReferral : LdapFailure::kOther,
                "bind as " + who + " failed: " + Words(rc, Diagnostic(ld.get())));
  }
  connection_ = std::make_unique<Connection>(Connection{std::move(ld)});
  return Status::Ok();
}

Status LdapClient::TestConnection() {
  return Run([&]() -> Status {
    if (auto opened = Open(); !opened) return opened;
    for (const auto& base : settings_.base_dns) {
      std::uint64_t seen = 0;
      SearchRequest request{base, SearchScope::kBase, "(objectClass=*)", {"1.1"}, 1, true};
      auto searched = PagedSearchLocked(request,
                                        [&](const LdapEntry&) {
                                          ++seen;
                                          return Status::Ok();
                                        },
                                        {});
      if (!searched) return searched;
      if (seen == 0) {
        return Fail(LdapFailure::kBaseDnNotFound,
                    "base DN '" + base + "' is not visible to the bind account");
      }
    }
    return Status::Ok();
  });
}

Status LdapClient::PagedSearch(const SearchRequest& request, const EntryCallback& on_entry,
                               const ProgressCallback& on_progress) {
  return Run([&]() -> Status {
    if (!connection_) {
      if (auto opened = Open(); !opened) return opened;
    }
    return PagedSearchLocked(request, on_entry, on_progress);
  });
}

Status LdapClient::PagedSearchLocked(const SearchRequest& request, const EntryCallback& on_entry,
                                     const ProgressCallback& on_progress) {
  if (!connection_) {
    if (auto opened = Open(); !opened) return opened;
  }
  LDAP* ld = connection_->ld.get();
  const int page_size = request.page_size > 0 ? request.page_size : settings_.page_size;
  std::vector<std::string> attribute_storage = request.attributes;
  std::vector<char*> attributes;
  for (auto& a : attribute_storage) attributes.push_back(a.data());
  attributes.push_back(nullptr);
  char** attribute_list = request.attributes.empty() ? nullptr : attributes.data();
  const std::string where = "the search of '" + request.base + "'";

  SearchProgress progress;
  Cookie cookie;
  timeval timeout = ToTimeval(settings_.operation_timeout);
  while (true) {
    LDAPControl* raw_control = nullptr;
    // Critical (RFC 2696 §3): a server that cannot page must refuse rather than silently
    // return a size-limited first page.
    int rc = request.paged ? ldap_create_page_control(ld, page_size, cookie.get(), 1, &raw_control)
                           : LDAP_SUCCESS;
    std::unique_ptr<LDAPControl, ControlDeleter> page_control(raw_control);
    if (rc != LDAP_SUCCESS) {
      return Fail(LdapFailure::kOther, "cannot build the paged results control: " + Words(rc, {}));
    }
    LDAPControl* server_controls[] = {request.paged ? page_control.get() : nullptr, nullptr};
    LDAPMessage* raw_result = nullptr;
    rc = ldap_search_ext_s(ld, request.base.c_str(), ScopeOf(request.scope), request.filter.c_str(),
                           attribute_list, 0, server_controls, nullptr, &timeout, LDAP_NO_LIMIT,
                           &raw_result);
    std::unique_ptr<LDAPMessage, MessageDeleter> result(raw_result);
    const std::string after = " after " + std::to_string(progress.entries_read) + " entries";
    if (!result || ldap_count_messages(ld, result.get()) <= 0) {
      // The conversation broke: the handle is unusable, reconnect on the next call.
      const std::string diagnostic = Diagnostic(ld);
      connection_.reset();
      if (rc == LDAP_TIMEOUT) {
        return Fail(LdapFailure::kTimeout, "the LDAP server did not answer " + where + " within " +
                                               MillisText(settings_.operation_timeout) + after);
      }
      if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR) {
        return Fail(LdapFailure::kUnreachable, "lost the connection to the LDAP server during " +
                                                   where + after + ": " + Words(rc, diagnostic));
      }
      if (rc == LDAP_FILTER_ERROR) {
        return Fail(LdapFailure::kInvalidSettings,
                    "filter '" + request.filter + "' is not a valid LDAP filter");
      }
      return Fail(LdapFailure::kOther, where + " failed" + after + ": " + Words(rc, diagnostic));
    }

    bool got_result = false;
    for (LDAPMessage* m = ldap_first_message(ld, result.get()); m != nullptr;
         m = ldap_next_message(ld, m)) {
      const int type = ldap_msgtype(m);
      if (type == LDAP_RES_SEARCH_ENTRY) {
        const LdapEntry entry = ToEntry(ld, m);
        ++progress.entries_read;
        Status handled = Status::Ok();
        try {
          handled = on_entry(entry);
        } catch (const std::exception& e) {
          handled =
              MakeError(ErrorCode::kInternal, std::string("entry handler failed: ") + e.what());
        } catch (...) {
          handled = MakeError(ErrorCode::kInternal, "entry handler failed");
        }
        if (!handled) {
          // Dropping the connection releases the server's paging state for this search.
          connection_.reset();
          last_failure_ = LdapFailure::kOther;
          return handled;
        }
      } else if (type == LDAP_RES_SEARCH_REFERENCE) {
        if (settings_.ignore_search_references) continue;
        char** raw_refs = nullptr;
        ldap_parse_reference(ld, m, &raw_refs, nullptr, 0);
        std::unique_ptr<char*, StringsDeleter> refs(raw_refs);
        const std::string target =
            (refs && refs.get()[0] != nullptr) ? std::string(refs.get()[0]) : "another server";
        connection_.reset();
        return Fail(LdapFailure::kReferral,
                    where + " returned a reference to " + target +
                        ", which is not followed, so the result would be incomplete; narrow "
                        "the base DN or set ignore_search_references");
      } else if (type == LDAP_RES_SEARCH_RESULT) {
        got_result = true;
        int code = LDAP_OTHER;
        char* raw_matched = nullptr;
        char* raw_diagnostic = nullptr;
        char** raw_referrals = nullptr;
        LDAPControl** raw_controls = nullptr;
        rc = ldap_parse_result(ld, m, &code, &raw_matched, &raw_diagnostic, &raw_referrals,
                               &raw_controls, 0);
        MemString matched(raw_matched);
        MemString diagnostic(raw_diagnostic);
        std::unique_ptr<char*, StringsDeleter> referrals(raw_referrals);
        std::unique_ptr<LDAPControl*, ControlsDeleter> controls(raw_controls);
        if (rc != LDAP_SUCCESS) {
          connection_.reset();
          return Fail(LdapFailure::kOther,
                      "cannot parse the result of " + where + ": " + Words(rc, {}));
        }
        const std::string diag = diagnostic ? diagnostic.get() : "";
        switch (code) {
          case LDAP_SUCCESS: break;
          case LDAP_NO_SUCH_OBJECT: {
            std::string detail = "base DN '" + request.base +
                                 "' does not exist or is not readable by the bind account";
            if (matched && matched.get()[0] != '\0') {
              detail += " (the closest existing entry is '" + std::string(matched.get()) + "')";
            }
            return Fail(LdapFailure::kBaseDnNotFound, detail);
          }
          case LDAP_SIZELIMIT_EXCEEDED:
          case LDAP_ADMINLIMIT_EXCEEDED:
            return Fail(LdapFailure::kSizeLimit, "the LDAP server stopped " + where +
                                                     " at its size limit" + after + ": " +
                                                     Words(code, diag));
          case LDAP_TIMELIMIT_EXCEEDED:
            return Fail(LdapFailure::kTimeout, "the LDAP server stopped " + where +
                                                   " at its time limit" + after + ": " +
                                                   Words(code, diag));
          case LDAP_REFERRAL: {
            const std::string target = (referrals && referrals.get()[0] != nullptr)
                                           ? std::string(referrals.get()[0])
                                           : std::string("another server");
            return Fail(LdapFailure::kReferral, "the LDAP server referred " + where + " to " +
                                                    target + ", which is not followed");
          }
          case LDAP_UNAVAILABLE_CRITICAL_EXTENSION:
            return Fail(
                LdapFailure::kOther,
                "the LDAP server does not support paged results (RFC 2696): " + Words(code, diag));
          case LDAP_FILTER_ERROR:
          case LDAP_INVALID_DN_SYNTAX:
            return Fail(LdapFailure::kInvalidSettings, where + " with filter '" + request.filter +
                                                           "' was rejected: " + Words(code, diag));
          default:
            return Fail(LdapFailure::kOther, where + " failed" + after + ": " + Words(code, diag));
        }
        LDAPControl* page = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, controls.get(), nullptr);
        cookie.Reset();
        if (page != nullptr) {
          ber_int_t estimate = 0;
          rc = ldap_parse_pageresponse_control(ld, page, &estimate, cookie.get());
          if (rc != LDAP_SUCCESS) {
            connection_.reset();
            return Fail(LdapFailure::kOther,
                        "cannot parse the paged results response: " + Words(rc, {}));
          }
          if (estimate > 0) progress.server_estimate = static_cast<std::uint64_t>(estimate);
        }
        // Without a response control the server answered the whole search in one go, and
        // LDAP_SUCCESS says nothing was left out: the cookie stays empty and the loop ends.
      }
    }
    if (!got_result) {
      connection_.reset();
      return Fail(LdapFailure::kOther, where + " ended without a result message" + after);
    }
    ++progress.pages_read;
    if (on_progress) on_progress(progress);
    if (cookie.empty()) return Status::Ok();
  }
}

std::vector<std::string> LdapClient::AttributesToRead() const {
  std::vector<std::string> out = settings_.attributes;
  if (out.empty()) out.emplace_back("*");
  for (const auto* extra : {&settings_.id_attribute, &settings_.username_attribute}) {
    bool present = false;
    for (const auto& a : out) present = present || EqualsIgnoreAsciiCase(a, *extra);
    if (!present) out.push_back(*extra);
  }
  return out;
}

Result<std::optional<LdapEntry>> LdapClient::FindUser(std::string_view username) {
  std::optional<LdapEntry> found;
  const std::string escaped = EscapeFilterValue(username);
  Status status = Run([&]() -> Status {
    if (username.empty()) return Status::Ok();
    const std::string filter = "(&" + Parenthesized(settings_.user_filter) + "(" +
                               settings_.username_attribute + "=" + escaped + "))";
    for (const auto& base : settings_.base_dns) {
      SearchRequest request{base, SearchScope::kSubtree, filter, AttributesToRead(), 0, true};
      bool ambiguous = false;
      std::string second_dn;
      if (!connection_) {
        if (auto opened = Open(); !opened) return opened;
      }
      auto searched = PagedSearchLocked(request,
                                        [&](const LdapEntry& entry) -> Status {
                                          if (found && found->dn == entry.dn)
                                            return Status::Ok();  // overlapping base DNs
                                          if (found) {
                                            ambiguous = true;
                                            second_dn = entry.dn;
                                            return MakeError(ErrorCode::kInternal, "ambiguous");
                                          }
                                          found = entry;
                                          return Status::Ok();
                                        },
                                        {});
      if (ambiguous) {
        return Fail(LdapFailure::kAmbiguous,
                    "two entries in scope have " + settings_.username_attribute + "=" +
                        std::string(username) + ": '" + found->dn + "' and '" + second_dn +
                        "'; a username must name exactly one entry (fix the data on the LDAP "
                        "server, or narrow the user filter or base DNs)");
      }
      if (!searched) return searched;
    }
    return Status::Ok();
  });
  if (!status) return status.error();
  return found;
}

}  // namespace idsync::sync::ldap
