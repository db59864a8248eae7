// SqliteTransaction's share of store/mirror_area.h (mirror resources and their index entries) over
// one SQLite connection. Its statements are in queries.h.
#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

namespace {

int64_t TypeCode(scim::ResourceType type) {
  return type == scim::ResourceType::kUser ? 0 : 1;
}

// Columns in the order of IDSYNC_RESOURCE_COLUMNS; `first` is the column of pk.
// parse_body=false leaves `body` empty and fills `body_text` (GetResourceText);
// read_body=false leaves both empty and does not decode the stored body at all.
Result<StoredResource> ReadResource(const Statement& row, int first, const Bodies& bodies,
                                    bool parse_body = true, bool read_body = true) {
  StoredResource resource;
  resource.id = row.Text(first + 1);
  resource.type = row.Int(first + 2) == 0 ? scim::ResourceType::kUser : scim::ResourceType::kGroup;
  if (read_body) {
    auto text = bodies(row, first + 3, "resource " + resource.id);
    if (!text) return text.error();
    if (parse_body) {
      resource.body = ParseStoredJson(*text);
      if (resource.body.is_discarded()) {
        return Internal("stored resource " + resource.id + " is not valid JSON");
      }
    } else {
      resource.body_text = std::move(*text);
    }
  }
  resource.version = row.Int(first + 4);
  resource.created = FromUnixMillis(row.Int(first + 5));
  resource.last_modified = FromUnixMillis(row.Int(first + 6));
  return resource;
}

}  // namespace

Result<StoredResource> SqliteTransaction::GetResource(int64_t connection_id,
                                                      scim::ResourceType type,
                                                      const std::string& id) {
  if (written_user_ && type == scim::ResourceType::kUser &&
      written_user_->connection_id == connection_id && written_user_->resource.id == id) {
    return written_user_->resource;
  }
  auto found = Find(connection_id, type, id);
  if (!found) return found.error();
  if (!found->second) return NoResource(type, id);
  return std::move(*found->second);
}

Result<StoredResource> SqliteTransaction::GetResourceText(int64_t connection_id,
                                                          scim::ResourceType type,
                                                          const std::string& id) {
  auto found = Find(connection_id, type, id, BodyRead::kText);
  if (!found) return found.error();
  if (!found->second) return NoResource(type, id);
  return std::move(*found->second);
}

Result<int64_t> SqliteTransaction::GetResourceVersion(int64_t connection_id,
                                                      scim::ResourceType type,
                                                      const std::string& id) {
  std::optional<std::string> unique_key;
  auto found = Find(connection_id, type, id, BodyRead::kNone, &unique_key);
  if (!found) return found.error();
  if (!found->second) return NoResource(type, id);
  const int64_t version = found->second->version;
  if (type == scim::ResourceType::kUser) {
    found_user_ =
        FoundUser{connection_id, found->first, std::move(*found->second), std::move(unique_key)};
  }
  return version;
}

