#include "service/connections.h"

#include "base/crypto.h"
#include "base/uuid.h"

namespace idsync::service {

bool ValidConnectionName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

namespace {

Error NoSuchConnection(const std::string& name) {
  return MakeError(ErrorCode::kNotFound,
                   "no connection named \"" + name + "\" (see `idsync connection list`)");
}

}  // namespace

Status Connections::Audit(store::Transaction& tx, const store::Connection& c,
                          const std::string& actor, const std::string& operation, int status,
                          const std::string& detail) {
  store::AuditRecord r;
  r.time = clock_.Now();
  r.connection_id = c.id;
  r.connection_name = c.name;
  r.actor = actor;
  r.operation = operation;
  r.resource_type = "Connection";
  r.resource_id = c.uuid;
  r.status = status;
  r.detail = detail;
  return tx.AppendAudit(r);
}

Result<NewConnection> Connections::Add(const std::string& name, const std::string& directory,
                                       const std::string& actor) {
  if (!ValidConnectionName(name)) {
    return MakeError(
        ErrorCode::kInvalidValue,
        "connection name \"" + name + "\" is not valid: use 1-64 letters, digits, '.', '-' or '_'");
  }
  NewConnection out;
  out.token = NewToken(kScimTokenPrefix);
  Status st = store_.Write([&](store::Transaction& tx) -> Status {
    if (auto d = tx.GetDirectory(directory); !d) {
      if (d.error().code != ErrorCode::kNotFound) return d.error();
      std::string known;
      if (auto all = tx.ListDirectories()) {
        for (const auto& r : *all) known += (known.empty() ? "" : ", ") + r.name;
      }
      return MakeError(ErrorCode::kInvalidValue,
                       "unknown directory \"" + directory + "\": use one of " + known);
    }
    store::Connection c;
    c.uuid = NewUuid();
    c.name = name;
    c.directory = directory;
    c.kind = "scim";
    c.enabled = true;
    c.created = clock_.Now();
    auto created = tx.CreateConnection(c);
    if (!created) {
      if (created.error().code == ErrorCode::kUniqueness) {
        return MakeError(ErrorCode::kUniqueness,
                         "a connection named \"" + name + "\" already exists");
      }
      return created.error();
    }
    store::Token t;
    t.connection_id = created->id;
    t.hash = Sha256Hex(out.token);
    t.created = c.created;
    if (Status s = tx.AddToken(t); !s) return s;
    out.connection = *created;
    return Audit(tx, *created, actor, "connection.add", 201, "directory " + directory);
  });
  if (!st) return st.error();
  return out;
}

Result<std::vector<store::Connection>> Connections::List() {
  std::vector<store::Connection> out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto list = tx.ListConnections();
    if (!list) return list.error();
    out = std::move(*list);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<store::Connection> Connections::Get(const std::string& name) {
  store::Connection out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName(name);
    if (!c) return c.error().code == ErrorCode::kNotFound ? NoSuchConnection(name) : c.error();
    out = std::move(*c);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Status Connections::SetEnabled(const std::string& name, bool enabled, const std::string& actor) {
  return store_.Write([&](store::Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName(name);
    if (!c) return c.error().code == ErrorCode::kNotFound ? NoSuchConnection(name) : c.error();
    c->enabled = enabled;
    if (Status s = tx.UpdateConnection(*c); !s) return s;
    return Audit(tx, *c, actor, enabled ? "connection.enable" : "connection.disable", 200, "");
  });
}

Status Connections::Remove(const std::string& name, const std::string& actor) {
  return store_.Write([&](store::Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName(name);
    if (!c) return c.error().code == ErrorCode::kNotFound ? NoSuchConnection(name) : c.error();
    // The audit record outlives the connection: it keeps the name, and the id becomes dangling
    // on purpose (the trail must show what was removed).
    if (Status s = Audit(tx, *c, actor, "connection.remove", 204, ""); !s) return s;
    if (removal_hook_) {
      if (Status s = removal_hook_(tx, *c, actor); !s) return s;
    }
    return tx.DeleteConnection(c->id);
  });
}

Result<RotatedToken> Connections::RotateToken(const std::string& name,
                                              std::chrono::seconds keep_old_for,
                                              const std::string& actor) {
  RotatedToken out;
  out.token = NewToken(kScimTokenPrefix);
  Status st = store_.Write([&](store::Transaction& tx) -> Status {
    auto c = tx.GetConnectionByName(name);
    if (!c) return c.error().code == ErrorCode::kNotFound ? NoSuchConnection(name) : c.error();
    if (c->kind != "scim") {
      // Only SCIM connections are pushed to; a token would let anyone write into the mirror of
      // a pull connection (LDAP), which only its sync may change.
      return MakeError(ErrorCode::kInvalidValue, "connection \"" + name + "\" is of kind " +
                                                     c->kind + " and has no SCIM token");
    }
    TimePoint now = clock_.Now();
    TimePoint expires = now + keep_old_for;
    if (Status s = tx.ExpireTokens(c->id, expires); !s) return s;
    store::Token t;
    t.connection_id = c->id;
    t.hash = Sha256Hex(out.token);
    t.created = now;
    if (Status s = tx.AddToken(t); !s) return s;
    out.old_expires = expires;
    return Audit(tx, *c, actor, "connection.rotate-token", 200,
                 "previous tokens expire " + FormatRfc3339(expires));
  });
  if (!st) return st.error();
  return out;
}

Result<store::Connection> Connections::Authenticate(std::string_view token,
                                                    int64_t* generation_out) {
  static const Error kDenied{ErrorCode::kUnauthorized,
                             "missing or invalid bearer token for this SCIM endpoint"};
  if (token.size() < kScimTokenPrefix.size() + 20 || token.size() > 200) return kDenied;
  // The lookup is by SHA-256 of the presented token: an attacker learns nothing from timing,
  // since the stored value is a hash of a 256-bit secret; we still compare the hash in
  // constant time after the indexed lookup.
  std::string hash = Sha256Hex(token);
  auto generation = store_.ConfigGeneration();
  if (!generation) return generation.error();
  if (generation_out) *generation_out = *generation;
  {
    std::lock_guard lock(cache_mutex_);
    if (cache_generation_ != *generation) {
      cache_.clear();
      cache_generation_ = *generation;
    }
    auto it = cache_.find(hash);
    if (it != cache_.end()) {
      if (it->second.expires && *it->second.expires <= clock_.Now()) return kDenied;
      return it->second.connection;
    }
  }
  store::Connection out;
  std::optional<TimePoint> expires;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto t = tx.FindToken(hash);
    if (!t) return t.error().code == ErrorCode::kNotFound ? Status(kDenied) : Status(t.error());
    if (!ConstantTimeEquals(t->hash, hash)) return kDenied;
    if (t->expires && *t->expires <= clock_.Now()) return kDenied;
    auto c = tx.GetConnection(t->connection_id);
    if (!c) return c.error().code == ErrorCode::kNotFound ? Status(kDenied) : Status(c.error());
    if (c->kind != "scim") return kDenied;  // pull connections take no SCIM writes
    if (!c->enabled) {
      return MakeError(ErrorCode::kForbidden, "connection \"" + c->name + "\" is disabled");
    }
    out = std::move(*c);
    expires = t->expires;
    return Status::Ok();
  });
  if (!st) return st.error();
  std::lock_guard lock(cache_mutex_);
  // Cache only under the generation read before the lookup: a change in between gives a newer
  // generation, so this entry is dropped at the next request instead of outliving the change.
  if (cache_generation_ == *generation) {
    if (cache_.size() > 10000) cache_.clear();  // bounded; valid tokens are few
    cache_[hash] = CachedAuth{out, expires};
  }
  return out;
}

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  if (text.empty()) return MakeError(ErrorCode::kInvalidValue, "empty duration");
  int64_t n = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    n = n * 10 + (text[i] - '0');
    if (n > 100000000) return MakeError(ErrorCode::kInvalidValue, "duration too long");
  }
  std::string_view unit = text.substr(i);
  if (i == 0) {
    return MakeError(ErrorCode::kInvalidValue,
                     "duration \"" + std::string(text) + "\" must look like 30s, 10m, 1h or 2d");
  }
  int64_t mult = 0;
  if (unit == "s" || unit.empty())
    mult = 1;
  else if (unit == "m")
    mult = 60;
  else if (unit == "h")
    mult = 3600;
  else if (unit == "d")
    mult = 86400;
  else {
    return MakeError(ErrorCode::kInvalidValue,
                     "duration \"" + std::string(text) + "\" must look like 30s, 10m, 1h or 2d");
  }
  return std::chrono::seconds(n * mult);
}

}  // namespace idsync::service
