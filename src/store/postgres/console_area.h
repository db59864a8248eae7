// ConsoleArea (store/console_area.h) over one PostgreSQL transaction's connection, as
// store/sqlite/console_area.h is over SQLite's. Migration 5 holds its tables; its statements are
// in queries.h. Private to store/postgres: PgTransaction owns one and hands it out from Console().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/console_area.h"
#include "store/postgres/pg_connection.h"

namespace idsync::store::postgres {

// Not thread-safe, like the transaction it belongs to. Writes through a read transaction
// (`writable` false) fail with kInternal.
class PgConsoleArea final : public ConsoleArea {
 public:
  PgConsoleArea(PgConnection& db, bool writable) : db_(db), writable_(writable) {}

  Result<AdminUser> CreateAdminUser(const AdminUser& user) override;
  Result<AdminUser> GetAdminUser(const std::string& name) override;
  Result<AdminUser> GetAdminUserById(int64_t id) override;
  Result<std::vector<AdminUser>> ListAdminUsers() override;
  Status SetAdminPassword(const std::string& name, const std::string& hash, bool must_change,
                          TimePoint changed) override;
  Status DeleteAdminUser(const std::string& name) override;

  Status CreateSession(const ConsoleSession& session) override;
  Result<ConsoleSession> GetSession(const std::string& id_hash) override;
  Status TouchSession(const std::string& id_hash, TimePoint last_seen) override;
  Status DeleteSession(const std::string& id_hash) override;
  Status DeleteSessionsOf(int64_t user_id, const std::string& except_hash) override;
  Result<int64_t> DeleteExpiredSessions(TimePoint idle_before, TimePoint created_before) override;

  Result<std::vector<HourlyActivity>> ActivityByHour(int64_t connection_id,
                                                     const std::string& directory,
                                                     TimePoint since) override;
  Result<std::optional<TimePoint>> LastAuditTime(int64_t connection_id) override;

 private:
  Status CheckWritable() const;

  PgConnection& db_;
  bool writable_;
};

}  // namespace idsync::store::postgres
