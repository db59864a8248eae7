// ConsoleArea (store/console_area.h) over one SQLite transaction's connection. Migration 11
// holds its tables; its statements are in queries.h (the activity queries, which read the audit
// and changes tables, are beside their code in console_area.cpp). Private to store/sqlite: SqliteTransaction
// owns one and hands it out from Console().
#pragma once

#include "store/console_area.h"
#include "store/sqlite/database.h"

namespace idsync::store::sqlite {

// Not thread-safe, like the transaction it belongs to. Writes through a read transaction
// (`writable` false) fail with kInternal.
class SqliteConsoleArea final : public ConsoleArea {
 public:
  SqliteConsoleArea(Database& db, bool writable) : db_(db), writable_(writable) {}

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
  Result<AdminUser> GetUser(const char* sql, const std::string& key_text, int64_t key_int,
                            bool by_id);

  Database& db_;
  const bool writable_;
};

}  // namespace idsync::store::sqlite
