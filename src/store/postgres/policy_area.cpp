// PgTransaction's share of store/policy_area.h (directories and policy versions), as
// store/sqlite/policy_area.cpp. Its statements are in queries.h.
#include <string>
#include <utility>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

namespace {

Result<DirectoryRecord> ReadDirectory(const PgResult& r, int row) {
  DirectoryRecord record;
  record.name = r.Text(row, 0);
  auto attributes =
      ParseStoredJson(r.Text(row, 1), "custom attributes of directory " + record.name);
  if (!attributes) return attributes.error();
  record.custom_attributes = std::move(*attributes);
  record.version = r.Int(row, 2);
  record.created = FromUnixMillis(r.Int(row, 3));
  return record;
}

Result<PolicyVersion> ReadPolicy(const PgResult& r, int row) {
  PolicyVersion policy;
  policy.connection_id = r.Int(row, 0);
  policy.version = r.Int(row, 1);
  auto body =
      ParseStoredJson(r.Text(row, 2), "policy of connection " + Num(policy.connection_id));
  if (!body) return body.error();
  policy.body = std::move(*body);
  policy.time = FromUnixMillis(r.Int(row, 3));
  policy.actor = r.Text(row, 4);
  policy.comment = r.Text(row, 5);
  return policy;
}

}  // namespace

Result<std::vector<DirectoryRecord>> PgTransaction::ListDirectories() {
  return ReadRows(db_.Exec(sql::kListDirectories, {}, "listing directories"), ReadDirectory);
}

Result<DirectoryRecord> PgTransaction::GetDirectory(const std::string& name) {
  auto r = db_.Exec(sql::kGetDirectory, {name}, "reading a directory");
  if (!r) return r.error();
  if (r->Rows() == 0) {
    return MakeError(ErrorCode::kNotFound, "directory " + name + " not found");
  }
  return ReadDirectory(*r, 0);
}

Result<DirectoryRecord> PgTransaction::PutDirectory(const DirectoryRecord& record) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto existing = GetDirectory(record.name);
  if (!existing && existing.error().code != ErrorCode::kNotFound) return existing.error();
  DirectoryRecord stored = record;
  std::string attributes = DumpJson(record.custom_attributes);
  if (existing) {
    auto r = db_.Exec(sql::kUpdateDirectory, {record.name, attributes}, "updating a directory");
    if (!r) return r.error();
    stored.version = existing->version + 1;
    stored.created = existing->created;
  } else {
    auto r = db_.Exec(sql::kInsertDirectory, {record.name, attributes, Millis(record.created)},
                      "adding a directory");
    if (!r) return r.error();
    stored.version = 1;
    stored.created = Stored(record.created);
  }
  return stored;
}

Result<PolicyVersion> PgTransaction::GetPolicy(int64_t connection_id) {
  auto r = db_.Exec(sql::kGetPolicy, {Num(connection_id)}, "reading a policy");
  if (!r) return r.error();
  if (r->Rows() == 0) {
    return MakeError(ErrorCode::kNotFound, "connection " + Num(connection_id) + " has no policy");
  }
  return ReadPolicy(*r, 0);
}

Result<PolicyVersion> PgTransaction::PutPolicy(const PolicyVersion& policy) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto r = db_.ExecGuarded(sql::kInsertPolicy,
                           {Num(policy.connection_id), DumpJson(policy.body), Millis(policy.time),
                            policy.actor, policy.comment},
                           "storing a policy");
  if (!r) {
    if (r.error().code == ErrorCode::kNotFound) return NoConnectionError(policy.connection_id);
    return r.error();
  }
  PolicyVersion stored = policy;
  stored.version = r->Int(0, 0);
  stored.time = Stored(policy.time);
  return stored;
}

Result<std::vector<PolicyVersion>> PgTransaction::ListPolicyVersions(int64_t connection_id) {
  return ReadRows(
      db_.Exec(sql::kListPolicyVersions, {Num(connection_id)}, "listing policy versions"),
      ReadPolicy);
}

Result<Json> PgTransaction::GetPolicyApply(const std::string& directory) {
  auto r = db_.Exec(sql::kGetPolicyApply, {directory}, "reading a policy apply record");
  if (!r) return r.error();
  if (r->Rows() == 0) {
    return MakeError(ErrorCode::kNotFound, "no policy apply in progress on " + directory);
  }
  return ParseStoredJson(r->Text(0, 0), "policy apply record of directory " + directory);
}

Status PgTransaction::PutPolicyApply(const std::string& directory, const Json& record) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kPutPolicyApply, {directory, record.dump()},
                    "writing a policy apply record");
  if (!r) return r.error();
  return Status::Ok();
}

Status PgTransaction::DeletePolicyApply(const std::string& directory) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kDeletePolicyApply, {directory}, "deleting a policy apply record");
  if (!r) return r.error();
  return Status::Ok();
}

}  // namespace idsync::store::postgres
