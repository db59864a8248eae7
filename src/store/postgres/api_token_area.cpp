// PgTransaction's share of store/api_token_area.h (admin and read API tokens). Its statements
// are in queries.h.
#include <string>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

namespace {

ApiToken ReadApiToken(const PgResult& r, int row) {
  ApiToken token;
  token.id = r.Int(row, 0);
  token.name = r.Text(row, 1);
  token.kind = r.Text(row, 2);
  token.directory = r.Text(row, 3);
  token.hash = r.Text(row, 4);
  token.created = FromUnixMillis(r.Int(row, 5));
  return token;
}

}  // namespace

Result<ApiToken> PgTransaction::CreateApiToken(const ApiToken& token) {
  if (auto w = CheckWritable(); !w) return w.error();
  int64_t created = ToUnixMillis(token.created);
  auto r = db_.ExecGuarded(sql::kInsertApiToken,
                    {token.name, token.kind, token.directory, token.hash, std::to_string(created)},
                    "adding an API token");
  if (!r) {
    if (r.error().code == ErrorCode::kUniqueness) {
      // Name or hash; a hash collision of 256 random bits does not happen, so say the name.
      return MakeError(ErrorCode::kUniqueness,
                       "an API token named \"" + token.name + "\" already exists");
    }
    return r.error();
  }
  ApiToken stored = token;
  stored.id = r->Int(0, 0);
  stored.created = FromUnixMillis(created);
  return stored;
}

Result<ApiToken> PgTransaction::FindApiToken(const std::string& hash) {
  auto r = db_.Exec(sql::kFindApiToken, {hash}, "looking up an API token");
  if (!r) return r.error();
  if (r->Rows() == 0) return MakeError(ErrorCode::kNotFound, "no such API token");
  return ReadApiToken(*r, 0);
}

Result<std::vector<ApiToken>> PgTransaction::ListApiTokens() {
  auto r = db_.Exec(sql::kListApiTokens, {}, "listing API tokens");
  if (!r) return r.error();
  std::vector<ApiToken> out;
  for (int i = 0; i < r->Rows(); ++i) out.push_back(ReadApiToken(*r, i));
  return out;
}

Status PgTransaction::DeleteApiToken(const std::string& name) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kDeleteApiToken, {name}, "deleting an API token");
  if (!r) return r.error();
  if (r->Changed() == 0) {
    return MakeError(ErrorCode::kNotFound, "API token \"" + name + "\" not found");
  }
  return Status::Ok();
}

}  // namespace idsync::store::postgres
