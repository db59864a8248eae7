// LdapClient: one authenticated session with one LDAP server, over the OpenLDAP client
// library. Binds (optionally after StartTLS), tests a connection, reads subtrees completely
// with RFC 2696 paged results, and finds one user by username.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sync/ldap/entry.h"
#include "sync/ldap/settings.h"

namespace idsync::sync::ldap {

// Why an LDAP operation failed. Each failing call returns a Result/Status whose Error has a
// detail in words for the administrator, and records the kind in last_failure().
// ErrorCode of each kind: kUnreachable, kTls, kTimeout, kReferral -> kUnavailable;
// kBadCredentials -> kUnauthorized; kBaseDnNotFound -> kNotFound; kSizeLimit -> kTooMany;
// kInvalidSettings -> kInvalidValue; kOther -> kInternal.
enum class LdapFailure {
  kUnreachable,      // DNS, connection refused, connect timeout, or connection lost mid-operation
  kTls,              // TLS handshake, certificate (CA, host name) or StartTLS refused
  kBadCredentials,   // LDAP_INVALID_CREDENTIALS on bind
  kBaseDnNotFound,   // a base DN does not exist (LDAP_NO_SUCH_OBJECT)
  kTimeout,          // the server did not answer within operation_timeout (or its time limit)
  kSizeLimit,        // the server stopped returning entries at its size or admin limit
  kReferral,         // the server pointed elsewhere (referral or continuation reference)
  kInvalidSettings,  // settings rejected by Validate(), or a filter the server cannot parse
  kAmbiguous,        // a username matches more than one entry in scope (a data problem)
  kOther             // any other LDAP result code, or an exception in a callback
};

// Stable lower-case name of a failure kind ("unreachable", "tls", ...), for logs and tests.
std::string_view FailureName(LdapFailure failure);

enum class SearchScope { kBase, kOneLevel, kSubtree };

struct SearchRequest {
  std::string base;
  SearchScope scope = SearchScope::kSubtree;
  std::string filter = "(objectClass=*)";
  std::vector<std::string> attributes;  // empty = all user attributes
  int page_size = 0;                    // 0 = settings().page_size
  // Without paging (for a server that lacks RFC 2696) the server's size limit applies, and a
  // search that reaches it fails with kSizeLimit.
  bool paged = true;
};

struct SearchProgress {
  std::uint64_t entries_read = 0;
  std::uint64_t pages_read = 0;
  // The server's estimate of the total result size, when it gives one (RFC 2696 `size`;
  // OpenLDAP and Active Directory usually send 0, meaning "unknown").
  std::optional<std::uint64_t> server_estimate;
};

// Called once per entry, in server order. Returning an error stops the search, which then
// returns that error.
using EntryCallback = std::function<Status(const LdapEntry&)>;
// Called after each page.
using ProgressCallback = std::function<void(const SearchProgress&)>;

// Not thread-safe: one client per thread or sync run. Move-only. No exception escapes any
// member function; failures are values.
class LdapClient {
 public:
  // Validates `settings` (kInvalidValue / kInvalidSettings, see Validate()) and prepares a
  // client. Does no network I/O: the connection is opened and bound by the first operation,
  // and reopened by the next one after it was lost.
  static Result<LdapClient> Connect(LdapSettings settings);

  LdapClient(LdapClient&&) noexcept;
  LdapClient& operator=(LdapClient&&) noexcept;
  ~LdapClient();  // unbinds

  // Opens a new connection, runs StartTLS if configured, binds, then reads each base DN with a
  // base-scope search. OK if all of that works; otherwise the first failure, in words:
  // kUnreachable (with the resolver or socket error), kTls, kBadCredentials, kBaseDnNotFound
  // (naming the base DN and the part of it that exists), kTimeout, or another kind.
  Status TestConnection();

  // Opens a new connection, runs StartTLS if configured and binds with the settings' DN and
  // password; nothing else. A pass-through bind checks a user's password this way.
  // kBadCredentials for a wrong password; the other failures of TestConnection.
  Status Bind();
  // Reads every entry of `request` with the RFC 2696 paged results control (critical), one
  // page at a time, calling `on_entry` per entry and `on_progress` per page. OK only if the
  // server reported success for the last page: any failure or cut-short search (server gone,
  // timeout, size limit, referral) is an error even though `on_entry` has seen some entries,
  // so the caller must treat what it saw as incomplete.
  Status PagedSearch(const SearchRequest& request, const EntryCallback& on_entry,
                     const ProgressCallback& on_progress = {});

  // The one entry matching `user_filter` whose `username_attribute` equals `username`
  // (escaped per RFC 4515, so filter metacharacters are literal), searched in every base DN,
  // with settings().attributes plus the id and username attributes. nullopt if there is none;
  // kAmbiguous (ErrorCode kConflict, naming both DNs) if more than one entry matches; the failures
  // of PagedSearch otherwise.
  Result<std::optional<LdapEntry>> FindUser(std::string_view username);

  // The attributes a user or group search should request: settings().attributes (or "*")
  // plus the id and username attributes.
  std::vector<std::string> AttributesToRead() const;

  // The kind of the most recent failure returned by this client, or nullopt if the most
  // recent operation succeeded (or none ran yet).
  std::optional<LdapFailure> last_failure() const { return last_failure_; }

  const LdapSettings& settings() const { return settings_; }

 private:
  struct Connection;
  explicit LdapClient(LdapSettings settings);

  Status Open();
  Status Run(const std::function<Status()>& body);
  Status Fail(LdapFailure kind, std::string detail);
  Status PagedSearchLocked(const SearchRequest& request, const EntryCallback& on_entry,
                           const ProgressCallback& on_progress);

  LdapSettings settings_;
  std::unique_ptr<Connection> connection_;
  std::optional<LdapFailure> last_failure_;
};

}  // namespace idsync::sync::ldap
