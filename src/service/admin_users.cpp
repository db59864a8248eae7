#include "service/admin_users.h"

#include <cctype>
#include <mutex>
#include <optional>
#include <utility>

#include "base/crypto.h"
#include "base/password_hash.h"

namespace idsync::service {
namespace {

constexpr size_t kMaxName = 64;
constexpr size_t kMinPassword = 12;
// argon2 hashes any length, but nobody types more; refusing longer input early bounds the work.
constexpr size_t kMaxPassword = 256;

store::AuditRecord Record(TimePoint now, const std::string& actor, const std::string& operation,
                          const store::AdminUser& user, int status,
                          const std::string& request_id = "") {
  store::AuditRecord r;
  r.time = now;
  r.actor = actor;
  r.request_id = request_id;
  r.operation = operation;
  r.resource_type = "AdminUser";
  r.resource_id = user.name;
  r.status = status;
  r.detail = "admin user " + user.name + ", role " + user.role;
  return r;
}

Error NoUser(const std::string& name) {
  return MakeError(ErrorCode::kNotFound,
                   "no admin user named \"" + name + "\" (see `idsync admin-user list`)");
}

const Error& Denied() {
  static const Error kDenied{ErrorCode::kUnauthorized, "invalid user name or password"};
  return kDenied;
}

// 24 URL-safe base64 characters (144 bits): long enough that guessing is hopeless, short
// enough to paste once.
std::string OneTimePassword() {
  return NewToken("").substr(0, 24);
}

const std::string& DummyHash() {
  static std::once_flag once;
  static std::string hash;
  std::call_once(once, [] { hash = HashPassword(NewToken("dummy_")); });
  return hash;
}

}  // namespace

bool AdminUsers::ValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxName) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '@') {
      return false;
    }
  }
  return true;
}

Status AdminUsers::CheckNewPassword(std::string_view name, std::string_view password) {
  if (password.size() < kMinPassword) {
    return MakeError(ErrorCode::kInvalidValue,
                     "new_password: use at least " + std::to_string(kMinPassword) + " characters");
  }
  if (password.size() > kMaxPassword) {
    return MakeError(ErrorCode::kInvalidValue,
                     "new_password: use at most " + std::to_string(kMaxPassword) + " characters");
  }
  if (password == name) {
    return MakeError(ErrorCode::kInvalidValue, "new_password: must not be the user name");
  }
  return Status::Ok();
}

Result<NewAdminPassword> AdminUsers::Add(const std::string& name, const std::string& role,
                                         const std::string& actor) {
  if (!ValidName(name)) {
    return MakeError(ErrorCode::kInvalidValue,
                     "admin user name \"" + name +
                         "\" is not valid: use 1-64 letters, digits, '.', '-', '_' or '@'");
  }
  if (!ValidRole(role)) {
    return MakeError(ErrorCode::kInvalidValue,
                     "role \"" + role + "\" is not valid: use admin or viewer");
  }
  NewAdminPassword out;
  out.password = OneTimePassword();
  // Hashed before the write: tens of milliseconds of argon2 must not hold the single writer.
  const std::string hash = HashPassword(out.password);
  Status st = store_.Write([&](store::Transaction& tx) -> Status {
    store::AdminUser user;
    user.name = name;
    user.role = role;
    user.hash = hash;
    user.must_change_password = true;
    user.created = clock_.Now();
    user.password_changed = user.created;
    auto created = tx.Console().CreateAdminUser(user);
    if (!created) return created.error();
    out.user = std::move(*created);
    return tx.AppendAudit(Record(user.created, actor, "admin_user.add", out.user, 201));
  });
  if (!st) return st.error();
  return out;
}

