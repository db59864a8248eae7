// Writing one planned effective user (see writer.h).
#include "directory/writer.h"

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "base/uuid.h"
#include "directory/prepared_user.h"
#include "directory/render.h"
#include "directory/stored_user.h"

namespace idsync::directory {

using policy::EffectiveUser;
using policy::UserState;

namespace {

// Whether two effective bodies differ in any attribute's value, `active` aside (a change of
// state is counted as disabled or enabled instead); provenance and request stamps are not
// values. Compares in place: the attributes are most of a ~2 KB body.
bool AttributeValuesDiffer(const Json& before, const Json& after) {
  const Json& a = MemberOrNull(before, "attributes");
  const Json& b = MemberOrNull(after, "attributes");
  auto counted = [](const Json& attrs) -> size_t {
    if (!attrs.is_object()) return 0;
    return attrs.size() - (attrs.contains("active") ? 1 : 0);
  };
  if (counted(a) != counted(b)) return true;
  if (!a.is_object()) return false;  // neither has any
  for (const auto& [name, entry] : a.items()) {
    if (name == "active") continue;
    auto it = b.find(name);
    if (it == b.end() || MemberOrNull(entry, "value") != MemberOrNull(*it, "value")) return true;
  }
  return false;
}

}  // namespace

Status Writer::Change(const std::string& type, const std::string& op, const std::string& id,
                      const std::string& member, Json resource, store::EncodedBodyPtr encoded) {
  store::ChangeRecord c;
  c.time = now;
  c.directory = scope.directory.name;
  c.type = type;
  c.op = op;
  c.id = id;
  c.member_id = member;
  c.resource = std::move(resource);
  c.encoded_resource = std::move(encoded);
  c.cause = cause;
  if (!decided.is_null()) c.cause["decided_by"] = decided;
  auto seq = tx.AppendChange(c);
  if (!seq) return seq.error();
  wrote_change = true;
  return Status::Ok();
}

Result<std::string> Writer::GroupId(const std::string& name) {
  const std::string key = FoldCase(name);
  auto g = tx.FindEffectiveGroupByName(scope.directory.name, key);
  if (g) return g->id;
  if (g.error().code != ErrorCode::kNotFound) return g.error();
  store::EffectiveGroupRow row;
  row.directory = scope.directory.name;
  row.id = NewOrderedUuid();
  row.name = name;
  row.name_key = key;
  row.body = Json::object();
  row.created = row.last_modified = now;
  auto put = tx.PutEffectiveGroup(row);
  if (!put) return put.error();
  created_groups.insert(key);
  if (Status s = Change("Group", "upsert", put->id, "", RenderGroupCore(*put)); !s) return s.error();
  return put->id;
}

Status Writer::RecordConflict(const SourceState& s, const std::string& username,
                              const store::EffectiveUserRow* owner, const std::string& reason,
                              bool rename) {
  const ConnectionInfo* c = scope.Find(s.connection_id);
  store::ConflictRecord rec;
  rec.directory = scope.directory.name;
  rec.connection_id = s.connection_id;
  rec.source_user_id = s.source_user_id;
  rec.username = username;
  rec.time = now;
  rec.detail = {{"connection", c ? c->connection.name : ""}, {"reason", reason}};
  if (owner) {
    rec.detail["held_by"] = owner->id;
    rec.detail["held_by_username"] = owner->username;
  }
  // What lets the source in later (RetryPending): its name, its link key.
  rec.detail["source_name"] = s.source_name;
  rec.detail["link_key"] = s.link_key;
  if (rename) rec.detail["rename"] = true;
  rec.keys = ConflictKeysOf(rec);
  ++counts.conflicts;
  return tx.PutConflict(rec);
}

void StampRequests(Json& body, const Json* previous, const std::string& request, TimePoint now) {
  // The previous body's members are read in place: copying its attributes was a measurable
  // part of every PATCH on the writer thread.
  static const Json kNoBody;
  static const Json kNoText = "";
  const Json& prev_body = previous ? *previous : kNoBody;
  const Json this_request = request;
  const Json this_time = FormatRfc3339(now);
  // The stamps table: each distinct (request, time) once, in the order entries first use it.
  std::vector<std::pair<const Json*, const Json*>> stamps;
  auto stamp_of = [&](const Json& request_id, const Json& time) -> size_t {
    for (size_t i = 0; i < stamps.size(); ++i) {
      if (*stamps[i].first == request_id && *stamps[i].second == time) return i;
    }
    stamps.emplace_back(&request_id, &time);
    return stamps.size() - 1;
  };
  // An entry keeps the stamp of the previous body's entry when it is the same entry: the same
  // value from the same source by the same rule (attributes), the same grants (memberships).
  auto stamp = [&](Json& entry, const Json* before) {
    const EntryProvenance was = before ? ProvenanceOf(prev_body, *before) : EntryProvenance{};
    entry["stamp"] = was.request_id != nullptr
                         ? stamp_of(*was.request_id, was.time ? *was.time : kNoText)
                         : stamp_of(this_request, this_time);
  };
  auto same_member = [](const Json& a, const Json& b, std::string_view key) {
    return MemberOrNull(a, key) == MemberOrNull(b, key);
  };
  auto same_text = [](const Json* a, const Json* b) {
    return (a ? *a : kNoText) == (b ? *b : kNoText);
  };
  // When both bodies list the same origins (the usual case: the same sources), an entry's
  // origin is the same exactly when its index is; otherwise each is looked up.
  const Json& prev_origins = MemberOrNull(prev_body, "origins");
  const bool same_origins =
      prev_origins.is_array() && prev_origins == MemberOrNull(body, "origins");
  auto same_origin = [&](const Json& before, const Json& entry) {
    if (same_origins) return same_member(before, entry, "origin");
    const EntryProvenance was = ProvenanceOf(prev_body, before);
    const EntryProvenance is = ProvenanceOf(body, entry);
    return same_text(was.connection, is.connection) && same_text(was.source_user, is.source_user);
  };
  const Json& prev_attrs = MemberOrNull(prev_body, "attributes");
  for (auto& [name, entry] : body["attributes"].items()) {
    const Json* before = nullptr;
    if (prev_attrs.is_object()) {
      auto it = prev_attrs.find(name);
      if (it != prev_attrs.end() && it->is_object()) before = &*it;
    }
    const bool same = before != nullptr && same_member(*before, entry, "value") &&
                      same_member(*before, entry, "source") &&
                      same_member(*before, entry, "rule") && same_origin(*before, entry);
    stamp(entry, same ? before : nullptr);
  }
  std::map<std::string, const Json*> prev_groups;
  const Json& prev_members = MemberOrNull(prev_body, "memberships");
  if (prev_members.is_array()) {
    for (const auto& m : prev_members) {
      if (m.is_object()) prev_groups[m.value("group_id", "")] = &m;
    }
  }
  for (auto& m : body["memberships"]) {
    auto it = prev_groups.find(m.value("group_id", ""));
    const Json* before = it == prev_groups.end() ? nullptr : it->second;
    stamp(m, before != nullptr && same_member(*before, m, "grants") ? before : nullptr);
  }
  Json table = Json::array();
  for (const auto& [request_id, time] : stamps) {
    Json row = Json::object();
    row["request_id"] = *request_id;
    row["time"] = *time;
    table.push_back(std::move(row));
  }
  body["stamps"] = std::move(table);
}

Status Writer::WriteUser(PlannedUser& plan, const std::optional<store::EffectiveUserRow>& previous) {
  const std::string& dir = scope.directory.name;
  EffectiveUser& user = plan.user;
  const bool gone = user.state == UserState::kRemoved || user.state == UserState::kNotImported;

  // Username uniqueness: nothing is silently overwritten.
  std::string username = UsernameOf(user);
  const SourceState* refused = nullptr;  // the source whose rename was refused
  if (!gone) {
    const std::string key = FoldCase(username);
    // A user whose stored row holds the key owns it (unique per directory; only this user's
    // own write changes its row), so the owner's row need not be read and parsed again.
    const bool holds_key = previous && previous->id == plan.id && previous->username_key == key;
    Result<store::EffectiveUserRow> owner =
        holds_key ? Result<store::EffectiveUserRow>(MakeError(ErrorCode::kNotFound, ""))
                  : tx.FindEffectiveUserByUsername(dir, key);
    if (!owner && owner.error().code != ErrorCode::kNotFound) return owner.error();
    if (owner && owner->id != plan.id) {
      // The source whose value won the username is the one in conflict.
      const auto& won = user.attributes["username"];
      const SourceState* culprit = nullptr;
      for (const auto& s : plan.sources) {
        const ConnectionInfo* c = scope.Find(s.connection_id);
        if (c && c->connection.uuid == won.connection_id && s.source_user_id == won.source_user_id) {
          culprit = &s;
        }
      }
      if (!previous) {
        // A new user: not imported; its sources stay unlinked until the name is free.
        for (const auto& s : plan.sources) {
          if (!s.present) continue;
          if (Status st = RecordConflict(s, username, &*owner,
                                         "username already held by another effective user");
              !st) {
            return st;
          }
        }
        return Status::Ok();
      }
      // An existing user renamed onto a taken name keeps its previous username.
      if (culprit) {
        if (Status st = RecordConflict(*culprit, username, &*owner,
                                       "rename refused: username already held by another "
                                       "effective user; the previous username is kept",
                                       /*rename=*/true);
            !st) {
          return st;
        }
        refused = culprit;
      }
      auto prev_user = UserOf(*previous);
      user.attributes["username"] = prev_user.attributes["username"];
      username = previous->username;
    }
  }
  // Conflicts resolved for the sources now linked (or gone with their user).
  for (const auto& s : plan.sources) {
    if (&s == refused) continue;
    if (gone && !previous && s.present) {
      // Not imported for another reason than a name (users.import_new off): pending too, so
      // that a user it may link to later lets it in.
      if (Status st = RecordConflict(s, UsernameOf(user), nullptr,
                                     "not imported: " + user.state_reason);
          !st) {
        return st;
      }
      continue;
    }
    if (Status st = tx.DeleteConflict(s.connection_id, s.source_user_id); !st) return st;
  }
  // When every source left, the change names the source whose on_delete decided.
  decided = nullptr;
  if (!user.decided_by.empty()) {
    auto name = scope.names.find(user.decided_by);
    decided = {{"connection", name == scope.names.end() ? "" : name->second},
               {"connection_id", user.decided_by},
               {"setting", "users.on_delete"}};
  }

  if (gone) {
    if (previous) {
      // Memberships first, so the feed says which ones ended.
      auto groups = tx.EffectiveGroupsOf(dir, plan.id);
      if (!groups) return groups.error();
      for (const auto& [gid, name] : *groups) {
        if (Status s = Change("Membership", "remove", gid, plan.id, nullptr); !s) return s;
        ++counts.memberships_removed;
      }
      if (Status s = tx.DeleteEffectiveUser(dir, plan.id); !s) return s;
      if (Status s = Change("User", "delete", plan.id, "", nullptr); !s) return s;
      ++counts.removed;
      freed_usernames.insert(previous->username_key);
    }
    for (const auto& s : plan.sources) {
      if (Status st = tx.DeleteLink(s.connection_id, s.source_user_id); !st) return st;
    }
    return Status::Ok();
  }

  // Memberships: effective groups by folded name.
  std::map<std::string, std::string> group_ids;  // FoldCase(name) -> id
  std::set<std::string> before, after;
  if (previous) {
    auto groups = tx.EffectiveGroupsOf(dir, plan.id);
    if (!groups) return groups.error();
    for (const auto& [gid, name] : *groups) before.insert(gid);
  }
  for (const auto& [key, m] : user.memberships) {
    auto gid = GroupId(m.group);
    if (!gid) return gid.error();
    group_ids[key] = *gid;
    after.insert(*gid);
  }

  // A plan prepared before the job (a SCIM create: a new user without memberships, named as
  // planned, at the time and by the request it was prepared for) comes with its row, body
  // encoded; any other plan's row is made here.
  const bool use_prepared = plan.prepared && !previous && group_ids.empty();
  store::EffectiveUserRow row =
      use_prepared ? plan.prepared->row
                   : PlannedRow(scope, plan, username, group_ids, previous ? &*previous : nullptr,
                                cause.value("request_id", ""), now);
  // mail_key too: a row stored before migration 8 reads "" and gets its key on its next
  // derivation even when nothing else changed.
  const bool changed = !previous || previous->body != row.body || previous->state != row.state ||
                       previous->username != row.username || previous->link_key != row.link_key ||
                       previous->mail_key != row.mail_key;
  if (changed) {
    // Moved in: the store returns it as stored, so the body is not copied on the writer.
    auto put = tx.PutEffectiveUser(std::move(row));
    if (!put) return put.error();
    const store::EffectiveUserRow& written = *put;
    if (use_prepared) {
      if (Status s = Change("User", "upsert", plan.id, "", plan.prepared->core,
                            plan.prepared->encoded_core);
          !s) {
        return s;
      }
    } else {
      if (!previous || !SameUserCore(*previous, written)) {
        if (Status s = Change("User", "upsert", plan.id, "", RenderUserCore(written)); !s) {
          return s;
        }
      }
    }
    if (previous && previous->username_key != written.username_key) {
      freed_usernames.insert(previous->username_key);
    }
    if (!written.link_key.empty() && (!previous || previous->link_key != written.link_key)) {
      acquired_keys.insert(written.link_key);
    }
    if (!previous) {
      ++counts.created;
    } else {
      if (previous->state != written.state)
        ++(written.state == "disabled" ? counts.disabled : counts.enabled);
      if (AttributeValuesDiffer(previous->body, written.body)) ++counts.updated;
    }
  }
  for (const auto& gid : after) {
    if (before.count(gid)) continue;
    auto added = tx.AddEffectiveMember(dir, gid, plan.id);
    if (!added) return added.error();
    if (*added) {
      if (Status s = tx.TouchEffectiveGroup(dir, gid, now); !s) return s;
      if (Status s = Change("Membership", "add", gid, plan.id, nullptr); !s) return s;
      ++counts.memberships_added;
    }
  }
  for (const auto& gid : before) {
    if (after.count(gid)) continue;
    auto removed = tx.RemoveEffectiveMember(dir, gid, plan.id);
    if (!removed) return removed.error();
    if (*removed) {
      if (Status s = tx.TouchEffectiveGroup(dir, gid, now); !s) return s;
      if (Status s = Change("Membership", "remove", gid, plan.id, nullptr); !s) return s;
      ++counts.memberships_removed;
    }
  }
  for (const auto& s : plan.sources) {
    store::SourceLink link;
    link.connection_id = s.connection_id;
    link.source_user_id = s.source_user_id;
    link.directory = dir;
    link.effective_user_id = plan.id;
    link.deleted = !s.present;
    link.source_name = s.source_name;
    if (std::find(plan.stored_links.begin(), plan.stored_links.end(), link) !=
        plan.stored_links.end()) {
      continue;  // stored as it is
    }
    if (Status st = tx.PutLink(link); !st) return st;
  }
  return Status::Ok();
}

store::EffectiveUserRow PlannedRow(const Scope& scope, const PlannedUser& plan,
                                   const std::string& username,
                                   const std::map<std::string, std::string>& group_ids,
                                   const store::EffectiveUserRow* previous,
                                   const std::string& request_id, TimePoint now) {
  const EffectiveUser& user = plan.user;
  store::EffectiveUserRow row;
  row.directory = scope.directory.name;
  row.id = plan.id;
  row.username = username;
  row.username_key = FoldCase(username);
  row.link_key = plan.link_key;
  row.state = user.state == UserState::kDisabled ? "disabled" : "active";
  row.body = BodyOf(user, scope.names, group_ids);
  StampRequests(row.body, previous ? &previous->body : nullptr, request_id, now);
  row.mail_key = MailKeyOf(row.body);
  row.created = previous ? previous->created : now;
  row.last_modified = now;
  return row;
}

store::ConflictKeys ConflictKeysOf(const store::ConflictRecord& conflict) {
  const Json& d = conflict.detail;
  const auto text = [&](const char* name) {
    auto it = d.find(name);
    return it != d.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  return {FoldCase(conflict.username), text("link_key"), text("source_name")};
}

Json CountsJson(const WriteCounts& c) {
  return {{"created", c.created},
          {"updated", c.updated},
          {"disabled", c.disabled},
          {"enabled", c.enabled},
          {"removed", c.removed},
          {"memberships_added", c.memberships_added},
          {"memberships_removed", c.memberships_removed},
          {"conflicts", c.conflicts}};
}

}  // namespace idsync::directory
