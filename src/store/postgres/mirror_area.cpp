// PgTransaction's share of store/mirror_area.h (mirror resources and their index entries), as
// store/sqlite/mirror_area.cpp. Its statements are in queries.h.
#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

namespace {

std::string TypeCode(scim::ResourceType type) {
  return type == scim::ResourceType::kUser ? "0" : "1";
}

// Columns in the order of IDSYNC_PG_RESOURCE_COLUMNS (pk first). parse_body=false leaves `body`
// empty and fills `body_text`.
Result<StoredResource> ReadResource(const PgResult& r, int row, bool parse_body) {
  StoredResource resource;
  resource.id = r.Text(row, 1);
  resource.type = r.Int(row, 2) == 0 ? scim::ResourceType::kUser : scim::ResourceType::kGroup;
  if (parse_body) {
    auto body = ParseStoredJson(r.Text(row, 3), "stored resource " + resource.id);
    if (!body) return body.error();
    resource.body = std::move(*body);
  } else {
    resource.body_text = r.Text(row, 3);
  }
  resource.version = r.Int(row, 4);
  resource.created = FromUnixMillis(r.Int(row, 5));
  resource.last_modified = FromUnixMillis(r.Int(row, 6));
  return resource;
}

}  // namespace

Error PgTransaction::NoResource(scim::ResourceType type, const std::string& id) {
  return MakeError(ErrorCode::kNotFound,
                   std::string(scim::ResourceTypeName(type)) + " " + id + " not found");
}

Result<int64_t> PgTransaction::PkOf(int64_t connection_id, scim::ResourceType type,
                                    const std::string& id) {
  auto r = db_.Exec(sql::kResourcePk, {Num(connection_id), TypeCode(type), id},
                    "reading a resource");
  if (!r) return r.error();
  if (r->Rows() == 0) return NoResource(type, id);
  return r->Int(0, 0);
}

Result<std::vector<StoredResource>> PgTransaction::Resources(Result<PgResult> r,
                                                             bool parse_body) {
  return ReadRows(std::move(r),
                  [&](const PgResult& rows, int i) { return ReadResource(rows, i, parse_body); });
}

Result<StoredResource> PgTransaction::GetResource(int64_t connection_id, scim::ResourceType type,
                                                  const std::string& id) {
  // The derivation reads back the user its job has just stored: answered from memory, one
  // round trip and a JSON parse less per SCIM write (as the SQLite store does).
  if (written_user_ && type == scim::ResourceType::kUser &&
      written_user_->first == connection_id && written_user_->second.id == id) {
    return written_user_->second;
  }
  auto found = Resources(db_.Exec(sql::kGetResource, {Num(connection_id), TypeCode(type), id},
                                  "reading a resource"),
                         /*parse_body=*/true);
  if (!found) return found.error();
  if (found->empty()) return NoResource(type, id);
  return std::move(found->front());
}

Result<StoredResource> PgTransaction::GetResourceText(int64_t connection_id,
                                                      scim::ResourceType type,
                                                      const std::string& id) {
  auto found = Resources(db_.Exec(sql::kGetResource, {Num(connection_id), TypeCode(type), id},
                                  "reading a resource"),
                         /*parse_body=*/false);
  if (!found) return found.error();
  if (found->empty()) return NoResource(type, id);
  return std::move(found->front());
}

Result<int64_t> PgTransaction::GetResourceVersion(int64_t connection_id, scim::ResourceType type,
                                                  const std::string& id) {
  auto head =
      db_.Exec(sql::kResourceHead, {Num(connection_id), TypeCode(type), id}, "reading a resource");
  if (!head) return head.error();
  if (head->Rows() == 0) return NoResource(type, id);
  return head->Int(0, 1);
}

