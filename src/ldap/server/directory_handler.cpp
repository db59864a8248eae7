#include "ldap/server/directory_handler.h"

#include <utility>

#include "base/log.h"
#include "base/strings.h"
#include "base/time.h"
#include "ldap/config/settings.h"
#include "ldap/server/evaluate.h"
#include "sync/ldap_sync.h"
#include "sync/pass_through.h"

namespace idsync::ldap {
namespace {

constexpr std::string_view kWhoAmIOid = "1.3.6.1.4.1.4203.1.11.3";
constexpr std::string_view kManageDsaItOid = "2.16.840.1.113730.3.4.2";

constexpr const char* kReadOnly =
    "this directory is managed by idsync and is read-only over LDAP: change users and groups "
    "at their identity provider, or with idsync's policy";

// Whether every critical control of the request is one this operation honours
// (RFC 4511 §4.1.11: otherwise unavailableCriticalExtension).
bool CriticalControlsSupported(const Request& request) {
  for (const auto& c : request.controls) {
    if (!c.critical) continue;
    bool ok = c.oid == kManageDsaItOid;  // no referrals are ever returned: honoured trivially
    if (request.op == Operation::kSearch) {
      ok = ok || c.oid == kPagedResultsOid || c.oid == kShowDeletedOid;
    }
    if (!ok) return false;
  }
  return true;
}

void Answer(const Request& request, const LdapResult& result, const Send& send) {
  switch (request.op) {
    case Operation::kBind: send(EncodeBindResponse(request.message_id, result)); return;
    case Operation::kSearch: send(EncodeSearchDone(request.message_id, result)); return;
    case Operation::kExtended:
      send(EncodeExtendedResponse(request.message_id, result, std::nullopt, std::nullopt));
      return;
    case Operation::kUnbind:
    case Operation::kAbandon: return;
    default: send(EncodeResponse(request.message_id, request.op, result)); return;
  }
}

int AuditStatus(int ldap_code) {
  switch (ldap_code) {
    case kSuccess: return 200;
    case kInvalidCredentials: return 401;
    case kBusy: return 429;
    case kUnavailable: return 503;
    case kInvalidDnSyntax:
    case kProtocolError:
    case kAuthMethodNotSupported:
    case kUnwillingToPerform: return 400;
    default: return 500;
  }
}

}  // namespace

DirectoryHandler::DirectoryHandler(store::Store& store, service::LdapAccounts& accounts,
                                   http::RequestLimits& limits, DirectoryHandlerOptions options)
    : store_(store),
      accounts_(accounts),
      limits_(limits),
      options_(std::move(options)),
      tree_(options_.suffix) {}

Result<std::shared_ptr<const DirectoryHandler::State>> DirectoryHandler::Current() {
  auto generation = store_.ConfigGeneration();
  if (!generation) return generation.error();
  {
    std::lock_guard lock(mutex_);
    if (state_ && state_->generation == *generation) return state_;
  }
  auto state = std::make_shared<State>();
  state->generation = *generation;
  std::vector<std::string> custom_names;
  Status read = store_.Read([&](store::Transaction& tx) -> Status {
    auto dirs = tx.ListDirectories();
    if (!dirs) return dirs.error();
    for (const auto& record : *dirs) {
      DirectoryView view;
      view.name = record.name;
      view.created = record.created;
      auto json = tx.Ldap().GetLdapSettings(record.name);
      if (!json) return json.error();
      auto settings = ParseDirectorySettings(*json);
      // Settings are validated when stored; a row that no longer parses falls back to the
      // defaults rather than taking the directory off the air.
      if (settings) view.settings = std::move(*settings);
      state->views.emplace(FoldCase(record.name), std::move(view));
      if (record.custom_attributes.is_array()) {
        for (const auto& def : record.custom_attributes) {
          std::string name = def.value("name", "");
          if (name.empty()) continue;
          auto& v = state->views[FoldCase(record.name)];
          auto mapped = v.settings.attribute_names.find(name);
          custom_names.push_back(mapped != v.settings.attribute_names.end() ? mapped->second
                                                                            : name);
        }
      }
    }
    return Status::Ok();
  });
  if (!read) return read.error();
  state->schema = std::make_shared<Schema>(custom_names);
  for (auto& [key, view] : state->views) {
    Status filled = store_.Read([&](store::Transaction& tx) -> Status {
      auto record = tx.GetDirectory(view.name);
      if (!record) return record.error();
      if (!record->custom_attributes.is_array()) return Status::Ok();
      for (const auto& def : record->custom_attributes) {
        std::string name = def.value("name", "");
        if (name.empty()) continue;
        auto mapped = view.settings.attribute_names.find(name);
        const AttributeType* t = state->schema->Find(
            mapped != view.settings.attribute_names.end() ? mapped->second : name);
        if (t) view.custom.emplace_back(name, t);
      }
      return Status::Ok();
    });
    if (!filled) return filled.error();
  }
  std::lock_guard lock(mutex_);
  state_ = state;
  return std::shared_ptr<const State>(state);
}

bool DirectoryHandler::StillBound(Session& session) {
  Identity& id = session.identity;
  if (id.kind != Identity::Kind::kServiceAccount) return true;
  auto generation = store_.ConfigGeneration();
  if (generation && *generation == id.generation) return true;  // nothing changed since
  auto account = accounts_.Get(id.name);
  if (!account) {
    if (account.error().code != ErrorCode::kNotFound) return true;  // unreadable: decide later
  } else if (ToUnixMillis(account->rotated) == id.rotated_ms &&
             EqualsFolded(account->directory, id.directory)) {
    if (generation) id.generation = *generation;
    return true;
  }
  session.identity = Identity{};
  return false;
}

void DirectoryHandler::Handle(Session& session, const Request& request,
                              const std::atomic<bool>& abandoned, const Send& send) {
  if (!CriticalControlsSupported(request)) {
    Answer(request, {kUnavailableCriticalExtension, "", "a critical control is not supported"},
           send);
    return;
  }
  switch (request.op) {
    case Operation::kBind:
      Bind(session, request, std::get<BindRequest>(request.body), send);
      return;
    case Operation::kSearch:
      Search(session, request, std::get<SearchRequest>(request.body), abandoned, send);
      return;
    case Operation::kCompare:
      Compare(session, request, std::get<CompareRequest>(request.body), send);
      return;
    case Operation::kExtended: {
      const auto& ext = std::get<ExtendedRequest>(request.body);
      if (ext.oid == kWhoAmIOid) {
        // RFC 4532: "dn:<bind DN>", or empty for anonymous.
        std::string who =
            session.identity.kind == Identity::Kind::kAnonymous ? "" : "dn:" + session.identity.dn;
        send(EncodeExtendedResponse(request.message_id, {}, std::nullopt, who));
        return;
      }
      send(EncodeExtendedResponse(request.message_id,
                                  {kProtocolError, "", "unsupported extended operation " + ext.oid},
                                  std::nullopt, std::nullopt));
      return;
    }
    case Operation::kAdd:
    case Operation::kModify:
    case Operation::kDelete:
    case Operation::kModifyDn: Answer(request, {kUnwillingToPerform, "", kReadOnly}, send); return;
    case Operation::kUnbind:
    case Operation::kAbandon: return;
  }
}

void DirectoryHandler::Audit(const Session& session, const std::string& dn, const std::string& kind,
                             const std::string& name, int code, const std::string& outcome) {
  store::AuditRecord a;
  a.time = SystemClock::Instance().Now();
  a.actor = "ldap:" + (name.empty() ? dn : name);
  a.operation = "ldap.bind";
  a.resource_type = kind;
  a.resource_id = name;
  a.status = AuditStatus(code);
  a.detail = "LDAP bind as \"" + dn + "\" from " + session.remote_address + ": " + outcome +
             " (result " + std::to_string(code) + ")";
  // The bind is answered either way (the store may be busy or full); a lost audit record is
  // never silent: the server log names it, without the password (never in the record).
  if (Status saved = store_.Write([&](store::Transaction& tx) { return tx.AppendAudit(a); });
      !saved) {
    log::Error("audit record not saved",
               {{"operation", a.operation}, {"actor", a.actor}, {"error", saved.error().detail}});
  }
}

void DirectoryHandler::Bind(Session& session, const Request& request, const BindRequest& bind,
                            const Send& send) {
  auto reply = [&](int code, std::string message) {
    send(EncodeBindResponse(request.message_id, {code, "", std::move(message)}));
  };
  // A new bind first drops the old identity (RFC 4511 §4.2.1), whatever its outcome.
  session.identity = Identity{};
  if (bind.version != 3) return reply(kProtocolError, "only LDAP version 3 is supported");
  if (!bind.simple) {
    Audit(session, bind.name, "", "", kAuthMethodNotSupported, "SASL refused");
    return reply(kAuthMethodNotSupported, "only simple binds are supported");
  }
  if (bind.name.empty() && bind.password.empty()) return reply(kSuccess, "");  // anonymous
  auto fail = [&](const std::string& kind, const std::string& name, const std::string& why) {
    int code = kInvalidCredentials;
    std::string message = "invalid credentials";
    if (auto refusal = limits_.AuthenticationFailed(session.remote_address)) {
      code = kBusy;
      message = "too many failed binds from this address; retry in " +
                std::to_string(refusal->retry_after) + " seconds";
    }
    Audit(session, bind.name, kind, name, code, why);
    reply(code, message);
  };
  if (bind.password.empty()) {
    Audit(session, bind.name, "", "", kUnwillingToPerform, "unauthenticated bind refused");
    return reply(kUnwillingToPerform,
                 "a bind DN without a password is an unauthenticated bind, which is refused "
                 "(RFC 4513 §5.1.2)");
  }
  auto dn = ParseDn(bind.name);
  if (!dn) return fail("", "", "the bind DN is not a valid DN");
  auto loc = tree_.Locate(*dn);

  if (loc.kind == Tree::Location::kService) {
    auto account = accounts_.Authenticate(loc.value, bind.password);
    if (!account) {
      if (account.error().code == ErrorCode::kUnavailable) {
        Audit(session, bind.name, "LdapAccount", loc.value, kUnavailable, account.error().detail);
        return reply(kUnavailable, "the directory is unavailable; retry later");
      }
      return fail("LdapAccount", loc.value, "wrong name or password");
    }
    session.identity = {Identity::Kind::kServiceAccount, bind.name, account->directory,
                        account->name, ""};
    if (auto generation = store_.ConfigGeneration()) session.identity.generation = *generation;
    session.identity.rotated_ms = ToUnixMillis(account->rotated);
    Audit(session, bind.name, "LdapAccount", account->name, kSuccess, "bound as service account");
    return reply(kSuccess, "");
  }

  if (loc.kind == Tree::Location::kUser) {
    if (limits_.Throttled(session.remote_address)) {
      return fail("User", loc.value, "throttled: not passed on to the source directory");
    }
    auto state = Current();
    if (!state) return reply(kUnavailable, "the directory is unavailable; retry later");
    auto view = (*state)->views.find(FoldCase(loc.directory));
    if (view == (*state)->views.end()) return fail("User", loc.value, "no such directory");
    // Find the user, and the LDAP connection and source DN it came from.
    std::optional<store::EffectiveUserRow> user;
    std::vector<std::pair<store::Connection, std::string>> sources;  // (connection, source DN)
    const std::string want = NormalizeDn(*dn);
    Status read = store_.Read([&](store::Transaction& tx) -> Status {
      auto named = FindUserNamed(tx, view->second.name, loc.value);
      if (!named) return named.error();
      if (!*named) return Status::Ok();
      auto& row = *named;
      auto own = ParseDn(tree_.UserDn(view->second.name, row->username));
      if (!own || NormalizeDn(*own) != want || row->state != "active") return Status::Ok();
      user = *row;
      auto links = tx.LinksOf(view->second.name, row->id);
      if (!links) return links.error();
      for (const auto& link : *links) {
        if (link.deleted) continue;
        auto connection = tx.GetConnection(link.connection_id);
        if (!connection) return connection.error();
        if (connection->kind != sync::kLdapKind || !connection->enabled) continue;
        auto source =
            tx.GetResource(link.connection_id, scim::ResourceType::kUser, link.source_user_id);
        if (!source) continue;
        auto it = source->body.find("dn");
        if (it != source->body.end() && it->is_string()) {
          sources.emplace_back(*connection, it->get<std::string>());
        }
      }
      return Status::Ok();
    });
    if (!read && read.error().code != ErrorCode::kNotFound) {
      return reply(kUnavailable, "the directory is unavailable; retry later");
    }
    if (!user) return fail("User", loc.value, "no such active user");
    if (sources.empty()) {
      return fail("User", user->id,
                  "the user did not come from an LDAP connection, so idsync cannot check a "
                  "password (sign such users in with SAML or OIDC)");
    }
    std::string last_error;
    for (const auto& [connection, source_dn] : sources) {
      Status verified = sync::VerifyPassword(connection, source_dn, bind.password);
      if (verified) {
        session.identity = {Identity::Kind::kUser, bind.name, view->second.name, user->username,
                            user->id};
        Audit(session, bind.name, "User", user->id, kSuccess,
              "password checked by connection \"" + connection.name + "\"");
        return reply(kSuccess, "");
      }
      if (verified.error().code != ErrorCode::kUnauthorized) last_error = verified.error().detail;
    }
    if (!last_error.empty()) {
      Audit(session, bind.name, "User", user->id, kUnavailable, last_error);
      return reply(kUnavailable, "the source directory could not check the password; retry later");
    }
    return fail("User", user->id, "the source directory refused the password");
  }
  return fail("", "", "no such bind DN");
}

Entry DirectoryHandler::RootDse(const State& state, const Session& session) {
  const Schema& s = *state.schema;
  Entry e;
  e.dn = "";
  e.Add(s.Find("objectClass"), {"top"});
  std::vector<std::string> contexts;
  const DirectoryView* bound = nullptr;
  for (const auto& [key, view] : state.views) {
    if (session.identity.kind != Identity::Kind::kAnonymous) {
      if (!EqualsFolded(view.name, session.identity.directory)) continue;
      bound = &view;
    }
    contexts.push_back(tree_.ContextDn(view.name));
  }
  e.Add(s.Find("namingContexts"), contexts);
  e.Add(s.Find("supportedLDAPVersion"), {"3"});
  e.Add(s.Find("supportedControl"), {std::string(kPagedResultsOid), std::string(kShowDeletedOid),
                                     std::string(kManageDsaItOid)});
  e.Add(s.Find("supportedExtension"), {"1.3.6.1.4.1.1466.20037", std::string(kWhoAmIOid)});
  e.Add(s.Find("supportedFeatures"), {"1.3.6.1.4.1.4203.1.5.1", "1.3.6.1.4.1.4203.1.5.3"});
  e.Add(s.Find("subschemaSubentry"), {"cn=Subschema"});
  e.Add(s.Find("vendorName"), {"idsync"});
  e.Add(s.Find("vendorVersion"), {"idsync " + options_.vendor_version});
  if (bound && bound->settings.profile == Profile::kActiveDirectory) {
    int64_t usn = 0;
    (void)store_.Read([&](store::Transaction& tx) -> Status {
      auto last = tx.LastChangeSeq(bound->name);
      if (last) usn = *last;
      return Status::Ok();
    });
    e.Add(s.Find("highestCommittedUSN"), {std::to_string(usn)});
    e.Add(s.Find("defaultNamingContext"), {tree_.ContextDn(bound->name)});
    // Atlassian's connector reads invocationId from the object this names, after every full
    // sync and before every incremental one (a root DSE without it fails the sync).
    e.Add(s.Find("dsServiceName"), {tree_.DsaDn()});
  }
  return e;
}

const DirectoryView* DirectoryHandler::AdBound(const State& state, const Session& session) {
  if (session.identity.kind == Identity::Kind::kAnonymous) return nullptr;
  auto view = state.views.find(FoldCase(session.identity.directory));
  if (view == state.views.end() || view->second.settings.profile != Profile::kActiveDirectory) {
    return nullptr;
  }
  return &view->second;
}

std::optional<Entry> DirectoryHandler::Dsa(const State& state, const Session& session) const {
  const DirectoryView* view = AdBound(state, session);
  if (view == nullptr) return std::nullopt;
  const Schema& s = *state.schema;
  Entry e;
  e.dn = tree_.DsaDn();
  e.Add(s.Find("objectClass"), {"top", "nTDSDSA"});
  e.Add(s.Find("cn"), {"NTDS Settings"});
  e.Add(s.Find("name"), {"NTDS Settings"});
  e.Add(s.Find("distinguishedName"), {e.dn});
  const std::string id = InvocationId(*view);
  e.Add(s.Find("invocationId"), {id});
  e.Add(s.Find("objectGUID"), {id});
  return e;
}

Entry DirectoryHandler::Subschema(const State& state) const {
  const Schema& s = *state.schema;
  Entry e;
  e.dn = "cn=Subschema";
  e.Add(s.Find("objectClass"), {"top", "subentry", "subschema"});
  e.Add(s.Find("cn"), {"Subschema"});
  e.Add(s.Find("attributeTypes"), s.AttributeTypeDescriptions());
  e.Add(s.Find("objectClasses"), s.ObjectClassDescriptions());
  e.Add(s.Find("ldapSyntaxes"), s.SyntaxDescriptions());
  e.Add(s.Find("matchingRules"), s.MatchingRuleDescriptions());
  e.Add(s.Find("structuralObjectClass"), {"subentry"});
  e.Add(s.Find("entryDN"), {"cn=Subschema"});
  e.Add(s.Find("subschemaSubentry"), {"cn=Subschema"});
  return e;
}

void DirectoryHandler::Search(Session& session, const Request& request, const SearchRequest& search,
                              const std::atomic<bool>& abandoned, const Send& send) {
  const int32_t id = request.message_id;
  auto done = [&](int code, std::string matched, std::string message) {
    send(EncodeSearchDone(id, {code, std::move(matched), std::move(message)}));
  };
  auto state = Current();
  if (!state) return done(kUnavailable, "", "the directory is unavailable; retry later");
  const State& st = **state;
  auto base = ParseDn(search.base);
  if (!base) return done(kInvalidDnSyntax, "", "the base DN is not a valid DN");
  if (tree_.IsDsa(*base)) {
    auto e = Dsa(st, session);
    if (!e) return done(kNoSuchObject, "", "no such entry: " + search.base);
    if (search.scope != Scope::kBase) {
      return done(kNoSuchObject, "", "only a base-scope search reads the DSA object");
    }
    if (Matches(search.filter, *e, *st.schema)) {
      Wanted wanted = Wanted::FromRequest(search.attributes, *st.schema);
      if (!send(EncodeSearchEntry(id, e->dn, Select(*e, wanted, Profile::kActiveDirectory),
                                  search.types_only))) {
        return;
      }
    }
    return done(kSuccess, "", "");
  }
  auto loc = tree_.Locate(*base);
  if (loc.kind == Tree::Location::kRootDse || loc.kind == Tree::Location::kSubschema) {
    if (search.scope != Scope::kBase) {
      return done(kNoSuchObject, "", "only a base-scope search reads the root DSE or cn=Subschema");
    }
    Entry e = loc.kind == Tree::Location::kRootDse ? RootDse(st, session) : Subschema(st);
    if (Matches(search.filter, e, *st.schema)) {
      Wanted wanted = Wanted::FromRequest(search.attributes, *st.schema);
      // Active Directory returns every root DSE attribute to a request for all attributes;
      // Atlassian's connector reads highestCommittedUSN and dsServiceName so (lookup("")).
      if (loc.kind == Tree::Location::kRootDse && wanted.all_user && AdBound(st, session)) {
        wanted.all_operational = true;
      }
      if (!send(EncodeSearchEntry(id, e.dn, Select(e, wanted, Profile::kStandard),
                                  search.types_only))) {
        return;
      }
    }
    return done(kSuccess, "", "");
  }
  if (!StillBound(session)) {
    return done(kInsufficientAccessRights, "",
                "the service account was removed or its password rotated: bind again");
  }
  if (session.identity.kind == Identity::Kind::kAnonymous) {
    return done(kInsufficientAccessRights, "",
                "bind first: anonymous clients may read the root DSE and cn=Subschema only");
  }
  auto view = st.views.find(FoldCase(session.identity.directory));
  if (view == st.views.end()) return done(kNoSuchObject, "", "no such entry: " + search.base);
  DirectorySearch searcher(store_, *st.schema, tree_, options_.limits);
  SearchOutcome outcome = searcher.Run(id, search, request.controls, view->second,
                                       session.identity.dn, abandoned, send);
  if (outcome.stopped) return;
  send(EncodeSearchDone(id, outcome.result, outcome.controls));
}

void DirectoryHandler::Compare(Session& session, const Request& request,
                               const CompareRequest& compare, const Send& send) {
  auto reply = [&](int code, std::string matched, std::string message) {
    send(EncodeResponse(request.message_id, Operation::kCompare,
                        {code, std::move(matched), std::move(message)}));
  };
  if (!StillBound(session) || session.identity.kind == Identity::Kind::kAnonymous) {
    return reply(kInsufficientAccessRights, "", "bind first");
  }
  auto state = Current();
  if (!state) return reply(kUnavailable, "", "the directory is unavailable; retry later");
  const State& st = **state;
  const AttributeType* type = st.schema->Find(compare.attribute);
  if (type == nullptr) {
    return reply(kUndefinedAttributeType, "", "unknown attribute type " + compare.attribute);
  }
  auto view = st.views.find(FoldCase(session.identity.directory));
  if (view == st.views.end()) return reply(kNoSuchObject, "", "no such entry");
  auto dn = ParseDn(compare.dn);
  if (!dn) return reply(kInvalidDnSyntax, "", "the DN is not a valid DN");
  DirectorySearch searcher(store_, *st.schema, tree_, options_.limits);
  auto entry = searcher.EntryAt(*dn, view->second, {type});
  if (!entry) return reply(kUnavailable, "", "the directory is unavailable; retry later");
  if (!*entry) return reply(kNoSuchObject, "", "no such entry: " + compare.dn);
  const EntryAttribute* attr = (*entry)->Find(type);
  if (attr == nullptr) return reply(kNoSuchAttribute, "", "the entry has no " + type->name);
  auto equal = ValueEquals(*type, attr, compare.value);
  if (!equal) return reply(kCompareFalse, "", "the value is not valid for " + type->name);
  reply(*equal ? kCompareTrue : kCompareFalse, "", "");
}

}  // namespace idsync::ldap