Result<StoredResource> SqliteTransaction::PutResource(int64_t connection_id,
                                                      StoredResource resource,
                                                      const std::optional<std::string>& unique_key,
                                                      const std::vector<IndexEntry>& index) {
  if (auto w = CheckWritable(); !w) return w.error();
  written_user_.reset();
  // Only the existing row's pk, version and creation time are needed: skip reading its body.
  std::optional<std::string> stored_key;
  auto existing = [&]() -> Result<std::pair<int64_t, std::optional<StoredResource>>> {
    if (found_user_ && resource.type == scim::ResourceType::kUser &&
        found_user_->connection_id == connection_id && found_user_->resource.id == resource.id) {
      stored_key = std::move(found_user_->unique_key);
      return std::pair<int64_t, std::optional<StoredResource>>{found_user_->pk,
                                                               std::move(found_user_->resource)};
    }
    return Find(connection_id, resource.type, resource.id, BodyRead::kNone, &stored_key);
  }();
  found_user_.reset();
  if (!existing) return existing.error();
  int64_t pk = 0;
  // Encoded before the job was queued (users only: groups are stored as text), or here.
  const EncodedBodyPtr encoded = std::move(resource.encoded);
  const bool pre_encoded = encoded && resource.type == scim::ResourceType::kUser;
  const std::string body = pre_encoded ? std::string() : DumpJson(resource.body);
  auto bind_body = [&](Statement& statement, int param) {
    if (pre_encoded) {
      BodyCodec::Bind(statement, param, *encoded);
    } else {
      BindBody(statement, param, resource.type, body);
    }
  };
  bool write_index = true;
  auto taken = [&](const Error& error) -> Error {
    if (error.code != ErrorCode::kUniqueness) return error;
    return MakeError(ErrorCode::kUniqueness, std::string(scim::ResourceTypeName(resource.type)) +
                                                 " \"" + unique_key.value_or("") +
                                                 "\" already exists");
  };
  // The row is written before its index entries are replaced: if the unique key is taken,
  // the statement fails alone and nothing of this call has changed.
  if (existing->second) {
    pk = existing->first;
    // A kept unique key is not set again: its index entry would be rewritten all the same.
    const bool same_key = stored_key == unique_key;
    auto update = db_.Prepare(same_key ? sql::kUpdateResourceBody : sql::kUpdateResource);
    if (!update) return update.error();
    update->Bind(1, pk).Bind(3, ToUnixMillis(resource.last_modified));
    if (!same_key) update->Bind(4, unique_key);
    bind_body(*update, 2);
    if (auto ran = update->Run("updating a resource"); !ran) return taken(ran.error());
    resource.version = existing->second->version + 1;
    resource.created = existing->second->created;
    // Most updates (a PATCH of displayName or active) keep every entry: then the index pages
    // are not rewritten (four random pages of a user's write, issue #13 item 3).
    auto same = SameIndex(pk, index);
    if (!same) return same.error();
    if (*same) {
      write_index = false;
    } else {
      auto clear = db_.Prepare(sql::kDeleteIndexOf);
      if (!clear) return clear.error();
      clear->Bind(1, pk);
      if (auto ran = clear->Run("updating a resource"); !ran) return ran.error();
    }
  } else {
    auto insert = db_.Prepare(sql::kInsertResource);
    if (!insert) return insert.error();
    insert->Bind(1, connection_id)
        .Bind(2, TypeCode(resource.type))
        .Bind(3, resource.id)
        .Bind(5, ToUnixMillis(resource.created))
        .Bind(6, ToUnixMillis(resource.last_modified))
        .Bind(7, unique_key);
    bind_body(*insert, 4);
    if (auto ran = insert->Run("adding a resource"); !ran) {
      if (ran.error().code == ErrorCode::kNotFound) return NoConnection(connection_id).error();
      return taken(ran.error());
    }
    pk = db_.LastInsertRowid();
    resource.version = 1;
  }
  for (const IndexEntry& entry : index) {
    if (!write_index) break;
    auto insert = db_.Prepare(sql::kInsertIndex);
    if (!insert) return insert.error();
    insert->Bind(1, connection_id)
        .Bind(2, TypeCode(resource.type))
        .Bind(3, entry.attr)
        .Bind(4, entry.value)
        .Bind(5, pk);
    if (auto ran = insert->Run("indexing a resource"); !ran) return ran.error();
  }
  // Round-trip through the stored milliseconds so the caller sees what a later Get returns.
  resource.created = FromUnixMillis(ToUnixMillis(resource.created));
  resource.last_modified = FromUnixMillis(ToUnixMillis(resource.last_modified));
  if (resource.type == scim::ResourceType::kUser) {
    written_user_ = WrittenUser{connection_id, resource};
    written_user_->resource.body_text.clear();  // GetResource returns the parsed body only
  }
  return resource;  // the caller's, moved in and back out
}

Status SqliteTransaction::DeleteResource(int64_t connection_id, scim::ResourceType type,
                                         const std::string& id) {
  if (auto w = CheckWritable(); !w) return w;
  ForgetMirrorUsers();
  auto pk = PkOf(connection_id, type, id);
  if (!pk) return pk.error();
  // Groups that list this resource change too (RFC 7644 §3.6: a deleted resource no longer
  // appears in any group); bump them before their member rows go.
  {
    auto touch = db_.Prepare(sql::kTouchGroupsOf);
    if (!touch) return touch.error();
    touch->Bind(1, connection_id).Bind(2, id).Bind(3, ToUnixMillis(clock_.Now()));
    if (auto ran = touch->Run("deleting a resource"); !ran) return ran;
  }
  {
    auto unlink = db_.Prepare(sql::kDeleteMembershipsOf);
    if (!unlink) return unlink.error();
    unlink->Bind(1, connection_id).Bind(2, id);
    if (auto ran = unlink->Run("deleting a resource"); !ran) return ran;
  }
  // Cascades to its index entries and, for a group, its own members.
  auto remove = db_.Prepare(sql::kDeleteResource);
  if (!remove) return remove.error();
  remove->Bind(1, *pk);
  return remove->Run("deleting a resource");
}