Result<std::vector<store::AdminUser>> AdminUsers::List() {
  std::vector<store::AdminUser> out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto list = tx.Console().ListAdminUsers();
    if (!list) return list.error();
    out = std::move(*list);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<store::AdminUser> AdminUsers::Get(const std::string& name) {
  store::AdminUser out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto user = tx.Console().GetAdminUser(name);
    if (!user) return user.error().code == ErrorCode::kNotFound ? NoUser(name) : user.error();
    out = std::move(*user);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Status AdminUsers::Remove(const std::string& name, const std::string& actor) {
  return store_.Write([&](store::Transaction& tx) -> Status {
    auto user = tx.Console().GetAdminUser(name);
    if (!user) return user.error().code == ErrorCode::kNotFound ? NoUser(name) : user.error();
    if (user->role == "admin") {
      auto all = tx.Console().ListAdminUsers();
      if (!all) return all.error();
      int admins = 0;
      for (const auto& u : *all) admins += u.role == "admin" ? 1 : 0;
      if (admins <= 1) {
        return MakeError(
            ErrorCode::kInvalidValue,
            "\"" + name + "\" is the last admin user; add another admin before removing it");
      }
    }
    if (Status s = tx.Console().DeleteAdminUser(name); !s) return s;
    return tx.AppendAudit(Record(clock_.Now(), actor, "admin_user.remove", *user, 204));
  });
}

Result<NewAdminPassword> AdminUsers::ResetPassword(const std::string& name,
                                                   const std::string& actor) {
  NewAdminPassword out;
  out.password = OneTimePassword();
  const std::string hash = HashPassword(out.password);
  Status st = store_.Write([&](store::Transaction& tx) -> Status {
    const TimePoint now = clock_.Now();
    if (Status s = tx.Console().SetAdminPassword(name, hash, true, now); !s) {
      return s.error().code == ErrorCode::kNotFound ? Status(NoUser(name)) : s;
    }
    auto user = tx.Console().GetAdminUser(name);
    if (!user) return user.error();
    // A reset is what an administrator does when a password may be known to someone else:
    // whoever holds a session of the user is signed out with it.
    if (Status s = tx.Console().DeleteSessionsOf(user->id, ""); !s) return s;
    out.user = std::move(*user);
    return tx.AppendAudit(Record(now, actor, "admin_user.reset_password", out.user, 200));
  });
  if (!st) return st.error();
  return out;
}

Status AdminUsers::ChangePassword(const std::string& name, std::string_view current,
                                  std::string_view next, const std::string& keep_session_hash,
                                  const std::string& request_id) {
  if (Status s = CheckNewPassword(name, next); !s) return s;
  if (current == next) {
    return MakeError(ErrorCode::kInvalidValue,
                     "new_password: must differ from the current password");
  }
  auto user = Authenticate(name, current);
  if (!user) {
    if (user.error().code == ErrorCode::kUnauthorized) {
      return MakeError(ErrorCode::kUnauthorized, "current_password: not your current password");
    }
    return user.error();
  }
  const std::string hash = HashPassword(next);
  return store_.Write([&](store::Transaction& tx) -> Status {
    const TimePoint now = clock_.Now();
    auto fresh = tx.Console().GetAdminUser(name);
    if (!fresh) return fresh.error();
    // Changed by someone else (a reset) since we verified: the current password is no more.
    if (fresh->hash != user->hash) {
      return MakeError(ErrorCode::kUnauthorized, "current_password: not your current password");
    }
    if (Status s = tx.Console().SetAdminPassword(name, hash, false, now); !s) return s;
    // Other sessions of the user end (a changed password signs out whoever else had it); the
    // session that made the change stays.
    if (Status s = tx.Console().DeleteSessionsOf(fresh->id, keep_session_hash); !s) return s;
    return tx.AppendAudit(
        Record(now, "console:" + name, "admin_user.change_password", *fresh, 200, request_id));
  });
}

bool AdminUsers::Verify(const std::string& hash, std::string_view password) {
  verifying_.acquire();
  const bool ok = VerifyPassword(hash, password);
  verifying_.release();
  return ok;
}

Result<store::AdminUser> AdminUsers::Authenticate(std::string_view name,
                                                  std::string_view password) {
  if (!ValidName(name) || password.empty() || password.size() > kMaxPassword) return Denied();
  store::AdminUser found;
  bool exists = false;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto user = tx.Console().GetAdminUser(std::string(name));
    if (!user) {
      return user.error().code == ErrorCode::kNotFound ? Status::Ok() : Status(user.error());
    }
    found = std::move(*user);
    exists = true;
    return Status::Ok();
  });
  if (!st) return st.error();
  if (!exists) {
    Verify(DummyHash(), password);  // same cost as a wrong password
    return Denied();
  }
  if (!Verify(found.hash, password)) return Denied();
  return found;
}

}  // namespace idsync::service
