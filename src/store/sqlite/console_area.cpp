#include "store/sqlite/console_area.h"

#include <limits>
#include <map>
#include <utility>

#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"

namespace idsync::store::sqlite {
namespace {

// Columns in the order of IDSYNC_ADMIN_USER_COLUMNS.
AdminUser ReadUser(const Statement& row) {
  AdminUser user;
  user.id = row.Int(0);
  user.name = row.Text(1);
  user.role = row.Text(2);
  user.hash = row.Text(3);
  user.must_change_password = row.Int(4) != 0;
  user.created = FromUnixMillis(row.Int(5));
  user.password_changed = FromUnixMillis(row.Int(6));
  return user;
}

Error NoUser(const std::string& name) {
  return MakeError(ErrorCode::kNotFound, "no admin user named \"" + name + "\"");
}

}  // namespace

Status SqliteConsoleArea::CheckWritable() const {
  if (writable_) return Status::Ok();
  return Internal("write attempted in a read transaction");
}

// --- admin users

Result<AdminUser> SqliteConsoleArea::CreateAdminUser(const AdminUser& user) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto insert = db_.Prepare(sql::kInsertAdminUser);
  if (!insert) return insert.error();
  insert->Bind(1, user.name)
      .Bind(2, user.role)
      .Bind(3, user.hash)
      .Bind(4, int64_t{user.must_change_password ? 1 : 0})
      .Bind(5, ToUnixMillis(user.created))
      .Bind(6, ToUnixMillis(user.password_changed));
  if (auto ran = insert->Run("adding an admin user"); !ran) {
    if (ran.error().code == ErrorCode::kUniqueness) {
      return MakeError(ErrorCode::kUniqueness,
                       "an admin user named \"" + user.name + "\" already exists");
    }
    return ran.error();
  }
  AdminUser stored = user;
  stored.id = db_.LastInsertRowid();
  stored.created = Stored(user.created);
  stored.password_changed = Stored(user.password_changed);
  return stored;
}

Result<AdminUser> SqliteConsoleArea::GetUser(const char* sql, const std::string& key_text,
                                             int64_t key_int, bool by_id) {
  auto select = db_.Prepare(sql);
  if (!select) return select.error();
  if (by_id) {
    select->Bind(1, key_int);
  } else {
    select->Bind(1, key_text);
  }
  auto row = select->Step("reading an admin user");
  if (!row) return row.error();
  if (!*row) return by_id ? NoUser("#" + std::to_string(key_int)) : NoUser(key_text);
  return ReadUser(*select);
}

Result<AdminUser> SqliteConsoleArea::GetAdminUser(const std::string& name) {
  return GetUser(sql::kGetAdminUser, name, 0, false);
}

Result<AdminUser> SqliteConsoleArea::GetAdminUserById(int64_t id) {
  return GetUser(sql::kGetAdminUserById, "", id, true);
}

Result<std::vector<AdminUser>> SqliteConsoleArea::ListAdminUsers() {
  auto select = db_.Prepare(sql::kListAdminUsers);
  if (!select) return select.error();
  std::vector<AdminUser> out;
  auto listed = ForEachRow(*select, "listing admin users", [&](const Statement& row) {
    out.push_back(ReadUser(row));
    return Status::Ok();
  });
  if (!listed) return listed.error();
  return out;
}

Status SqliteConsoleArea::SetAdminPassword(const std::string& name, const std::string& hash,
                                           bool must_change, TimePoint changed) {
  if (auto w = CheckWritable(); !w) return w;
  auto update = db_.Prepare(sql::kSetAdminPassword);
  if (!update) return update.error();
  update->Bind(1, name)
      .Bind(2, hash)
      .Bind(3, int64_t{must_change ? 1 : 0})
      .Bind(4, ToUnixMillis(changed));
  if (auto ran = update->Run("setting an admin user's password"); !ran) return ran;
  if (db_.Changes() == 0) return NoUser(name);
  return Status::Ok();
}

Status SqliteConsoleArea::DeleteAdminUser(const std::string& name) {
  if (auto w = CheckWritable(); !w) return w;
  auto del = db_.Prepare(sql::kDeleteAdminUser);
  if (!del) return del.error();
  del->Bind(1, name);
  if (auto ran = del->Run("removing an admin user"); !ran) return ran;
  if (db_.Changes() == 0) return NoUser(name);
  return Status::Ok();
}

// --- sessions

Status SqliteConsoleArea::CreateSession(const ConsoleSession& session) {
  if (auto w = CheckWritable(); !w) return w;
  auto insert = db_.Prepare(sql::kInsertSession);
  if (!insert) return insert.error();
  insert->Bind(1, session.id_hash)
      .Bind(2, session.user_id)
      .Bind(3, ToUnixMillis(session.created))
      .Bind(4, ToUnixMillis(session.last_seen));
  return insert->Run("starting a console session");
}