Result<StoredResource> PgTransaction::PutResource(int64_t connection_id, StoredResource resource,
                                                  const std::optional<std::string>& unique_key,
                                                  const std::vector<IndexEntry>& index) {
  if (auto w = CheckWritable(); !w) return w.error();
  written_user_.reset();
  const std::string type = TypeCode(resource.type);
  // Encoded before the job was queued (EncodeBody: the JSON text), or here; what this returns
  // carries no encoding.
  std::string body = EncodedText(std::exchange(resource.encoded, nullptr), resource.body);
  PgParam key;
  if (unique_key) key = *unique_key;
  auto taken = [&](const Error& error) -> Error {
    if (error.code != ErrorCode::kUniqueness) return error;
    return MakeError(ErrorCode::kUniqueness, std::string(scim::ResourceTypeName(resource.type)) +
                                                 " \"" + unique_key.value_or("") +
                                                 "\" already exists");
  };
  // The row is written before its index entries are replaced: if the unique key is taken, the
  // statement fails alone (in its savepoint) and nothing of this call has changed. The caller's
  // version says which statement to try first (mirror_area.h): an update by id that answers
  // the row's pk, version and creation time, or an insert that does nothing if the id exists.
  // Either way one round trip when the guess is right; a wrong guess costs one more.
  int64_t pk = 0;
  // The update by id: true with pk, version and creation time taken from the row, false if
  // there is no row with this id.
  auto update_by_id = [&]() -> Result<bool> {
    auto row = db_.ExecGuarded(
        sql::kUpdateResourceById,
        {Num(connection_id), type, resource.id, body, Millis(resource.last_modified), key},
        "updating a resource");
    if (!row) return taken(row.error());
    if (row->Rows() == 0) return false;
    pk = row->Int(0, 0);
    resource.version = row->Int(0, 1);
    resource.created = FromUnixMillis(row->Int(0, 2));
    return true;
  };
  bool updated = false;
  if (resource.version > 0) {
    auto done = update_by_id();
    if (!done) return done.error();
    updated = *done;
  }
  if (!updated) {
    auto inserted = db_.ExecGuarded(sql::kInsertResource,
                                    {Num(connection_id), type, resource.id, body,
                                     Millis(resource.created), Millis(resource.last_modified), key},
                                    "adding a resource");
    if (!inserted) {
      if (inserted.error().code == ErrorCode::kNotFound) return NoConnectionError(connection_id);
      return taken(inserted.error());
    }
    if (inserted->Rows() > 0) {
      pk = inserted->Int(0, 0);
      resource.version = 1;
    } else if (resource.version > 0) {
      // The update found no row and the insert found one: only another transaction's row,
      // which serializable isolation reports as a conflict before this. Never reached.
      return MakeError(ErrorCode::kInternal,
                       "resource " + resource.id + " neither updated nor added");
    } else {
      // The id exists although the caller expected a new one (a caller that did not read it
      // first): the update by id.
      auto done = update_by_id();
      if (!done) return done.error();
      if (!*done) {
        return MakeError(ErrorCode::kInternal,
                         "resource " + resource.id + " vanished while written");
      }
      updated = true;
    }
  }
  bool write_index = true;
  if (updated) {
    // Most updates keep every entry: then the index is not rewritten.
    auto current = db_.Exec(sql::kIndexOf, {Num(pk)}, "reading index entries");
    if (!current) return current.error();
    std::set<std::pair<std::string, std::string>> had, wanted;
    for (int i = 0; i < current->Rows(); ++i) had.emplace(current->Text(i, 0), current->Text(i, 1));
    for (const IndexEntry& entry : index) wanted.emplace(entry.attr, entry.value);
    if (had == wanted) {
      write_index = false;
    } else {
      db_.ExecDeferred(sql::kDeleteIndexOf, {Num(pk)}, "updating a resource");
    }
  }
  for (const IndexEntry& entry : index) {
    if (!write_index) break;
    // Index entries go out with the job's next statement (PgConnection::ExecDeferred).
    db_.ExecDeferred(sql::kInsertIndex,
                     {Num(connection_id), type, entry.attr, entry.value, Num(pk)},
                     "indexing a resource");
  }
  resource.created = Stored(resource.created);
  resource.last_modified = Stored(resource.last_modified);
  if (resource.type == scim::ResourceType::kUser) {
    written_user_.emplace(connection_id, resource);
    written_user_->second.body_text.clear();  // GetResource returns the parsed body only
  }
  return resource;  // the caller's, moved in and back out
}

