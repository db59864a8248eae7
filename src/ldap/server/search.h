// Search over one directory's effective users and groups (RFC 4511 §4.5), with the paged-results
// control (RFC 2696), size and time limits, and the Active Directory show-deleted control.
//
// Plan: the base DN and scope decide which kinds of entries can be in scope (the naming
// context and its two OUs, users, groups, AD tombstones); the filter's top-level AND terms then
// choose where candidates come from: an index (uid / cn / sAMAccountName -> the username or
// group-name key, entryUUID / objectGUID -> the id, mail -> the mail key, an OR of such terms ->
// their union), the members of one group (memberOf=<group DN>), the groups of one user
// (member / uniqueMember=<user DN>), the change feed (uSNChanged>=N), or a scan in creation
// order. objectClass terms that no user (or no group) can satisfy skip that kind entirely. The
// whole filter is always evaluated on each candidate, so a plan only has to return a superset.
//
// Streaming: candidates are read in chunks, each in its own read transaction, and sent after
// the transaction ends, so memory does not grow with the directory and a slow client never
// holds a database snapshot. Paging continues by key (store pk, feed seq, or position in a
// small index result), never by OFFSET. The cookie is the position plus a fingerprint of the
// request; a cookie of another request is refused.
//
// Limits: without paging, more entries than min(client size limit, server size limit) answer
// sizeLimitExceeded (4) after that many entries, never a short success (an application that
// trusted a short success would delete the users it did not receive). With paging, a page holds
// at most the server size limit and the server limit does not bound the whole search.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ldap/protocol/message.h"
#include "ldap/server/handler.h"
#include "ldap/server/schema.h"
#include "ldap/server/view.h"
#include "store/store.h"

namespace idsync::ldap {

inline constexpr std::string_view kShowDeletedOid = "1.2.840.113556.1.4.417";

struct SearchLimits {
  int64_t size_limit = 1000;                    // entries without paging; largest page
  std::chrono::milliseconds time_limit{60000};  // server-side bound on any search
  int64_t chunk = 256;                          // candidates per read transaction
};

struct SearchOutcome {
  LdapResult result;
  std::vector<Control> controls;  // the paged-results response control, when paged
  bool stopped = false;           // abandoned or connection closing: send nothing more
  int64_t entries = 0;
};

class DirectorySearch {
 public:
  DirectorySearch(store::Store& store, const Schema& schema, const Tree& tree,
                  const SearchLimits& limits);

  // A search below the naming context of `view` (the bound identity's directory). The root
  // DSE and the subschema entry are answered by the caller.
  SearchOutcome Run(int32_t message_id, const SearchRequest& request,
                    const std::vector<Control>& controls, const DirectoryView& view,
                    const std::string& bound_dn, const std::atomic<bool>& abandoned,
                    const Send& send);

  // The entry `dn` names in `view`'s directory (context, OU, user or group) with the `needed`
  // attributes; nullopt when there is none or the view hides it. For compare.
  Result<std::optional<Entry>> EntryAt(const Dn& dn, const DirectoryView& view,
                                       const std::set<const AttributeType*>& needed);

 private:
  store::Store& store_;
  const Schema& schema_;
  const Tree& tree_;
  SearchLimits limits_;
};

// The attribute types a filter reads (so that the entry builder computes them).
void FilterAttributes(const Filter& filter, const Schema& schema,
                      std::set<const AttributeType*>& out);

}  // namespace idsync::ldap