Result<ConsoleSession> SqliteConsoleArea::GetSession(const std::string& id_hash) {
  auto select = db_.Prepare(sql::kGetSession);
  if (!select) return select.error();
  select->Bind(1, id_hash);
  auto row = select->Step("reading a console session");
  if (!row) return row.error();
  if (!*row) return MakeError(ErrorCode::kNotFound, "no such console session");
  ConsoleSession session;
  session.id_hash = select->Text(0);
  session.user_id = select->Int(1);
  session.created = FromUnixMillis(select->Int(2));
  session.last_seen = FromUnixMillis(select->Int(3));
  return session;
}

Status SqliteConsoleArea::TouchSession(const std::string& id_hash, TimePoint last_seen) {
  if (auto w = CheckWritable(); !w) return w;
  auto update = db_.Prepare(sql::kTouchSession);
  if (!update) return update.error();
  update->Bind(1, id_hash).Bind(2, ToUnixMillis(last_seen));
  return update->Run("touching a console session");
}

Status SqliteConsoleArea::DeleteSession(const std::string& id_hash) {
  if (auto w = CheckWritable(); !w) return w;
  auto del = db_.Prepare(sql::kDeleteSession);
  if (!del) return del.error();
  del->Bind(1, id_hash);
  return del->Run("ending a console session");
}

Status SqliteConsoleArea::DeleteSessionsOf(int64_t user_id, const std::string& except_hash) {
  if (auto w = CheckWritable(); !w) return w;
  auto del = db_.Prepare(sql::kDeleteSessionsOf);
  if (!del) return del.error();
  del->Bind(1, user_id).Bind(2, except_hash);
  return del->Run("ending an admin user's console sessions");
}

Result<int64_t> SqliteConsoleArea::DeleteExpiredSessions(TimePoint idle_before,
                                                         TimePoint created_before) {
  if (auto w = CheckWritable(); !w) return w.error();
  auto del = db_.Prepare(sql::kDeleteExpiredSessions);
  if (!del) return del.error();
  del->Bind(1, ToUnixMillis(idle_before)).Bind(2, ToUnixMillis(created_before));
  if (auto ran = del->Run("removing expired console sessions"); !ran) return ran.error();
  return static_cast<int64_t>(db_.Changes());
}

namespace {

constexpr int64_t kHourMs = 3600000;

}  // namespace

Result<std::vector<HourlyActivity>> SqliteConsoleArea::ActivityByHour(
    int64_t connection_id, const std::string& directory, TimePoint since) {
  const int64_t since_ms = ToUnixMillis(since);
  std::map<int64_t, HourlyActivity> hours;
  int64_t first_audit = 0;
  {
    auto first = db_.Prepare(sql::kFirstAuditSince);
    if (!first) return first.error();
    first->Bind(1, since_ms);
    auto row = first->Step("finding the audit log's first record in the window");
    if (!row) return row.error();
    first_audit = *row ? first->Int(0) : std::numeric_limits<int64_t>::max();
  }
  {
    auto select = db_.Prepare(sql::kAuditByHour);
    if (!select) return select.error();
    select->Bind(1, since_ms).Bind(2, connection_id).Bind(3, first_audit);
    for (;;) {
      auto row = select->Step("counting audit records per hour");
      if (!row) return row.error();
      if (!*row) break;
      HourlyActivity& h = hours[select->Int(0)];
      h.requests = select->Int(1);
      h.errors = select->Int(2);
    }
  }
  // The first seq whose entry is at or after `since`: seqs are assigned in commit order and
  // times grow with them (a clock stepping back makes the window start a little late, never
  // reads the whole feed).
  int64_t lo = 1;
  int64_t hi = 0;
  {
    auto last = db_.Prepare(sql::kLastChangeSeqAll);
    if (!last) return last.error();
    auto row = last->Step("reading the change feed's last seq");
    if (!row) return row.error();
    hi = *row ? last->Int(0) + 1 : 1;
  }
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    auto probe = db_.Prepare(sql::kChangeTimeFrom);
    if (!probe) return probe.error();
    probe->Bind(1, mid);
    auto row = probe->Step("searching the change feed by time");
    if (!row) return row.error();
    if (!*row) {
      hi = mid;
    } else if (probe->Int(1) >= since_ms) {
      hi = mid;
    } else {
      lo = probe->Int(0) + 1;
    }
  }
  {
    auto select = db_.Prepare(sql::kChangesByHour);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, lo).Bind(3, since_ms);
    for (;;) {
      auto row = select->Step("counting change-feed entries per hour");
      if (!row) return row.error();
      if (!*row) break;
      hours[select->Int(0)].changes = select->Int(1);
    }
  }
  std::vector<HourlyActivity> out;
  out.reserve(hours.size());
  for (auto& [hour, h] : hours) {
    h.hour = hour * kHourMs;
    out.push_back(h);
  }
  return out;
}

Result<std::optional<TimePoint>> SqliteConsoleArea::LastAuditTime(int64_t connection_id) {
  auto select = db_.Prepare(sql::kLastAudit);
  if (!select) return select.error();
  select->Bind(1, connection_id);
  auto row = select->Step("reading a connection's last audit record");
  if (!row) return row.error();
  if (!*row) return std::optional<TimePoint>();
  return std::optional<TimePoint>(FromUnixMillis(select->Int(0)));
}

}  // namespace idsync::store::sqlite
