// Answers LDAP operations over the effective directory (issue #10): the Handler the network
// layer (server.h) calls. Bind (service accounts, pass-through user binds, anonymous), search
// (root DSE, subschema, one directory per identity; search.h), compare, WhoAmI, and the refusal
// of every write.
//
// Who sees what: anonymous clients read the root DSE and the subschema entry only; a service
// account reads exactly its own directory; a user bound by pass-through reads their own
// directory (JumpCloud-style: some applications search as the signed-in user). Anything outside
// the identity's directory is noSuchObject, so another directory's existence is not revealed by
// a search.
//
// Every bind, failed or not, is in the audit log (never the password). Failed binds count
// against the client address in the RequestLimits shared with the HTTP APIs; past the allowance
// a bind is answered busy (51) with the seconds to wait, and user binds are not even passed on
// to the source directory (which would otherwise become a password oracle and lock accounts).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/request_limits.h"
#include "ldap/server/handler.h"
#include "ldap/server/schema.h"
#include "ldap/server/search.h"
#include "ldap/server/view.h"
#include "service/ldap_accounts.h"
#include "store/store.h"

namespace idsync::ldap {

struct DirectoryHandlerOptions {
  std::string suffix = "dc=idsync";
  SearchLimits limits;
  std::string vendor_version;  // the root DSE's vendorVersion
};

class DirectoryHandler final : public Handler {
 public:
  // `suffix` must be a valid DN (the caller checks with ParseDn). All references must outlive
  // the handler.
  DirectoryHandler(store::Store& store, service::LdapAccounts& accounts,
                   http::RequestLimits& limits, DirectoryHandlerOptions options);

  void Handle(Session& session, const Request& request, const std::atomic<bool>& abandoned,
              const Send& send) override;

 private:
  // What requests read, rebuilt when the configuration generation changes (a directory, its
  // custom attributes or its LDAP settings changed). Shared, immutable.
  struct State {
    int64_t generation = -1;
    std::shared_ptr<const Schema> schema;
    std::map<std::string, DirectoryView> views;  // by folded directory name
  };
  Result<std::shared_ptr<const State>> Current();
  // False (and the session made anonymous) when the bound service account was removed or its
  // password rotated since the bind: sessions end with the credential, not at the next bind.
  bool StillBound(Session& session);

  void Bind(Session& session, const Request& request, const BindRequest& bind, const Send& send);
  void Search(Session& session, const Request& request, const SearchRequest& search,
              const std::atomic<bool>& abandoned, const Send& send);
  void Compare(Session& session, const Request& request, const CompareRequest& compare,
               const Send& send);
  Entry RootDse(const State& state, const Session& session);
  Entry Subschema(const State& state) const;
  // The view of the session's directory when it has the Active Directory profile.
  static const DirectoryView* AdBound(const State& state, const Session& session);
  // The DSA object of the Active Directory profile, for a session bound in such a directory.
  std::optional<Entry> Dsa(const State& state, const Session& session) const;
  void Audit(const Session& session, const std::string& dn, const std::string& kind,
             const std::string& name, int status, const std::string& outcome);

  store::Store& store_;
  service::LdapAccounts& accounts_;
  http::RequestLimits& limits_;
  DirectoryHandlerOptions options_;
  Tree tree_;
  std::mutex mutex_;
  std::shared_ptr<const State> state_;
};

}  // namespace idsync::ldap
