// ScimService writes: create, replace, PATCH and delete of one resource.
#include <optional>
#include <set>

#include "base/uuid.h"
#include "scim/patch/apply.h"
#include "scim/resource/validate.h"
#include "service/scim_service.h"
#include "service/scim_service_internal.h"

namespace idsync::service {

using scim::ResourceType;

namespace {

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
  r.id = NewOrderedUuid();
  r.type = type;
  r.body = BodyOf(std::move(*normalized));
  r.created = r.last_modified = clock_.Now();
  // Serialised and compressed here, and the new user's derivation prepared, not on the writer
  // every write waits for (issue #13 item 3).
  std::shared_ptr<const MirrorPreparation> prepared;
  if (type == ResourceType::kUser) {
    r.encoded = store_.EncodeBody(store::BodyKind::kMirrorUser, r.body);
    if (observer_) {
      prepared =
          observer_->PrepareCreatedUser(*ctx.connection, r, ctx.request_id, ctx.config_generation);
    }
  }

  WriteResult out;
  const int64_t conn = ctx.connection->id;
  std::optional<store::StoredResource> created_user;
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
    if (Status s = Observe(tx, ctx, "create", std::move(affected), prepared); !s) return s;
    out.etag = VersionETag(stored->version);
    if (type == ResourceType::kUser) {
      // A user just created is in no group yet (a member must exist before a group can name
      // it, and the id is new): its answer needs nothing more from the store, so it is rendered
      // after the commit on this request's thread, not on the writer every write waits for.
      created_user = std::move(*stored);
    } else {
      auto json = Render(tx, ctx, type, *stored, true, /*include_groups=*/false);
      if (!json) return json.error();
      out.resource = std::move(*json);
    }
    return tx.AppendAudit(SuccessRecord(ctx, clock_, "create", type, r.id, 201));
  });
  if (!st) {
    (void)AuditFailure(ctx, "create", type, "", st.error());
    return st.error();
  }
  if (created_user) out.resource = RenderCore(ctx, type, std::move(*created_user));
  return out;
}

Result<WriteResult> ScimService::Replace(const CallContext& ctx, ResourceType type,
                                         const std::string& id, const Json& body,
                                         const std::optional<std::string>& if_match,
                                         bool include_members) {
  WriteResult out;
  const int64_t conn = ctx.connection->id;
  DeferredUserAnswer user_answer;
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
    const bool body_changed = r.body != existing->body;
    bool members_changed = false;
    std::set<std::string> affected;
    // A user written again as it is (Okta's PUT of every attribute on each update) changes no
    // input of its derivation, and the effective directory is always what the derivation makes
    // of the mirrors: nothing to re-derive.
    if (type == ResourceType::kUser && body_changed) affected.insert(id);
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
    if (body_changed || members_changed) {
      auto put = PutIndexed(tx, conn, r, &existing->body);
      if (!put) return put.error();
      stored = *put;
    }
    out.etag = VersionETag(stored.version);
    if (type == ResourceType::kUser) {
      if (Status s = user_answer.Hold(tx, ctx, std::move(stored)); !s) return s;
    } else {
      auto json = Render(tx, ctx, type, stored, include_members, true);
      if (!json) return json.error();
      out.resource = std::move(*json);
    }
    return tx.AppendAudit(SuccessRecord(ctx, clock_, "replace", type, id, 200));
  });
  if (!st) {
    (void)AuditFailure(ctx, "replace", type, id, st.error());
    return st.error();
  }
  if (user_answer.held()) out.resource = user_answer.Take(ctx);
  return out;
}

namespace {

// What a user PATCH computes from the stored user: the new body, and whether it differs.
struct PatchedUser {
  Json body;
  bool changed = false;
};

// Applies a PATCH to a stored user (no members: users have none).
Result<PatchedUser> PatchUser(const store::StoredResource& existing, const Json& patch,
                              const scim::schema::Registry& registry, size_t max_operations) {
  Json current = existing.body;
  current["id"] = existing.id;
  current["meta"] = {{"resourceType", std::string(scim::ResourceTypeName(ResourceType::kUser))},
                     {"created", FormatRfc3339(existing.created)},
                     {"lastModified", FormatRfc3339(existing.last_modified)},
                     {"version", VersionETag(existing.version)}};
  scim::patch::PatchOptions options;
  options.max_operations = max_operations;
  auto patched =
      scim::patch::ApplyPatch(std::move(current), patch, ResourceType::kUser, registry, options);
  if (!patched) return patched.error();
  PatchedUser out;
  out.body = BodyOf(std::move(*patched));
  out.changed = out.body != existing.body;
  return out;
}

}  // namespace