Status PgTransaction::DeleteResource(int64_t connection_id, scim::ResourceType type,
                                     const std::string& id) {
  if (auto w = CheckWritable(); !w) return w;
  written_user_.reset();
  auto pk = PkOf(connection_id, type, id);
  if (!pk) return pk.error();
  // Groups that list this resource change too (RFC 7644 §3.6); bump them before their member
  // rows go.
  if (auto r = db_.Exec(sql::kTouchGroupsOf, {Num(connection_id), id, Millis(clock_.Now())},
                        "deleting a resource");
      !r) {
    return r.error();
  }
  if (auto r = db_.Exec(sql::kDeleteMembershipsOf, {Num(connection_id), id},
                        "deleting a resource");
      !r) {
    return r.error();
  }
  auto r = db_.Exec(sql::kDeleteResource, {Num(*pk)}, "deleting a resource");
  if (!r) return r.error();
  return Status::Ok();
}

Status PgTransaction::TouchResource(int64_t connection_id, scim::ResourceType type,
                                    const std::string& id, TimePoint when) {
  if (auto w = CheckWritable(); !w) return w;
  written_user_.reset();
  auto r = db_.Exec(sql::kTouchResource, {Num(connection_id), TypeCode(type), id, Millis(when)},
                    "updating a resource");
  if (!r) return r.error();
  if (r->Changed() == 0) return NoResource(type, id);
  return Status::Ok();
}

Result<std::vector<StoredResource>> PgTransaction::FindIndexed(int64_t connection_id,
                                                               scim::ResourceType type,
                                                               const std::string& attr,
                                                               const std::string& folded_value,
                                                               bool parse_body) {
  if (attr == kUniqueKeyAttr) {
    return Resources(
        db_.Exec(sql::kFindByUniqueKey, {Num(connection_id), TypeCode(type), folded_value},
                 "searching resources"),
        parse_body);
  }
  return Resources(
      db_.Exec(sql::kFindByIndex, {Num(connection_id), TypeCode(type), attr, folded_value},
               "searching resources"),
      parse_body);
}

Result<std::vector<StoredResource>> PgTransaction::FindByIndex(int64_t connection_id,
                                                               scim::ResourceType type,
                                                               const std::string& attr,
                                                               const std::string& folded_value) {
  return FindIndexed(connection_id, type, attr, folded_value, /*parse_body=*/true);
}

Result<std::vector<StoredResource>> PgTransaction::FindByIndexText(
    int64_t connection_id, scim::ResourceType type, const std::string& attr,
    const std::string& folded_value) {
  return FindIndexed(connection_id, type, attr, folded_value, /*parse_body=*/false);
}

Result<int64_t> PgTransaction::CountResources(int64_t connection_id, scim::ResourceType type) {
  auto r = db_.Exec(sql::kCountResources, {Num(connection_id), TypeCode(type)},
                    "counting resources");
  if (!r) return r.error();
  return r->Int(0, 0);
}

Result<std::vector<StoredResource>> PgTransaction::ListResources(int64_t connection_id,
                                                                 scim::ResourceType type,
                                                                 int64_t offset, int64_t limit) {
  return Resources(db_.Exec(sql::kListResources,
                            {Num(connection_id), TypeCode(type),
                             Num(std::max<int64_t>(offset, 0)), Num(std::max<int64_t>(limit, 0))},
                            "listing resources"),
                   /*parse_body=*/true);
}

Result<std::vector<StoredResource>> PgTransaction::ListResourcesText(int64_t connection_id,
                                                                     scim::ResourceType type,
                                                                     int64_t offset,
                                                                     int64_t limit) {
  return Resources(db_.Exec(sql::kListResources,
                            {Num(connection_id), TypeCode(type),
                             Num(std::max<int64_t>(offset, 0)), Num(std::max<int64_t>(limit, 0))},
                            "listing resources"),
                   /*parse_body=*/false);
}

Status PgTransaction::ScanResources(int64_t connection_id, scim::ResourceType type,
                                    const std::function<bool(const StoredResource&)>& visit) {
  // Chunks by pk, each read whole before `visit` runs, so the visitor may use this transaction.
  int64_t after = 0;
  for (;;) {
    auto r = db_.Exec(sql::kScanResources,
                      {Num(connection_id), TypeCode(type), Num(after), Num(kScanChunk)},
                      "reading resources");
    if (!r) return r.error();
    for (int i = 0; i < r->Rows(); ++i) {
      auto resource = ReadResource(*r, i, /*parse_body=*/true);
      if (!resource) return resource.error();
      if (!visit(*resource)) return Status::Ok();
    }
    if (r->Rows() < kScanChunk) return Status::Ok();
    after = r->Int(r->Rows() - 1, 0);
  }
}

}  // namespace idsync::store::postgres
