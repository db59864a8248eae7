#include "service/console_sessions.h"

#include <utility>

#include "base/crypto.h"
#include "base/log.h"

namespace idsync::service {
namespace {

// Session ids are NewToken's 43 base64url characters after this prefix.
constexpr std::string_view kSessionPrefix = "idsync_session_";
constexpr size_t kMaxIdLength = 128;
// last_seen is written when it is older than this: an idle timeout of minutes loses nothing.
constexpr std::chrono::seconds kTouchEvery{60};

const Error& NoSession() {
  static const Error kNoSession{ErrorCode::kUnauthorized,
                                "not signed in, or the session has ended; sign in again"};
  return kNoSession;
}

}  // namespace

std::string ConsoleSessions::HashOf(std::string_view id) {
  return Sha256Hex(id);
}

std::string ConsoleSessions::CsrfTokenOf(std::string_view id) {
  return Sha256Hex("idsync-console-csrf\n" + std::string(id));
}

Result<std::string> ConsoleSessions::Start(const store::AdminUser& user, const std::string& address,
                                           const std::string& request_id) {
  std::string id = NewToken(kSessionPrefix);
  const TimePoint now = clock_.Now();
  Status st = store_.Write([&](store::Transaction& tx) -> Status {
    // Housekeeping on sign-in: sessions nobody will present again leave the table.
    if (auto gone =
            tx.Console().DeleteExpiredSessions(now - timeouts_.idle, now - timeouts_.lifetime);
        !gone) {
      return gone.error();
    }
    store::ConsoleSession session;
    session.id_hash = HashOf(id);
    session.user_id = user.id;
    session.created = now;
    session.last_seen = now;
    if (Status s = tx.Console().CreateSession(session); !s) return s;
    store::AuditRecord r;
    r.time = now;
    r.actor = "console:" + user.name;
    r.request_id = request_id;
    r.operation = "console.login";
    r.resource_type = "AdminUser";
    r.resource_id = user.name;
    r.status = 200;
    r.detail = "signed in from " + address;
    return tx.AppendAudit(r);
  });
  if (!st) return st.error();
  return id;
}

void ConsoleSessions::SignInFailed(const std::string& name, const std::string& address,
                                   const std::string& request_id, int status) {
  store::AuditRecord r;
  r.time = clock_.Now();
  r.actor = "console";
  r.request_id = request_id;
  r.operation = "console.login";
  r.resource_type = "AdminUser";
  // The name as typed, bounded: it comes from the network.
  r.resource_id = name.substr(0, 64);
  r.status = status;
  r.detail =
      (status == 429 ? "sign-in refused (throttled) from " : "failed sign-in from ") + address;
  // A lost audit record is never silent: the server log names it.
  if (Status saved = store_.Write([&](store::Transaction& tx) { return tx.AppendAudit(r); });
      !saved) {
    log::Error("audit record not saved",
               {{"operation", r.operation}, {"actor", r.actor}, {"error", saved.error().detail}});
  }
}

Result<ActiveSession> ConsoleSessions::Check(std::string_view id) {
  if (id.size() > kMaxIdLength || id.substr(0, kSessionPrefix.size()) != kSessionPrefix) {
    return NoSession();
  }
  ActiveSession out;
  out.id_hash = HashOf(id);
  out.csrf_token = CsrfTokenOf(id);
  const TimePoint now = clock_.Now();
  bool touch = false;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto session = tx.Console().GetSession(out.id_hash);
    if (!session) {
      return session.error().code == ErrorCode::kNotFound ? Status(NoSession())
                                                          : Status(session.error());
    }
    if (now - session->last_seen > timeouts_.idle || now - session->created > timeouts_.lifetime) {
      return NoSession();
    }
    auto user = tx.Console().GetAdminUserById(session->user_id);
    if (!user) {
      return user.error().code == ErrorCode::kNotFound ? Status(NoSession()) : Status(user.error());
    }
    out.user = std::move(*user);
    touch = now - session->last_seen >= kTouchEvery;
    return Status::Ok();
  });
  if (!st) return st.error();
  if (touch) {
    Status touched = store_.Write(
        [&](store::Transaction& tx) { return tx.Console().TouchSession(out.id_hash, now); });
    if (!touched) return touched.error();
  }
  return out;
}

Status ConsoleSessions::End(std::string_view id, const std::string& request_id) {
  const std::string hash = HashOf(id);
  return store_.Write([&](store::Transaction& tx) -> Status {
    auto session = tx.Console().GetSession(hash);
    if (!session) {
      return session.error().code == ErrorCode::kNotFound ? Status::Ok() : Status(session.error());
    }
    if (Status s = tx.Console().DeleteSession(hash); !s) return s;
    auto user = tx.Console().GetAdminUserById(session->user_id);
    store::AuditRecord r;
    r.time = clock_.Now();
    r.actor = user ? "console:" + user->name : "console";
    r.request_id = request_id;
    r.operation = "console.logout";
    r.resource_type = "AdminUser";
    r.resource_id = user ? user->name : "";
    r.status = 204;
    return tx.AppendAudit(r);
  });
}

}  // namespace idsync::service
