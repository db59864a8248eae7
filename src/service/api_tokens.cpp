#include "service/api_tokens.h"

#include "base/crypto.h"
#include "service/connections.h"

namespace idsync::service {
namespace {

// The same rule as connection names, so that names read alike in `idsync ... list` output.
bool ValidName(const std::string& name) { return ValidConnectionName(name); }

store::AuditRecord Record(TimePoint now, const std::string& actor, const std::string& operation,
                          const std::string& name, int status, std::string detail) {
  store::AuditRecord r;
  r.time = now;
  r.actor = actor;
  r.operation = operation;
  r.resource_type = "ApiToken";
  r.resource_id = name;  // tokens have no public id; the name is unique and what admins type
  r.status = status;
  r.detail = std::move(detail);
  return r;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.substr(0, prefix.size()) == prefix;
}

}  // namespace

Result<NewApiToken> ApiTokens::Add(const std::string& name, const std::string& kind,
                                   const std::string& directory, const std::string& actor) {
  if (!ValidName(name)) {
    return MakeError(
        ErrorCode::kInvalidValue,
        "token name \"" + name + "\" is not valid: use 1-64 letters, digits, '.', '-' or '_'");
  }
  if (kind != "admin" && kind != "read") {
    return MakeError(ErrorCode::kInvalidValue,
                     "token kind \"" + kind + "\" is not valid: use admin or read");
  }
  if (kind == "admin" && !directory.empty()) {
    return MakeError(ErrorCode::kInvalidValue,
                     "an admin token covers every directory; give it no directory");
  }
  if (kind == "read" && directory.empty()) {
    return MakeError(ErrorCode::kInvalidValue,
                     "a read token needs a directory (the one it may read)");
  }
  NewApiToken out;
  out.secret = NewToken(kind == "admin" ? kAdminTokenPrefix : kReadTokenPrefix);
  Status st = store_.Write([&](store::Transaction& tx) -> Status {
    if (kind == "read") {
      auto d = tx.GetDirectory(directory);
      if (!d) {
        if (d.error().code != ErrorCode::kNotFound) return d.error();
        return MakeError(ErrorCode::kInvalidValue, "unknown directory \"" + directory + "\"");
      }
    }
    store::ApiToken t;
    t.name = name;
    t.kind = kind;
    t.directory = directory;
    t.hash = Sha256Hex(out.secret);
    t.created = clock_.Now();
    auto created = tx.CreateApiToken(t);
    if (!created) {
      if (created.error().code == ErrorCode::kUniqueness) {
        return MakeError(ErrorCode::kUniqueness, "a token named \"" + name + "\" already exists");
      }
      return created.error();
    }
    out.token = *created;
    return tx.AppendAudit(Record(t.created, actor, kind + "-token.add", name, 201,
                                 kind == "read" ? "directory " + directory : ""));
  });
  if (!st) return st.error();
  return out;
}

Result<std::vector<store::ApiToken>> ApiTokens::List() {
  std::vector<store::ApiToken> out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto list = tx.ListApiTokens();
    if (!list) return list.error();
    out = std::move(*list);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Status ApiTokens::Remove(const std::string& name, const std::string& actor) {
  return store_.Write([&](store::Transaction& tx) -> Status {
    if (Status s = tx.DeleteApiToken(name); !s) {
      if (s.error().code != ErrorCode::kNotFound) return s;
      return MakeError(ErrorCode::kNotFound, "no admin or read token named \"" + name + "\"");
    }
    return tx.AppendAudit(Record(clock_.Now(), actor, "api-token.remove", name, 204, ""));
  });
}

Result<store::ApiToken> ApiTokens::Authenticate(std::string_view secret) {
  static const Error kDenied{ErrorCode::kUnauthorized, "missing or invalid bearer token"};
  if (secret.size() > 200) return kDenied;
  // Only our own prefixes: a SCIM connection token (idsync_scim_...) is never looked up here,
  // so it cannot authenticate even if the hashes of the two kinds shared a table.
  size_t prefix = StartsWith(secret, kAdminTokenPrefix)  ? kAdminTokenPrefix.size()
                  : StartsWith(secret, kReadTokenPrefix) ? kReadTokenPrefix.size()
                                                         : 0;
  if (prefix == 0 || secret.size() < prefix + 20) return kDenied;
  std::string hash = Sha256Hex(secret);
  auto generation = store_.ConfigGeneration();
  if (!generation) return generation.error();
  {
    std::lock_guard lock(mutex_);
    if (generation_ != *generation) {
      cache_.clear();
      generation_ = *generation;
    }
    if (auto it = cache_.find(hash); it != cache_.end()) return it->second;
  }
  store::ApiToken out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto t = tx.FindApiToken(hash);
    if (!t) return t.error().code == ErrorCode::kNotFound ? Status(kDenied) : Status(t.error());
    // Lookup is by the hash of a 256-bit secret, so its timing reveals nothing; the constant-time
    // comparison is kept anyway, as for connection tokens.
    if (!ConstantTimeEquals(t->hash, hash)) return kDenied;
    // The prefix names the kind; a mismatch means a forged or corrupted row.
    std::string_view expected = t->kind == "admin" ? kAdminTokenPrefix : kReadTokenPrefix;
    if (!StartsWith(secret, expected)) return kDenied;
    out = std::move(*t);
    return Status::Ok();
  });
  if (!st) return st.error();
  std::lock_guard lock(mutex_);
  // Cached only under the generation read before the lookup (see Connections::Authenticate).
  if (generation_ == *generation) {
    if (cache_.size() > 10000) cache_.clear();
    cache_[hash] = out;
  }
  return out;
}

}  // namespace idsync::service
