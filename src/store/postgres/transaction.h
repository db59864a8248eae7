// PgTransaction: the store's Transaction (store.h) over one PostgreSQL connection inside one
// transaction (serializable for writes, repeatable read for reads). Private to store/postgres.
// Its members are defined one file per area, as in store/sqlite: connection_area.cpp, change_feed_area.cpp and api_token_area.cpp so far;
// the areas not ported yet come from UnportedAreas (unported.h) and answer kUnavailable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/unported.h"
#include "store/store.h"

namespace idsync::store::postgres {

class PgTransaction final : public UnportedAreas {
 public:
  PgTransaction(PgConnection& db, bool writable, const Clock& clock)
      : db_(db), writable_(writable), clock_(clock) {}

  // --- connections and tokens (connection_area.cpp)
  Result<Connection> CreateConnection(Connection connection) override;
  Result<Connection> GetConnection(int64_t id) override;
  Result<Connection> GetConnectionByName(const std::string& name) override;
  Result<std::vector<Connection>> ListConnections() override;
  Status UpdateConnection(const Connection& connection) override;
  Status DeleteConnection(int64_t id) override;
  Status AddToken(const Token& token) override;
  Status ExpireTokens(int64_t connection_id, TimePoint expires) override;
  Result<Token> FindToken(const std::string& hash) override;
  Result<std::vector<Token>> ListTokens(int64_t connection_id) override;
  Result<int64_t> ConfigGeneration() override;

  // --- change feed (change_feed_area.cpp)
  Result<int64_t> AppendChange(const ChangeRecord& change) override;
  Result<std::vector<ChangeRecord>> ListChanges(const std::string& directory, int64_t after_seq,
                                                int64_t limit) override;
  Result<std::vector<ChangeRecord>> ListChangesOf(const std::string& directory,
                                                  const std::string& entry_id, int64_t after_seq,
                                                  int64_t limit) override;
  Result<int64_t> LastChangeSeq(const std::string& directory) override;

  // --- API tokens (api_token_area.cpp)
  Result<ApiToken> CreateApiToken(const ApiToken& token) override;
  Result<ApiToken> FindApiToken(const std::string& hash) override;
  Result<std::vector<ApiToken>> ListApiTokens() override;
  Status DeleteApiToken(const std::string& name) override;

 private:
  Status CheckWritable() const;

  PgConnection& db_;
  bool writable_;
  const Clock& clock_;
};

}  // namespace idsync::store::postgres
