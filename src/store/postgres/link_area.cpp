// PgTransaction's share of store/link_area.h (links between source users and effective users),
// as store/sqlite/link_area.cpp. Its statements are in queries.h.
#include <string>
#include <vector>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"

namespace idsync::store::postgres {

namespace {

Result<std::vector<SourceLink>> Links(Result<PgResult> r) {
  if (!r) return r.error();
  std::vector<SourceLink> out;
  out.reserve(r->Rows());
  for (int i = 0; i < r->Rows(); ++i) {
    SourceLink link;
    link.connection_id = r->Int(i, 0);
    link.source_user_id = r->Text(i, 1);
    link.directory = r->Text(i, 2);
    link.effective_user_id = r->Text(i, 3);
    link.deleted = r->Text(i, 4) == "t";
    link.source_name = r->Text(i, 5);
    out.push_back(std::move(link));
  }
  return out;
}

}  // namespace

Result<SourceLink> PgTransaction::GetLink(int64_t connection_id,
                                          const std::string& source_user_id) {
  auto links = Links(db_.Exec(sql::kGetLink, {Num(connection_id), source_user_id},
                              "reading a link"));
  if (!links) return links.error();
  if (links->empty()) {
    return MakeError(ErrorCode::kNotFound, "source user " + source_user_id + " of connection " +
                                               Num(connection_id) + " is not linked");
  }
  return std::move(links->front());
}

Status PgTransaction::PutLink(const SourceLink& link) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.ExecGuarded(sql::kPutLink,
                           {Num(link.connection_id), link.source_user_id, link.directory,
                            link.effective_user_id, PgBool(link.deleted), link.source_name},
                           "storing a link");
  if (!r && r.error().code == ErrorCode::kNotFound) return NoConnectionError(link.connection_id);
  if (!r) return r.error();
  return Status::Ok();
}

Status PgTransaction::DeleteLink(int64_t connection_id, const std::string& source_user_id) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kDeleteLink, {Num(connection_id), source_user_id}, "deleting a link");
  if (!r) return r.error();
  return Status::Ok();
}

Result<std::vector<SourceLink>> PgTransaction::LinksOf(const std::string& directory,
                                                       const std::string& effective_user_id) {
  return Links(db_.Exec(sql::kLinksOf, {directory, effective_user_id}, "reading links"));
}

Result<std::vector<SourceLink>> PgTransaction::LinksOfConnection(int64_t connection_id) {
  return Links(db_.Exec(sql::kLinksOfConnection, {Num(connection_id)}, "reading links"));
}

Result<std::vector<SourceLink>> PgTransaction::FindTombstones(int64_t connection_id,
                                                              const std::string& source_name) {
  return Links(
      db_.Exec(sql::kFindTombstones, {Num(connection_id), source_name}, "reading links"));
}

}  // namespace idsync::store::postgres