Result<WriteResult> ScimService::Patch(const CallContext& ctx, ResourceType type,
                                       const std::string& id, const Json& body,
                                       const std::optional<std::string>& if_match,
                                       bool include_members) {
  // A user PATCH is prepared on a read snapshot, on this request's own thread: reading and
  // decoding the stored user, applying the operations and validating the result were a sixth
  // of the writer thread's time per PATCH. The write job then only checks that the user's
  // version is still the snapshot's; if another write came between, it does the whole PATCH
  // again on the current row, as before. Groups are patched on the writer (their member
  // operations write as they go). A snapshot that cannot prepare (no such user, a PATCH the
  // server refuses) leaves everything to the writer, so errors come from the current state.
  std::optional<store::StoredResource> snapshot;
  std::optional<PatchedUser> prepared;
  if (type == ResourceType::kUser) {
    (void)store_.Read([&](store::Transaction& tx) -> Status {
      auto existing = tx.GetResource(ctx.connection->id, type, id);
      if (!existing) return Status::Ok();
      auto patched = PatchUser(*existing, body, registry_, limits_.max_patch_operations);
      if (!patched) return Status::Ok();
      snapshot = std::move(*existing);
      prepared = std::move(*patched);
      return Status::Ok();
    });
  }
  // The prepared body encoded here too; stored only with the prepared PATCH it belongs to.
  store::EncodedBodyPtr prepared_encoded;
  if (prepared && prepared->changed) {
    prepared_encoded = store_.EncodeBody(store::BodyKind::kMirrorUser, prepared->body);
  }

  WriteResult out;
  const int64_t conn = ctx.connection->id;
  DeferredUserAnswer user_answer;
  // The job moves the prepared body into the store instead of copying it on the writer. A
  // store that reruns a job (PostgreSQL, after a serialization conflict) then finds it taken,
  // and the rerun patches the current row itself, as when another write came between.
  bool prepared_taken = false;
  Status st = TimedWrite([&](store::Transaction& tx) -> Status {
    // The stored row as the PATCH sees it, and the PATCH applied to it (users).
    std::optional<store::StoredResource> fetched;
    const store::StoredResource* existing = nullptr;
    std::optional<PatchedUser> fresh;
    PatchedUser* user_patch = nullptr;
    if (snapshot && !prepared_taken) {
      auto version = tx.GetResourceVersion(conn, type, id);
      if (!version && version.error().code != ErrorCode::kNotFound) return version.error();
      if (version && *version == snapshot->version) {
        existing = &*snapshot;
        user_patch = &*prepared;
      }
    }
    if (!existing) {
      auto got = tx.GetResource(conn, type, id);
      if (!got) {
        return got.error().code == ErrorCode::kNotFound ? NotFound(type, id) : got.error();
      }
      fetched = std::move(*got);
      existing = &*fetched;
    }
    if (Status s = CheckIfMatch(if_match, existing->version); !s) return s;

    TxMemberStore members(tx, conn, id, ctx.base_url);
    Json new_body;
    bool body_changed = false;
    if (type == ResourceType::kUser) {
      if (!user_patch) {
        auto patched = PatchUser(*existing, body, registry_, limits_.max_patch_operations);
        if (!patched) return patched.error();
        fresh = std::move(*patched);
        user_patch = &*fresh;
      }
      body_changed = user_patch->changed;
      if (body_changed) {
        new_body = std::move(user_patch->body);
        if (prepared && user_patch == &*prepared) prepared_taken = true;
      }
    } else {
      Json current = existing->body;
      current["id"] = id;
      current["meta"] = {{"resourceType", std::string(scim::ResourceTypeName(type))},
                         {"created", FormatRfc3339(existing->created)},
                         {"lastModified", FormatRfc3339(existing->last_modified)},
                         {"version", VersionETag(existing->version)}};
      scim::patch::PatchOptions options;
      options.max_operations = limits_.max_patch_operations;
      options.members = &members;
      auto patched = scim::patch::ApplyPatch(std::move(current), body, type, registry_, options);
      if (!patched) return patched.error();
      new_body = BodyOf(std::move(*patched));
      body_changed = new_body != existing->body;
    }
    std::set<std::string> affected = std::move(members.touched());
    // A user PATCH that changes nothing (an identity provider setting what is already set)
    // leaves nothing to re-derive, as for Replace.
    if (type == ResourceType::kUser && body_changed) affected.insert(id);
    if (type == ResourceType::kGroup &&
        new_body.value("displayName", "") != existing->body.value("displayName", "")) {
      if (Status s = MemberValues(tx, conn, id, affected); !s) return s;  // renamed: all members
    }
    // The stored body is copied only when it is kept: a changed one is replaced whole.
    store::StoredResource stored;
    if (body_changed) {
      store::StoredResource r;
      r.id = existing->id;
      r.type = existing->type;
      r.version = existing->version;
      r.created = existing->created;
      r.body = std::move(new_body);
      if (prepared && user_patch == &*prepared) r.encoded = prepared_encoded;
      r.last_modified = clock_.Now();
      auto put = PutIndexed(tx, conn, std::move(r), &existing->body);
      if (!put) return put.error();
      stored = std::move(*put);
    } else {
      stored = *existing;
      if (members.changed()) {
        TimePoint now = clock_.Now();
        if (Status s = tx.TouchResource(conn, type, id, now); !s) return s;
        stored.version += 1;
        stored.last_modified = now;
      }
    }
    if (Status s = Observe(tx, ctx, "patch", std::move(affected)); !s) return s;
    out.etag = VersionETag(stored.version);
    if (type == ResourceType::kUser) {
      if (Status s = user_answer.Hold(tx, ctx, std::move(stored)); !s) return s;
    } else {
      auto json = Render(tx, ctx, type, stored, include_members, true);
      if (!json) return json.error();
      out.resource = std::move(*json);
    }
    return tx.AppendAudit(SuccessRecord(ctx, clock_, "patch", type, id, 200));
  });
  if (!st) {
    (void)AuditFailure(ctx, "patch", type, id, st.error());
    return st.error();
  }
  if (user_answer.held()) out.resource = user_answer.Take(ctx);
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

}  // namespace idsync::service
