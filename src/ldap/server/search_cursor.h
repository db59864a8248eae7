// Where a paged search stopped (RFC 2696): the phase (which kind of entries it was returning)
// and the key of the last candidate it processed in that phase, plus how many entries earlier
// pages sent (the client's size limit counts across pages). The cookie carries all of it with
// a fingerprint of the request, so the server keeps nothing per paged search, and a cookie of
// another search (or another bind) is refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace idsync::ldap {

// Phases in the order entries are returned; a cookie names the phase it stopped in.
enum Phase : int {
  kContextEntry = 0,
  kPeopleOu,
  kGroupsOu,
  kUsers,
  kGroups,
  kTombstones,
  kSingle,
  kPhaseCount
};

struct Cursor {
  int phase = 0;
  int64_t key = 0;   // last processed key in that phase (pk, seq, or position)
  int64_t sent = 0;  // entries sent by earlier pages
};

// "idsync1:<phase>:<key>:<sent>:<fingerprint>".
std::string EncodeCookie(const Cursor& cursor, uint64_t fingerprint);
// nullopt for anything else, including a cookie with another fingerprint.
std::optional<Cursor> DecodeCookie(std::string_view cookie, uint64_t fingerprint);

}  // namespace idsync::ldap
