// Definitions of scim_service_internal.h: what ScimService's writes, reads and bulk share.
#include "service/scim_service_internal.h"

#include <set>

#include <fmt/format.h>

#include "base/strings.h"
#include "scim/filter/evaluate.h"

namespace idsync::service {

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

void IndexOf(ResourceType type, const Json& body, std::optional<std::string>& unique_key,
             std::vector<store::IndexEntry>& index) {
  unique_key.reset();
  index.clear();
  if (auto v = StringAt(body, "externalId")) index.push_back({"externalId", FoldCase(*v)});
  if (type == ResourceType::kUser) {
    // Found by FindByIndex under store::kUniqueKeyAttr: not an index entry of its own.
    if (auto v = StringAt(body, "userName")) unique_key = FoldCase(*v);
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

Json BodyOf(Json resource) {
  resource.erase("password");
  resource.erase("id");
  resource.erase("meta");
  resource.erase("members");
  resource.erase("groups");
  return resource;
}

Result<std::string> MemberTypeOf(store::Transaction& tx, int64_t conn, const std::string& value) {
  for (auto [type, name] : {std::pair{ResourceType::kUser, "User"},
                            std::pair{ResourceType::kGroup, "Group"}}) {
    auto found = tx.GetResourceText(conn, type, value);
    if (found) return std::string(name);
    // Only "not there" means not a member; any other failure (on PostgreSQL a serialization
    // conflict, which the store retries) is the store's and must not become a client's 400.
    if (found.error().code != ErrorCode::kNotFound) return found.error();
  }
  return std::string();
}

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
  auto found = MemberTypeOf(tx, conn, *value);
  if (!found) return found.error();
  std::string type = std::move(*found);
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

Status MemberValues(store::Transaction& tx, int64_t conn, const std::string& group_id,
                    std::set<std::string>& out) {
  auto members = tx.ListMembers(conn, group_id);
  if (!members) return members.error();
  for (const auto& m : *members) out.insert(m.value);
  return Status::Ok();
}

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

Result<store::StoredResource> PutIndexed(store::Transaction& tx, int64_t conn,
                                         store::StoredResource r, const Json* before) {
  if (r.type == ResourceType::kGroup) {
    if (Status s = CheckGroupNameFree(tx, conn, r, before); !s) return s.error();
  }
  std::optional<std::string> unique_key;
  std::vector<store::IndexEntry> index;
  IndexOf(r.type, r.body, unique_key, index);
  const ResourceType type = r.type;
  std::string user_name = type == ResourceType::kUser ? r.body.value("userName", "") : "";
  auto stored = tx.PutResource(conn, std::move(r), unique_key, index);
  if (!stored && stored.error().code == ErrorCode::kUniqueness && type == ResourceType::kUser) {
    return MakeError(ErrorCode::kUniqueness,
                     "userName \"" + user_name +
                         "\" is already taken in this connection (compared case-insensitively)");
  }
  return stored;
}

Json RenderCore(const CallContext& ctx, ResourceType type, store::StoredResource r) {
  Json out = std::move(r.body);
  out["id"] = r.id;
  std::string location = ctx.base_url + "/" + Endpoint(type) + "/" + r.id;
  out["meta"] = {{"resourceType", std::string(scim::ResourceTypeName(type))},
                 {"created", FormatRfc3339(r.created)},
                 {"lastModified", FormatRfc3339(r.last_modified)},
                 {"location", location},
                 {"version", VersionETag(r.version)}};
  return out;
}

Result<Json> Render(store::Transaction& tx, const CallContext& ctx, ResourceType type,
                    const store::StoredResource& r, bool include_members, bool include_groups) {
  Json out = RenderCore(ctx, type, r);
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

Status DeferredUserAnswer::Hold(store::Transaction& tx, const CallContext& ctx,
                                store::StoredResource stored) {
  groups_ = Json::object();
  if (Status s = AddGroupsOf(tx, ctx, stored.id, groups_); !s) return s;
  user_ = std::move(stored);
  return Status::Ok();
}

Json DeferredUserAnswer::Take(const CallContext& ctx) {
  Json out = RenderCore(ctx, ResourceType::kUser, std::move(*user_));
  user_.reset();
  for (auto& [name, value] : groups_.items()) out[name] = std::move(value);
  return out;
}

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

Error NotFound(ResourceType type, const std::string& id) {
  return MakeError(ErrorCode::kNotFound,
                   std::string(scim::ResourceTypeName(type)) + " " + id + " not found");
}

}  // namespace idsync::service
