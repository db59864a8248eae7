// SqliteTransaction's share of store/policy_area.h (directories and policy versions) over one
// SQLite connection. Its statements are in queries.h.
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/transaction.h"

namespace idsync::store::sqlite {

namespace {

// Columns in the order of IDSYNC_DIRECTORY_COLUMNS.
Result<DirectoryRecord> ReadDirectory(const Statement& row) {
  DirectoryRecord record;
  record.name = row.Text(0);
  auto attributes = ParseStored(row.Text(1), "custom attributes of directory " + record.name);
  if (!attributes) return attributes.error();
  record.custom_attributes = std::move(*attributes);
  record.version = row.Int(2);
  record.created = FromUnixMillis(row.Int(3));
  return record;
}

// Columns in the order of IDSYNC_POLICY_COLUMNS.
Result<PolicyVersion> ReadPolicy(const Statement& row) {
  PolicyVersion policy;
  policy.connection_id = row.Int(0);
  policy.version = row.Int(1);
  auto body =
      ParseStored(row.Text(2), "policy of connection " + std::to_string(policy.connection_id));
  if (!body) return body.error();
  policy.body = std::move(*body);
  policy.time = FromUnixMillis(row.Int(3));
  policy.actor = row.Text(4);
  policy.comment = row.Text(5);
  return policy;
}

}  // namespace

Result<std::vector<DirectoryRecord>> SqliteTransaction::ListDirectories() {
  auto select = db_.Prepare(sql::kListDirectories);
  if (!select) return select.error();
  return Rows<DirectoryRecord>(*select, "listing directories", ReadDirectory);
}

Result<DirectoryRecord> SqliteTransaction::GetDirectory(const std::string& name) {
  auto select = db_.Prepare(sql::kGetDirectory);
  if (!select) return select.error();
  select->Bind(1, name);
  auto row = select->Step("reading a directory");
  if (!row) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, "directory " + name + " not found");
  return ReadDirectory(*select);
}

Result<DirectoryRecord> SqliteTransaction::PutDirectory(const DirectoryRecord& record) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto existing = GetDirectory(record.name);
  if (!existing && existing.error().code != ErrorCode::kNotFound) return existing.error();
  DirectoryRecord stored = record;
  std::string attributes = DumpJson(record.custom_attributes);
  if (existing) {
    auto update = db_.Prepare(sql::kUpdateDirectory);
    if (!update) return update.error();
    update->Bind(1, record.name).Bind(2, attributes);
    if (auto ran = update->Run("updating a directory"); !ran) return ran.error();
    stored.version = existing->version + 1;
    stored.created = existing->created;
  } else {
    auto insert = db_.Prepare(sql::kInsertDirectory);
    if (!insert) return insert.error();
    insert->Bind(1, record.name).Bind(2, attributes).Bind(3, ToUnixMillis(record.created));
    if (auto ran = insert->Run("adding a directory"); !ran) return ran.error();
    stored.version = 1;
    stored.created = Stored(record.created);
  }
  return stored;
}

Result<PolicyVersion> SqliteTransaction::GetPolicy(int64_t connection_id) {
  auto select = db_.Prepare(sql::kGetPolicy);
  if (!select) return select.error();
  select->Bind(1, connection_id);
  auto row = select->Step("reading a policy");
  if (!row) return row.error();
  if (!*row) {
    return MakeError(ErrorCode::kNotFound,
                     "connection " + std::to_string(connection_id) + " has no policy");
  }
  return ReadPolicy(*select);
}

Result<PolicyVersion> SqliteTransaction::PutPolicy(const PolicyVersion& policy) {
  if (auto w = CheckWritable(); !w) return w.error();
  PolicyVersion stored = policy;
  {
    auto last = db_.Prepare(sql::kLastPolicyVersion);
    if (!last) return last.error();
    last->Bind(1, policy.connection_id);
    auto row = last->Step("reading a policy");
    if (!row) return row.error();
    stored.version = *row ? last->Int(0) + 1 : 1;
  }
  auto insert = db_.Prepare(sql::kInsertPolicy);
  if (!insert) return insert.error();
  insert->Bind(1, policy.connection_id)
      .Bind(2, stored.version)
      .Bind(3, DumpJson(policy.body))
      .Bind(4, ToUnixMillis(policy.time))
      .Bind(5, policy.actor)
      .Bind(6, policy.comment);
  if (auto ran = insert->Run("storing a policy"); !ran) {
    if (ran.error().code == ErrorCode::kNotFound) return NoConnection(policy.connection_id).error();
    return ran.error();
  }
  stored.time = Stored(policy.time);
  return stored;
}

Result<std::vector<PolicyVersion>> SqliteTransaction::ListPolicyVersions(int64_t connection_id) {
  auto select = db_.Prepare(sql::kListPolicyVersions);
  if (!select) return select.error();
  select->Bind(1, connection_id);
  return Rows<PolicyVersion>(*select, "listing policy versions", ReadPolicy);
}

Result<Json> SqliteTransaction::GetPolicyApply(const std::string& directory) {
  auto select = db_.Prepare(sql::kGetPolicyApply);
  if (!select) return select.error();
  select->Bind(1, directory);
  auto row = select->Step("reading a policy apply record");
  if (!row) return row.error();
  if (!*row) {
    return MakeError(ErrorCode::kNotFound, "no policy apply in progress on " + directory);
  }
  return ParseStored(select->Text(0), "policy apply record of directory " + directory);
}

Status SqliteTransaction::PutPolicyApply(const std::string& directory, const Json& record) {
  auto put = db_.Prepare(sql::kPutPolicyApply);
  if (!put) return put.error();
  put->Bind(1, directory).Bind(2, record.dump());
  return put->Run("writing a policy apply record");
}

Status SqliteTransaction::DeletePolicyApply(const std::string& directory) {
  auto remove = db_.Prepare(sql::kDeletePolicyApply);
  if (!remove) return remove.error();
  remove->Bind(1, directory);
  return remove->Run("deleting a policy apply record");
}

}  // namespace idsync::store::sqlite
