#include "service/scim_service.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/strings.h"
#include "base/uuid.h"
#include "scim/filter/evaluate.h"
#include "scim/filter/parser.h"
#include "scim/patch/apply.h"
#include "scim/query/etag.h"
#include "scim/query/plan.h"
#include "scim/query/sort.h"
#include "scim/resource/validate.h"

namespace idsync::service {

using scim::ResourceType;
using scim::query::IndexPlan;
using scim::query::Mentions;
using scim::query::PlanIndex;
using scim::query::VersionETag;
namespace filter = scim::filter;

namespace {

constexpr double kCommitBounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                    0.05,   0.1,   0.25,  0.5,   1.0,  5.0};

std::string Endpoint(ResourceType type) {
  return type == ResourceType::kUser ? "Users" : "Groups";
}

Status CheckIfMatch(const std::optional<std::string>& if_match, int64_t version) {
  if (if_match && !scim::query::ETagListMatches(*if_match, VersionETag(version))) {
    return MakeError(ErrorCode::kVersionMismatch,
                     fmt::format("If-Match does not match the current version {}; read the "
                                 "resource again and retry",
                                 VersionETag(version)));
  }
  return Status::Ok();
}

std::optional<std::string> StringAt(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// Index entries and the unique key of a stored body. userName is unique per connection,
// compared with Unicode case folding (RFC 7643 §4.1.1: caseExact false, uniqueness server).
void IndexOf(ResourceType type, const Json& body, std::optional<std::string>& unique_key,
             std::vector<store::IndexEntry>& index) {
  unique_key.reset();
  index.clear();
  if (auto v = StringAt(body, "externalId")) index.push_back({"externalId", FoldCase(*v)});
  if (type == ResourceType::kUser) {
    if (auto v = StringAt(body, "userName")) {
      unique_key = FoldCase(*v);
      index.push_back({"userName", *unique_key});
    }
    if (auto it = body.find("emails"); it != body.end() && it->is_array()) {
      std::set<std::string> seen;
      for (const auto& e : *it) {
        if (e.is_object()) {
          if (auto v = StringAt(e, "value"); v && seen.insert(FoldCase(*v)).second) {
            index.push_back({"emails.value", FoldCase(*v)});
          }
        }
      }
    }
  } else {
    if (auto v = StringAt(body, "displayName")) index.push_back({"displayName", FoldCase(*v)});
  }
}

// The stored body: the normalised resource without server-owned and separately kept parts.
// `password` (writeOnly, returned never; Okta sends one) is dropped: idsync is not an
// authentication source and keeps no credentials of provisioned users.
Json BodyOf(Json resource) {
  resource.erase("password");
  resource.erase("id");
  resource.erase("meta");
  resource.erase("members");
  resource.erase("groups");
  return resource;
}

// Existence is all that is needed, so the body is not parsed (GetResourceText).
std::string MemberTypeOf(store::Transaction& tx, int64_t conn, const std::string& value) {
  if (tx.GetResourceText(conn, ResourceType::kUser, value)) return "User";
  if (tx.GetResourceText(conn, ResourceType::kGroup, value)) return "Group";
  return "";
}

// Adds one member given as SCIM JSON; checks that it names a resource of this connection.
Result<bool> AddMemberJson(store::Transaction& tx, int64_t conn, const std::string& group_id,
                           const Json& member) {
  auto value = member.is_object() ? StringAt(member, "value") : std::nullopt;
  if (!value || value->empty()) {
    return MakeError(ErrorCode::kInvalidValue,
                     "each member needs a \"value\" with a user or group id");
  }
  if (*value == group_id) {
    return MakeError(ErrorCode::kInvalidValue, "a group cannot be a member of itself");
  }
  std::string type = MemberTypeOf(tx, conn, *value);
  if (type.empty()) {
    return MakeError(ErrorCode::kInvalidValue,
                     "member \"" + *value + "\" is not a user or group of this connection");
  }
  store::Member m;
  m.value = *value;
  m.type = type;
  if (auto d = StringAt(member, "display")) m.display = *d;
  return tx.AddMember(conn, group_id, m);
}

// PATCH routes member operations here so that a one-member change never loads the group.
class TxMemberStore final : public scim::patch::MemberStore {
 public:
  TxMemberStore(store::Transaction& tx, int64_t conn, std::string group_id, std::string base)
      : tx_(tx), conn_(conn), group_id_(std::move(group_id)), base_(std::move(base)) {}

  Status Add(const Json& member) override {
    auto added = AddMemberJson(tx_, conn_, group_id_, member);
    if (!added) return added.error();
    changed_ |= *added;
    if (*added) touched_.insert(member.value("value", ""));
    return Status::Ok();
  }
  Result<bool> Remove(const std::string& value) override {
    auto removed = tx_.RemoveMember(conn_, group_id_, value);
    if (removed && *removed) {
      changed_ = true;
      touched_.insert(value);
    }
    return removed;
  }
  Status Clear() override {
    auto members = tx_.ListMembers(conn_, group_id_);
    if (!members) return members.error();
    if (!members->empty()) changed_ = true;
    for (const auto& m : *members) touched_.insert(m.value);
    return tx_.ClearMembers(conn_, group_id_);
  }
  Result<std::vector<Json>> All() override {
    auto members = tx_.ListMembers(conn_, group_id_);
    if (!members) return members.error();
    std::vector<Json> out;
    out.reserve(members->size());
    for (const auto& m : *members) {
      Json j = {{"value", m.value}, {"type", m.type}};
      if (!m.display.empty()) j["display"] = m.display;
      j["$ref"] = base_ + (m.type == "Group" ? "/Groups/" : "/Users/") + m.value;
      out.push_back(std::move(j));
    }
    return out;
  }
  bool changed() const { return changed_; }
  // Member values added or removed (users whose effective memberships may change).
  std::set<std::string>& touched() { return touched_; }

 private:
  store::Transaction& tx_;
  int64_t conn_;
  std::string group_id_;
  std::string base_;
  bool changed_ = false;
  std::set<std::string> touched_;
};

// Member values of a group (for re-deriving its members after a rename or delete).
Status MemberValues(store::Transaction& tx, int64_t conn, const std::string& group_id,
                    std::set<std::string>& out) {
  auto members = tx.ListMembers(conn, group_id);
  if (!members) return members.error();
  for (const auto& m : *members) out.insert(m.value);
  return Status::Ok();
}

// Adds User.groups (readOnly, RFC 7643 §4.1.2): the groups of this connection that have the
// user as a direct member. Absent when there are none.
Status AddGroupsOf(store::Transaction& tx, const CallContext& ctx, const std::string& user_id,
                   Json& out) {
  auto groups = tx.GroupsOf(ctx.connection->id, user_id);
  if (!groups) return groups.error();
  if (groups->empty()) return Status::Ok();
  Json arr = Json::array();
  for (const auto& [gid, name] : *groups) {
    arr.push_back({{"value", gid},
                   {"display", name},
                   {"$ref", ctx.base_url + "/Groups/" + gid},
                   {"type", "direct"}});
  }
  out["groups"] = std::move(arr);
  return Status::Ok();
}

// A group's displayName is unique per connection, compared with case folding as the index
// stores it. RFC 7643 §4.2 leaves it to the service provider; Entra ID requires it (it finds a
// group by `displayName eq` and expects one), authentik takes over an existing group only after
// a 409, and two same-named groups of one connection become one group in the effective
// directory, where the stale copy's members keep a membership the identity provider removed.
// Checked only when the folded name is new for this group (create, or a rename), so a database
// that already holds duplicates (written before this rule) keeps accepting member changes to
// them. Runs inside the write job, so with the single writer the check and the write are one
// step: two concurrent creates of a name cannot both pass.
Status CheckGroupNameFree(store::Transaction& tx, int64_t conn, const store::StoredResource& r,
                          const Json* before) {
  auto name = StringAt(r.body, "displayName");
  if (!name) return Status::Ok();
  std::string folded = FoldCase(*name);
  if (before) {
    auto old_name = StringAt(*before, "displayName");
    if (old_name && FoldCase(*old_name) == folded) return Status::Ok();
  }
  auto holders = tx.FindByIndex(conn, ResourceType::kGroup, "displayName", folded);
  if (!holders) return holders.error();
  for (const auto& h : *holders) {
    if (h.id == r.id) continue;
    return MakeError(ErrorCode::kUniqueness,
                     "displayName \"" + *name + "\" is already used by group " + h.id +
                         " in this connection (compared case-insensitively)");
  }
  return Status::Ok();
}

// Stores `r` with the index entries and unique key of its body; a taken userName or group
// displayName becomes an error that names it. `before` is the stored body `r` replaces (null
// on create).
Result<store::StoredResource> PutIndexed(store::Transaction& tx, int64_t conn,
                                         const store::StoredResource& r,
                                         const Json* before = nullptr) {
  if (r.type == ResourceType::kGroup) {
    if (Status s = CheckGroupNameFree(tx, conn, r, before); !s) return s.error();
  }
  std::optional<std::string> unique_key;
  std::vector<store::IndexEntry> index;
  IndexOf(r.type, r.body, unique_key, index);
  auto stored = tx.PutResource(conn, r, unique_key, index);
  if (!stored && stored.error().code == ErrorCode::kUniqueness && r.type == ResourceType::kUser) {
    return MakeError(ErrorCode::kUniqueness,
                     "userName \"" + r.body.value("userName", "") +
                         "\" is already taken in this connection (compared case-insensitively)");
  }
  return stored;
}

// Full SCIM representation of a stored resource.
Result<Json> Render(store::Transaction& tx, const CallContext& ctx, ResourceType type,
                    const store::StoredResource& r, bool include_members, bool include_groups) {
  Json out = r.body;
  out["id"] = r.id;
  std::string location = ctx.base_url + "/" + Endpoint(type) + "/" + r.id;
  out["meta"] = {{"resourceType", std::string(scim::ResourceTypeName(type))},
                 {"created", FormatRfc3339(r.created)},
                 {"lastModified", FormatRfc3339(r.last_modified)},
                 {"location", location},
                 {"version", VersionETag(r.version)}};
  int64_t conn = ctx.connection->id;
  if (type == ResourceType::kGroup && include_members) {
    auto members = tx.ListMembers(conn, r.id);
    if (!members) return members.error();
    if (!members->empty()) {
      Json arr = Json::array();
      for (const auto& m : *members) {
        Json j = {{"value", m.value}, {"type", m.type}};
        if (!m.display.empty()) j["display"] = m.display;
        j["$ref"] = ctx.base_url + (m.type == "Group" ? "/Groups/" : "/Users/") + m.value;
        arr.push_back(std::move(j));
      }
      out["members"] = std::move(arr);
    }
  }
  if (type == ResourceType::kUser && include_groups) {
    if (Status s = AddGroupsOf(tx, ctx, r.id, out); !s) return s.error();
  }
  return out;
}

// The index plan of a filter whose result the index alone decides: the whole filter is one
// `attr eq "value"` on a singular, caseExact=false string attribute whose index entry is the
// folded value (userName, Group displayName). The evaluator then compares FoldCase(stored)
// with FoldCase(value), which is exactly the index lookup, so the in-memory evaluation can be
// skipped. externalId (caseExact: the folded index is a superset), emails (multi-valued, with
// the `emails eq` shorthand) and id do not qualify.
std::optional<IndexPlan> ExactIndexPlan(const filter::Node& n, ResourceType type,
                                        const scim::schema::Registry& registry) {
  if (n.kind != filter::Node::Kind::kCompare) return std::nullopt;
  auto plan = PlanIndex(n, type);
  if (!plan) return std::nullopt;
  bool folded_singular = (type == ResourceType::kUser && plan->attr == "userName") ||
                         (type == ResourceType::kGroup && plan->attr == "displayName");
  if (!folded_singular) return std::nullopt;
  auto resolved = registry.Resolve(type, n.path.urn, n.path.attr, n.path.sub);
  if (!resolved || resolved->in_extension) return std::nullopt;
  const auto& attr = resolved->target();
  if (attr.type != scim::schema::Type::kString || attr.case_exact || attr.multi_valued) {
    return std::nullopt;
  }
  return plan;
}

struct Candidate {
  Json json;
  int64_t order;
};

// Replaces every string "bulkId:<id>" in `v` using `ids`; returns the first unresolved bulkId.
std::optional<std::string> ResolveBulkIds(Json& v, const std::map<std::string, std::string>& ids) {
  std::optional<std::string> missing;
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.rfind("bulkId:", 0) == 0) {
      auto it = ids.find(s.substr(7));
      if (it == ids.end()) return s.substr(7);
      v = it->second;
    }
  } else if (v.is_array() || v.is_object()) {
    for (auto& child : v) {
      if (auto m = ResolveBulkIds(child, ids); m && !missing) missing = m;
    }
  }
  return missing;
}

}  // namespace

