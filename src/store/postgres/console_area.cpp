// PgConsoleArea: admin users, console sessions and the Overview's activity per hour, with the
// semantics of store/sqlite/console_area.cpp. Its statements are in queries.h.
#include "store/postgres/console_area.h"

#include <map>
#include <string>
#include <utility>

#include "store/postgres/queries.h"
#include "store/postgres/rows.h"

namespace idsync::store::postgres {
namespace {

constexpr int64_t kHourMs = 3600000;

// Columns in the order of IDSYNC_PG_ADMIN_USER_COLUMNS.
AdminUser ReadUser(const PgResult& r, int row) {
  AdminUser user;
  user.id = r.Int(row, 0);
  user.name = r.Text(row, 1);
  user.role = r.Text(row, 2);
  user.hash = r.Text(row, 3);
  user.must_change_password = r.Text(row, 4) == "t";
  user.created = FromUnixMillis(r.Int(row, 5));
  user.password_changed = FromUnixMillis(r.Int(row, 6));
  return user;
}

Error NoUser(const std::string& name) {
  return MakeError(ErrorCode::kNotFound, "no admin user named \"" + name + "\"");
}

}  // namespace

Status PgConsoleArea::CheckWritable() const {
  if (!writable_) return MakeError(ErrorCode::kInternal, "write through a read transaction");
  return Status::Ok();
}

// --- admin users

Result<AdminUser> PgConsoleArea::CreateAdminUser(const AdminUser& user) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto r = db_.ExecGuarded(sql::kInsertAdminUser,
                           {user.name, user.role, user.hash, PgBool(user.must_change_password),
                            Millis(user.created), Millis(user.password_changed)},
                           "adding an admin user");
  if (!r) {
    if (r.error().code == ErrorCode::kUniqueness) {
      return MakeError(ErrorCode::kUniqueness,
                       "an admin user named \"" + user.name + "\" already exists");
    }
    return r.error();
  }
  AdminUser stored = user;
  stored.id = r->Int(0, 0);
  stored.created = FromUnixMillis(ToUnixMillis(user.created));
  stored.password_changed = FromUnixMillis(ToUnixMillis(user.password_changed));
  return stored;
}

Result<AdminUser> PgConsoleArea::GetAdminUser(const std::string& name) {
  auto r = db_.Exec(sql::kGetAdminUser, {name}, "reading an admin user");
  if (!r) return r.error();
  if (r->Rows() == 0) return NoUser(name);
  return ReadUser(*r, 0);
}

Result<AdminUser> PgConsoleArea::GetAdminUserById(int64_t id) {
  auto r = db_.Exec(sql::kGetAdminUserById, {std::to_string(id)}, "reading an admin user");
  if (!r) return r.error();
  if (r->Rows() == 0) return NoUser("#" + std::to_string(id));
  return ReadUser(*r, 0);
}

Result<std::vector<AdminUser>> PgConsoleArea::ListAdminUsers() {
  auto r = db_.Exec(sql::kListAdminUsers, {}, "listing admin users");
  if (!r) return r.error();
  std::vector<AdminUser> out;
  for (int i = 0; i < r->Rows(); ++i) out.push_back(ReadUser(*r, i));
  return out;
}

Status PgConsoleArea::SetAdminPassword(const std::string& name, const std::string& hash,
                                       bool must_change, TimePoint changed) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kSetAdminPassword, {name, hash, PgBool(must_change), Millis(changed)},
                    "setting an admin user's password");
  if (!r) return r.error();
  if (r->Changed() == 0) return NoUser(name);
  return Status::Ok();
}

Status PgConsoleArea::DeleteAdminUser(const std::string& name) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kDeleteAdminUser, {name}, "removing an admin user");
  if (!r) return r.error();
  if (r->Changed() == 0) return NoUser(name);
  return Status::Ok();
}

// --- sessions

Status PgConsoleArea::CreateSession(const ConsoleSession& session) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kInsertSession,
                    {session.id_hash, std::to_string(session.user_id), Millis(session.created),
                     Millis(session.last_seen)},
                    "starting a console session");
  if (!r) return r.error();
  return Status::Ok();
}

Result<ConsoleSession> PgConsoleArea::GetSession(const std::string& id_hash) {
  auto r = db_.Exec(sql::kGetSession, {id_hash}, "reading a console session");
  if (!r) return r.error();
  if (r->Rows() == 0) return MakeError(ErrorCode::kNotFound, "no such console session");
  ConsoleSession session;
  session.id_hash = r->Text(0, 0);
  session.user_id = r->Int(0, 1);
  session.created = FromUnixMillis(r->Int(0, 2));
  session.last_seen = FromUnixMillis(r->Int(0, 3));
  return session;
}

Status PgConsoleArea::TouchSession(const std::string& id_hash, TimePoint last_seen) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kTouchSession, {id_hash, Millis(last_seen)}, "touching a console session");
  if (!r) return r.error();
  return Status::Ok();
}

Status PgConsoleArea::DeleteSession(const std::string& id_hash) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kDeleteSession, {id_hash}, "ending a console session");
  if (!r) return r.error();
  return Status::Ok();
}

Status PgConsoleArea::DeleteSessionsOf(int64_t user_id, const std::string& except_hash) {
  if (auto w = CheckWritable(); !w) return w;
  auto r = db_.Exec(sql::kDeleteSessionsOf, {std::to_string(user_id), except_hash},
                    "ending an admin user's console sessions");
  if (!r) return r.error();
  return Status::Ok();
}

Result<int64_t> PgConsoleArea::DeleteExpiredSessions(TimePoint idle_before,
                                                     TimePoint created_before) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto r = db_.Exec(sql::kDeleteExpiredSessions, {Millis(idle_before), Millis(created_before)},
                    "removing expired console sessions");
  if (!r) return r.error();
  return r->Changed();
}

// --- activity

// PostgreSQL has the indexes SQLite's version searches its way around (audit_by_time,
// changes_by_directory), so each count is one statement over an index range.
Result<std::vector<HourlyActivity>> PgConsoleArea::ActivityByHour(int64_t connection_id,
                                                                  const std::string& directory,
                                                                  TimePoint since) {
  const std::string since_ms = Millis(since);
  std::map<int64_t, HourlyActivity> hours;
  auto audit = db_.Exec(sql::kAuditByHour, {since_ms, std::to_string(connection_id)},
                        "counting audit records per hour");
  if (!audit) return audit.error();
  for (int i = 0; i < audit->Rows(); ++i) {
    HourlyActivity& h = hours[audit->Int(i, 0)];
    h.requests = audit->Int(i, 1);
    h.errors = audit->Int(i, 2);
  }
  auto changes =
      db_.Exec(sql::kChangesByHour, {directory, since_ms}, "counting change-feed entries per hour");
  if (!changes) return changes.error();
  for (int i = 0; i < changes->Rows(); ++i) hours[changes->Int(i, 0)].changes = changes->Int(i, 1);
  std::vector<HourlyActivity> out;
  out.reserve(hours.size());
  for (auto& [hour, h] : hours) {
    h.hour = hour * kHourMs;
    out.push_back(h);
  }
  return out;
}

Result<std::optional<TimePoint>> PgConsoleArea::LastAuditTime(int64_t connection_id) {
  auto r = db_.Exec(sql::kLastAudit, {std::to_string(connection_id)},
                    "reading a connection's last audit record");
  if (!r) return r.error();
  if (r->Rows() == 0) return std::optional<TimePoint>();
  return std::optional<TimePoint>(FromUnixMillis(r->Int(0, 0)));
}

}  // namespace idsync::store::postgres