Status SqliteTransaction::TouchResource(int64_t connection_id, scim::ResourceType type,
                                        const std::string& id, TimePoint when) {
  if (auto w = CheckWritable(); !w) return w;
  ForgetMirrorUsers();
  auto touch = db_.Prepare(sql::kTouchResource);
  if (!touch) return touch.error();
  touch->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, id).Bind(4, ToUnixMillis(when));
  if (auto ran = touch->Run("updating a resource"); !ran) return ran;
  if (db_.Changes() == 0) return NoResource(type, id);
  return Status::Ok();
}

Result<std::vector<StoredResource>> SqliteTransaction::FindIndexed(int64_t connection_id,
                                                                   scim::ResourceType type,
                                                                   const std::string& attr,
                                                                   const std::string& folded_value,
                                                                   bool parse_body) {
  const bool unique_key = attr == kUniqueKeyAttr;
  auto select = db_.Prepare(unique_key ? sql::kFindByUniqueKey : sql::kFindByIndex);
  if (!select) return select.error();
  select->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(4, folded_value);
  if (!unique_key) select->Bind(3, attr);
  return Resources(*select, "searching resources", parse_body);
}

Result<std::vector<StoredResource>> SqliteTransaction::FindByIndex(
    int64_t connection_id, scim::ResourceType type, const std::string& attr,
    const std::string& folded_value) {
  return FindIndexed(connection_id, type, attr, folded_value, /*parse_body=*/true);
}

Result<std::vector<StoredResource>> SqliteTransaction::FindByIndexText(
    int64_t connection_id, scim::ResourceType type, const std::string& attr,
    const std::string& folded_value) {
  return FindIndexed(connection_id, type, attr, folded_value, /*parse_body=*/false);
}

Result<int64_t> SqliteTransaction::CountResources(int64_t connection_id, scim::ResourceType type) {
  auto select = db_.Prepare(sql::kCountResources);
  if (!select) return select.error();
  select->Bind(1, connection_id).Bind(2, TypeCode(type));
  auto row = select->Step("counting resources");
  if (!row) return row.error();
  return *row ? select->Int(0) : int64_t{0};  // no row: nothing was ever stored
}

Result<std::vector<StoredResource>> SqliteTransaction::ListResources(int64_t connection_id,
                                                                     scim::ResourceType type,
                                                                     int64_t offset,
                                                                     int64_t limit) {
  return ListPage(connection_id, type, offset, limit, /*parse_body=*/true);
}

Result<std::vector<StoredResource>> SqliteTransaction::ListResourcesText(int64_t connection_id,
                                                                         scim::ResourceType type,
                                                                         int64_t offset,
                                                                         int64_t limit) {
  return ListPage(connection_id, type, offset, limit, /*parse_body=*/false);
}

Result<std::vector<StoredResource>> SqliteTransaction::ListPage(int64_t connection_id,
                                                                scim::ResourceType type,
                                                                int64_t offset, int64_t limit,
                                                                bool parse_body) {
  offset = std::max<int64_t>(offset, 0);
  limit = std::max<int64_t>(limit, 0);
  if (!boundaries_ || limit == 0) {
    auto select = db_.Prepare(sql::kListResources);
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, offset).Bind(4, limit);
    return Resources(*select, "listing resources", parse_body);
  }
  // Page by key: the scope's delete counter in this snapshot says which boundaries still hold.
  PageBoundaries::Scope scope{connection_id, TypeCode(type), 0};
  {
    auto select = db_.Prepare(sql::kScopeDeletes);
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, TypeCode(type));
    auto row = select->Step("reading the deletes of a scope");
    if (!row) return row.error();
    if (*row) scope.deletes = select->Int(0);
  }
  auto [at, after] = boundaries_->Nearest(scope, offset);
  // Skip from the nearest boundary to `offset` over index entries only, one checkpoint
  // stride at a time, remembering each checkpoint for the next deep page.
  while (at < offset) {
    int64_t target = std::min(offset, (at / PageBoundaries::kStride + 1) * PageBoundaries::kStride);
    auto skip = db_.Prepare(sql::kSkipResources);
    if (!skip) return skip.error();
    skip->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, after).Bind(4, target - at - 1);
    auto row = skip->Step("skipping to a page");
    if (!row) return row.error();
    if (!*row) return std::vector<StoredResource>{};  // past the end
    after = skip->Int(0);
    at = target;
    boundaries_->Remember(scope, at, after);
  }
  auto select = db_.Prepare(sql::kScanResources);
  if (!select) return select.error();
  select->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, after).Bind(4, limit);
  std::vector<StoredResource> out;
  int64_t last = after;
  auto listed = ForEachRow(*select, "listing resources", [&](const Statement& row) -> Status {
    auto resource = ReadResource(row, 0, Bodies{db_, codec_}, parse_body);
    if (!resource) return resource.error();
    last = row.Int(0);
    out.push_back(std::move(*resource));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  // Where the next page starts: a client walking the pages continues by key.
  if (!out.empty()) boundaries_->Remember(scope, offset + static_cast<int64_t>(out.size()), last);
  return out;
}

Status SqliteTransaction::ScanResources(int64_t connection_id, scim::ResourceType type,
                                        const std::function<bool(const StoredResource&)>& visit) {
  // Chunks by pk, each statement finished before `visit` runs, so the visitor may call
  // this transaction again (the statement cache holds one instance of each statement).
  int64_t after = 0;
  for (;;) {
    std::vector<std::pair<int64_t, StoredResource>> chunk;
    {
      auto select = db_.Prepare(sql::kScanResources);
      if (!select) return select.error();
      select->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, after).Bind(4, kScanChunk);
      auto read = ForEachRow(*select, "reading resources", [&](const Statement& row) -> Status {
        auto resource = ReadResource(row, 0, Bodies{db_, codec_});
        if (!resource) return resource.error();
        chunk.emplace_back(row.Int(0), std::move(*resource));
        return Status::Ok();
      });
      if (!read) return read;
    }
    for (const auto& [pk, resource] : chunk) {
      if (!visit(resource)) return Status::Ok();
    }
    if (static_cast<int64_t>(chunk.size()) < kScanChunk) return Status::Ok();
    after = chunk.back().first;
  }
}

