// The read API for applications (issue #3): read-only SCIM over one directory's effective users
// and groups, and its change feed, at /directory/v2/{directory}/...
//
//   GET Users, Users/{id}, Groups, Groups/{id}       SCIM (RFC 7644 §3.4): filter, sortBy,
//                                                    sortOrder, startIndex, count, attributes,
//                                                    excludedAttributes; ETag / If-None-Match
//   GET ServiceProviderConfig, Schemas, ResourceTypes  discovery for this directory
//   GET changes?since=CURSOR&limit=N&wait=SECONDS    change feed (JSON, not SCIM):
//       {"changes": [directory::ChangeToJson...], "next": <cursor to pass as since next time>,
//        "last": <the directory's highest seq now>}
//
// Auth: "Authorization: Bearer" with a read token of this directory or an admin token (401
// without a valid one, 403 for a read token of another directory). SCIM connection tokens are
// not accepted. Any method other than GET: 405. Errors are SCIM error bodies.
//
// Limits (http/request_limits.h, shared with SCIM and the admin API): per client address, per
// token, and failed authentications (401s) per address; over one: 429 with a SCIM error and
// Retry-After. A change-feed request counts once whatever its wait.
//
// Long polls block a server worker (there are 16), so at most `max_long_polls` wait at once;
// further ones are answered at once as if wait=0, with "Retry-After: 1", so that followers of
// the feed can never starve SCIM traffic of workers. A long poll waits in slices of one second
// (woken at once by this process's writes), so that Shutdown() ends it promptly.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "directory/directory_service.h"
#include "directory/reader.h"
#include "http/request_limits.h"
#include "http/server.h"
#include "service/api_tokens.h"
#include "store/store.h"

namespace idsync::http {

inline constexpr std::string_view kDirectoryApiPrefix = "/directory/v2";

// Thread-safe: Handle() is called concurrently by the server's workers.
class DirectoryApi {
 public:
  static constexpr int64_t kMaxWaitSeconds = 30;
  static constexpr int64_t kMaxChangesPerPage = 1000;

  // `public_url` as for the SCIM API ("" -> from the Host header). The references must outlive
  // this object; `limits` is shared with the other APIs.
  DirectoryApi(directory::DirectoryReader& reader, directory::DirectoryService& directories,
               service::ApiTokens& tokens, store::Store& store, RequestLimits& limits,
               std::string public_url, int max_long_polls = 8);

  // Whether `path` is under kDirectoryApiPrefix (the composition root routes by this).
  static bool Handles(std::string_view path);

  // Always sets X-Request-Id (the client's, if usable, else a new one).
  Response Handle(const Request& request);

  // Long polls waiting right now (for tests and metrics).
  int active_long_polls() const { return active_long_polls_.load(); }

  // Makes waiting long polls answer within about a second, and later ones not wait at all.
  // Call before Server::Stop, so that shutdown does not wait up to kMaxWaitSeconds for them.
  void Shutdown();

 private:
  Response Route(const Request& request);
  Response Changes(const Request& request, const std::string& directory);

  directory::DirectoryReader& reader_;
  directory::DirectoryService& directories_;
  service::ApiTokens& tokens_;
  store::Store& store_;
  RequestLimits& limits_;
  std::string public_url_;
  int max_long_polls_;
  std::atomic<int> active_long_polls_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace idsync::http
