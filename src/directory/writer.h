// Writing one planned effective user over its stored row: username uniqueness (conflicts),
// memberships (effective groups created on first use), links, provenance stamps and one
// change-feed entry per visible change. Every derivation (SCIM write, policy apply,
// re-derivation, connection removal, hand grants) writes through Writer::WriteUser. Internal to
// the directory layer.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "directory/derivation.h"
#include "directory/scope.h"

namespace idsync::directory {

struct PreparedUser;  // prepared_user.h

// The planned state of one effective user.
struct PlannedUser {
  std::string id;
  std::vector<SourceState> sources;  // linked after the plan (tombstones included)
  policy::EffectiveUser user;        // MergeUser's result
  std::string link_key;
  bool had_row = false;
  // The user's links as the plan read them (empty when it did not): WriteUser stores only the
  // links that differ, one statement fewer per update of a linked user (PostgreSQL runs each
  // statement it is sent, even an upsert that changes nothing).
  std::vector<store::SourceLink> stored_links;
  // Set when this plan is a copy of `prepared->plan` (a SCIM create prepared before its job,
  // prepared_user.h): WriteUser then stores the row and change entry prepared with it.
  const PreparedUser* prepared = nullptr;
};

// Provenance of the request `request_id` at `now`: every value and membership of `body` that is
// new or changed against `previous` (nullptr: none; either stored form) records the request and
// time; unchanged ones keep their earlier stamp. Stamps are shared: body["stamps"] holds each
// distinct (request_id, time) once and each entry names its row by "stamp" (render.h).
void StampRequests(Json& body, const Json* previous, const std::string& request_id, TimePoint now);

// The row WriteUser stores for `plan` under `username`, its memberships' groups resolved to
// `group_ids` (folded name -> id), over the stored row `previous` (nullptr: a new user), written
// by request `request_id` at `now`.
store::EffectiveUserRow PlannedRow(const Scope& scope, const PlannedUser& plan,
                                   const std::string& username,
                                   const std::map<std::string, std::string>& group_ids,
                                   const store::EffectiveUserRow* previous,
                                   const std::string& request_id, TimePoint now);

// Counts of what WriteUser did, in DiffCounts terms.
struct WriteCounts {
  int64_t created = 0, updated = 0, disabled = 0, enabled = 0, removed = 0;
  int64_t memberships_added = 0, memberships_removed = 0, conflicts = 0;
};

struct Writer {
  Writer(DirectoryService::Impl& i, store::Transaction& t, const Scope& s, Json c, TimePoint n)
      : impl(i), tx(t), scope(s), cause(std::move(c)), now(n) {}

  DirectoryService::Impl& impl;
  store::Transaction& tx;
  const Scope& scope;
  Json cause;
  TimePoint now;
  WriteCounts counts;
  bool wrote_change = false;
  // What the writes made possible for other source users (RetryPending): usernames given up,
  // link keys taken, tombstones by (connection, source name), local groups created (folded).
  std::set<std::string> freed_usernames;
  std::set<std::string> acquired_keys;
  std::set<std::pair<int64_t, std::string>> named_tombstones;
  // (connection, effective user id): the user lost its present source of the connection and
  // stays. A pending source of that connection may now re-provision it (named as one of its
  // tombstones of the connection) or link to it (its link key); no other pending source can join
  // it (FindJoinTarget), so only those are retried.
  std::set<std::pair<int64_t, std::string>> vacated;
  std::set<std::string> created_groups;
  // A SCIM create's derivation prepared before the job (prepared_user.h), or nullptr.
  const PreparedUser* prepared = nullptr;
  // Set by WriteUser for the user it writes: which source's on_delete decided (the cause's
  // "decided_by"), null otherwise.
  Json decided;

  // `encoded`: `resource` as Store::EncodeBody made it before the job (nullptr: encoded at the
  // write).
  Status Change(const std::string& type, const std::string& op, const std::string& id,
                const std::string& member, Json resource, store::EncodedBodyPtr encoded = nullptr);

  // The effective group named `name` (created when missing), its id.
  Result<std::string> GroupId(const std::string& name);

  // A source user left pending (store::ConflictRecord): not imported, or its rename refused
  // (`rename`); `owner` is the user holding the name, nullptr when no name is in question.
  Status RecordConflict(const SourceState& s, const std::string& username,
                        const store::EffectiveUserRow* owner, const std::string& reason,
                        bool rename = false);

  // Writes `plan` over the stored row `previous` (nullopt: none). Links, memberships, row,
  // change-feed entries.
  Status WriteUser(PlannedUser& plan, const std::optional<store::EffectiveUserRow>& previous);
};

Json CountsJson(const WriteCounts& c);

// The keys a conflict is found by (store::ConflictKeys), from its username and detail: those
// Writer::RecordConflict stores, and those of a record stored before conflicts had keys.
store::ConflictKeys ConflictKeysOf(const store::ConflictRecord& conflict);

}  // namespace idsync::directory