Error SqliteTransaction::NoResource(scim::ResourceType type, const std::string& id) {
  return MakeError(ErrorCode::kNotFound,
                   std::string(scim::ResourceTypeName(type)) + " " + id + " not found");
}

Result<std::pair<int64_t, std::optional<StoredResource>>> SqliteTransaction::Find(
    int64_t connection_id, scim::ResourceType type, const std::string& id, BodyRead body,
    std::optional<std::string>* unique_key) {
  auto select = db_.Prepare(sql::kGetResource);
  if (!select) return select.error();
  select->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, id);
  auto row = select->Step("reading a resource");
  if (!row) return row.error();
  if (!*row) return std::pair<int64_t, std::optional<StoredResource>>{0, std::nullopt};
  auto resource = ReadResource(*select, 0, Bodies{db_, codec_}, body == BodyRead::kParsed,
                               body != BodyRead::kNone);
  if (!resource) return resource.error();
  if (unique_key && !select->IsNull(7)) *unique_key = select->Text(7);
  return std::pair<int64_t, std::optional<StoredResource>>{select->Int(0), std::move(*resource)};
}

Result<int64_t> SqliteTransaction::PkOf(int64_t connection_id, scim::ResourceType type,
                                        const std::string& id) {
  auto select = db_.Prepare(sql::kGroupPk);
  if (!select) return select.error();
  select->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, id);
  auto row = select->Step("reading a resource");
  if (!row) return row.error();
  if (!*row) return NoResource(type, id);
  return select->Int(0);
}

Result<int64_t> SqliteTransaction::GroupPk(int64_t connection_id, const std::string& group_id) {
  return PkOf(connection_id, scim::ResourceType::kGroup, group_id);
}

Result<bool> SqliteTransaction::SameIndex(int64_t pk, const std::vector<IndexEntry>& index) {
  auto select = db_.Prepare(sql::kIndexOf);
  if (!select) return select.error();
  select->Bind(1, pk);
  std::set<std::pair<std::string, std::string>> stored;
  auto read = ForEachRow(*select, "reading index entries", [&](const Statement& row) -> Status {
    stored.emplace(row.Text(0), row.Text(1));
    return Status::Ok();
  });
  if (!read) return read.error();
  std::set<std::pair<std::string, std::string>> wanted;
  for (const IndexEntry& entry : index) wanted.emplace(entry.attr, entry.value);
  return stored == wanted;
}

Result<std::vector<StoredResource>> SqliteTransaction::Resources(Statement& select,
                                                                 std::string_view what,
                                                                 bool parse_body) {
  std::vector<StoredResource> out;
  auto listed = ForEachRow(select, what, [&](const Statement& row) -> Status {
    auto resource = ReadResource(row, 0, Bodies{db_, codec_}, parse_body);
    if (!resource) return resource.error();
    out.push_back(std::move(*resource));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

void SqliteTransaction::BindBody(Statement& statement, int index, scim::ResourceType type,
                                 const std::string& body) {
  if (type == scim::ResourceType::kUser) {
    codec_.Bind(statement, index, BodyKind::kMirrorUser, body);
  } else {
    statement.Bind(index, body);
  }
}

}  // namespace idsync::store::sqlite
