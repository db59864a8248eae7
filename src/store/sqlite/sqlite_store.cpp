#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/uuid.h"
#include "store/sqlite/body_codec.h"
#include "store/sqlite/console_area.h"
#include "store/sqlite/database.h"
#include "store/sqlite/ldap_area.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/rows.h"

namespace idsync::store::sqlite {

namespace {

constexpr int64_t kScanChunk = 256;

int64_t TypeCode(scim::ResourceType type) {
  return type == scim::ResourceType::kUser ? 0 : 1;
}

// Columns in the order of IDSYNC_RESOURCE_COLUMNS; `first` is the column of pk.
// parse_body=false leaves `body` empty and fills `body_text` (GetResourceText).
Result<StoredResource> ReadResource(const Statement& row, int first, const Bodies& bodies,
                                    bool parse_body = true) {
  StoredResource resource;
  resource.id = row.Text(first + 1);
  resource.type = row.Int(first + 2) == 0 ? scim::ResourceType::kUser : scim::ResourceType::kGroup;
  auto text = bodies(row, first + 3, "resource " + resource.id);
  if (!text) return text.error();
  if (parse_body) {
    resource.body = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (resource.body.is_discarded()) {
      return Internal("stored resource " + resource.id + " is not valid JSON");
    }
  } else {
    resource.body_text = std::move(*text);
  }
  resource.version = row.Int(first + 4);
  resource.created = FromUnixMillis(row.Int(first + 5));
  resource.last_modified = FromUnixMillis(row.Int(first + 6));
  return resource;
}

Result<Connection> ReadConnection(const Statement& row) {
  Connection connection;
  connection.id = row.Int(0);
  connection.uuid = row.Text(1);
  connection.name = row.Text(2);
  connection.directory = row.Text(3);
  connection.kind = row.Text(4);
  connection.enabled = row.Int(5) != 0;
  connection.created = FromUnixMillis(row.Int(6));
  connection.settings = Json::parse(row.Text(7), nullptr, /*allow_exceptions=*/false);
  if (connection.settings.is_discarded()) {
    return Internal("settings of connection " + connection.name + " are not valid JSON");
  }
  return connection;
}

Token ReadToken(const Statement& row) {
  Token token;
  token.id = row.Int(0);
  token.connection_id = row.Int(1);
  token.hash = row.Text(2);
  token.created = FromUnixMillis(row.Int(3));
  if (!row.IsNull(4)) token.expires = FromUnixMillis(row.Int(4));
  return token;
}

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

// Columns: id, connection_id, mode, trigger, outcome, started_ms, ended_ms, counts, progress,
// error, owner (kSyncRunColumns).
constexpr const char* kSyncRunColumns =
    "id, connection_id, mode, run_trigger, outcome, started_ms, ended_ms, counts, progress, error, "
    "owner";

Result<SyncRun> ReadSyncRun(const Statement& row) {
  SyncRun run;
  run.id = row.Int(0);
  run.connection_id = row.Int(1);
  run.mode = row.Text(2);
  run.trigger = row.Text(3);
  run.outcome = row.Text(4);
  run.started = FromUnixMillis(row.Int(5));
  if (!row.IsNull(6)) run.ended = FromUnixMillis(row.Int(6));
  auto counts = ParseStored(row.Text(7), "counts of sync run " + std::to_string(run.id));
  if (!counts) return counts.error();
  run.counts = std::move(*counts);
  auto progress = ParseStored(row.Text(8), "progress of sync run " + std::to_string(run.id));
  if (!progress) return progress.error();
  run.progress = std::move(*progress);
  run.error = row.Text(9);
  run.owner = row.Text(10);
  return run;
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

// Columns in the order of IDSYNC_LINK_COLUMNS.
SourceLink ReadLink(const Statement& row) {
  SourceLink link;
  link.connection_id = row.Int(0);
  link.source_user_id = row.Text(1);
  link.directory = row.Text(2);
  link.effective_user_id = row.Text(3);
  link.deleted = row.Int(4) != 0;
  link.source_name = row.Text(5);
  return link;
}

// Columns in the order of IDSYNC_API_TOKEN_COLUMNS.
ApiToken ReadApiToken(const Statement& row) {
  ApiToken token;
  token.id = row.Int(0);
  token.name = row.Text(1);
  token.kind = row.Text(2);
  token.directory = row.Text(3);
  token.hash = row.Text(4);
  token.created = FromUnixMillis(row.Int(5));
  return token;
}

class SqliteTransaction final : public Transaction {
 public:
  // The connection, for the store's own housekeeping (compression dictionaries).
  Database& db() { return db_; }

  SqliteTransaction(Database& db, BodyCodec& codec, bool writable, const Clock& clock)
      : db_(db),
        codec_(codec),
        writable_(writable),
        clock_(clock),
        ldap_(db, codec, writable),
        console_(db, writable) {}

  LdapArea& Ldap() override { return ldap_; }
  ConsoleArea& Console() override { return console_; }

  Result<Connection> CreateConnection(Connection connection) override {
    if (auto w = CheckWritable(); !w) return w.error();
    if (connection.uuid.empty()) connection.uuid = NewUuid();
    auto insert = db_.Prepare(sql::kInsertConnection);
    if (!insert) return insert.error();
    insert->Bind(1, connection.uuid)
        .Bind(2, connection.name)
        .Bind(3, connection.directory)
        .Bind(4, connection.kind)
        .Bind(5, int64_t{connection.enabled ? 1 : 0})
        .Bind(6, ToUnixMillis(connection.created))
        .Bind(7, DumpJson(connection.settings));
    if (auto ran = insert->Run("adding a connection"); !ran) {
      if (ran.error().code == ErrorCode::kUniqueness) {
        return MakeError(ErrorCode::kUniqueness,
                         "a connection named \"" + connection.name + "\" already exists");
      }
      return ran.error();
    }
    connection.id = db_.LastInsertRowid();
    return connection;
  }

  Result<Connection> GetConnection(int64_t id) override {
    auto select = db_.Prepare(sql::kGetConnection);
    if (!select) return select.error();
    select->Bind(1, id);
    return OneConnection(*select, "connection " + std::to_string(id));
  }

  Result<Connection> GetConnectionByName(const std::string& name) override {
    auto select = db_.Prepare(sql::kGetConnectionByName);
    if (!select) return select.error();
    select->Bind(1, name);
    return OneConnection(*select, "connection \"" + name + "\"");
  }

  Result<std::vector<Connection>> ListConnections() override {
    auto select = db_.Prepare(sql::kListConnections);
    if (!select) return select.error();
    std::vector<Connection> out;
    auto listed = ForEachRow(*select, "listing connections", [&](const Statement& row) -> Status {
      auto connection = ReadConnection(row);
      if (!connection) return connection.error();
      out.push_back(std::move(*connection));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  Status UpdateConnection(const Connection& connection) override {
    if (auto w = CheckWritable(); !w) return w;
    auto update = db_.Prepare(sql::kUpdateConnection);
    if (!update) return update.error();
    update->Bind(1, connection.id)
        .Bind(2, int64_t{connection.enabled ? 1 : 0})
        .Bind(3, DumpJson(connection.settings));
    if (auto ran = update->Run("updating a connection"); !ran) return ran;
    if (db_.Changes() == 0) return NoConnection(connection.id);
    return Status::Ok();
  }

  Status DeleteConnection(int64_t id) override {
    if (auto w = CheckWritable(); !w) return w;
    // ON DELETE CASCADE removes tokens, resources, and through resources the index entries
    // and memberships, and the connection's policy versions, source links and conflicts, in
    // this one statement. Effective users stay: the directory layer has already decided their
    // fate before removing the connection.
    auto remove = db_.Prepare(sql::kDeleteConnection);
    if (!remove) return remove.error();
    remove->Bind(1, id);
    if (auto ran = remove->Run("deleting a connection"); !ran) return ran;
    if (db_.Changes() == 0) return NoConnection(id);
    return Status::Ok();
  }

  Status AddToken(const Token& token) override {
    if (auto w = CheckWritable(); !w) return w;
    auto insert = db_.Prepare(sql::kInsertToken);
    if (!insert) return insert.error();
    std::optional<int64_t> expires;
    if (token.expires) expires = ToUnixMillis(*token.expires);
    insert->Bind(1, token.connection_id)
        .Bind(2, token.hash)
        .Bind(3, ToUnixMillis(token.created))
        .Bind(4, expires);
    auto ran = insert->Run("adding a token");
    if (!ran && ran.error().code == ErrorCode::kNotFound) return NoConnection(token.connection_id);
    if (!ran && ran.error().code == ErrorCode::kUniqueness) {
      return MakeError(ErrorCode::kUniqueness, "a token with this hash already exists");
    }
    return ran;
  }

  Status ExpireTokens(int64_t connection_id, TimePoint expires) override {
    if (auto w = CheckWritable(); !w) return w;
    auto update = db_.Prepare(sql::kExpireTokens);
    if (!update) return update.error();
    update->Bind(1, connection_id).Bind(2, ToUnixMillis(expires));
    return update->Run("expiring tokens");
  }

  Result<Token> FindToken(const std::string& hash) override {
    auto select = db_.Prepare(sql::kFindToken);
    if (!select) return select.error();
    select->Bind(1, hash);
    auto row = select->Step("looking up a token");
    if (!row) return row.error();
    if (!*row) return MakeError(ErrorCode::kNotFound, "no such token");
    return ReadToken(*select);
  }

  Result<std::vector<Token>> ListTokens(int64_t connection_id) override {
    auto select = db_.Prepare(sql::kListTokens);
    if (!select) return select.error();
    select->Bind(1, connection_id);
    std::vector<Token> out;
    auto listed = ForEachRow(*select, "listing tokens", [&](const Statement& row) {
      out.push_back(ReadToken(row));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  Result<StoredResource> GetResource(int64_t connection_id, scim::ResourceType type,
                                     const std::string& id) override {
    auto found = Find(connection_id, type, id);
    if (!found) return found.error();
    if (!found->second) return NoResource(type, id);
    return std::move(*found->second);
  }

  Result<StoredResource> GetResourceText(int64_t connection_id, scim::ResourceType type,
                                         const std::string& id) override {
    auto found = Find(connection_id, type, id, /*parse_body=*/false);
    if (!found) return found.error();
    if (!found->second) return NoResource(type, id);
    return std::move(*found->second);
  }

  Result<StoredResource> PutResource(int64_t connection_id, const StoredResource& resource,
                                     const std::optional<std::string>& unique_key,
                                     const std::vector<IndexEntry>& index) override {
    if (auto w = CheckWritable(); !w) return w.error();
    // Only the existing row's pk, version and creation time are needed: skip parsing its body.
    auto existing = Find(connection_id, resource.type, resource.id, /*parse_body=*/false);
    if (!existing) return existing.error();
    StoredResource stored = resource;
    int64_t pk = 0;
    std::string body = DumpJson(resource.body);
    auto taken = [&](const Error& error) -> Error {
      if (error.code != ErrorCode::kUniqueness) return error;
      return MakeError(ErrorCode::kUniqueness, std::string(scim::ResourceTypeName(resource.type)) +
                                                   " \"" + unique_key.value_or("") +
                                                   "\" already exists");
    };
    // The row is written before its index entries are replaced: if the unique key is taken,
    // the statement fails alone and nothing of this call has changed.
    if (existing->second) {
      pk = existing->first;
      auto update = db_.Prepare(sql::kUpdateResource);
      if (!update) return update.error();
      update->Bind(1, pk).Bind(3, ToUnixMillis(resource.last_modified)).Bind(4, unique_key);
      BindBody(*update, 2, resource.type, body);
      if (auto ran = update->Run("updating a resource"); !ran) return taken(ran.error());
      stored.version = existing->second->version + 1;
      stored.created = existing->second->created;
      auto clear = db_.Prepare(sql::kDeleteIndexOf);
      if (!clear) return clear.error();
      clear->Bind(1, pk);
      if (auto ran = clear->Run("updating a resource"); !ran) return ran.error();
    } else {
      auto insert = db_.Prepare(sql::kInsertResource);
      if (!insert) return insert.error();
      insert->Bind(1, connection_id)
          .Bind(2, TypeCode(resource.type))
          .Bind(3, resource.id)
          .Bind(5, ToUnixMillis(resource.created))
          .Bind(6, ToUnixMillis(resource.last_modified))
          .Bind(7, unique_key);
      BindBody(*insert, 4, resource.type, body);
      if (auto ran = insert->Run("adding a resource"); !ran) {
        if (ran.error().code == ErrorCode::kNotFound) return NoConnection(connection_id).error();
        return taken(ran.error());
      }
      pk = db_.LastInsertRowid();
      stored.version = 1;
    }
    for (const IndexEntry& entry : index) {
      auto insert = db_.Prepare(sql::kInsertIndex);
      if (!insert) return insert.error();
      insert->Bind(1, connection_id)
          .Bind(2, TypeCode(resource.type))
          .Bind(3, entry.attr)
          .Bind(4, entry.value)
          .Bind(5, pk);
      if (auto ran = insert->Run("indexing a resource"); !ran) return ran.error();
    }
    // Round-trip through the stored milliseconds so the caller sees what a later Get returns.
    stored.created = FromUnixMillis(ToUnixMillis(stored.created));
    stored.last_modified = FromUnixMillis(ToUnixMillis(stored.last_modified));
    return stored;
  }

  Status DeleteResource(int64_t connection_id, scim::ResourceType type,
                        const std::string& id) override {
    if (auto w = CheckWritable(); !w) return w;
    auto pk = PkOf(connection_id, type, id);
    if (!pk) return pk.error();
    // Groups that list this resource change too (RFC 7644 §3.6: a deleted resource no longer
    // appears in any group); bump them before their member rows go.
    {
      auto touch = db_.Prepare(sql::kTouchGroupsOf);
      if (!touch) return touch.error();
      touch->Bind(1, connection_id).Bind(2, id).Bind(3, ToUnixMillis(clock_.Now()));
      if (auto ran = touch->Run("deleting a resource"); !ran) return ran;
    }
    {
      auto unlink = db_.Prepare(sql::kDeleteMembershipsOf);
      if (!unlink) return unlink.error();
      unlink->Bind(1, connection_id).Bind(2, id);
      if (auto ran = unlink->Run("deleting a resource"); !ran) return ran;
    }
    // Cascades to its index entries and, for a group, its own members.
    auto remove = db_.Prepare(sql::kDeleteResource);
    if (!remove) return remove.error();
    remove->Bind(1, *pk);
    return remove->Run("deleting a resource");
  }

  Status TouchResource(int64_t connection_id, scim::ResourceType type, const std::string& id,
                       TimePoint when) override {
    if (auto w = CheckWritable(); !w) return w;
    auto touch = db_.Prepare(sql::kTouchResource);
    if (!touch) return touch.error();
    touch->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, id).Bind(4, ToUnixMillis(when));
    if (auto ran = touch->Run("updating a resource"); !ran) return ran;
    if (db_.Changes() == 0) return NoResource(type, id);
    return Status::Ok();
  }

  Result<std::vector<StoredResource>> FindByIndex(int64_t connection_id, scim::ResourceType type,
                                                  const std::string& attr,
                                                  const std::string& folded_value) override {
    auto select = db_.Prepare(sql::kFindByIndex);
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, attr).Bind(4, folded_value);
    return Resources(*select, "searching resources");
  }

  Result<int64_t> ConfigGeneration() override {
    auto select = db_.Prepare(sql::kConfigGeneration);
    if (!select) return select.error();
    auto row = select->Step("reading the configuration generation");
    if (!row) return row.error();
    if (!*row) return Internal("configuration generation row missing");
    return select->Int(0);
  }

  Result<std::vector<StoredResource>> FindByIndexText(int64_t connection_id,
                                                      scim::ResourceType type,
                                                      const std::string& attr,
                                                      const std::string& folded_value) override {
    auto select = db_.Prepare(sql::kFindByIndex);
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, attr).Bind(4, folded_value);
    return Resources(*select, "searching resources", /*parse_body=*/false);
  }

  Result<int64_t> CountResources(int64_t connection_id, scim::ResourceType type) override {
    auto select = db_.Prepare(sql::kCountResources);
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, TypeCode(type));
    auto row = select->Step("counting resources");
    if (!row) return row.error();
    return *row ? select->Int(0) : int64_t{0};  // no row: nothing was ever stored
  }

  Result<std::vector<StoredResource>> ListResources(int64_t connection_id, scim::ResourceType type,
                                                    int64_t offset, int64_t limit) override {
    auto select = db_.Prepare(sql::kListResources);
    if (!select) return select.error();
    select->Bind(1, connection_id)
        .Bind(2, TypeCode(type))
        .Bind(3, std::max<int64_t>(offset, 0))
        .Bind(4, std::max<int64_t>(limit, 0));
    return Resources(*select, "listing resources");
  }

  Result<std::vector<StoredResource>> ListResourcesText(int64_t connection_id,
                                                        scim::ResourceType type, int64_t offset,
                                                        int64_t limit) override {
    auto select = db_.Prepare(sql::kListResources);
    if (!select) return select.error();
    select->Bind(1, connection_id)
        .Bind(2, TypeCode(type))
        .Bind(3, std::max<int64_t>(offset, 0))
        .Bind(4, std::max<int64_t>(limit, 0));
    return Resources(*select, "listing resources", /*parse_body=*/false);
  }

  Status ScanResources(int64_t connection_id, scim::ResourceType type,
                       const std::function<bool(const StoredResource&)>& visit) override {
    // Chunks by pk, each statement finished before `visit` runs, so the visitor may call
    // this transaction again (the statement cache holds one instance of each statement).
    int64_t after = 0;
    for (;;) {
      std::vector<std::pair<int64_t, StoredResource>> chunk;
      {
        auto select = db_.Prepare(sql::kScanResources);
        if (!select) return select.error();
        select->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, after).Bind(4, kScanChunk);
        auto read = ForEachRow(*select, "reading resources", [&](const Statement& row) -> Status {
          auto resource = ReadResource(row, 0, Bodies{db_, codec_});
          if (!resource) return resource.error();
          chunk.emplace_back(row.Int(0), std::move(*resource));
          return Status::Ok();
        });
        if (!read) return read;
      }
      for (const auto& [pk, resource] : chunk) {
        if (!visit(resource)) return Status::Ok();
      }
      if (static_cast<int64_t>(chunk.size()) < kScanChunk) return Status::Ok();
      after = chunk.back().first;
    }
  }

  Result<bool> AddMember(int64_t connection_id, const std::string& group_id,
                         const Member& member) override {
    if (auto w = CheckWritable(); !w) return w.error();
    auto group = GroupPk(connection_id, group_id);
    if (!group) return group.error();
    auto insert = db_.Prepare(sql::kAddMember);
    if (!insert) return insert.error();
    insert->Bind(1, *group)
        .Bind(2, member.value)
        .Bind(3, member.type)
        .Bind(4, member.display)
        .Bind(5, connection_id);
    if (auto ran = insert->Run("adding a member"); !ran) return ran.error();
    return db_.Changes() > 0;
  }

  Result<bool> RemoveMember(int64_t connection_id, const std::string& group_id,
                            const std::string& value) override {
    if (auto w = CheckWritable(); !w) return w.error();
    auto group = GroupPk(connection_id, group_id);
    if (!group) return group.error();
    auto remove = db_.Prepare(sql::kRemoveMember);
    if (!remove) return remove.error();
    remove->Bind(1, *group).Bind(2, value);
    if (auto ran = remove->Run("removing a member"); !ran) return ran.error();
    return db_.Changes() > 0;
  }

  Status ClearMembers(int64_t connection_id, const std::string& group_id) override {
    if (auto w = CheckWritable(); !w) return w;
    auto group = GroupPk(connection_id, group_id);
    if (!group) return group.error();
    auto remove = db_.Prepare(sql::kClearMembers);
    if (!remove) return remove.error();
    remove->Bind(1, *group);
    return remove->Run("removing members");
  }

  Result<std::vector<Member>> ListMembers(int64_t connection_id,
                                          const std::string& group_id) override {
    auto group = GroupPk(connection_id, group_id);
    if (!group) return group.error();
    auto select = db_.Prepare(sql::kListMembers);
    if (!select) return select.error();
    select->Bind(1, *group);
    std::vector<Member> out;
    auto listed = ForEachRow(*select, "listing members", [&](const Statement& row) {
      out.push_back(Member{row.Text(0), row.Text(1), row.Text(2)});
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  Result<int64_t> CountMembers(int64_t connection_id, const std::string& group_id) override {
    auto group = GroupPk(connection_id, group_id);
    if (!group) return group.error();
    auto select = db_.Prepare(sql::kCountMembers);
    if (!select) return select.error();
    select->Bind(1, *group);
    return Count(*select, "counting members");
  }

  Result<std::vector<std::pair<std::string, std::string>>> GroupsOf(
      int64_t connection_id, const std::string& member_value) override {
    auto select = db_.Prepare(sql::kGroupsOf);
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, member_value);
    std::vector<std::pair<std::string, std::string>> out;
    auto listed = ForEachRow(*select, "listing groups", [&](const Statement& row) {
      out.emplace_back(row.Text(0), row.Text(1));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  // --- directories and policies

  Result<std::vector<DirectoryRecord>> ListDirectories() override {
    auto select = db_.Prepare(sql::kListDirectories);
    if (!select) return select.error();
    return Rows<DirectoryRecord>(*select, "listing directories", ReadDirectory);
  }

  Result<DirectoryRecord> GetDirectory(const std::string& name) override {
    auto select = db_.Prepare(sql::kGetDirectory);
    if (!select) return select.error();
    select->Bind(1, name);
    auto row = select->Step("reading a directory");
    if (!row) return row.error();
    if (!*row) return MakeError(ErrorCode::kNotFound, "directory " + name + " not found");
    return ReadDirectory(*select);
  }

  Result<DirectoryRecord> PutDirectory(const DirectoryRecord& record) override {
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

  Result<PolicyVersion> GetPolicy(int64_t connection_id) override {
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

  Result<PolicyVersion> PutPolicy(const PolicyVersion& policy) override {
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
      if (ran.error().code == ErrorCode::kNotFound)
        return NoConnection(policy.connection_id).error();
      return ran.error();
    }
    stored.time = Stored(policy.time);
    return stored;
  }

  Result<std::vector<PolicyVersion>> ListPolicyVersions(int64_t connection_id) override {
    auto select = db_.Prepare(sql::kListPolicyVersions);
    if (!select) return select.error();
    select->Bind(1, connection_id);
    return Rows<PolicyVersion>(*select, "listing policy versions", ReadPolicy);
  }

  // --- effective users

  Result<EffectiveUserRow> GetEffectiveUser(const std::string& directory,
                                            const std::string& id) override {
    auto select = db_.Prepare(sql::kGetEffectiveUser);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, id);
    auto found = OneRow<EffectiveUserRow>(*select, "reading an effective user", ReadEUser());
    if (!found) return found.error();
    if (!*found) return NoEffective("user", directory, id);
    return std::move(**found);
  }

  Result<EffectiveUserRow> FindEffectiveUserByUsername(const std::string& directory,
                                                       const std::string& username_key) override {
    auto select = db_.Prepare(sql::kFindEffectiveUserByUsername);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, username_key);
    auto found = OneRow<EffectiveUserRow>(*select, "reading an effective user", ReadEUser());
    if (!found) return found.error();
    if (!*found) {
      return MakeError(ErrorCode::kNotFound,
                       "no user named \"" + username_key + "\" in directory " + directory);
    }
    return std::move(**found);
  }

  Result<std::vector<EffectiveUserRow>> FindEffectiveUsersByLinkKey(
      const std::string& directory, const std::string& link_key) override {
    if (link_key.empty()) return std::vector<EffectiveUserRow>{};  // "" is no link key
    auto select = db_.Prepare(sql::kFindEffectiveUsersByLinkKey);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, link_key);
    return Rows<EffectiveUserRow>(*select, "searching effective users", ReadEUser());
  }

  Result<EffectiveUserRow> PutEffectiveUser(const EffectiveUserRow& row) override {
    if (auto w = CheckWritable(); !w) return w.error();
    std::optional<std::pair<int64_t, EffectiveUserRow>> existing;
    {
      auto select = db_.Prepare(sql::kGetEffectiveUser);
      if (!select) return select.error();
      select->Bind(1, row.directory).Bind(2, row.id);
      auto found =
          OneRow<EffectiveUserRow>(*select, "reading an effective user", ReadEUser());
      if (!found) return found.error();
      if (*found) existing.emplace(select->Int(0), std::move(**found));
    }
    std::optional<std::string> link_key;
    if (!row.link_key.empty()) link_key = row.link_key;
    auto taken = [&](const Error& error) -> Error {
      if (error.code != ErrorCode::kUniqueness) return error;
      return MakeError(ErrorCode::kUniqueness,
                       "username \"" + row.username + "\" is taken in directory " + row.directory);
    };
    EffectiveUserRow stored = row;
    if (existing) {
      auto update = db_.Prepare(sql::kUpdateEffectiveUser);
      if (!update) return update.error();
      update->Bind(1, existing->first)
          .Bind(2, row.username)
          .Bind(3, row.username_key)
          .Bind(4, link_key)
          .Bind(5, row.state)
          .Bind(7, ToUnixMillis(row.last_modified))
          .Bind(8, row.mail_key);
      codec_.Bind(*update, 6, BodyKind::kEffectiveUser, DumpJson(row.body));
      if (auto ran = update->Run("updating an effective user"); !ran) return taken(ran.error());
      stored.version = existing->second.version + 1;
      stored.created = existing->second.created;
    } else {
      auto insert = db_.Prepare(sql::kInsertEffectiveUser);
      if (!insert) return insert.error();
      insert->Bind(1, row.directory)
          .Bind(2, row.id)
          .Bind(3, row.username)
          .Bind(4, row.username_key)
          .Bind(5, link_key)
          .Bind(6, row.state)
          .Bind(8, ToUnixMillis(row.created))
          .Bind(9, ToUnixMillis(row.last_modified))
          .Bind(10, row.mail_key);
      codec_.Bind(*insert, 7, BodyKind::kEffectiveUser, DumpJson(row.body));
      if (auto ran = insert->Run("adding an effective user"); !ran) return taken(ran.error());
      stored.version = 1;
      stored.created = Stored(row.created);
    }
    stored.last_modified = Stored(row.last_modified);
    return stored;
  }

  Status DeleteEffectiveUser(const std::string& directory, const std::string& id) override {
    if (auto w = CheckWritable(); !w) return w;
    auto pk = EffectiveUserPk(directory, id);
    if (!pk) return pk.error();
    // The groups the user leaves change too; bump them before the membership rows go.
    {
      auto touch = db_.Prepare(sql::kTouchEffectiveGroupsOfUser);
      if (!touch) return touch.error();
      touch->Bind(1, *pk).Bind(2, ToUnixMillis(clock_.Now()));
      if (auto ran = touch->Run("deleting an effective user"); !ran) return ran;
    }
    // Explicit rather than through ON DELETE CASCADE, so this does not depend on the
    // foreign_keys pragma of the connection.
    {
      auto unlink = db_.Prepare(sql::kDeleteEffectiveMembershipsOfUser);
      if (!unlink) return unlink.error();
      unlink->Bind(1, *pk);
      if (auto ran = unlink->Run("deleting an effective user"); !ran) return ran;
    }
    {
      auto links = db_.Prepare(sql::kDeleteLinksOfUser);
      if (!links) return links.error();
      links->Bind(1, directory).Bind(2, id);
      if (auto ran = links->Run("deleting an effective user"); !ran) return ran;
    }
    auto remove = db_.Prepare(sql::kDeleteEffectiveUser);
    if (!remove) return remove.error();
    remove->Bind(1, *pk);
    return remove->Run("deleting an effective user");
  }

  Result<int64_t> CountEffectiveUsers(const std::string& directory) override {
    return CountEffective(directory, 0);
  }

  Result<std::vector<EffectiveUserRow>> ListEffectiveUsers(const std::string& directory,
                                                           int64_t offset, int64_t limit) override {
    auto select = db_.Prepare(sql::kListEffectiveUsers);
    if (!select) return select.error();
    select->Bind(1, directory)
        .Bind(2, std::max<int64_t>(offset, 0))
        .Bind(3, std::max<int64_t>(limit, 0));
    return Rows<EffectiveUserRow>(*select, "listing effective users", ReadEUser());
  }

  Status ScanEffectiveUsers(const std::string& directory,
                            const std::function<bool(const EffectiveUserRow&)>& visit) override {
    return ScanByPk<EffectiveUserRow>(sql::kScanEffectiveUsers, directory,
                                      "reading effective users", ReadEUser(), visit);
  }

  // --- links

  Result<SourceLink> GetLink(int64_t connection_id, const std::string& source_user_id) override {
    auto select = db_.Prepare(sql::kGetLink);
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, source_user_id);
    auto row = select->Step("reading a link");
    if (!row) return row.error();
    if (!*row) {
      return MakeError(ErrorCode::kNotFound, "source user " + source_user_id + " of connection " +
                                                 std::to_string(connection_id) + " is not linked");
    }
    return ReadLink(*select);
  }

  Status PutLink(const SourceLink& link) override {
    if (auto w = CheckWritable(); !w) return w;
    auto upsert = db_.Prepare(sql::kPutLink);
    if (!upsert) return upsert.error();
    upsert->Bind(1, link.connection_id)
        .Bind(2, link.source_user_id)
        .Bind(3, link.directory)
        .Bind(4, link.effective_user_id)
        .Bind(5, int64_t{link.deleted ? 1 : 0})
        .Bind(6, link.source_name);
    auto ran = upsert->Run("storing a link");
    if (!ran && ran.error().code == ErrorCode::kNotFound) return NoConnection(link.connection_id);
    return ran;
  }

  Status DeleteLink(int64_t connection_id, const std::string& source_user_id) override {
    if (auto w = CheckWritable(); !w) return w;
    auto remove = db_.Prepare(sql::kDeleteLink);
    if (!remove) return remove.error();
    remove->Bind(1, connection_id).Bind(2, source_user_id);
    return remove->Run("deleting a link");
  }

  Result<std::vector<SourceLink>> LinksOf(const std::string& directory,
                                          const std::string& effective_user_id) override {
    auto select = db_.Prepare(sql::kLinksOf);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, effective_user_id);
    return Links(*select);
  }

  Result<std::vector<SourceLink>> LinksOfConnection(int64_t connection_id) override {
    auto select = db_.Prepare(sql::kLinksOfConnection);
    if (!select) return select.error();
    select->Bind(1, connection_id);
    return Links(*select);
  }

  Result<std::vector<SourceLink>> FindTombstones(int64_t connection_id,
                                                 const std::string& source_name) override {
    auto select = db_.Prepare(sql::kFindTombstones);
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, source_name);
    return Links(*select);
  }

  // --- effective groups and memberships

  Result<EffectiveGroupRow> GetEffectiveGroup(const std::string& directory,
                                              const std::string& id) override {
    auto select = db_.Prepare(sql::kGetEffectiveGroup);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, id);
    auto found =
        OneRow<EffectiveGroupRow>(*select, "reading an effective group", ReadEffectiveGroup);
    if (!found) return found.error();
    if (!*found) return NoEffective("group", directory, id);
    return std::move(**found);
  }

  Result<EffectiveGroupRow> FindEffectiveGroupByName(const std::string& directory,
                                                     const std::string& name_key) override {
    auto select = db_.Prepare(sql::kFindEffectiveGroupByName);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, name_key);
    auto found =
        OneRow<EffectiveGroupRow>(*select, "reading an effective group", ReadEffectiveGroup);
    if (!found) return found.error();
    if (!*found) {
      return MakeError(ErrorCode::kNotFound,
                       "no group named \"" + name_key + "\" in directory " + directory);
    }
    return std::move(**found);
  }

  Result<EffectiveGroupRow> PutEffectiveGroup(const EffectiveGroupRow& row) override {
    if (auto w = CheckWritable(); !w) return w.error();
    std::optional<std::pair<int64_t, EffectiveGroupRow>> existing;
    {
      auto select = db_.Prepare(sql::kGetEffectiveGroup);
      if (!select) return select.error();
      select->Bind(1, row.directory).Bind(2, row.id);
      auto found =
          OneRow<EffectiveGroupRow>(*select, "reading an effective group", ReadEffectiveGroup);
      if (!found) return found.error();
      if (*found) existing.emplace(select->Int(0), std::move(**found));
    }
    auto taken = [&](const Error& error) -> Error {
      if (error.code != ErrorCode::kUniqueness) return error;
      return MakeError(ErrorCode::kUniqueness,
                       "group \"" + row.name + "\" already exists in directory " + row.directory);
    };
    EffectiveGroupRow stored = row;
    if (existing) {
      auto update = db_.Prepare(sql::kUpdateEffectiveGroup);
      if (!update) return update.error();
      update->Bind(1, existing->first)
          .Bind(2, row.name)
          .Bind(3, row.name_key)
          .Bind(4, DumpJson(row.body))
          .Bind(5, ToUnixMillis(row.last_modified));
      if (auto ran = update->Run("updating an effective group"); !ran) return taken(ran.error());
      stored.version = existing->second.version + 1;
      stored.created = existing->second.created;
    } else {
      auto insert = db_.Prepare(sql::kInsertEffectiveGroup);
      if (!insert) return insert.error();
      insert->Bind(1, row.directory)
          .Bind(2, row.id)
          .Bind(3, row.name)
          .Bind(4, row.name_key)
          .Bind(5, DumpJson(row.body))
          .Bind(6, ToUnixMillis(row.created))
          .Bind(7, ToUnixMillis(row.last_modified));
      if (auto ran = insert->Run("adding an effective group"); !ran) return taken(ran.error());
      stored.version = 1;
      stored.created = Stored(row.created);
    }
    stored.last_modified = Stored(row.last_modified);
    return stored;
  }

  Status DeleteEffectiveGroup(const std::string& directory, const std::string& id) override {
    if (auto w = CheckWritable(); !w) return w;
    auto pk = EffectiveGroupPk(directory, id);
    if (!pk) return pk.error();
    {
      auto clear = db_.Prepare(sql::kDeleteEffectiveMembersOfGroup);
      if (!clear) return clear.error();
      clear->Bind(1, *pk);
      if (auto ran = clear->Run("deleting an effective group"); !ran) return ran;
    }
    auto remove = db_.Prepare(sql::kDeleteEffectiveGroup);
    if (!remove) return remove.error();
    remove->Bind(1, *pk);
    return remove->Run("deleting an effective group");
  }

  Status TouchEffectiveGroup(const std::string& directory, const std::string& id,
                             TimePoint when) override {
    if (auto w = CheckWritable(); !w) return w;
    auto touch = db_.Prepare(sql::kTouchEffectiveGroup);
    if (!touch) return touch.error();
    touch->Bind(1, directory).Bind(2, id).Bind(3, ToUnixMillis(when));
    if (auto ran = touch->Run("updating an effective group"); !ran) return ran;
    if (db_.Changes() == 0) return NoEffective("group", directory, id);
    return Status::Ok();
  }

  Result<int64_t> CountEffectiveGroups(const std::string& directory) override {
    return CountEffective(directory, 1);
  }

  Result<std::vector<EffectiveGroupRow>> ListEffectiveGroups(const std::string& directory,
                                                             int64_t offset,
                                                             int64_t limit) override {
    auto select = db_.Prepare(sql::kListEffectiveGroups);
    if (!select) return select.error();
    select->Bind(1, directory)
        .Bind(2, std::max<int64_t>(offset, 0))
        .Bind(3, std::max<int64_t>(limit, 0));
    return Rows<EffectiveGroupRow>(*select, "listing effective groups", ReadEffectiveGroup);
  }

  Status ScanEffectiveGroups(const std::string& directory,
                             const std::function<bool(const EffectiveGroupRow&)>& visit) override {
    return ScanByPk<EffectiveGroupRow>(sql::kScanEffectiveGroups, directory,
                                       "reading effective groups", ReadEffectiveGroup, visit);
  }

  Result<bool> AddEffectiveMember(const std::string& directory, const std::string& group_id,
                                  const std::string& user_id) override {
    if (auto w = CheckWritable(); !w) return w.error();
    auto group = EffectiveGroupPk(directory, group_id);
    if (!group) return group.error();
    auto user = EffectiveUserPk(directory, user_id);
    if (!user) return user.error();
    auto insert = db_.Prepare(sql::kAddEffectiveMember);
    if (!insert) return insert.error();
    insert->Bind(1, *group).Bind(2, *user);
    if (auto ran = insert->Run("adding a member"); !ran) return ran.error();
    return db_.Changes() > 0;
  }

  Result<bool> RemoveEffectiveMember(const std::string& directory, const std::string& group_id,
                                     const std::string& user_id) override {
    if (auto w = CheckWritable(); !w) return w.error();
    auto group = EffectiveGroupPk(directory, group_id);
    if (!group) return group.error();
    auto user = EffectiveUserPk(directory, user_id);
    if (!user) {
      // A user that does not exist is not a member.
      if (user.error().code == ErrorCode::kNotFound) return false;
      return user.error();
    }
    auto remove = db_.Prepare(sql::kRemoveEffectiveMember);
    if (!remove) return remove.error();
    remove->Bind(1, *group).Bind(2, *user);
    if (auto ran = remove->Run("removing a member"); !ran) return ran.error();
    return db_.Changes() > 0;
  }

  Result<std::vector<std::string>> ListEffectiveMembers(const std::string& directory,
                                                        const std::string& group_id) override {
    auto group = EffectiveGroupPk(directory, group_id);
    if (!group) return group.error();
    auto select = db_.Prepare(sql::kListEffectiveMembers);
    if (!select) return select.error();
    select->Bind(1, *group);
    std::vector<std::string> out;
    auto listed = ForEachRow(*select, "listing members", [&](const Statement& row) {
      out.push_back(row.Text(0));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  Result<int64_t> CountEffectiveMembers(const std::string& directory,
                                        const std::string& group_id) override {
    auto select = db_.Prepare(sql::kCountEffectiveMembers);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, group_id);
    auto row = select->Step("counting members");
    if (!row) return row.error();
    if (!*row) return NoEffective("group", directory, group_id);
    return select->Int(0);
  }

  Result<std::vector<std::pair<std::string, std::string>>> EffectiveGroupsOf(
      const std::string& directory, const std::string& user_id) override {
    auto select = db_.Prepare(sql::kEffectiveGroupsOf);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, user_id);
    std::vector<std::pair<std::string, std::string>> out;
    auto listed = ForEachRow(*select, "listing groups", [&](const Statement& row) {
      out.emplace_back(row.Text(0), row.Text(1));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  // --- change feed

  Result<int64_t> AppendChange(const ChangeRecord& change) override {
    if (auto w = CheckWritable(); !w) return w.error();
    auto insert = db_.Prepare(sql::kInsertChange);
    if (!insert) return insert.error();
    insert->Bind(1, change.directory)
        .Bind(2, ToUnixMillis(change.time))
        .Bind(3, change.type)
        .Bind(4, change.op)
        .Bind(5, change.id)
        .Bind(6, change.member_id);
    if (change.resource.is_null()) {
      insert->BindNull(7);
    } else {
      codec_.Bind(*insert, 7, BodyKind::kChange, DumpJson(change.resource));
    }
    codec_.Bind(*insert, 8, BodyKind::kChange, DumpJson(change.cause));
    if (auto ran = insert->Run("appending to the change feed"); !ran) return ran.error();
    return db_.LastInsertRowid();
  }

  Result<std::vector<ChangeRecord>> ListChanges(const std::string& directory, int64_t after_seq,
                                                int64_t limit) override {
    auto select = db_.Prepare(sql::kListChanges);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, after_seq).Bind(3, std::max<int64_t>(limit, 0));
    return ReadChanges(*select);
  }

  Result<std::vector<ChangeRecord>> ListChangesOf(const std::string& directory,
                                                  const std::string& entry_id, int64_t after_seq,
                                                  int64_t limit) override {
    auto select = db_.Prepare(sql::kListChangesOf);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, after_seq).Bind(3, std::max<int64_t>(limit, 0));
    select->Bind(4, entry_id);
    return ReadChanges(*select);
  }

  Result<std::vector<ChangeRecord>> ReadChanges(Statement& select) {
    std::vector<ChangeRecord> out;
    auto listed =
        ForEachRow(select, "reading the change feed", [&](const Statement& row) -> Status {
          ChangeRecord change;
          change.seq = row.Int(0);
          change.time = FromUnixMillis(row.Int(1));
          change.directory = row.Text(2);
          change.type = row.Text(3);
          change.op = row.Text(4);
          change.id = row.Text(5);
          change.member_id = row.Text(6);
          std::string what = "change " + std::to_string(change.seq);
          if (!row.IsNull(7)) {
            auto text = codec_.Read(db_, row, 7, what);
            if (!text) return text.error();
            auto resource = ParseStored(*text, what);
            if (!resource) return resource.error();
            change.resource = std::move(*resource);
          }
          auto cause_text = codec_.Read(db_, row, 8, what);
          if (!cause_text) return cause_text.error();
          auto cause = ParseStored(*cause_text, what);
          if (!cause) return cause.error();
          change.cause = std::move(*cause);
          out.push_back(std::move(change));
          return Status::Ok();
        });
    if (!listed) return listed.error();
    return out;
  }

  Result<int64_t> LastChangeSeq(const std::string& directory) override {
    auto select = db_.Prepare(sql::kLastChangeSeq);
    if (!select) return select.error();
    select->Bind(1, directory);
    auto row = select->Step("reading the change feed");
    if (!row) return row.error();
    return *row ? select->Int(0) : int64_t{0};
  }

  // --- conflicts

  Status PutConflict(const ConflictRecord& conflict) override {
    if (auto w = CheckWritable(); !w) return w;
    auto upsert = db_.Prepare(sql::kPutConflict);
    if (!upsert) return upsert.error();
    upsert->Bind(1, conflict.connection_id)
        .Bind(2, conflict.source_user_id)
        .Bind(3, conflict.directory)
        .Bind(4, conflict.username)
        .Bind(5, DumpJson(conflict.detail))
        .Bind(6, ToUnixMillis(conflict.time));
    auto ran = upsert->Run("storing a conflict");
    if (!ran && ran.error().code == ErrorCode::kNotFound) {
      return NoConnection(conflict.connection_id);
    }
    return ran;
  }

  Status DeleteConflict(int64_t connection_id, const std::string& source_user_id) override {
    if (auto w = CheckWritable(); !w) return w;
    auto remove = db_.Prepare(sql::kDeleteConflict);
    if (!remove) return remove.error();
    remove->Bind(1, connection_id).Bind(2, source_user_id);
    return remove->Run("deleting a conflict");
  }

  Result<std::vector<ConflictRecord>> ListConflicts(const std::string& directory) override {
    auto select = db_.Prepare(sql::kListConflicts);
    if (!select) return select.error();
    select->Bind(1, directory);
    std::vector<ConflictRecord> out;
    auto listed = ForEachRow(*select, "listing conflicts", [&](const Statement& row) -> Status {
      ConflictRecord conflict;
      conflict.directory = row.Text(0);
      conflict.connection_id = row.Int(1);
      conflict.source_user_id = row.Text(2);
      conflict.username = row.Text(3);
      auto detail = ParseStored(row.Text(4), "conflict of " + conflict.source_user_id);
      if (!detail) return detail.error();
      conflict.detail = std::move(*detail);
      conflict.time = FromUnixMillis(row.Int(5));
      out.push_back(std::move(conflict));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  // --- API tokens

  Result<ApiToken> CreateApiToken(const ApiToken& token) override {
    if (auto w = CheckWritable(); !w) return w.error();
    auto insert = db_.Prepare(sql::kInsertApiToken);
    if (!insert) return insert.error();
    insert->Bind(1, token.name)
        .Bind(2, token.kind)
        .Bind(3, token.directory)
        .Bind(4, token.hash)
        .Bind(5, ToUnixMillis(token.created));
    if (auto ran = insert->Run("adding an API token"); !ran) {
      if (ran.error().code == ErrorCode::kUniqueness) {
        // Name or hash; a hash collision of 256 random bits does not happen, so say the name.
        return MakeError(ErrorCode::kUniqueness,
                         "an API token named \"" + token.name + "\" already exists");
      }
      return ran.error();
    }
    ApiToken stored = token;
    stored.id = db_.LastInsertRowid();
    stored.created = Stored(token.created);
    return stored;
  }

  Result<ApiToken> FindApiToken(const std::string& hash) override {
    auto select = db_.Prepare(sql::kFindApiToken);
    if (!select) return select.error();
    select->Bind(1, hash);
    auto row = select->Step("looking up an API token");
    if (!row) return row.error();
    if (!*row) return MakeError(ErrorCode::kNotFound, "no such API token");
    return ReadApiToken(*select);
  }

  Result<std::vector<ApiToken>> ListApiTokens() override {
    auto select = db_.Prepare(sql::kListApiTokens);
    if (!select) return select.error();
    std::vector<ApiToken> out;
    auto listed = ForEachRow(*select, "listing API tokens", [&](const Statement& row) {
      out.push_back(ReadApiToken(row));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  Status DeleteApiToken(const std::string& name) override {
    if (auto w = CheckWritable(); !w) return w;
    auto remove = db_.Prepare(sql::kDeleteApiToken);
    if (!remove) return remove.error();
    remove->Bind(1, name);
    if (auto ran = remove->Run("deleting an API token"); !ran) return ran;
    if (db_.Changes() == 0) {
      return MakeError(ErrorCode::kNotFound, "API token \"" + name + "\" not found");
    }
    return Status::Ok();
  }

  Result<int64_t> InsertSyncRun(const SyncRun& run) override {
    if (auto w = CheckWritable(); !w) return w.error();
    auto insert = db_.Prepare(
        "INSERT INTO sync_runs(connection_id, mode, run_trigger, outcome, started_ms, ended_ms, "
        "counts, progress, error, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!insert) return insert.error();
    std::optional<int64_t> ended;
    if (run.ended) ended = ToUnixMillis(*run.ended);
    insert->Bind(1, run.connection_id)
        .Bind(2, run.mode)
        .Bind(3, run.trigger)
        .Bind(4, run.outcome)
        .Bind(5, ToUnixMillis(run.started))
        .Bind(6, ended)
        .Bind(7, DumpJson(run.counts))
        .Bind(8, DumpJson(run.progress))
        .Bind(9, run.error)
        .Bind(10, run.owner);
    auto ran = insert->Run("recording a sync run");
    if (!ran) {
      if (ran.error().code == ErrorCode::kNotFound) return NoConnection(run.connection_id).error();
      return ran.error();
    }
    return db_.LastInsertRowid();
  }

  Status UpdateSyncRun(const SyncRun& run) override {
    if (auto w = CheckWritable(); !w) return w;
    auto update = db_.Prepare(
        "UPDATE sync_runs SET outcome = ?2, ended_ms = ?3, counts = ?4, progress = ?5, "
        "error = ?6 WHERE id = ?1");
    if (!update) return update.error();
    std::optional<int64_t> ended;
    if (run.ended) ended = ToUnixMillis(*run.ended);
    update->Bind(1, run.id)
        .Bind(2, run.outcome)
        .Bind(3, ended)
        .Bind(4, DumpJson(run.counts))
        .Bind(5, DumpJson(run.progress))
        .Bind(6, run.error);
    if (auto ran = update->Run("updating a sync run"); !ran) return ran;
    if (db_.Changes() == 0) {
      return MakeError(ErrorCode::kNotFound, "sync run " + std::to_string(run.id) + " not found");
    }
    return Status::Ok();
  }

  Result<SyncRun> GetSyncRun(int64_t id) override {
    auto select =
        db_.Prepare(std::string("SELECT ") + kSyncRunColumns + " FROM sync_runs WHERE id = ?1");
    if (!select) return select.error();
    select->Bind(1, id);
    auto row = OneRow<SyncRun>(*select, "reading a sync run", ReadSyncRun);
    if (!row) return row.error();
    if (!*row) {
      return MakeError(ErrorCode::kNotFound, "sync run " + std::to_string(id) + " not found");
    }
    return std::move(**row);
  }

  Result<std::vector<SyncRun>> ListSyncRuns(int64_t connection_id, int64_t limit) override {
    auto select = db_.Prepare(std::string("SELECT ") + kSyncRunColumns +
                              " FROM sync_runs WHERE connection_id = ?1 ORDER BY id DESC "
                              "LIMIT ?2");
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, limit);
    return Rows<SyncRun>(*select, "listing sync runs", ReadSyncRun);
  }

  Result<int64_t> AbandonSyncRuns(int64_t connection_id, const std::string& owner,
                                  TimePoint when) override {
    if (auto w = CheckWritable(); !w) return w.error();
    auto update = db_.Prepare(
        "UPDATE sync_runs SET outcome = 'abandoned', ended_ms = ?3, "
        "error = 'the process running it stopped before the run ended' "
        "WHERE connection_id = ?1 AND outcome = 'running' AND owner <> ?2");
    if (!update) return update.error();
    update->Bind(1, connection_id).Bind(2, owner).Bind(3, ToUnixMillis(when));
    if (auto ran = update->Run("abandoning sync runs"); !ran) return ran.error();
    return db_.Changes();
  }

  Result<Json> GetSyncState(int64_t connection_id) override {
    auto select = db_.Prepare("SELECT state FROM sync_state WHERE connection_id = ?1");
    if (!select) return select.error();
    select->Bind(1, connection_id);
    auto row = select->Step("reading a sync state");
    if (!row) return row.error();
    if (!*row) return Json::object();
    return ParseStored(select->Text(0),
                       "sync state of connection " + std::to_string(connection_id));
  }

  Status PutSyncState(int64_t connection_id, const Json& state) override {
    if (auto w = CheckWritable(); !w) return w;
    auto upsert = db_.Prepare(
        "INSERT INTO sync_state(connection_id, state) VALUES (?1, ?2) "
        "ON CONFLICT(connection_id) DO UPDATE SET state = excluded.state");
    if (!upsert) return upsert.error();
    upsert->Bind(1, connection_id).Bind(2, DumpJson(state));
    auto ran = upsert->Run("storing a sync state");
    if (!ran && ran.error().code == ErrorCode::kNotFound) return NoConnection(connection_id);
    return ran;
  }

  Result<bool> AcquireSyncLease(int64_t connection_id, const std::string& owner, TimePoint now,
                                TimePoint expires) override {
    if (auto w = CheckWritable(); !w) return w.error();
    // One statement: insert the row, or take the lease when it is free, expired or ours.
    auto upsert = db_.Prepare(
        "INSERT INTO sync_state(connection_id, state, lease_owner, lease_expires_ms) "
        "VALUES (?1, '{}', ?2, ?4) ON CONFLICT(connection_id) DO UPDATE SET "
        "lease_owner = excluded.lease_owner, lease_expires_ms = excluded.lease_expires_ms "
        "WHERE lease_owner IS NULL OR lease_owner = ?2 OR lease_expires_ms <= ?3");
    if (!upsert) return upsert.error();
    upsert->Bind(1, connection_id)
        .Bind(2, owner)
        .Bind(3, ToUnixMillis(now))
        .Bind(4, ToUnixMillis(expires));
    auto ran = upsert->Run("taking a sync lease");
    if (!ran) {
      if (ran.error().code == ErrorCode::kNotFound) return NoConnection(connection_id).error();
      return ran.error();
    }
    return db_.Changes() > 0;
  }

  Status ReleaseSyncLease(int64_t connection_id, const std::string& owner) override {
    if (auto w = CheckWritable(); !w) return w;
    auto update = db_.Prepare(
        "UPDATE sync_state SET lease_owner = NULL, lease_expires_ms = NULL "
        "WHERE connection_id = ?1 AND lease_owner = ?2");
    if (!update) return update.error();
    update->Bind(1, connection_id).Bind(2, owner);
    return update->Run("releasing a sync lease");
  }

  Status PutSecret(int64_t connection_id, const std::string& name,
                   const std::string& sealed) override {
    if (auto w = CheckWritable(); !w) return w;
    auto upsert = db_.Prepare(
        "INSERT INTO secrets(connection_id, name, sealed) VALUES (?1, ?2, ?3) "
        "ON CONFLICT(connection_id, name) DO UPDATE SET sealed = excluded.sealed");
    if (!upsert) return upsert.error();
    upsert->Bind(1, connection_id).Bind(2, name).Bind(3, sealed);
    auto ran = upsert->Run("storing a secret");
    if (!ran && ran.error().code == ErrorCode::kNotFound) return NoConnection(connection_id);
    return ran;
  }

  Result<std::string> GetSecret(int64_t connection_id, const std::string& name) override {
    auto select = db_.Prepare("SELECT sealed FROM secrets WHERE connection_id = ?1 AND name = ?2");
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, name);
    auto row = select->Step("reading a secret");
    if (!row) return row.error();
    if (!*row) {
      return MakeError(ErrorCode::kNotFound,
                       "connection " + std::to_string(connection_id) + " has no " + name);
    }
    return select->Text(0);
  }

  Status AppendAudit(const AuditRecord& record) override {
    if (auto w = CheckWritable(); !w) return w;
    auto insert = db_.Prepare(sql::kInsertAudit);
    if (!insert) return insert.error();
    insert->Bind(1, ToUnixMillis(record.time))
        .Bind(2, record.connection_id)
        .Bind(3, record.connection_name)
        .Bind(4, record.request_id)
        .Bind(5, record.actor)
        .Bind(6, record.operation)
        .Bind(7, record.resource_type)
        .Bind(8, record.resource_id)
        .Bind(9, int64_t{record.status})
        .Bind(10, record.detail);
    return insert->Run("writing the audit log");
  }

  Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& query) override {
    const char* text =
        !query.resource_id.empty()
            ? sql::kListAuditByResource
            : query.connection_id
                  ? (query.since ? sql::kListAuditByConnectionSince : sql::kListAuditByConnection)
                  : (query.since ? sql::kListAuditSince : sql::kListAudit);
    auto select = db_.Prepare(text);
    if (!select) return select.error();
    select->Bind(1, query.after_seq).Bind(2, std::max<int64_t>(query.limit, 0));
    if (query.connection_id) select->Bind(3, *query.connection_id);
    if (query.since) select->Bind(4, ToUnixMillis(*query.since));
    if (!query.resource_id.empty()) select->Bind(5, query.resource_id);
    if (query.until) select->Bind(6, ToUnixMillis(*query.until));
    std::vector<AuditRecord> out;
    auto listed = ForEachRow(*select, "reading the audit log", [&](const Statement& row) {
      AuditRecord record;
      record.seq = row.Int(0);
      record.time = FromUnixMillis(row.Int(1));
      record.connection_id = row.Int(2);
      record.connection_name = row.Text(3);
      record.request_id = row.Text(4);
      record.actor = row.Text(5);
      record.operation = row.Text(6);
      record.resource_type = row.Text(7);
      record.resource_id = row.Text(8);
      record.status = static_cast<int>(row.Int(9));
      record.detail = row.Text(10);
      out.push_back(std::move(record));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

 private:
  Status CheckWritable() const {
    if (writable_) return Status::Ok();
    return Internal("write attempted in a read transaction");
  }

  static Error NoResource(scim::ResourceType type, const std::string& id) {
    return MakeError(ErrorCode::kNotFound,
                     std::string(scim::ResourceTypeName(type)) + " " + id + " not found");
  }

  static Status NoConnection(int64_t id) {
    return MakeError(ErrorCode::kNotFound, "connection " + std::to_string(id) + " not found");
  }

  Result<Connection> OneConnection(Statement& select, const std::string& name) {
    auto row = select.Step("reading a connection");
    if (!row) return row.error();
    if (!*row) return MakeError(ErrorCode::kNotFound, name + " not found");
    return ReadConnection(select);
  }

  // (pk, resource) or (0, nullopt) when there is no such resource.
  Result<std::pair<int64_t, std::optional<StoredResource>>> Find(int64_t connection_id,
                                                                 scim::ResourceType type,
                                                                 const std::string& id,
                                                                 bool parse_body = true) {
    auto select = db_.Prepare(sql::kGetResource);
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, id);
    auto row = select->Step("reading a resource");
    if (!row) return row.error();
    if (!*row) return std::pair<int64_t, std::optional<StoredResource>>{0, std::nullopt};
    auto resource = ReadResource(*select, 0, Bodies{db_, codec_}, parse_body);
    if (!resource) return resource.error();
    return std::pair<int64_t, std::optional<StoredResource>>{select->Int(0), std::move(*resource)};
  }

  Result<int64_t> PkOf(int64_t connection_id, scim::ResourceType type, const std::string& id) {
    auto select = db_.Prepare(sql::kGroupPk);
    if (!select) return select.error();
    select->Bind(1, connection_id).Bind(2, TypeCode(type)).Bind(3, id);
    auto row = select->Step("reading a resource");
    if (!row) return row.error();
    if (!*row) return NoResource(type, id);
    return select->Int(0);
  }

  Result<int64_t> GroupPk(int64_t connection_id, const std::string& group_id) {
    return PkOf(connection_id, scim::ResourceType::kGroup, group_id);
  }

  Result<std::vector<StoredResource>> Resources(Statement& select, std::string_view what,
                                                bool parse_body = true) {
    std::vector<StoredResource> out;
    auto listed = ForEachRow(select, what, [&](const Statement& row) -> Status {
      auto resource = ReadResource(row, 0, Bodies{db_, codec_}, parse_body);
      if (!resource) return resource.error();
      out.push_back(std::move(*resource));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  Result<int64_t> Count(Statement& select, std::string_view what) {
    auto row = select.Step(what);
    if (!row) return row.error();
    return select.Int(0);
  }

  static Error NoEffective(std::string_view what, const std::string& directory,
                           const std::string& id) {
    return MakeError(ErrorCode::kNotFound,
                     std::string(what) + " " + id + " not found in directory " + directory);
  }

  // Every row of a bound statement through `read` (a Read* function above).
  template <typename Row, typename ReadFn>
  Result<std::vector<Row>> Rows(Statement& select, std::string_view what, ReadFn read) {
    std::vector<Row> out;
    auto listed = ForEachRow(select, what, [&](const Statement& row) -> Status {
      auto value = read(row);
      if (!value) return value.error();
      out.push_back(std::move(*value));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  // The first row through `read`, or nullopt if there is none. The statement stays on that
  // row, so the caller may read more columns (the pk) before it goes out of scope.
  template <typename Row, typename ReadFn>
  Result<std::optional<Row>> OneRow(Statement& select, std::string_view what, ReadFn read) {
    auto row = select.Step(what);
    if (!row) return row.error();
    if (!*row) return std::optional<Row>();
    auto value = read(select);
    if (!value) return value.error();
    return std::optional<Row>(std::move(*value));
  }

  // Calls `visit` on a directory's rows in pk order, in chunks; each chunk's statement is
  // finished before `visit` runs, so the visitor may use this transaction (the statement
  // cache holds one instance of each statement). `text` takes ?1 directory, ?2 after pk,
  // ?3 limit and returns the pk in column 0.
  template <typename Row, typename ReadFn>
  Status ScanByPk(const char* text, const std::string& directory, std::string_view what,
                  ReadFn read, const std::function<bool(const Row&)>& visit) {
    int64_t after = 0;
    for (;;) {
      std::vector<std::pair<int64_t, Row>> chunk;
      {
        auto select = db_.Prepare(text);
        if (!select) return select.error();
        select->Bind(1, directory).Bind(2, after).Bind(3, kScanChunk);
        auto listed = ForEachRow(*select, what, [&](const Statement& row) -> Status {
          auto value = read(row);
          if (!value) return value.error();
          chunk.emplace_back(row.Int(0), std::move(*value));
          return Status::Ok();
        });
        if (!listed) return listed;
      }
      for (const auto& [pk, value] : chunk) {
        if (!visit(value)) return Status::Ok();
      }
      if (static_cast<int64_t>(chunk.size()) < kScanChunk) return Status::Ok();
      after = chunk.back().first;
    }
  }

  Result<int64_t> PkByDirectoryAndId(const char* text, std::string_view what,
                                     const std::string& directory, const std::string& id) {
    auto select = db_.Prepare(text);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, id);
    auto row = select->Step(std::string("reading an effective ") + std::string(what));
    if (!row) return row.error();
    if (!*row) return NoEffective(what, directory, id);
    return select->Int(0);
  }

  Result<int64_t> EffectiveUserPk(const std::string& directory, const std::string& id) {
    return PkByDirectoryAndId(sql::kEffectiveUserPk, "user", directory, id);
  }

  Result<int64_t> EffectiveGroupPk(const std::string& directory, const std::string& id) {
    return PkByDirectoryAndId(sql::kEffectiveGroupPk, "group", directory, id);
  }

  // kind: 0 users, 1 groups (as in effective_counts).
  Result<int64_t> CountEffective(const std::string& directory, int64_t kind) {
    auto select = db_.Prepare(sql::kCountEffective);
    if (!select) return select.error();
    select->Bind(1, directory).Bind(2, kind);
    auto row = select->Step("counting");
    if (!row) return row.error();
    return *row ? select->Int(0) : int64_t{0};  // no row: nothing was ever stored
  }

  Result<std::vector<SourceLink>> Links(Statement& select) {
    std::vector<SourceLink> out;
    auto listed = ForEachRow(select, "reading links", [&](const Statement& row) {
      out.push_back(ReadLink(row));
      return Status::Ok();
    });
    if (!listed) return listed.error();
    return out;
  }

  // A mirror body: users compressed (body_codec.h); groups stay text, since kGroupsOf reads
  // their displayName with json_extract.
  void BindBody(Statement& statement, int index, scim::ResourceType type, const std::string& body) {
    if (type == scim::ResourceType::kUser) {
      codec_.Bind(statement, index, BodyKind::kMirrorUser, body);
    } else {
      statement.Bind(index, body);
    }
  }

  // Reads an effective-user row with this transaction's connection and codec.
  EffectiveUserReader ReadEUser() { return {Bodies{db_, codec_}}; }

  Database& db_;
  BodyCodec& codec_;
  const bool writable_;
  const Clock& clock_;
  SqliteLdapArea ldap_;
  SqliteConsoleArea console_;
};

// Runs a job; a job that throws gets kInternal (exceptions do not cross the store boundary).
Status RunJob(const std::function<Status(Transaction&)>& job, Transaction& tx) {
  try {
    return job(tx);
  } catch (const std::exception& e) {
    return Internal(std::string("unexpected exception in a store job: ") + e.what());
  } catch (...) {
    return Internal("unexpected exception in a store job");
  }
}

Status Configure(Database& db, const std::string& path, int busy_timeout_ms, bool writer) {
  auto fail = [&](const Error& error) {
    return MakeError(ErrorCode::kUnavailable, "cannot open database " + path + ": " + error.detail);
  };
  std::string pragmas = "PRAGMA busy_timeout = " + std::to_string(busy_timeout_ms) + ";";
  // journal_size_limit: a WAL that one large transaction (a policy apply) grew is cut back to
  // 16 MiB when it restarts, instead of keeping its largest size for ever.
  if (writer) {
    pragmas +=
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
        "PRAGMA journal_size_limit = 16777216;";
  }
  if (auto set = db.Exec(pragmas, "configuring the connection"); !set) return fail(set.error());
  if (!writer) return Status::Ok();
  // WAL lets readers keep their snapshot while the writer commits; the mode is stored in the
  // file, so the CLI opening it later uses WAL too.
  auto wal = db.Prepare("PRAGMA journal_mode = WAL");
  if (!wal) return fail(wal.error());
  auto row = wal->Step("switching to WAL");
  if (!row) return fail(row.error());
  if (!*row || wal->Text(0) != "wal") {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot open database " + path + ": the file system does not support WAL");
  }
  return Status::Ok();
}

}  // namespace

SqliteStore::SqliteStore(std::string path, const SqliteOptions& options)
    : path_(std::move(path)),
      options_(options),
      codec_(std::make_unique<BodyCodec>(options.compression_samples)) {}

SqliteStore::~SqliteStore() {
  Close();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& data_dir,
                                                       const SqliteOptions& options) {
  struct stat info {};
  if (stat(data_dir.c_str(), &info) != 0) {
    if (errno == ENOENT) {
      return MakeError(ErrorCode::kUnavailable,
                       "data folder " + data_dir + " does not exist; create it or pass --data");
    }
    return MakeError(ErrorCode::kUnavailable,
                     "cannot read data folder " + data_dir + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(info.st_mode)) {
    return MakeError(ErrorCode::kUnavailable,
                     "data path " + data_dir + " is not a folder; pass --data with a folder");
  }
  std::string dir = data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string path = dir + "/idsync.db";

  // Create the file ourselves with mode 0600 rather than changing the process umask, which
  // would race with other threads creating files. SQLite gives the -wal and -shm files the
  // permissions of the database file.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != EEXIST) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot create database " + path + ": " + std::strerror(errno));
  }

  std::unique_ptr<SqliteStore> store(new SqliteStore(path, options));
  auto writer = Database::Open(path, SQLITE_OPEN_READWRITE);
  if (!writer) return writer.error();
  store->writer_db_ = std::move(*writer);
  if (auto ok = Configure(*store->writer_db_, path, options.busy_timeout_ms, true); !ok) {
    return ok.error();
  }
  if (auto ok = Migrate(*store->writer_db_, path, options.migrations); !ok) return ok.error();
  if (options.migrations >= 7) {
    if (auto ok = store->codec_->Load(*store->writer_db_); !ok) {
      return MakeError(ErrorCode::kUnavailable,
                       "database " + path + ": cannot read compression dictionaries: " +
                           ok.error().detail);
    }
  }

  size_t readers = std::max<size_t>(options.read_connections, 1);
  for (size_t i = 0; i < readers; ++i) {
    auto reader = Database::Open(path, SQLITE_OPEN_READONLY);
    if (!reader) return reader.error();
    if (auto ok = Configure(**reader, path, options.busy_timeout_ms, false); !ok) {
      return ok.error();
    }
    store->idle_readers_.push_back(reader->get());
    store->readers_.push_back(std::move(*reader));
  }
  auto generation = Database::Open(path, SQLITE_OPEN_READONLY);
  if (!generation) return generation.error();
  if (auto ok = Configure(**generation, path, options.busy_timeout_ms, false); !ok) {
    return ok.error();
  }
  store->generation_db_ = std::move(*generation);
  auto checkpoint = Database::Open(path, SQLITE_OPEN_READWRITE);
  if (!checkpoint) return checkpoint.error();
  if (auto ok = Configure(**checkpoint, path, options.busy_timeout_ms, false); !ok) {
    return ok.error();
  }
  store->checkpoint_db_ = std::move(*checkpoint);
  {
    // A connection learns that the file is in WAL mode when it first reads it; until then
    // sqlite3_wal_checkpoint_v2 on it does nothing.
    auto mode = store->checkpoint_db_->Prepare("PRAGMA journal_mode");
    if (!mode) return mode.error();
    if (auto row = mode->Step("reading the journal mode"); !row) return row.error();
  }
  try {
    store->checkpointer_ = std::thread([s = store.get()] { s->CheckpointLoop(); });
  } catch (const std::system_error& e) {
    return MakeError(ErrorCode::kUnavailable,
                     std::string("cannot start the checkpoint thread: ") + e.what());
  }
  // Replaces SQLite's auto-checkpoint on the writer connection (sqlite3_wal_hook docs).
  sqlite3_wal_hook(store->writer_db_->handle(), &SqliteStore::OnWalCommit, store.get());
  try {
    store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
  } catch (const std::system_error& e) {
    return MakeError(ErrorCode::kUnavailable,
                     std::string("cannot start the database writer thread: ") + e.what());
  }
  store->writer_id_ = store->writer_.get_id();
  return store;
}

Result<int64_t> SqliteStore::ConfigGeneration() {
  std::lock_guard lock(generation_mutex_);
  if (!generation_db_) return MakeError(ErrorCode::kUnavailable, "the store is closed");
  auto version = generation_db_->Prepare("PRAGMA data_version");
  if (!version) return version.error();
  auto row = version->Step("reading the data version");
  if (!row) return row.error();
  int64_t data_version = version->Int(0);
  if (data_version == last_data_version_) return last_generation_;
  auto gen = generation_db_->Prepare("SELECT value FROM config_generation WHERE id = 1");
  if (!gen) return gen.error();
  auto gen_row = gen->Step("reading the configuration generation");
  if (!gen_row) return gen_row.error();
  if (!*gen_row) return MakeError(ErrorCode::kInternal, "configuration generation row missing");
  last_generation_ = gen->Int(0);
  last_data_version_ = data_version;
  return last_generation_;
}

Status SqliteStore::Read(const std::function<Status(Transaction&)>& job) {
  Database* db = nullptr;
  {
    std::unique_lock lock(readers_mutex_);
    readers_cv_.wait(lock, [&] { return readers_closed_ || !idle_readers_.empty(); });
    if (readers_closed_) return MakeError(ErrorCode::kUnavailable, "the store is closed");
    db = idle_readers_.back();
    idle_readers_.pop_back();
  }
  Status status;
  // The snapshot starts at the first read after BEGIN and lasts until COMMIT.
  if (auto begun = db->Exec("BEGIN DEFERRED", "starting a read"); !begun) {
    status =
        MakeError(ErrorCode::kUnavailable, "cannot read the database: " + begun.error().detail);
  } else {
    SqliteTransaction tx(*db, *codec_, /*writable=*/false, *options_.clock);
    status = RunJob(job, tx);
    if (!db->Exec("COMMIT", "ending a read")) (void)db->Exec("ROLLBACK", "ending a read");
  }
  {
    std::lock_guard lock(readers_mutex_);
    idle_readers_.push_back(db);
  }
  readers_cv_.notify_all();
  return status;
}

Status SqliteStore::Write(const std::function<Status(Transaction&)>& job) {
  if (std::this_thread::get_id() == writer_id_) {
    return Internal("Write() called from inside a write job");
  }
  Job entry{&job, Status::Ok()};
  {
    std::lock_guard lock(mutex_);
    if (closing_) return MakeError(ErrorCode::kUnavailable, "the store is closed");
    queue_.push_back(&entry);
  }
  queue_cv_.notify_one();
  std::unique_lock lock(mutex_);
  done_cv_.wait(lock, [&] { return entry.done; });
  return entry.status;
}

void SqliteStore::Close() {
  std::lock_guard close_lock(close_mutex_);
  {
    // A training under way finishes first: it stores its dictionary through Write().
    std::unique_lock lock(trainer_mutex_);
    training_closed_ = true;
    trainer_cv_.wait(lock, [&] { return !training_; });
  }
  if (trainer_.joinable()) trainer_.join();
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_closing_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  checkpoint_db_.reset();
  {
    std::unique_lock lock(readers_mutex_);
    readers_closed_ = true;
    readers_cv_.notify_all();
    // Reads in progress finish on their connection before it closes.
    readers_cv_.wait(lock, [&] { return idle_readers_.size() == readers_.size(); });
    idle_readers_.clear();
    readers_.clear();
  }
  writer_db_.reset();
  std::lock_guard generation_lock(generation_mutex_);
  generation_db_.reset();
}

int SqliteStore::OnWalCommit(void* self, sqlite3* db, const char* /*name*/, int pages) {
  constexpr int kCheckpointPages = 1000;  // SQLite's own auto-checkpoint threshold
  // Under sustained writes a checkpoint on another connection never catches up with the last
  // frame, so the WAL would never restart and would grow without end (it reached ~800 MB
  // while loading 100,000 users). Past this size the writer finishes the checkpoint itself,
  // between its batches: the background one has copied most pages already.
  constexpr int kWriterCheckpointPages = 2000;
  if (pages >= kWriterCheckpointPages) {
    int log_pages = 0;
    int copied = 0;
    (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &copied);
    return SQLITE_OK;
  }
  if (pages >= kCheckpointPages) {
    auto* store = static_cast<SqliteStore*>(self);
    {
      std::lock_guard lock(store->checkpoint_mutex_);
      store->checkpoint_wanted_ = true;
    }
    store->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::CheckpointLoop() {
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mutex_);
      checkpoint_cv_.wait(lock, [&] { return checkpoint_closing_ || checkpoint_wanted_; });
      if (checkpoint_closing_) return;
      checkpoint_wanted_ = false;
    }
    // PASSIVE never blocks the writer or readers: it copies what no reader still needs and
    // leaves the rest to the next one. BUSY (another process checkpointing) is fine too.
    int log_pages = 0;
    int copied = 0;
    (void)sqlite3_wal_checkpoint_v2(checkpoint_db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                    &log_pages, &copied);
  }
}

void SqliteStore::WaitForTraining() {
  std::unique_lock lock(trainer_mutex_);
  trainer_cv_.wait(lock, [&] { return !training_; });
}

int64_t SqliteStore::CompressionDictionary(int kind) const {
  if (kind < 1 || kind > kBodyKinds) return 0;
  return codec_->DictionaryOf(static_cast<BodyKind>(kind));
}

void SqliteStore::MaybeTrain() {
  std::lock_guard lock(trainer_mutex_);
  if (training_ || training_closed_) return;
  auto set = codec_->TakeTrainingSet();
  if (!set) return;
  const BodyKind kind = set->kind;
  // A previous training has finished (training_ is false), so this join does not wait.
  if (trainer_.joinable()) trainer_.join();
  auto train = [this, set = std::move(*set)] {
    bool installed = false;
    if (auto dict = BodyCodec::Train(set.samples)) {
      int64_t id = 0;
      Status stored = Write([&](Transaction& tx) -> Status {
        auto inserted = BodyCodec::Store(static_cast<SqliteTransaction&>(tx).db(), set.kind, *dict);
        if (!inserted) return inserted.error();
        id = *inserted;
        return Status::Ok();
      });
      if (stored) {
        codec_->Install(id, set.kind, *dict);
        installed = true;
      }
    }
    if (!installed) codec_->TrainingFailed(set.kind);
    {
      std::lock_guard done(trainer_mutex_);
      training_ = false;
    }
    trainer_cv_.notify_all();
  };
  try {
    trainer_ = std::thread(std::move(train));
    training_ = true;
  } catch (const std::system_error&) {
    codec_->TrainingFailed(kind);
  }
}

int64_t SqliteStore::commit_count() const {
  std::lock_guard lock(mutex_);
  return commits_;
}

void SqliteStore::WriterLoop() {
  for (;;) {
    std::vector<Job*> batch;
    {
      std::unique_lock lock(mutex_);
      queue_cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and every queued job is done
      while (!queue_.empty() && batch.size() < std::max<size_t>(options_.max_batch, 1)) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    RunBatch(batch);
    {
      std::lock_guard lock(mutex_);
      for (Job* job : batch) job->done = true;
    }
    done_cv_.notify_all();
  }
}

Status SqliteStore::Begin() {
  // busy_timeout already waits inside SQLite while another process holds the write lock;
  // this loop also covers the SQLITE_BUSY cases that skip the busy handler (e.g. while a WAL
  // is being recovered), with backoff, within the same budget.
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
  auto backoff = std::chrono::milliseconds(1);
  // A batch whose ROLLBACK failed would otherwise leave every later batch unable to begin.
  if (writer_db_->InTransaction()) (void)writer_db_->Exec("ROLLBACK", "abandoning a write");
  for (;;) {
    auto begun = writer_db_->Exec("BEGIN IMMEDIATE", "starting a write");
    if (begun) return begun;
    int rc = sqlite3_extended_errcode(writer_db_->handle()) & 0xff;
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
        std::chrono::steady_clock::now() >= deadline) {
      return MakeError(ErrorCode::kUnavailable,
                       "cannot write to the database: " + begun.error().detail);
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
  }
}

void SqliteStore::RunBatch(const std::vector<Job*>& batch) {
  auto begun = Begin();
  if (!begun) {
    for (Job* job : batch) job->status = begun;
    return;
  }
  Database& db = *writer_db_;
  // Jobs whose changes are in the open transaction; they are acknowledged only by COMMIT.
  std::vector<Job*> pending;
  auto fail_all = [&](const Error& error) {
    (void)db.Exec("ROLLBACK", "abandoning a write");
    Error lost = MakeError(ErrorCode::kUnavailable, "the write was not saved: " + error.detail);
    for (Job* job : pending) job->status = lost;
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    Job* job = batch[i];
    if (auto saved = db.Exec("SAVEPOINT job", "starting a write"); !saved) {
      pending.insert(pending.end(), batch.begin() + static_cast<ptrdiff_t>(i), batch.end());
      return fail_all(saved.error());
    }
    SqliteTransaction tx(db, *codec_, /*writable=*/true, *options_.clock);
    job->status = RunJob(*job->fn, tx);
    if (!db.InTransaction()) {
      // SQLite rolled back the whole transaction (disk full, I/O error): every job so far is
      // lost, this one included, and the rest are not attempted.
      pending.insert(pending.end(), batch.begin() + static_cast<ptrdiff_t>(i), batch.end());
      return fail_all(MakeError(ErrorCode::kUnavailable, "the transaction was rolled back"));
    }
    Status ended = job->status ? db.Exec("RELEASE job", "ending a write")
                               : db.Exec("ROLLBACK TO job; RELEASE job", "undoing a write");
    if (!ended) {
      pending.insert(pending.end(), batch.begin() + static_cast<ptrdiff_t>(i), batch.end());
      return fail_all(ended.error());
    }
    if (job->status) pending.push_back(job);
  }
  // Jobs that failed keep their own error: they wrote nothing, whatever COMMIT does.
  if (auto committed = db.Exec("COMMIT", "committing"); !committed)
    return fail_all(committed.error());
  {
    std::lock_guard lock(mutex_);
    ++commits_;
  }
  MaybeTrain();
}

}  // namespace idsync::store::sqlite
