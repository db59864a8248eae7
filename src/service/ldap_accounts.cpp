#include "service/ldap_accounts.h"

#include <cctype>
#include <utility>

#include "base/crypto.h"
#include "base/password_hash.h"

namespace idsync::service {
namespace {

constexpr size_t kMaxAccountName = 64;
// Generated passwords are 55 characters; anything much longer is not ours and not hashed.
constexpr size_t kMaxAccountPassword = 256;
constexpr size_t kMaxCached = 10000;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Lower-cased, with the spaces around ',' and '=' removed: "CN=app, OU=Services" ->
// "cn=app,ou=services". Enough for DNs made of the plain names accounts use.
std::string NormalizeDn(std::string_view dn) {
  std::string out;
  out.reserve(dn.size());
  for (size_t i = 0; i < dn.size(); ++i) {
    char c = dn[i];
    if (c == ' ') {
      const bool after_sep = !out.empty() && (out.back() == ',' || out.back() == '=');
      size_t j = i;
      while (j < dn.size() && dn[j] == ' ') ++j;
      const bool before_sep = j == dn.size() || dn[j] == ',' || dn[j] == '=';
      if (out.empty() || after_sep || before_sep) {
        i = j - 1;
        continue;
      }
    }
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

store::AuditRecord Record(TimePoint now, const std::string& actor, const std::string& operation,
                          const store::LdapAccount& account, int status) {
  store::AuditRecord r;
  r.time = now;
  r.actor = actor;
  r.operation = operation;
  r.resource_type = "LdapAccount";
  r.resource_id = account.name;
  r.status = status;
  r.detail = "LDAP account " + account.name + ", directory " + account.directory;
  return r;
}

Error NoAccount(const std::string& name) {
  return MakeError(ErrorCode::kNotFound,
                   "no LDAP account named \"" + name + "\" (see `idsync ldap-account list`)");
}

const Error& AccountDenied() {
  static const Error kDenied{ErrorCode::kUnauthorized, "invalid LDAP account name or password"};
  return kDenied;
}

}  // namespace

bool LdapAccounts::ValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxAccountName) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string LdapAccounts::BindDn(const std::string& name, const std::string& suffix) {
  return "cn=" + name + ",ou=services," + suffix;
}

std::optional<std::string> LdapAccounts::NameOfBindDn(std::string_view dn,
                                                      std::string_view suffix) {
  // Split off the first RDN with its original case (the name), normalize the rest.
  size_t comma = dn.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  std::string first = NormalizeDn(dn.substr(0, comma));
  if (first.rfind("cn=", 0) != 0) return std::nullopt;
  // The name in its original spelling: after '=' in the raw RDN, spaces trimmed.
  std::string_view raw = dn.substr(0, comma);
  raw.remove_prefix(raw.find('=') + 1);
  while (!raw.empty() && raw.front() == ' ') raw.remove_prefix(1);
  while (!raw.empty() && raw.back() == ' ') raw.remove_suffix(1);
  if (!ValidName(raw)) return std::nullopt;
  if (NormalizeDn(dn.substr(comma + 1)) != "ou=services," + NormalizeDn(suffix)) {
    return std::nullopt;
  }
  return std::string(raw);
}

Result<NewLdapPassword> LdapAccounts::Add(const std::string& name, const std::string& directory,
                                          const std::string& actor) {
  if (!ValidName(name)) {
    return MakeError(ErrorCode::kInvalidValue,
                     "LDAP account name \"" + name +
                         "\" is not valid: use 1-64 letters, digits, '.', '-' or '_'");
  }
  NewLdapPassword out;
  out.password = NewToken(kLdapPasswordPrefix);
  // Hashed before the write: ~50 ms of argon2 must not hold the store's single writer.
  const std::string hash = HashPassword(out.password);
  Status st = store_.Write([&](store::Transaction& tx) -> Status {
    if (auto d = tx.GetDirectory(directory); !d) {
      if (d.error().code != ErrorCode::kNotFound) return d.error();
      return MakeError(ErrorCode::kNotFound,
                       "no directory named \"" + directory + "\" (see `idsync directory list`)");
    }
    auto existing = tx.Ldap().ListLdapAccounts();
    if (!existing) return existing.error();
    for (const auto& a : *existing) {
      if (Lower(a.name) == Lower(name)) {
        return MakeError(ErrorCode::kUniqueness,
                         "an LDAP account named \"" + a.name + "\" already exists");
      }
    }
    store::LdapAccount account;
    account.name = name;
    account.directory = directory;
    account.hash = hash;
    account.created = clock_.Now();
    account.rotated = account.created;
    auto created = tx.Ldap().CreateLdapAccount(account);
    if (!created) return created.error();
    out.account = std::move(*created);
    return tx.AppendAudit(Record(account.created, actor, "ldap_account.add", out.account, 201));
  });
  if (!st) return st.error();
  return out;
}

Result<std::vector<store::LdapAccount>> LdapAccounts::List() {
  std::vector<store::LdapAccount> out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto list = tx.Ldap().ListLdapAccounts();
    if (!list) return list.error();
    out = std::move(*list);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Result<store::LdapAccount> LdapAccounts::Get(const std::string& name) {
  store::LdapAccount out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto account = tx.Ldap().GetLdapAccount(name);
    if (!account) {
      return account.error().code == ErrorCode::kNotFound ? NoAccount(name) : account.error();
    }
    out = std::move(*account);
    return Status::Ok();
  });
  if (!st) return st.error();
  return out;
}

Status LdapAccounts::Remove(const std::string& name, const std::string& actor) {
  return store_.Write([&](store::Transaction& tx) -> Status {
    auto account = tx.Ldap().GetLdapAccount(name);
    if (!account) {
      return account.error().code == ErrorCode::kNotFound ? NoAccount(name) : account.error();
    }
    if (Status s = tx.Ldap().DeleteLdapAccount(name); !s) return s;
    return tx.AppendAudit(Record(clock_.Now(), actor, "ldap_account.remove", *account, 204));
  });
}

Result<NewLdapPassword> LdapAccounts::Rotate(const std::string& name, const std::string& actor) {
  NewLdapPassword out;
  out.password = NewToken(kLdapPasswordPrefix);
  const std::string hash = HashPassword(out.password);
  Status st = store_.Write([&](store::Transaction& tx) -> Status {
    const TimePoint now = clock_.Now();
    if (Status s = tx.Ldap().SetLdapAccountHash(name, hash, now); !s) {
      return s.error().code == ErrorCode::kNotFound ? Status(NoAccount(name)) : s;
    }
    auto account = tx.Ldap().GetLdapAccount(name);
    if (!account) return account.error();
    out.account = std::move(*account);
    return tx.AppendAudit(Record(now, actor, "ldap_account.rotate", out.account, 200));
  });
  if (!st) return st.error();
  return out;
}

const std::string& LdapAccounts::DummyHash() {
  std::call_once(dummy_once_, [this] { dummy_hash_ = HashPassword(NewToken("dummy_")); });
  return dummy_hash_;
}

bool LdapAccounts::Verify(const std::string& hash, std::string_view password) {
  verifying_.acquire();
  const bool ok = VerifyPassword(hash, password);
  verifying_.release();
  return ok;
}

// The account by exact name, else by name ignoring case (a DN's cn is case-insensitive).
// kNotFound when neither.
Result<store::LdapAccount> LdapAccounts::Lookup(std::string_view name) {
  store::LdapAccount out;
  Status st = store_.Read([&](store::Transaction& tx) -> Status {
    auto exact = tx.Ldap().GetLdapAccount(std::string(name));
    if (exact) {
      out = std::move(*exact);
      return Status::Ok();
    }
    if (exact.error().code != ErrorCode::kNotFound) return exact.error();
    auto all = tx.Ldap().ListLdapAccounts();
    if (!all) return all.error();
    for (auto& a : *all) {
      if (Lower(a.name) == Lower(name)) {
        out = std::move(a);
        return Status::Ok();
      }
    }
    return MakeError(ErrorCode::kNotFound, "no such account");
  });
  if (!st) return st.error();
  return out;
}

Result<store::LdapAccount> LdapAccounts::Authenticate(std::string_view name,
                                                      std::string_view password) {
  // Malformed names cannot exist, and the rule is public: refusing them early reveals nothing.
  if (!ValidName(name) || password.empty() || password.size() > kMaxAccountPassword) {
    return AccountDenied();
  }
  const std::string key = Lower(name) + "\n" + Sha256Hex(password);
  auto generation = store_.ConfigGeneration();
  if (!generation) return generation.error();
  {
    std::lock_guard lock(mutex_);
    if (generation_ != *generation) {
      cache_.clear();
      generation_ = *generation;
    }
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  auto account = Lookup(name);
  if (!account) {
    if (account.error().code != ErrorCode::kNotFound) return account.error();
    Verify(DummyHash(), password);  // same cost as a wrong password
    return AccountDenied();
  }
  if (!Verify(account->hash, password)) return AccountDenied();
  std::lock_guard lock(mutex_);
  // Cached only under the generation read before the lookup: if the account changed since,
  // the generation moved on and this entry must not outlive it.
  if (generation_ == *generation) {
    if (cache_.size() >= kMaxCached) cache_.clear();
    cache_[key] = *account;
  }
  return std::move(*account);
}

}  // namespace idsync::service