int StatusOf(ErrorCode code) {
  switch (code) {  // no default: a new ErrorCode must be mapped here
    case ErrorCode::kInvalidSyntax: return 400;
    case ErrorCode::kInvalidFilter: return 400;
    case ErrorCode::kTooMany: return 400;
    case ErrorCode::kInvalidPath: return 400;
    case ErrorCode::kNoTarget: return 400;
    case ErrorCode::kInvalidValue: return 400;
    case ErrorCode::kMutability: return 400;
    case ErrorCode::kUniqueness: return 409;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kInvalidVersion: return 400;
    case ErrorCode::kSensitive: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kVersionMismatch: return 412;
    case ErrorCode::kNotModified: return 304;
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kNotImplemented: return 501;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

std::string_view ScimTypeOf(ErrorCode code) {
  switch (code) {  // RFC 7644 §3.12, Table 9; no default, so -Wswitch lists a new code
    case ErrorCode::kInvalidSyntax: return "invalidSyntax";
    case ErrorCode::kInvalidFilter: return "invalidFilter";
    case ErrorCode::kTooMany: return "tooMany";
    case ErrorCode::kInvalidPath: return "invalidPath";
    case ErrorCode::kNoTarget: return "noTarget";
    case ErrorCode::kInvalidValue: return "invalidValue";
    case ErrorCode::kMutability: return "mutability";
    case ErrorCode::kUniqueness: return "uniqueness";
    case ErrorCode::kInvalidVersion: return "invalidVers";
    case ErrorCode::kSensitive: return "sensitive";
    case ErrorCode::kConflict:
    case ErrorCode::kNotFound:
    case ErrorCode::kVersionMismatch:
    case ErrorCode::kNotModified:
    case ErrorCode::kPayloadTooLarge:
    case ErrorCode::kUnauthorized:
    case ErrorCode::kForbidden:
    case ErrorCode::kNotImplemented:
    case ErrorCode::kRateLimited:
    case ErrorCode::kUnavailable:
    case ErrorCode::kInternal: return {};
  }
  return {};
}

ScimService::ScimService(store::Store& store, const scim::schema::Registry& registry,
                         const Clock& clock, ScimLimits limits)
    : store_(store), registry_(registry), clock_(clock), limits_(limits) {}

Status ScimService::TimedWrite(const std::function<Status(store::Transaction&)>& job) {
  auto start = std::chrono::steady_clock::now();
  Status st = store_.Write(job);
  if (observer_) observer_->AfterCommit();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int b = 0;
  while (b < kBuckets && secs > kCommitBounds[b]) ++b;
  commit_buckets_[b].fetch_add(1, std::memory_order_relaxed);
  commit_count_.fetch_add(1, std::memory_order_relaxed);
  commit_micros_.fetch_add(static_cast<uint64_t>(secs * 1e6), std::memory_order_relaxed);
  return st;
}

Status ScimService::Observe(store::Transaction& tx, const CallContext& ctx,
                            const std::string& operation, std::set<std::string> users) {
  if (!observer_ || users.empty()) return Status::Ok();
  MirrorChange change;
  change.connection = ctx.connection;
  change.users = std::move(users);
  change.request_id = ctx.request_id;
  change.actor = ctx.actor;
  change.operation = operation;
  return observer_->OnMirrorChanged(tx, change);
}

Status ScimService::AuditFailure(const CallContext& ctx, const std::string& operation,
                                 ResourceType type, const std::string& id, const Error& error) {
  store::AuditRecord r;
  r.time = clock_.Now();
  r.connection_id = ctx.connection->id;
  r.connection_name = ctx.connection->name;
  r.request_id = ctx.request_id;
  r.actor = ctx.actor;
  r.operation = operation;
  r.resource_type = std::string(scim::ResourceTypeName(type));
  r.resource_id = id;
  r.status = StatusOf(error.code);
  r.detail = error.detail.substr(0, 500);
  return TimedWrite([&](store::Transaction& tx) { return tx.AppendAudit(r); });
}

namespace {
store::AuditRecord SuccessRecord(const CallContext& ctx, const Clock& clock,
                                 const std::string& operation, ResourceType type,
                                 const std::string& id, int status) {
  store::AuditRecord r;
  r.time = clock.Now();
  r.connection_id = ctx.connection->id;
  r.connection_name = ctx.connection->name;
  r.request_id = ctx.request_id;
  r.actor = ctx.actor;
  r.operation = operation;
  r.resource_type = std::string(scim::ResourceTypeName(type));
  r.resource_id = id;
  r.status = status;
  return r;
}
}  // namespace

Result<WriteResult> ScimService::Create(const CallContext& ctx, ResourceType type,
                                        const Json& body) {
  auto normalized =
      scim::resource::Normalize(body, type, scim::resource::WriteMode::kCreate, registry_);
  if (!normalized) {
    (void)AuditFailure(ctx, "create", type, "", normalized.error());
    return normalized.error();
  }
  Json members = Json::array();
  if (type == ResourceType::kGroup) {
    if (auto it = normalized->find("members"); it != normalized->end() && it->is_array()) {
      members = *it;
    }
  }
  store::StoredResource r;
  r.id = NewUuid();
  r.type = type;
  r.body = BodyOf(std::move(*normalized));
  r.created = r.last_modified = clock_.Now();

  WriteResult out;
  const int64_t conn = ctx.connection->id;
  Status st = TimedWrite([&](store::Transaction& tx) -> Status {
    auto stored = PutIndexed(tx, conn, r);
    if (!stored) return stored.error();
    std::set<std::string> affected;
    if (type == ResourceType::kUser) affected.insert(r.id);
    for (const auto& m : members) {
      auto added = AddMemberJson(tx, conn, r.id, m);
      if (!added) return added.error();
      if (*added) affected.insert(m.value("value", ""));
    }
    if (Status s = Observe(tx, ctx, "create", std::move(affected)); !s) return s;
    auto json = Render(tx, ctx, type, *stored, true, true);
    if (!json) return json.error();
    out.resource = std::move(*json);
    out.etag = VersionETag(stored->version);
    return tx.AppendAudit(SuccessRecord(ctx, clock_, "create", type, r.id, 201));
  });
  if (!st) {
    (void)AuditFailure(ctx, "create", type, "", st.error());
    return st.error();
  }
  return out;
}

Result<WriteResult> ScimService::Get(const CallContext& ctx, ResourceType type,
                                     const std::string& id, bool include_members,
                                     bool include_groups) {
  WriteResult out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto r = tx.GetResource(ctx.connection->id, type, id);
    if (!r) {
      if (r.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound,
                         std::string(scim::ResourceTypeName(type)) + " " + id + " not found");
      }
      return r.error();
    }
    auto json = Render(tx, ctx, type, *r, include_members, include_groups);
    if (!json) return json.error();
    out.resource = std::move(*json);
    out.etag = VersionETag(r->version);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

namespace {
// Joins the server-owned part (id, meta, members/groups) with a stored body's text. The stored
// body never holds server-owned keys, so the two objects have no key in common.
std::string Splice(const Json& server_part, const std::string& body_text) {
  std::string out = DumpJson(server_part);
  if (body_text.size() > 2 && body_text.front() == '{' && body_text.back() == '}') {
    out.back() = ',';
    out.append(body_text, 1, std::string::npos);
  }
  return out;
}

// The full text of a resource read as stored text: the rendered server-owned part joined with
// the body. Takes the body out of `r`.
Result<std::string> RenderText(store::Transaction& tx, const CallContext& ctx, ResourceType type,
                               store::StoredResource& r, bool include_members,
                               bool include_groups) {
  std::string body = std::move(r.body_text);
  r.body = Json::object();
  auto extra = Render(tx, ctx, type, r, include_members, include_groups);
  if (!extra) return extra.error();
  return Splice(*extra, body);
}
}  // namespace

Result<ScimService::TextResult> ScimService::GetText(const CallContext& ctx, ResourceType type,
                                                     const std::string& id, bool include_members,
                                                     bool include_groups) {
  TextResult out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto r = tx.GetResourceText(ctx.connection->id, type, id);
    if (!r) {
      if (r.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound,
                         std::string(scim::ResourceTypeName(type)) + " " + id + " not found");
      }
      return r.error();
    }
    // Server-owned parts (id, meta, members, groups) are never in the stored body, so the two
    // objects have no key in common and can be joined as text.
    auto text = RenderText(tx, ctx, type, *r, include_members, include_groups);
    if (!text) return text.error();
    out.json = std::move(*text);
    out.etag = VersionETag(r->version);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

namespace {
Error NotFound(ResourceType type, const std::string& id) {
  return MakeError(ErrorCode::kNotFound,
                   std::string(scim::ResourceTypeName(type)) + " " + id + " not found");
}
}  // namespace

Result<WriteResult> ScimService::Replace(const CallContext& ctx, ResourceType type,
                                         const std::string& id, const Json& body,
                                         const std::optional<std::string>& if_match,
                                         bool include_members) {
  WriteResult out;
  const int64_t conn = ctx.connection->id;
  Status st = TimedWrite([&](store::Transaction& tx) -> Status {
    auto existing = tx.GetResource(conn, type, id);
    if (!existing) {
      return existing.error().code == ErrorCode::kNotFound ? NotFound(type, id) : existing.error();
    }
    if (Status s = CheckIfMatch(if_match, existing->version); !s) return s;
    Json current = existing->body;
    current["id"] = id;
    auto normalized = scim::resource::Normalize(body, type, scim::resource::WriteMode::kReplace,
                                                registry_, &current);
    if (!normalized) return normalized.error();
    std::optional<Json> members;
    if (type == ResourceType::kGroup) {
      auto it = normalized->find("members");
      members = (it != normalized->end() && it->is_array()) ? *it : Json::array();
    }
    store::StoredResource r = *existing;
    r.body = BodyOf(std::move(*normalized));
    r.last_modified = clock_.Now();
    bool members_changed = false;
    std::set<std::string> affected;
    if (type == ResourceType::kUser) affected.insert(id);
    if (type == ResourceType::kGroup &&
        r.body.value("displayName", "") != existing->body.value("displayName", "")) {
      if (Status s = MemberValues(tx, conn, id, affected); !s) return s;  // renamed: all members
    }
    if (members) {
      // Replace the member set by difference, so that a PUT with an unchanged 10,000-member list
      // (Okta AIW apps, Keycloak) writes nothing for the members.
      auto current_members = tx.ListMembers(conn, id);
      if (!current_members) return current_members.error();
      std::set<std::string> wanted;
      for (const auto& m : *members) {
        if (auto v = m.is_object() ? StringAt(m, "value") : std::nullopt) wanted.insert(*v);
      }
      for (const auto& m : *current_members) {
        if (!wanted.count(m.value)) {
          auto removed = tx.RemoveMember(conn, id, m.value);
          if (!removed) return removed.error();
          members_changed = true;
          affected.insert(m.value);
        }
      }
      for (const auto& m : *members) {
        auto added = AddMemberJson(tx, conn, id, m);
        if (!added) return added.error();
        members_changed |= *added;
        if (*added) affected.insert(m.value("value", ""));
      }
    }
    if (type == ResourceType::kGroup &&
        r.body.value("displayName", "") != existing->body.value("displayName", "")) {
      if (Status s = MemberValues(tx, conn, id, affected); !s) return s;  // and the new ones
    }
    if (Status s = Observe(tx, ctx, "replace", std::move(affected)); !s) return s;
    store::StoredResource stored = *existing;
    if (r.body != existing->body || members_changed) {
      auto put = PutIndexed(tx, conn, r, &existing->body);
      if (!put) return put.error();
      stored = *put;
    }
    auto json = Render(tx, ctx, type, stored, include_members, true);
    if (!json) return json.error();
    out.resource = std::move(*json);
    out.etag = VersionETag(stored.version);
    return tx.AppendAudit(SuccessRecord(ctx, clock_, "replace", type, id, 200));
  });
  if (!st) {
    (void)AuditFailure(ctx, "replace", type, id, st.error());
    return st.error();
  }
  return out;
}

Result<WriteResult> ScimService::Patch(const CallContext& ctx, ResourceType type,
                                       const std::string& id, const Json& body,
                                       const std::optional<std::string>& if_match,
                                       bool include_members) {
  WriteResult out;
  const int64_t conn = ctx.connection->id;
  Status st = TimedWrite([&](store::Transaction& tx) -> Status {
    auto existing = tx.GetResource(conn, type, id);
    if (!existing) {
      return existing.error().code == ErrorCode::kNotFound ? NotFound(type, id) : existing.error();
    }
    if (Status s = CheckIfMatch(if_match, existing->version); !s) return s;
    Json current = existing->body;
    current["id"] = id;
    current["meta"] = {{"resourceType", std::string(scim::ResourceTypeName(type))},
                       {"created", FormatRfc3339(existing->created)},
                       {"lastModified", FormatRfc3339(existing->last_modified)},
                       {"version", VersionETag(existing->version)}};
    TxMemberStore members(tx, conn, id, ctx.base_url);
    scim::patch::PatchOptions options;
    options.max_operations = limits_.max_patch_operations;
    if (type == ResourceType::kGroup) options.members = &members;
    auto patched = scim::patch::ApplyPatch(current, body, type, registry_, options);
    if (!patched) return patched.error();
    Json new_body = BodyOf(std::move(*patched));
    std::set<std::string> affected = std::move(members.touched());
    if (type == ResourceType::kUser) affected.insert(id);
    if (type == ResourceType::kGroup &&
        new_body.value("displayName", "") != existing->body.value("displayName", "")) {
      if (Status s = MemberValues(tx, conn, id, affected); !s) return s;  // renamed: all members
    }
    store::StoredResource stored = *existing;
    if (new_body != existing->body) {
      store::StoredResource r = *existing;
      r.body = std::move(new_body);
      r.last_modified = clock_.Now();
      auto put = PutIndexed(tx, conn, r, &existing->body);
      if (!put) return put.error();
      stored = *put;
    } else if (members.changed()) {
      TimePoint now = clock_.Now();
      if (Status s = tx.TouchResource(conn, type, id, now); !s) return s;
      stored.version += 1;
      stored.last_modified = now;
    }
    if (Status s = Observe(tx, ctx, "patch", std::move(affected)); !s) return s;
    auto json = Render(tx, ctx, type, stored, include_members, true);
    if (!json) return json.error();
    out.resource = std::move(*json);
    out.etag = VersionETag(stored.version);
    return tx.AppendAudit(SuccessRecord(ctx, clock_, "patch", type, id, 200));
  });
  if (!st) {
    (void)AuditFailure(ctx, "patch", type, id, st.error());
    return st.error();
  }
  return out;
}

Status ScimService::Delete(const CallContext& ctx, ResourceType type, const std::string& id,
                           const std::optional<std::string>& if_match) {
  const int64_t conn = ctx.connection->id;
  Status st = TimedWrite([&](store::Transaction& tx) -> Status {
    auto existing = tx.GetResource(conn, type, id);
    if (!existing) {
      return existing.error().code == ErrorCode::kNotFound ? NotFound(type, id) : existing.error();
    }
    if (Status s = CheckIfMatch(if_match, existing->version); !s) return s;
    std::set<std::string> affected;
    if (type == ResourceType::kUser) affected.insert(id);
    if (type == ResourceType::kGroup) {
      if (Status s = MemberValues(tx, conn, id, affected); !s) return s;
    }
    if (Status s = tx.DeleteResource(conn, type, id); !s) return s;
    if (Status s = Observe(tx, ctx, "delete", std::move(affected)); !s) return s;
    return tx.AppendAudit(SuccessRecord(ctx, clock_, "delete", type, id, 204));
  });
  if (!st) (void)AuditFailure(ctx, "delete", type, id, st.error());
  return st;
}

Result<ListResult> ScimService::List(const CallContext& ctx, ResourceType type,
                                     const ListRequest& request) {
  filter::NodePtr ast;
  if (request.filter) {
    filter::ParseLimits pl;
    pl.max_length = limits_.max_filter_length;
    pl.max_depth = limits_.max_filter_depth;
    auto parsed = filter::Parse(*request.filter, pl);
    if (!parsed) return parsed.error();
    if (Status s = filter::Validate(**parsed, type, registry_); !s) return s.error();
    ast = std::move(*parsed);
  }
  std::optional<scim::schema::ResolvedAttribute> sort;
  if (request.sort_by) {
    auto r = registry_.ResolveDotted(type, *request.sort_by);
    if (!r) {
      return MakeError(ErrorCode::kInvalidValue, "sortBy \"" + *request.sort_by +
                                                     "\" is not an attribute of " +
                                                     std::string(scim::ResourceTypeName(type)));
    }
    sort = *r;
  }
  int64_t start = std::max<int64_t>(1, request.start_index);
  int64_t count = scim::query::PageSize(request.count, limits_.max_results);
  ListResult out;
  out.start_index = start;
  const int64_t conn = ctx.connection->id;

  // Resources decided by the index alone are sent as stored text, like unfiltered pages.
  std::optional<IndexPlan> exact;
  if (ast && !sort && request.as_text) exact = ExactIndexPlan(*ast, type, registry_);

  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    if (exact) {
      auto rows = tx.FindByIndexText(conn, type, exact->attr, exact->value);
      if (!rows) return rows.error();
      out.total_results = static_cast<int64_t>(rows->size());
      for (int64_t i = start - 1; i < out.total_results && i < start - 1 + count; ++i) {
        auto text =
            RenderText(tx, ctx, type, (*rows)[i], request.include_members, request.include_groups);
        if (!text) return text.error();
        out.texts.push_back(std::move(*text));
      }
      return Status::Ok();
    }
    if (!ast && !sort) {
      // No filter and no sort: page straight from the store in creation order.
      auto total = tx.CountResources(conn, type);
      if (!total) return total.error();
      out.total_results = *total;
      if (count == 0) return Status::Ok();
      if (request.as_text) {
        auto page = tx.ListResourcesText(conn, type, start - 1, count);
        if (!page) return page.error();
        out.texts.reserve(page->size());
        for (auto& r : *page) {
          auto text = RenderText(tx, ctx, type, r, request.include_members, request.include_groups);
          if (!text) return text.error();
          out.texts.push_back(std::move(*text));
        }
        return Status::Ok();
      }
      auto page = tx.ListResources(conn, type, start - 1, count);
      if (!page) return page.error();
      out.resources.reserve(page->size());
      for (const auto& r : *page) {
        auto json = Render(tx, ctx, type, r, request.include_members, request.include_groups);
        if (!json) return json.error();
        out.resources.push_back(std::move(*json));
      }
      return Status::Ok();
    }
    // Filter (and/or sort) in memory over candidates; an index narrows them when it can.
    bool need_members = ast && type == ResourceType::kGroup && Mentions(*ast, "members");
    bool need_groups = ast && type == ResourceType::kUser && Mentions(*ast, "groups");
    std::vector<Candidate> matched;
    int64_t order = 0;
    Status inner = Status::Ok();
    auto consider = [&](const store::StoredResource& r) -> bool {
      auto json = Render(tx, ctx, type, r, need_members, need_groups);
      if (!json) {
        inner = json.error();
        return false;
      }
      if (!ast || filter::Matches(*ast, *json, type, registry_)) {
        matched.push_back({std::move(*json), order});
      }
      ++order;
      return true;
    };
    std::optional<IndexPlan> plan = ast ? PlanIndex(*ast, type) : std::nullopt;
    if (plan && plan->attr == "id") {
      auto r = tx.GetResource(conn, type, plan->value);
      if (r) {
        consider(*r);
      } else if (r.error().code != ErrorCode::kNotFound) {
        return r.error();
      }
    } else if (plan) {
      auto rows = tx.FindByIndex(conn, type, plan->attr, plan->value);
      if (!rows) return rows.error();
      for (const auto& r : *rows) {
        if (!consider(r)) break;
      }
    } else {
      int64_t scanned = 0;
      Status scan = tx.ScanResources(conn, type, [&](const store::StoredResource& r) {
        if (++scanned > static_cast<int64_t>(limits_.max_scan_resources)) {
          inner = MakeError(ErrorCode::kTooMany,
                            "the filter would scan too many resources; add a condition on "
                            "userName, externalId, displayName or emails.value");
          return false;
        }
        return consider(r);
      });
      if (!scan) return scan;
    }
    if (!inner) return inner;
    if (sort) scim::query::SortResources(matched, *sort, request.descending);
    out.total_results = static_cast<int64_t>(matched.size());
    for (int64_t i = start - 1; i < out.total_results && i < start - 1 + count; ++i) {
      Json& j = matched[i].json;
      // Members and groups were loaded only if the filter needed them; load for output now.
      if (type == ResourceType::kGroup && request.include_members && !need_members) {
        auto r = tx.GetResource(conn, type, j["id"].get<std::string>());
        if (!r) return r.error();
        auto full = Render(tx, ctx, type, *r, true, true);
        if (!full) return full.error();
        j = std::move(*full);
      } else if (type == ResourceType::kUser && !need_groups && request.include_groups) {
        if (Status s = AddGroupsOf(tx, ctx, j["id"].get<std::string>(), j); !s) return s;
      }
      out.resources.push_back(std::move(j));
    }
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<ListResult> ScimService::ListAll(const CallContext& ctx, const ListRequest& request) {
  // Each type answers the whole filter (no paging), then the union is paged. A filter that names
  // an attribute only one type has simply matches nothing in the other.
  ListRequest all = request;
  all.start_index = 1;
  all.count = limits_.max_results;
  ListResult out;
  out.start_index = std::max<int64_t>(1, request.start_index);
  std::vector<Json> combined;
  int valid = 0;
  Error last{ErrorCode::kInvalidFilter, "filter is not valid for Users or Groups"};
  for (ResourceType type : {ResourceType::kUser, ResourceType::kGroup}) {
    auto r = List(ctx, type, all);
    if (!r) {
      if (r.error().code != ErrorCode::kInvalidFilter &&
          r.error().code != ErrorCode::kInvalidValue) {
        return r.error();
      }
      last = r.error();
      continue;
    }
    ++valid;
    out.total_results += r->total_results;
    for (auto& j : r->resources) combined.push_back(std::move(j));
  }
  if (valid == 0) return last;
  int64_t count = scim::query::PageSize(request.count, limits_.max_results);
  for (int64_t i = out.start_index - 1;
       i < static_cast<int64_t>(combined.size()) && i < out.start_index - 1 + count; ++i) {
    out.resources.push_back(std::move(combined[i]));
  }
  return out;
}

Result<Json> ScimService::Bulk(const CallContext& ctx, const Json& body) {
  if (!body.is_object())
    return MakeError(ErrorCode::kInvalidSyntax, "BulkRequest must be an object");
  auto ops_it = body.find("Operations");
  if (ops_it == body.end() || !ops_it->is_array()) {
    return MakeError(ErrorCode::kInvalidSyntax, "BulkRequest needs an \"Operations\" array");
  }
  const Json& ops = *ops_it;
  if (ops.size() > limits_.bulk_max_operations) {
    return MakeError(ErrorCode::kPayloadTooLarge,
                     fmt::format("BulkRequest has {} operations; the maximum is {}", ops.size(),
                                 limits_.bulk_max_operations));
  }
  int64_t fail_on_errors = 0;  // 0: process everything
  if (auto f = body.find("failOnErrors"); f != body.end()) {
    if (!f->is_number_integer() || f->get<int64_t>() < 1) {
      return MakeError(ErrorCode::kInvalidSyntax, "failOnErrors must be a positive integer");
    }
    fail_on_errors = f->get<int64_t>();
  }
  std::set<std::string> declared;
  for (const auto& op : ops) {
    if (op.is_object()) {
      if (auto b = StringAt(op, "bulkId")) declared.insert(*b);
    }
  }
  std::map<std::string, std::string> ids;  // bulkId -> created id
  std::vector<Json> results(ops.size());
  std::vector<bool> done(ops.size(), false);
  int64_t errors = 0;
  auto error_result = [&](const Json& op, const Error& e) {
    Json r = {{"method", op.is_object() ? op.value("method", "") : ""},
              {"status", std::to_string(StatusOf(e.code))}};
    if (op.is_object() && op.contains("bulkId")) r["bulkId"] = op["bulkId"];
    Json err = {{"schemas", {std::string(scim::kErrorSchema)}},
                {"status", std::to_string(StatusOf(e.code))},
                {"detail", e.detail}};
    std::string_view st = ScimTypeOf(e.code);
    if (!st.empty()) err["scimType"] = std::string(st);
    r["response"] = std::move(err);
    return r;
  };
  bool stop = false;
  // Operations run in order; one that refers to a bulkId created later waits for a later pass
  // (RFC 7644 §3.7.1 lets clients order operations freely). A pass without progress means the
  // remaining references are circular or dangling.
  for (bool progress = true; progress && !stop;) {
    progress = false;
    for (size_t i = 0; i < ops.size() && !stop; ++i) {
      if (done[i]) continue;
      const Json& op = ops[i];
      auto finish = [&](Json r, bool failed) {
        results[i] = std::move(r);
        done[i] = true;
        progress = true;
        if (failed && fail_on_errors > 0 && ++errors >= fail_on_errors) stop = true;
      };
      if (!op.is_object()) {
        finish(
            error_result(op, MakeError(ErrorCode::kInvalidSyntax, "operation must be an object")),
            true);
        continue;
      }
      std::string method = AsciiLower(op.value("method", ""));
      auto path = StringAt(op, "path");
      Json data = op.value("data", Json());
      Json path_json = path ? Json(*path) : Json();
      // Paths carry bulkIds as "/Users/bulkId:x".
      std::string path_str = path.value_or("");
      std::optional<std::string> missing;
      if (auto pos = path_str.find("bulkId:"); pos != std::string::npos) {
        std::string ref = path_str.substr(pos + 7);
        auto it = ids.find(ref);
        if (it == ids.end())
          missing = ref;
        else
          path_str = path_str.substr(0, pos) + it->second;
      }
      if (!missing) missing = ResolveBulkIds(data, ids);
      if (missing) {
        if (!declared.count(*missing)) {
          finish(error_result(op, MakeError(ErrorCode::kInvalidValue,
                                            "bulkId \"" + *missing + "\" is not defined")),
                 true);
        }
        continue;  // wait for the operation that creates it
      }
      // Parse "/Users", "/Groups", "/Users/<id>", "/Groups/<id>".
      std::optional<ResourceType> type;
      std::string id;
      std::string_view p = path_str;
      if (!p.empty() && p.front() == '/') p.remove_prefix(1);
      std::string_view head = p.substr(0, p.find('/'));
      if (head == "Users") type = ResourceType::kUser;
      if (head == "Groups") type = ResourceType::kGroup;
      if (p.find('/') != std::string_view::npos) id = std::string(p.substr(p.find('/') + 1));
      Json r = {{"method", op.value("method", "")}};
      if (op.contains("bulkId")) r["bulkId"] = op["bulkId"];
      if (!type || (method == "post") != id.empty()) {
        finish(error_result(op, MakeError(ErrorCode::kInvalidValue,
                                          "operation path \"" + path_str +
                                              "\" must be /Users or /Groups for POST and "
                                              "/Users/{id} or /Groups/{id} otherwise")),
               true);
        continue;
      }
      std::optional<std::string> version;
      if (auto v = StringAt(op, "version")) version = *v;
      if (method == "post" || method == "put" || method == "patch") {
        if (!data.is_object()) {
          finish(error_result(
                     op, MakeError(ErrorCode::kInvalidSyntax, "operation needs a \"data\" object")),
                 true);
          continue;
        }
        Result<WriteResult> w = method == "post"  ? Create(ctx, *type, data)
                                : method == "put" ? Replace(ctx, *type, id, data, version, false)
                                                  : Patch(ctx, *type, id, data, version, false);
        if (!w) {
          finish(error_result(op, w.error()), true);
          continue;
        }
        std::string new_id = (*w).resource.value("id", "");
        if (method == "post" && op.contains("bulkId") && op["bulkId"].is_string()) {
          ids[op["bulkId"].get<std::string>()] = new_id;
        }
        r["location"] = ctx.base_url + "/" + Endpoint(*type) + "/" + new_id;
        r["version"] = w->etag;
        r["status"] = method == "post" ? "201" : "200";
        finish(std::move(r), false);
      } else if (method == "delete") {
        Status d = Delete(ctx, *type, id, version);
        if (!d) {
          finish(error_result(op, d.error()), true);
          continue;
        }
        r["location"] = ctx.base_url + "/" + Endpoint(*type) + "/" + id;
        r["status"] = "204";
        finish(std::move(r), false);
      } else {
        finish(error_result(op, MakeError(ErrorCode::kInvalidValue,
                                          "method must be POST, PUT, PATCH or DELETE")),
               true);
      }
    }
  }
  Json out = {{"schemas", {std::string(scim::kBulkResponseSchema)}}, {"Operations", Json::array()}};
  for (size_t i = 0; i < ops.size(); ++i) {
    if (done[i]) {
      out["Operations"].push_back(std::move(results[i]));
    } else if (!stop) {
      out["Operations"].push_back(
          error_result(ops[i], MakeError(ErrorCode::kInvalidValue,
                                         "circular bulkId reference; the operation was not run")));
    }
  }
  return out;
}

Json ScimService::ServiceProviderConfig(const std::string& base_url) const {
  return {
      {"schemas", {"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"}},
      {"documentationUri", "https://github.com/idsync/idsync#readme"},
      {"patch", {{"supported", true}}},
      {"bulk",
       {{"supported", true},
        {"maxOperations", limits_.bulk_max_operations},
        {"maxPayloadSize", limits_.bulk_max_payload_bytes}}},
      {"filter", {{"supported", true}, {"maxResults", limits_.max_results}}},
      {"changePassword", {{"supported", false}}},
      {"sort", {{"supported", true}}},
      {"etag", {{"supported", true}}},
      {"authenticationSchemes",
       {{{"type", "oauthbearertoken"},
         {"name", "Bearer token"},
         {"description",
          "One token per connection, created with `idsync connection add` and sent as "
          "\"Authorization: Bearer <token>\""},
         {"primary", true}}}},
      {"meta",
       {{"resourceType", "ServiceProviderConfig"},
        {"location", base_url + "/ServiceProviderConfig"}}},
  };
}

std::string ScimService::RenderMetrics() {
  std::string out;
  out += "# HELP idsync_store_write_seconds Time from submitting a write to its durable commit.\n";
  out += "# TYPE idsync_store_write_seconds histogram\n";
  uint64_t cumulative = 0;
  for (int b = 0; b < kBuckets; ++b) {
    cumulative += commit_buckets_[b].load(std::memory_order_relaxed);
    out += fmt::format("idsync_store_write_seconds_bucket{{le=\"{}\"}} {}\n", kCommitBounds[b],
                       cumulative);
  }
  cumulative += commit_buckets_[kBuckets].load(std::memory_order_relaxed);
  out += fmt::format("idsync_store_write_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out += fmt::format("idsync_store_write_seconds_sum {}\n",
                     static_cast<double>(commit_micros_.load()) / 1e6);
  out += fmt::format("idsync_store_write_seconds_count {}\n", commit_count_.load());
  out += "# HELP idsync_resources Resources in each connection's mirror.\n";
  out += "# TYPE idsync_resources gauge\n";
  (void)store_.Read([&](store::Transaction& tx) -> Status {
    auto conns = tx.ListConnections();
    if (!conns) return conns.error();
    for (const auto& c : *conns) {
      for (ResourceType t : {ResourceType::kUser, ResourceType::kGroup}) {
        auto n = tx.CountResources(c.id, t);
        if (n) {
          out += fmt::format("idsync_resources{{connection=\"{}\",type=\"{}\"}} {}\n", c.name,
                             scim::ResourceTypeName(t), *n);
        }
      }
    }
    return Status::Ok();
  });
  return out;
}

}  // namespace idsync::service
